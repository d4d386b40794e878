package io.kvpod.client;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Which pods recently failed to answer. A pod that fails is skipped by later calls until
 * {@code now + backoff.ceilingMillis(consecutive failures)} (the same formula as the
 * retry backoff, without jitter), so a dead pod costs one refused connection per window
 * rather than one per call. A success clears it. Used by the client, and by pods for their
 * peers. Thread-safe (lock-free).
 */
public final class PodHealth {
  private final AtomicLongArray skipUntil;
  private final AtomicIntegerArray failures;
  private final Backoff backoff;

  public PodHealth(int pods, Backoff backoff) {
    this.skipUntil = new AtomicLongArray(pods);
    this.failures = new AtomicIntegerArray(pods);
    this.backoff = backoff;
  }

  public void failed(int pod) {
    int f = failures.incrementAndGet(pod);
    skipUntil.set(pod, System.currentTimeMillis() + backoff.ceilingMillis(Math.min(f, 30)));
  }

  public void succeeded(int pod) {
    if (failures.get(pod) != 0) {
      failures.set(pod, 0);
      skipUntil.set(pod, 0);
    }
  }

  /** True while {@code pod} is being skipped after a failure. */
  public boolean skipped(int pod) {
    return skipUntil.get(pod) > System.currentTimeMillis();
  }

  /**
   * The first pod from {@code from} (wrapping) that is neither skipped nor already tried by
   * this call; else the first not yet tried; else {@code from}.
   */
  int pick(int from, boolean[] tried) {
    int n = tried.length;
    long now = System.currentTimeMillis();
    int untried = -1;
    for (int i = 0; i < n; i++) {
      int p = (from + i) % n;
      if (!tried[p]) {
        if (skipUntil.get(p) <= now) {
          return p;
        }
        if (untried < 0) {
          untried = p;
        }
      }
    }
    return untried >= 0 ? untried : from;
  }
}
