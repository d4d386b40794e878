package io.kvpod.pod;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A reference count that starts at one (the creator's reference) and, once it has fallen
 * to zero, can never be retained again, so a closed resource cannot come back to life.
 * Thread-safe (lock-free).
 */
final class RefCount {
  private final AtomicInteger refs = new AtomicInteger(1);

  /** Takes a reference; false if the count already reached zero. */
  boolean tryRetain() {
    while (true) {
      int n = refs.get();
      if (n <= 0) {
        return false;
      }
      if (refs.compareAndSet(n, n + 1)) {
        return true;
      }
    }
  }

  /** Drops a reference; true for the caller that dropped the last one, who must close. */
  boolean release() {
    return refs.decrementAndGet() == 0;
  }
}
