package io.kvpod.loader;

import io.kvpod.contract.Limits;
import io.kvpod.contract.RecordCodec;

/**
 * One input record as a parser fills it in: the key's UTF-8 bytes, an optional explicit
 * version, and the encoded value. Reused for every line; not thread-safe.
 */
public final class ParsedRecord {
  /** {@link #version} when the input gave none. */
  public static final long NO_VERSION = Long.MIN_VALUE;

  byte[] key = new byte[64];
  int keyLength;
  long version = NO_VERSION;
  final RecordCodec.Builder value = new RecordCodec.Builder();

  void reset() {
    keyLength = 0;
    version = NO_VERSION;
    value.reset();
  }

  void setKey(byte[] src, int off, int len) {
    Limits.checkKeyLength(len);
    if (key.length < len) {
      key = new byte[Math.max(len, key.length * 2)];
    }
    System.arraycopy(src, off, key, 0, len);
    keyLength = len;
  }

  public byte[] key() {
    return key;
  }

  public int keyLength() {
    return keyLength;
  }

  public long version() {
    return version;
  }

  public RecordCodec.Builder value() {
    return value;
  }
}
