package io.kvpod.client;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Which pods have calls waiting and have answered none of them for a while. A pod with calls
 * in flight has been silent for
 *
 * <pre>
 *   silent(pod) = now - max(when its calls began to wait, when it last answered one)
 * </pre>
 *
 * and a pod with none in flight for 0. A frozen or cut-off holder shows here long before any
 * of its calls times out, so the client can learn the bucket's new holder while the stuck
 * calls still wait. Thread-safe (lock-free); {@link #began} and {@link #ended} bracket every
 * call.
 */
final class SilentPods {
  private final AtomicIntegerArray inFlight;
  /** Per pod, in {@link System#nanoTime()}: when it last answered, or when its calls began to wait. */
  private final AtomicLongArray heardNanos;

  SilentPods(int pods) {
    this.inFlight = new AtomicIntegerArray(pods);
    this.heardNanos = new AtomicLongArray(pods);
  }

  /** A call to {@code pod} is about to wait for its answer. */
  void began(int pod) {
    if (inFlight.getAndIncrement(pod) == 0) {
      heardNanos.set(pod, System.nanoTime());
    }
  }

  /** A call to {@code pod} ended; {@code answered}: the pod answered it (with a result or an error). */
  void ended(int pod, boolean answered) {
    if (answered) {
      heardNanos.set(pod, System.nanoTime());
    }
    inFlight.decrementAndGet(pod);
  }

  /** How long {@code pod} has had calls waiting without answering any; 0 if none wait. */
  long silentMillis(int pod) {
    if (inFlight.get(pod) <= 0) {
      return 0;
    }
    return Math.max(0, (System.nanoTime() - heardNanos.get(pod)) / 1_000_000);
  }
}
