package io.kvpod.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.loader.UsageException;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.Options;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark's measurement itself: what a latency is in a closed and in an open loop. */
class BenchPhaseTest {
  private static final long STALL_MILLIS = 400;

  private final ByteArrayOutputStream printed = new ByteArrayOutputStream();
  private final PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8);

  /** An op that returns at once, except its 100th call, which stalls for {@link #STALL_MILLIS}. */
  private static BenchPhase.Op stallingOnce() {
    AtomicLong calls = new AtomicLong();
    return r -> {
      if (calls.incrementAndGet() == 100) {
        try {
          Thread.sleep(STALL_MILLIS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new KvPodException(ErrorCode.INTERNAL, "interrupted");
        }
      }
    };
  }

  @Test
  void atAFixedRateAStallCountsAgainstEveryCallItHoldsUp() throws Exception {
    double rate = 1000;
    BenchPhase.Result r = new BenchPhase("stall", 1, 1500, 0, rate, out, null).run(stallingOnce());

    // About 400 of some 1,500 calls were due during the stall, and waited up to 400 ms each.
    assertTrue(r.p99Millis() >= 100, "p99 from when calls were due: " + r);
    assertTrue(r.maxMillis() >= STALL_MILLIS * 0.9, r.toString());
    // The calls themselves were quick: only one of them was slow.
    assertTrue(r.serviceP99Millis() < 100, "service time p99: " + r);
    // An open loop never runs ahead of its schedule.
    assertTrue(r.callsPerSecond() <= rate * 1.05, r.toString());
    assertTrue(printed.toString(StandardCharsets.UTF_8).contains("latencies from when each call was due"));
  }

  @Test
  void inAClosedLoopAStallIsOneSlowCall() throws Exception {
    BenchPhase.Result r = new BenchPhase("stall", 1, 1500, 0, 0, out, null).run(stallingOnce());

    assertTrue(r.maxMillis() >= STALL_MILLIS * 0.9, r.toString());
    assertTrue(r.p99Millis() < 100, "one slow call among many cannot move the p99: " + r);
    assertEquals(r.p99Millis(), r.serviceP99Millis(), "with no schedule, a latency is the call's own time");
  }

  @Test
  void failedCallsAreCountedAndTheFirstIsKept() throws Exception {
    AtomicLong calls = new AtomicLong();
    BenchPhase.Result r = new BenchPhase("errors", 2, 300, 0, 200, out, null).run(rnd -> {
      throw new KvPodException(ErrorCode.BUSY, "call " + calls.incrementAndGet());
    });

    assertTrue(r.errors() > 0, r.toString());
    assertEquals(calls.get(), r.errors());
    assertTrue(r.firstError().startsWith("BUSY: call "), r.firstError());
    assertEquals(0, r.callsPerSecond(), "failed calls are not counted as done");
  }

  @Test
  void eachIntervalGoesToTheHistogramLog(@TempDir Path dir) throws Exception {
    Path log = dir.resolve("get.hlog");
    Options options = BenchPhase.withCommonOptions(new Options());
    var cl = new DefaultParser().parse(options, new String[] {"--histogram-log", log.toString()});
    try (BenchPhase.Settings settings = BenchPhase.Settings.of(cl, 1, 300)) {
      settings.phase("get").run(r -> { });
    }

    String text = Files.readString(log);
    assertTrue(text.contains("#[Histogram log format version"), text);
    assertTrue(text.lines().anyMatch(l -> l.startsWith("Tag=get,")), text);
  }

  @Test
  void aNegativeOrMalformedRateIsAUsageError() throws Exception {
    Options options = BenchPhase.withCommonOptions(new Options());
    for (String rate : new String[] {"-5", "fast", "NaN"}) {
      var cl = new DefaultParser().parse(options, new String[] {"--rate", rate});
      assertThrows(UsageException.class, () -> BenchPhase.Settings.of(cl, 8, 1000), rate);
    }
  }
}
