package io.kvpod.wal;

import io.kvpod.contract.CorruptionException;

/**
 * One decoded WAL entry: its sequence number, the version of all its records, and its
 * body ({@link WalFormat} grammar). Immutable once built; the body array is not copied.
 */
public record WalEntry(long seq, long version, byte[] body, int bodyOffset, int bodyLength) {

  public void forEachRecord(WalFormat.RecordVisitor visitor) throws CorruptionException {
    WalFormat.forEachRecord(body, bodyOffset, bodyLength, visitor);
  }
}
