package io.kvpod.pod;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts events, and says when one may be logged: at most once per interval, so that an
 * attack or a misconfigured client cannot flood the log, while the count tells the operator
 * how many there were. Thread-safe.
 */
final class LogThrottle {
  private final long intervalNanos;
  private final AtomicLong events = new AtomicLong();
  private final AtomicLong lastLoggedNanos = new AtomicLong(System.nanoTime() - Long.MAX_VALUE / 2);

  LogThrottle(long interval, TimeUnit unit) {
    this.intervalNanos = unit.toNanos(interval);
  }

  /** Counts one event; returns its number (1, 2, ...) if it should be logged, else 0. */
  long count() {
    long n = events.incrementAndGet();
    long now = System.nanoTime();
    long last = lastLoggedNanos.get();
    return now - last >= intervalNanos && lastLoggedNanos.compareAndSet(last, now) ? n : 0;
  }

  /** Events counted so far. */
  long events() {
    return events.get();
  }
}
