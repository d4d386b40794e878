package io.kvpod.cli;

/**
 * Latencies in microseconds, 1 µs buckets up to 100 ms and one overflow bucket. One per
 * thread (not thread-safe); {@link #add} merges them for reporting.
 */
final class LatencyHistogram {
  private static final int BUCKETS = 100_000;
  private final long[] counts = new long[BUCKETS + 1];
  private long total;

  void record(long micros) {
    counts[(int) Math.min(Math.max(micros, 0), BUCKETS)]++;
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
        return i;
      }
    }
    return BUCKETS;
  }

  String summary() {
    return String.format("p50 %.2f ms, p99 %.2f ms, p999 %.2f ms", percentile(0.50) / 1000.0,
        percentile(0.99) / 1000.0, percentile(0.999) / 1000.0);
  }
}
