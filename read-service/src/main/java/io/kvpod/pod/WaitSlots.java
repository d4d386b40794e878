package io.kvpod.pod;

import io.kvpod.thrift.ErrorCode;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds the writes that wait on another pod at once: a write forwarded to its bucket's
 * holder, one relayed for another pod, and one waiting out a takeover. Each holds a worker
 * thread of the Thrift server while it waits, for up to the peer timeout (a frozen holder
 * answers nothing) or the write deadline (a takeover). The workers are a fixed pool that
 * pings and reads share: without a bound, a burst of such writes during a takeover takes
 * every worker, this pod's pings go unanswered, and the other pods take its buckets over
 * although it is alive (seen in chaos soaks: 14 of 16 workers waiting out one takeover for
 * 10 s, then a cascade of takeovers).
 *
 * <p>A write takes a slot before it first waits, and returns it when it is answered. One
 * that finds none is refused at once with {@code BUSY}: nothing was sent or applied, so the
 * caller may send it again, here or at another pod. Thread-safe.
 */
final class WaitSlots {
  private static final Logger LOG = LoggerFactory.getLogger(WaitSlots.class);
  private final Semaphore slots;
  private final int size;
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong lastLogNanos = new AtomicLong(System.nanoTime() - TimeUnit.DAYS.toNanos(1));

  WaitSlots(int size) {
    if (size < 1) {
      throw new IllegalArgumentException("wait slots: " + size);
    }
    this.size = size;
    this.slots = new Semaphore(size);
  }

  /**
   * Takes a slot for a write of {@code what}, or fails with {@code BUSY}. The caller must
   * not have sent or applied anything of the write yet. Pair with {@link #release}.
   */
  void take(String what) throws PodUnavailable {
    if (!slots.tryAcquire()) {
      long n = refused.incrementAndGet();
      long now = System.nanoTime();
      long last = lastLogNanos.get();
      if (now - last >= TimeUnit.SECONDS.toNanos(10) && lastLogNanos.compareAndSet(last, now)) {
        LOG.warn("refusing writes as BUSY: {} already wait on other pods, the most that may ({} refused since start)",
            size, n);
      }
      throw new PodUnavailable(ErrorCode.BUSY, size + " writes already wait on other pods here, the most this pod "
          + "lets wait at once (kvpod.server.waiting.writes); the write of " + what + " was refused before anything "
          + "was sent or applied: send it again after a pause, here or at another pod");
    }
  }

  void release() {
    slots.release();
  }

  /** Writes waiting now (for status). */
  int waiting() {
    return size - slots.availablePermits();
  }

  /** The most writes that may wait at once. */
  int size() {
    return size;
  }

  /** Writes refused with BUSY since start. */
  long refused() {
    return refused.get();
  }
}
