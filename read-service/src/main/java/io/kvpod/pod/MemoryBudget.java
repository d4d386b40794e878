package io.kvpod.pod;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The memtable memory of every bucket a pod holds, held to one pod-wide flush threshold
 * ({@code kvpod.memtable.pod.flush.bytes}). Each bucket flushes at its own threshold too; but
 * a pod holding many buckets, each below its own, would otherwise fill its heap. So once the
 * pod's total reaches this threshold, each bucket holding at least the mean per bucket
 * flushes: at least one always does, and the largest go first.
 *
 * <p>Members are the shards held now: each {@link #join}s when it opens and {@link #leave}s
 * when it closes or is abandoned. Thread-safe; a total is a sum of racy reads, which is all a
 * flush trigger needs.
 */
final class MemoryBudget {
  private final long flushBytes;
  private final Set<LongSupplier> members = ConcurrentHashMap.newKeySet();

  MemoryBudget(long flushBytes) {
    this.flushBytes = flushBytes;
  }

  /** Adds a bucket whose memtables hold {@code bytes} bytes now; returns the handle to leave with. */
  LongSupplier join(LongSupplier bytes) {
    members.add(bytes);
    return bytes;
  }

  void leave(LongSupplier member) {
    members.remove(member);
  }

  /** Whether a bucket whose memtables hold {@code ownBytes} should flush for the pod's sake. */
  boolean shouldFlush(long ownBytes) {
    if (ownBytes <= 0) {
      return false;
    }
    long total = 0;
    int n = 0;
    for (LongSupplier m : members) {
      total += m.getAsLong();
      n++;
    }
    return total >= flushBytes && ownBytes * n >= total;
  }

  /** The memtable bytes of every member now. */
  long totalBytes() {
    long total = 0;
    for (LongSupplier m : members) {
      total += m.getAsLong();
    }
    return total;
  }
}
