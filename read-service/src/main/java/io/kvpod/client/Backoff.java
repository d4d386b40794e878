package io.kvpod.client;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Exponential backoff with full jitter:
 *
 * <pre>
 *   delay(attempt) = uniform(0, min(maxMillis, baseMillis * 2^attempt))     attempt = 0, 1, 2, ...
 * </pre>
 *
 * Full jitter spreads retries from many clients so they do not arrive in waves. The
 * caller also bounds retries by a deadline and a count. Immutable; thread-safe.
 */
public record Backoff(long baseMillis, long maxMillis) {
  public Backoff {
    if (baseMillis < 0 || maxMillis < baseMillis) {
      throw new IllegalArgumentException("need 0 <= baseMillis <= maxMillis");
    }
  }

  /** The ceiling of the delay before retry {@code attempt}: min(max, base * 2^attempt). */
  public long ceilingMillis(int attempt) {
    if (attempt >= 62 || baseMillis << Math.min(attempt, 62) < 0) {
      return maxMillis;
    }
    return Math.min(maxMillis, baseMillis << attempt);
  }

  public long delayMillis(int attempt) {
    long c = ceilingMillis(attempt);
    return c == 0 ? 0 : ThreadLocalRandom.current().nextLong(c + 1);
  }
}
