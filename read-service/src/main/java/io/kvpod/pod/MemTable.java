package io.kvpod.pod;

import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Recent writes held in memory, sorted by key in unsigned byte order (the HFile order).
 * For each key only the winning record is kept: the higher version, or on equal versions
 * the one written later. A write is applied only after its WAL entry is durable.
 *
 * <p>Threading: one writer (the group committer) and any number of concurrent readers. A
 * frozen memtable is never written again and may be iterated while reads continue.
 */
final class MemTable {
  /** Rough per-record heap overhead of the skip list node, the entry and the arrays. */
  private static final int OVERHEAD = 96;

  private final ConcurrentSkipListMap<byte[], Found> map = new ConcurrentSkipListMap<>(Arrays::compareUnsigned);
  private final AtomicLong bytes = new AtomicLong();
  private final long createdAtMillis = System.currentTimeMillis();
  private volatile long lastSeq = -1;
  private volatile long maxVersion = Long.MIN_VALUE;

  /** Applies one record of the WAL entry {@code seq}. Writer thread only. */
  void put(byte[] key, long version, byte[] value, long seq) {
    Found f = new Found(version, value);
    Found old = map.get(key);
    if (old == null) {
      map.put(key, f);
      bytes.addAndGet(key.length + value.length + OVERHEAD);
    } else if (version >= old.version()) {
      map.put(key, f);
      bytes.addAndGet(value.length - old.value().length);
    }
    if (seq > lastSeq) {
      lastSeq = seq;
    }
    if (version > maxVersion) {
      maxVersion = version;
    }
  }

  Found get(byte[] key) {
    return map.get(key);
  }

  /** Records in key order. Iterate only a frozen memtable to get a stable view. */
  Iterator<Map.Entry<byte[], Found>> iterator() {
    return map.entrySet().iterator();
  }

  int size() {
    return map.size();
  }

  boolean isEmpty() {
    return map.isEmpty();
  }

  /** Approximate heap bytes held. */
  long bytes() {
    return bytes.get();
  }

  long createdAtMillis() {
    return createdAtMillis;
  }

  /** The sequence number of the last WAL entry applied, or -1. */
  long lastSeq() {
    return lastSeq;
  }

  long maxVersion() {
    return maxVersion;
  }
}
