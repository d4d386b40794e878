package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

/** A pod's meters, as Prometheus text and as JMX MBeans, in one JVM. */
class PodMetricsTest {
  @Test
  void callLatenciesAndErrorsAreExportedAsPrometheusTextAndJmx() throws Exception {
    try (PodMetrics m = PodMetrics.exported(7, 60_000, new RecentEvents())) {
      for (int i = 1; i <= 100; i++) {
        m.called("get", TimeUnit.MICROSECONDS.toNanos(100 * i), null); // 0.1 ms .. 10 ms
      }
      m.called("put", TimeUnit.MILLISECONDS.toNanos(2), new KvPodException(ErrorCode.BUSY, "busy"));
      m.walSync().record(3, TimeUnit.MILLISECONDS);
      m.walAppended(1234);
      m.gauge("kvpod.buckets.held", "buckets this pod holds", () -> 5);

      List<PrometheusText.Sample> s = PrometheusText.parse(m.scrape());
      double p99 = PrometheusText.value(s, "kvpod_calls_seconds", "call", "get", "pod", "7", "quantile", "0.99");
      assertTrue(p99 > 0.009 && p99 < 0.011, "get p99 of 0.1..10 ms is about 10 ms: " + p99);
      double p50 = PrometheusText.value(s, "kvpod_calls_seconds", "call", "get", "quantile", "0.5");
      assertTrue(p50 > 0.004 && p50 < 0.006, "get p50 is about 5 ms: " + p50);
      assertEquals(100, PrometheusText.value(s, "kvpod_calls_seconds_count", "call", "get"));
      assertEquals(1, PrometheusText.value(s, "kvpod_call_errors_total", "call", "put", "code", "BUSY"));
      assertThrows(AssertionError.class, () -> PrometheusText.value(s, "kvpod_call_errors_total", "call", "get"),
          "a call that succeeded counts no error");
      double sync = PrometheusText.value(s, "kvpod_wal_sync_seconds", "quantile", "0.99");
      assertTrue(sync > 0.002 && sync < 0.004, "WAL sync p99: " + sync);
      assertEquals(1234, PrometheusText.value(s, "kvpod_wal_bytes_total"));
      assertEquals(5, PrometheusText.value(s, "kvpod_buckets_held"));
      assertTrue(PrometheusText.value(s, "jvm_threads_live_threads") > 0, "the JVM's meters are there too");

      MBeanServer jmx = ManagementFactory.getPlatformMBeanServer();
      ObjectName gets = new ObjectName("kvpod:name=kvpodCalls.call.get.pod.7,type=timers");
      assertEquals(100L, jmx.getAttribute(gets, "Count"));
      ObjectName held = new ObjectName("kvpod:name=kvpodBucketsHeld.pod.7,type=gauges");
      assertEquals(5, ((Number) jmx.getAttribute(held, "Value")).intValue());
    }
    assertTrue(ManagementFactory.getPlatformMBeanServer().queryNames(new ObjectName("kvpod:*"), null).isEmpty(),
        "closing the meters unregisters their MBeans");
  }

  @Test
  void linesThatAreNotPrometheusTextAreRefusedByTheTestsReader() {
    assertThrows(AssertionError.class, () -> PrometheusText.parse("kvpod_x 1\n"), "a sample before its TYPE");
    assertThrows(AssertionError.class, () -> PrometheusText.parse("# TYPE kvpod_x gauge\nkvpod_x{a=b} 1\n"),
        "an unquoted label value");
    assertThrows(AssertionError.class, () -> PrometheusText.parse("# TYPE kvpod_x gauge\nkvpod_x one\n"),
        "a value that is not a number");
    assertEquals(2, PrometheusText.parse("# TYPE kvpod_x gauge\nkvpod_x{a=\"1\"} 1.5\nkvpod_x{a=\"2\",} NaN\n").size());
  }
}
