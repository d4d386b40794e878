package io.kvpod.cli;

import io.kvpod.loader.Cli;
import io.kvpod.loader.UsageException;
import io.kvpod.thrift.KvPodException;
import java.io.IOException;
import java.io.PrintStream;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogWriter;
import org.HdrHistogram.Recorder;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * One timed phase of a benchmark: {@code threads} threads call an {@link Op} for a warm-up, then
 * for {@code millis}, and the latencies of the calls after the warm-up go into HdrHistograms
 * (microseconds, 3 significant digits, up to an hour). A progress line every 5 s gives that
 * interval's rate and p99; the result gives the whole phase's.
 *
 * <p><b>Closed or open loop.</b> With no target rate, each thread calls again as soon as a call
 * returns (a closed loop: the rate is what the server sustains), and a latency is the call's
 * own time. With a target rate R calls/s, each thread has a schedule, a call every
 * {@code threads / R} seconds, and a latency is measured from when the call was <em>due</em>, not
 * from when it was sent. So a stall of S seconds counts against every call that should have
 * been made during it (up to S each), as a client arriving at a fixed rate would see it, rather
 * than as one slow call: the correction for coordinated omission that wrk2 makes. The service
 * time (send to answer) is kept apart, and the two differ exactly when the target rate is more
 * than the server could give.
 *
 * <p>Not thread-safe: one phase runs at a time. The threads it starts have ended when
 * {@link #run} returns.
 */
public final class BenchPhase {
  /** One call of the benchmark; {@code r} is the calling thread's random source. */
  interface Op {
    void run(ThreadLocalRandom r) throws KvPodException;
  }

  /**
   * A phase's results: calls per second (after the warm-up), the latencies in ms (from when
   * each call was due, with a target rate; else the same as the service times), and the
   * service times' p99.
   */
  record Result(String name, double callsPerSecond, double targetRate, int threads, double seconds,
                double p50Millis, double p99Millis, double p999Millis, double maxMillis,
                double serviceP99Millis, long errors, String firstError) {}

  private static final long HIGHEST_MICROS = TimeUnit.HOURS.toMicros(1);
  private static final long PROGRESS_NANOS = TimeUnit.SECONDS.toNanos(5);

  private final String name;
  private final int threads;
  private final long millis;
  private final long warmupMillis;
  private final double targetRate;
  private final PrintStream out;
  private final HistogramLogWriter log;

  /**
   * @param targetRate calls per second over all threads, or 0 for as fast as they go
   * @param log where to write each interval's histogram (HdrHistogram's log format, read by
   *     its HistogramLogProcessor and plotters), or null
   */
  BenchPhase(String name, int threads, long millis, long warmupMillis, double targetRate, PrintStream out,
             HistogramLogWriter log) {
    if (threads < 1 || millis < 1 || warmupMillis < 0 || targetRate < 0) {
      throw new IllegalArgumentException("threads and duration must be positive, warm-up and rate not negative");
    }
    this.name = name;
    this.threads = threads;
    this.millis = millis;
    this.warmupMillis = warmupMillis;
    this.targetRate = targetRate;
    this.out = out;
    this.log = log;
  }

  /** The warm-up a phase of {@code millis} gets by default: a fifth of it, at most 2 s. */
  static long defaultWarmupMillis(long millis) {
    return Math.min(2_000, millis / 5);
  }

  /** Runs {@code op} on the phase's threads; prints progress and the results to the stream given. */
  Result run(Op op) throws InterruptedException {
    Recorder latency = new Recorder(HIGHEST_MICROS, 3);
    Recorder service = new Recorder(HIGHEST_MICROS, 3);
    AtomicLong errors = new AtomicLong();
    AtomicReference<String> firstError = new AtomicReference<>();
    long start = System.nanoTime();
    long measureFrom = start + TimeUnit.MILLISECONDS.toNanos(warmupMillis);
    long end = measureFrom + TimeUnit.MILLISECONDS.toNanos(millis);
    long intervalNanos = targetRate > 0 ? (long) (threads * 1e9 / targetRate) : 0;
    Thread[] ts = new Thread[threads];
    for (int t = 0; t < threads; t++) {
      long firstDue = start + (intervalNanos * t) / threads; // staggered, so calls do not come in bursts
      ts[t] = new Thread(() -> {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long due = firstDue;
        while (true) {
          long now = System.nanoTime();
          if (now >= end || (intervalNanos > 0 && due >= end)) {
            return;
          }
          if (intervalNanos > 0 && now < due) {
            LockSupport.parkNanos(due - now);
            continue;
          }
          long from = intervalNanos > 0 ? due : now;
          try {
            op.run(r);
            long after = System.nanoTime();
            if (from >= measureFrom) {
              latency.recordValue(Math.min((after - from) / 1000, HIGHEST_MICROS));
              service.recordValue(Math.min((after - now) / 1000, HIGHEST_MICROS));
            }
          } catch (KvPodException e) {
            errors.incrementAndGet();
            firstError.compareAndSet(null, e.getCode() + ": " + e.getMessage());
          }
          due += intervalNanos;
        }
      }, "bench-" + t);
      ts[t].start();
    }
    Intervals intervals = new Intervals(latency, service, measureFrom);
    for (Thread t : ts) {
      while (t.isAlive()) {
        t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(intervals.startNanos + PROGRESS_NANOS - System.nanoTime())));
        if (System.nanoTime() - intervals.startNanos >= PROGRESS_NANOS) {
          intervals.take(true);
        }
      }
    }
    intervals.take(false);
    return report(intervals.all, intervals.allService, errors.get(), firstError.get());
  }

  /** Takes the recorders' interval histograms into the phase's totals, and reports each interval. */
  private final class Intervals {
    final Recorder latency;
    final Recorder service;
    final long measureFrom;
    final Histogram all = new Histogram(HIGHEST_MICROS, 3);
    final Histogram allService = new Histogram(HIGHEST_MICROS, 3);
    Histogram interval;
    Histogram serviceInterval;
    long startNanos;

    Intervals(Recorder latency, Recorder service, long measureFrom) {
      this.latency = latency;
      this.service = service;
      this.measureFrom = measureFrom;
      this.startNanos = measureFrom; // the warm-up is not an interval
    }

    void take(boolean printProgress) {
      long now = System.nanoTime();
      interval = latency.getIntervalHistogram(interval);
      serviceInterval = service.getIntervalHistogram(serviceInterval);
      all.add(interval);
      allService.add(serviceInterval);
      if (printProgress && now > startNanos) {
        out.printf("  [%s] %.0f s: %,.0f calls/s, p99 %.2f ms%n", name, (now - measureFrom) / 1e9,
            interval.getTotalCount() / ((now - startNanos) / 1e9), interval.getValueAtPercentile(99) / 1000.0);
      }
      if (log != null && interval.getTotalCount() > 0) {
        interval.setTag(name.replace(' ', '_').replace(',', '_'));
        log.outputIntervalHistogram(interval);
      }
      startNanos = now;
    }
  }

  private Result report(Histogram all, Histogram service, long errors, String firstError) {
    double seconds = millis / 1000.0;
    Result r = new Result(name, all.getTotalCount() / seconds, targetRate, threads, seconds,
        ms(all, 50), ms(all, 99), ms(all, 99.9), all.getMaxValue() / 1000.0, ms(service, 99), errors, firstError);
    out.printf("bench %s: %,.0f calls/s with %d threads over %.0f s%s; p50 %.2f ms, p99 %.2f ms, p999 %.2f ms, "
            + "max %.2f ms; %d errors%n", name, r.callsPerSecond(), threads, seconds,
        targetRate > 0 ? String.format(" (target %,.0f/s)", targetRate) : "", r.p50Millis(), r.p99Millis(),
        r.p999Millis(), r.maxMillis(), errors);
    if (targetRate > 0) {
      out.printf("  latencies from when each call was due; service time p99 %.2f ms%n", r.serviceP99Millis());
    }
    if (firstError != null) {
      out.println("  first error: " + firstError);
    }
    return r;
  }

  private static double ms(Histogram h, double percentile) {
    return h.getValueAtPercentile(percentile) / 1000.0;
  }

  /** {@code --json}: the results as one JSON object on stdout; the progress goes to stderr. */
  public static final Option JSON = Cli.flag("json", null, "print the results as one JSON object (progress goes to stderr)");
  /** {@code --rate}: an open loop at this many calls per second (see the class comment). */
  static final Option RATE = Cli.flag("rate", "R", "call at this fixed rate, in calls/s over all threads, and measure "
      + "each latency from when its call was due, so that stalls count against every call they hold up "
      + "(default: each thread calls again as soon as it has its answer)");
  /** {@code --histogram-log}: each interval's histogram in HdrHistogram's log format. */
  static final Option HISTOGRAM_LOG = Cli.flag("histogram-log", "FILE", "write each 5 s interval's latency histogram "
      + "to FILE in HdrHistogram's log format (for HistogramLogProcessor or a plotter)");

  /** Adds {@link #JSON}, {@link #RATE} and {@link #HISTOGRAM_LOG} to {@code options}. */
  static Options withCommonOptions(Options options) {
    return options.addOption(JSON).addOption(RATE).addOption(HISTOGRAM_LOG);
  }

  /** How a command's phases run, from its command line: threads, duration, rate, output. */
  record Settings(int threads, long millis, double rate, PrintStream out, HistogramLogWriter log)
      implements AutoCloseable {
    /** Reads --rate, --histogram-log and --json from {@code cl}; progress goes to stderr with --json. */
    static Settings of(CommandLine cl, int threads, long millis) throws IOException, UsageException {
      double rate;
      try {
        rate = Double.parseDouble(cl.getOptionValue(RATE.getLongOpt(), "0"));
      } catch (NumberFormatException e) {
        throw new UsageException("--rate: not a number: " + cl.getOptionValue(RATE.getLongOpt()));
      }
      if (threads < 1 || millis < 1 || !(rate >= 0)) {
        throw new UsageException("--threads and --duration must be positive, and --rate not negative");
      }
      return new Settings(threads, millis, rate, cl.hasOption(JSON.getLongOpt()) ? System.err : System.out,
          openLog(cl.getOptionValue(HISTOGRAM_LOG.getLongOpt())));
    }

    /** {@link #of}, or null once the command line's error is printed to stderr, prefixed with {@code command}. */
    static Settings orUsageError(CommandLine cl, int threads, long millis, String command) throws IOException {
      try {
        return of(cl, threads, millis);
      } catch (UsageException e) {
        System.err.println(command + ": " + e.getMessage());
        return null;
      }
    }

    BenchPhase phase(String name) {
      return new BenchPhase(name, threads, millis, defaultWarmupMillis(millis), rate, out, log);
    }

    @Override
    public void close() {
      if (log != null) {
        log.close();
      }
    }
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper MAPPER =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /** Prints {@code fields} as one JSON object on stdout. */
  public static void printJson(java.util.Map<String, Object> fields) throws IOException {
    System.out.println(MAPPER.writeValueAsString(fields));
  }

  /** Opens an HdrHistogram log at {@code path} (null: none), with its header written. */
  static HistogramLogWriter openLog(String path) throws IOException {
    if (path == null) {
      return null;
    }
    HistogramLogWriter w = new HistogramLogWriter(new java.io.File(path));
    w.outputLogFormatVersion();
    w.outputStartTime(System.currentTimeMillis());
    w.setBaseTime(System.currentTimeMillis());
    w.outputLegend();
    return w;
  }
}
