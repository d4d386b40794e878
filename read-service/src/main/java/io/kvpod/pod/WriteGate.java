package io.kvpod.pod;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Admits writes (a client's put or batchPut, a forwarded or relayed write) while the pod
 * runs, and lets a stopping pod wait for the writes it already admitted before it closes
 * its connections: a write that is half done when its connection closes leaves its caller
 * unsure whether it took effect, and a copy still on its way to a holder could take effect
 * after the caller wrote the key again. Thread-safe.
 */
final class WriteGate {
  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile boolean closed;

  /** Admits a write; false once the pod is stopping (refuse it: it was not applied). Pair with {@link #exit}. */
  boolean enter() {
    inFlight.incrementAndGet();
    if (closed) {
      inFlight.decrementAndGet();
      return false;
    }
    return true;
  }

  void exit() {
    inFlight.decrementAndGet();
  }

  /** Admits nothing more, then waits up to {@code timeoutMillis} for the admitted writes to finish. */
  void closeAndDrain(long timeoutMillis) throws InterruptedException {
    closed = true;
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    while (inFlight.get() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
  }

  /** Writes admitted and not finished. */
  int inFlight() {
    return inFlight.get();
  }
}
