package io.kvpod.chaos;

import java.io.BufferedWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Every operation of a chaos run, per key, as its client saw it: each write with the value
 * number it carried, when it was invoked and completed, and its outcome; each read with
 * what it returned. A key's writes come from one writer, one at a time, in value order
 * (value {@code n+1} is written only after {@code n} completed), which is what lets the
 * {@link Checker} tell a lost or overtaken write from a merely failed one.
 *
 * <p>Times are nanoseconds on this JVM's monotonic clock, relative to {@link #startNanos}.
 * Every operation is also written, as it completes, to the log given (one line each:
 * invoked and completed in seconds, the operation, the key, the value number, the outcome,
 * where it went). Thread-safe; each key's records are kept in the order they were added.
 */
final class History implements AutoCloseable {
  /** How a write ended, as far as its client can know. */
  enum Outcome {
    /** Acknowledged: it must be readable from now on, until a later write replaces it. */
    OK,
    /** Refused in a way that says it was not applied (EXPIRED, INVALID_ARGUMENT, TOO_LARGE). */
    FAILED,
    /** Timed out or lost: it may or may not have been applied (but never after its deadline). */
    UNKNOWN
  }

  /** One write of one key. {@code via}: "client" (routed) or "pod N". */
  record Write(long n, long invokeNanos, long completeNanos, Outcome outcome, String via, String error) {}

  /** One read of one key: {@code n} is the value number read, or -1 if the key read as absent. */
  record Read(long n, long invokeNanos, long completeNanos, String via) {}

  /** The operations on one key. */
  static final class KeyHistory {
    private final List<Write> writes = new ArrayList<>();
    private final List<Read> reads = new ArrayList<>();

    synchronized List<Write> writes() {
      return new ArrayList<>(writes);
    }

    synchronized List<Read> reads() {
      return new ArrayList<>(reads);
    }
  }

  final long startNanos = System.nanoTime();
  private final PrintWriter log;
  private final Map<String, KeyHistory> keys = new ConcurrentHashMap<>();
  private final Map<Outcome, LongAdder> outcomes = new ConcurrentHashMap<>();
  private final LongAdder reads = new LongAdder();

  /** A history that also logs every operation to {@code log} (null: keeps it in memory only). */
  History(Writer log) {
    this.log = log == null ? null : new PrintWriter(new BufferedWriter(log, 1 << 16));
  }

  History() {
    this(null);
  }

  long now() {
    return System.nanoTime() - startNanos;
  }

  void write(String key, Write w) {
    KeyHistory h = keys.computeIfAbsent(key, k -> new KeyHistory());
    synchronized (h) {
      h.writes.add(w);
    }
    outcomes.computeIfAbsent(w.outcome(), o -> new LongAdder()).increment();
    logLine(String.format("%.3f %.3f write %s n=%d %s via %s%s", w.invokeNanos() / 1e9, w.completeNanos() / 1e9, key,
        w.n(), w.outcome(), w.via(), w.error() == null ? "" : " (" + w.error() + ")"));
  }

  void read(String key, Read r) {
    KeyHistory h = keys.computeIfAbsent(key, k -> new KeyHistory());
    synchronized (h) {
      h.reads.add(r);
    }
    reads.increment();
    logLine(String.format("%.3f %.3f read %s n=%d via %s", r.invokeNanos() / 1e9, r.completeNanos() / 1e9, key, r.n(),
        r.via()));
  }

  private void logLine(String line) {
    if (log != null) {
      synchronized (log) {
        log.println(line);
      }
    }
  }

  @Override
  public void close() {
    if (log != null) {
      synchronized (log) {
        log.close();
      }
    }
  }

  /** Every key's history, by key. */
  Map<String, KeyHistory> byKey() {
    return new TreeMap<>(keys);
  }

  /** Writes (one per key written) that ended with {@code o}. */
  long writes(Outcome o) {
    LongAdder a = outcomes.get(o);
    return a == null ? 0 : a.sum();
  }

  long reads() {
    return reads.sum();
  }

  /**
   * A key's history as text, one operation a line, in invocation order, for a violation
   * report: the {@code before} operations invoked before {@code atNanos} and up to
   * {@code after} invoked after it (a long run's whole history is in the log).
   */
  static String describe(String key, KeyHistory h, long atNanos, int before, int after) {
    List<String[]> ops = new ArrayList<>();
    for (Write w : h.writes()) {
      ops.add(new String[] {String.format("%012d", w.invokeNanos()), String.format(
          "%10.3f s  write n=%-5d %-8s via %-6s done at %.3f s%s", w.invokeNanos() / 1e9, w.n(), w.outcome(), w.via(),
          w.completeNanos() / 1e9, w.error() == null ? "" : "  (" + w.error() + ")")});
    }
    for (Read r : h.reads()) {
      ops.add(new String[] {String.format("%012d", r.invokeNanos()), String.format(
          "%10.3f s  read  n=%-5s          via %-6s done at %.3f s", r.invokeNanos() / 1e9,
          r.n() < 0 ? "none" : Long.toString(r.n()), r.via(), r.completeNanos() / 1e9)});
    }
    ops.sort((a, b) -> a[0].compareTo(b[0]));
    String at = String.format("%012d", atNanos);
    int split = 0;
    while (split < ops.size() && ops.get(split)[0].compareTo(at) < 0) {
      split++;
    }
    int from = Math.max(0, split - before);
    int to = Math.min(ops.size(), split + after);
    StringBuilder sb = new StringBuilder("key " + key + " (" + ops.size() + " operations"
        + (from > 0 || to < ops.size() ? "; those around the violation" : "") + "):");
    for (int i = from; i < to; i++) {
      sb.append("\n  ").append(ops.get(i)[1]);
    }
    return sb.toString();
  }
}
