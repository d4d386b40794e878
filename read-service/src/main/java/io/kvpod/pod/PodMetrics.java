package io.kvpod.pod;

import io.kvpod.thrift.CallLatency;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.jmx.JmxConfig;
import io.micrometer.jmx.JmxMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.Closeable;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pod's meters, in one place, each with its name, unit and help. One set of meters is
 * exported twice: as Prometheus text ({@link #scrape}, served at {@code /metrics} by
 * {@link HttpEndpoint}) and as JMX MBeans (domain {@code kvpod}). Micrometer keeps them:
 * its timers give the percentiles (HdrHistogram, over a window that decays in two minutes),
 * counts, totals and maxima that both exports show.
 *
 * <ul>
 *   <li>{@code kvpod_calls_seconds{call}}: each Thrift call this pod answers, by method
 *       (get, multiGet, put, batchPut, ...), with quantiles 0.5, 0.9, 0.99, 0.999;
 *       {@code kvpod_call_errors_total{call,code}} counts the calls answered with an error.
 *       A call slower than {@code kvpod.server.slow.call} is logged (at most once a second).</li>
 *   <li>{@code kvpod_peer_calls_seconds{message}}: the messages this pod sends to other pods
 *       (forwardedWrite, forwardedRead, ping, ...), and {@code kvpod_peer_call_errors_total}.</li>
 *   <li>{@code kvpod_wal_sync_seconds}, {@code kvpod_wal_bytes_total}: the log's group
 *       commits (one sync per group) and the bytes appended.</li>
 *   <li>{@code kvpod_flush_seconds}, {@code kvpod_compaction_seconds}.</li>
 *   <li>Gauges the pod registers ({@link #gauge}): buckets held and recovering, takeovers,
 *       memtable records, WAL segments, layers, block cache bytes and hit ratio, connections,
 *       writes waiting on other pods; and the JVM's memory, GC, threads and CPU.</li>
 * </ul>
 * Thread-safe.
 */
final class PodMetrics implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(PodMetrics.class);
  private static final double[] QUANTILES = {0.5, 0.9, 0.99, 0.999};
  /** Failures that are not the caller's doing: kept in {@link RecentEvents} as well as counted. */
  private static final Set<ErrorCode> SERIOUS = EnumSet.of(ErrorCode.INTERNAL, ErrorCode.CORRUPTION,
      ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT, ErrorCode.OWNER_UNREACHABLE);

  private final CompositeMeterRegistry registry = new CompositeMeterRegistry();
  private final PrometheusMeterRegistry prometheus;
  private final JmxMeterRegistry jmx;
  private final JvmGcMetrics gc;
  private final long slowCallNanos;
  private final RecentEvents events;
  private final LogThrottle slowCalls = new LogThrottle(1, TimeUnit.SECONDS);
  private final Map<String, Timer> calls = new ConcurrentHashMap<>();
  private final Map<String, Timer> peerCalls = new ConcurrentHashMap<>();
  private final Timer walSync;
  private final Counter walBytes;
  private final Timer flushes;
  private final Timer compactions;

  private PodMetrics(int podId, boolean export, long slowCallMillis, RecentEvents events) {
    this.events = events;
    this.slowCallNanos = TimeUnit.MILLISECONDS.toNanos(slowCallMillis);
    if (export) {
      prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      jmx = new JmxMeterRegistry(new JmxConfig() {
        @Override
        public String get(String key) {
          return null;
        }

        @Override
        public String domain() {
          return "kvpod";
        }
      }, Clock.SYSTEM);
      registry.add(prometheus);
      registry.add(jmx);
    } else {
      prometheus = null;
      jmx = null;
      registry.add(new SimpleMeterRegistry());
    }
    registry.config().commonTags("pod", Integer.toString(podId));
    walSync = timer("kvpod.wal.sync", "a group commit's append and sync of the write-ahead log").register(registry);
    walBytes = Counter.builder("kvpod.wal.bytes").baseUnit("bytes").description("bytes appended to write-ahead logs")
        .register(registry);
    flushes = timer("kvpod.flush", "a memtable written to a layer and published").register(registry);
    compactions = timer("kvpod.compaction", "layers merged into one and published").register(registry);
    if (export) {
      new JvmMemoryMetrics().bindTo(registry);
      new JvmThreadMetrics().bindTo(registry);
      new ProcessorMetrics().bindTo(registry);
      gc = new JvmGcMetrics();
      gc.bindTo(registry);
    } else {
      gc = null;
    }
  }

  /**
   * Meters for pod {@code podId}, exported to Prometheus and JMX; calls slower than
   * {@code slowCallMillis} are logged, and calls that failed seriously go to {@code events}.
   */
  static PodMetrics exported(int podId, long slowCallMillis, RecentEvents events) {
    return new PodMetrics(podId, true, slowCallMillis, events);
  }

  /** Meters kept in memory only, for tests and tools (nothing exported, nothing logged). */
  static PodMetrics inMemory() {
    return new PodMetrics(0, false, Long.MAX_VALUE / 2_000_000, new RecentEvents());
  }

  /** The latency of each kind of call answered so far, by method, in milliseconds. */
  Map<String, CallLatency> latencies() {
    Map<String, CallLatency> out = new java.util.TreeMap<>();
    calls.forEach((method, t) -> {
      HistogramSnapshot s = t.takeSnapshot();
      double[] q = new double[QUANTILES.length];
      for (ValueAtPercentile v : s.percentileValues()) {
        for (int i = 0; i < QUANTILES.length; i++) {
          if (v.percentile() == QUANTILES[i]) {
            q[i] = v.value(TimeUnit.MILLISECONDS);
          }
        }
      }
      out.put(method, new CallLatency(t.count(), q[0], q[2], q[3], s.max(TimeUnit.MILLISECONDS)));
    });
    return out;
  }

  private static Timer.Builder timer(String name, String help) {
    return Timer.builder(name).description(help).publishPercentiles(QUANTILES)
        .distributionStatisticExpiry(Duration.ofMinutes(2)).distributionStatisticBufferLength(4);
  }

  /**
   * Records a Thrift call of {@code method} that took {@code nanos}; {@code error} is what it
   * was answered with, null if it succeeded. A failure that is not the caller's doing
   * ({@link #SERIOUS}) is also kept in the pod's {@link RecentEvents}.
   */
  void called(String method, long nanos, KvPodException failure) {
    ErrorCode error = failure == null ? null : failure.getCode() == null ? ErrorCode.INTERNAL : failure.getCode();
    record(calls, CALLS, "call", method, nanos, error);
    if (error != null && SERIOUS.contains(error)) {
      events.add(RecentEvents.ERROR, method + " failed with " + error + ": " + failure.getMessage());
    }
    if (nanos >= slowCallNanos) {
      long n = slowCalls.count();
      if (n > 0) {
        LOG.warn("slow call: {} took {} ms{} ({} slow calls so far; kvpod.server.slow.call)", method,
            TimeUnit.NANOSECONDS.toMillis(nanos), error == null ? "" : " and failed with " + error, n);
      }
    }
  }

  /** Records a message of kind {@code message} sent to another pod; {@code error} is null if it was answered. */
  void peerCalled(String message, long nanos, ErrorCode error) {
    record(peerCalls, PEER_CALLS, "message", message, nanos, error);
  }

  /** A family of timers by one tag, with a counter of errors by that tag and the error's code. */
  private record Family(String timer, String timerHelp, String errors, String errorsHelp) {}

  private static final Family CALLS = new Family("kvpod.calls", "Thrift calls this pod answered, by method",
      "kvpod.call.errors", "Thrift calls answered with an error, by method and code");
  private static final Family PEER_CALLS = new Family("kvpod.peer.calls", "messages sent to other pods, by kind",
      "kvpod.peer.call.errors", "messages to other pods that failed, by kind and code");

  private void record(Map<String, Timer> timers, Family f, String tag, String value, long nanos, ErrorCode error) {
    timers.computeIfAbsent(value, v -> timer(f.timer(), f.timerHelp()).tag(tag, v).register(registry))
        .record(nanos, TimeUnit.NANOSECONDS);
    if (error != null) {
      Counter.builder(f.errors()).description(f.errorsHelp()).tag(tag, value).tag("code", error.name())
          .register(registry).increment();
    }
  }

  /** The timer of the write-ahead log's group commits. */
  Timer walSync() {
    return walSync;
  }

  /** Counts {@code bytes} appended to a write-ahead log. */
  void walAppended(long bytes) {
    walBytes.increment(bytes);
  }

  Timer flushes() {
    return flushes;
  }

  Timer compactions() {
    return compactions;
  }

  /** Registers a gauge {@code name} that reads {@code value} when it is exported. */
  void gauge(String name, String help, Supplier<Number> value) {
    Gauge.builder(name, value).description(help).strongReference(true).register(registry);
  }

  /** Registers a counter {@code name} that reads a monotonic total from {@code total}. */
  <T> void counter(String name, String help, T source, ToDoubleFunction<T> total) {
    FunctionCounter.builder(name, source, total).description(help).register(registry);
  }

  /** The meters as Prometheus text (format 0.0.4); empty for {@link #inMemory} meters. */
  String scrape() {
    return prometheus == null ? "" : prometheus.scrape();
  }

  /** Where the meters are kept (tests read them here). */
  MeterRegistry registry() {
    return registry;
  }

  @Override
  public void close() {
    if (gc != null) {
      gc.close();
    }
    registry.close();
  }
}
