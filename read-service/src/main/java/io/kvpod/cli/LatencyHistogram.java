package io.kvpod.cli;

/**
 * Latencies in microseconds: 1 µs buckets up to 100 ms, then 100 µs buckets up to 10 s,
 * then one overflow bucket. One per thread (not thread-safe); {@link #add} merges them for
 * reporting.
 */
final class LatencyHistogram {
  private static final int FINE = 100_000;          // 0 .. 100 ms, 1 µs each
  private static final int COARSE = 99_000;         // 100 ms .. 10 s, 100 µs each
  private final long[] counts = new long[FINE + COARSE + 1];
  private long total;

  void record(long micros) {
    long m = Math.max(micros, 0);
    int i = m < FINE ? (int) m : FINE + (int) Math.min((m - FINE) / 100, COARSE);
    counts[i]++;
    total++;
  }

  void add(LatencyHistogram o) {
    for (int i = 0; i < counts.length; i++) {
      counts[i] += o.counts[i];
    }
    total += o.total;
  }

  long count() {
    return total;
  }

  /** The smallest latency (µs) at or below which a fraction {@code q} of samples fall. */
  long percentile(double q) {
    long want = (long) Math.ceil(q * total);
    long seen = 0;
    for (int i = 0; i < counts.length; i++) {
      seen += counts[i];
      if (seen >= want && seen > 0) {
        return i < FINE ? i : FINE + (long) (i - FINE + 1) * 100;
      }
    }
    return FINE + (long) COARSE * 100;
  }

  String summary() {
    return String.format("p50 %.2f ms, p99 %.2f ms, p999 %.2f ms", percentile(0.50) / 1000.0,
        percentile(0.99) / 1000.0, percentile(0.999) / 1000.0);
  }
}
