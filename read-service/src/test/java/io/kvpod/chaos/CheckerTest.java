package io.kvpod.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.chaos.History.Outcome;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The checker on made-up histories: each broken promise is caught, and what is allowed passes. */
class CheckerTest {
  private final History h = new History();

  /** A write of value n to key k, invoked at {@code at} s and completed a second later. */
  private void write(String k, long n, Outcome o, long at) {
    h.write(k, new History.Write(n, at * 1_000_000_000L, (at + 1) * 1_000_000_000L, o, "client", null));
  }

  private void read(String k, long n, long at) {
    h.read(k, new History.Read(n, at * 1_000_000_000L, at * 1_000_000_000L + 1000, "pod 0"));
  }

  private List<String> kinds(Map<String, long[]> finals) {
    return Checker.check(h, finals).stream().map(Checker.Violation::kind).toList();
  }

  @Test
  void aFinalReadOlderThanTheLastAcknowledgedValueIsALoss() {
    write("k", 1, Outcome.OK, 0);
    write("k", 2, Outcome.OK, 2);
    assertEquals(List.of("lost"), kinds(Map.of("k", new long[] {1})));
    assertEquals(List.of("lost"), kinds(Map.of("k", new long[] {-1})));
    assertEquals(List.of(), kinds(Map.of("k", new long[] {2})));
  }

  @Test
  void aFailedWriteMayOrMayNotHaveTakenEffectButMayNotOvertakeALaterAcknowledgedOne() {
    write("k", 1, Outcome.OK, 0);
    write("k", 2, Outcome.UNKNOWN, 2);
    assertEquals(List.of(), kinds(Map.of("k", new long[] {1})), "the failed write did not take effect");
    assertEquals(List.of(), kinds(Map.of("k", new long[] {2})), "the failed write took effect");
    write("k", 3, Outcome.OK, 4);
    assertEquals(List.of("lost"), kinds(Map.of("k", new long[] {2})), "it took effect after n=3: overtaken");
  }

  @Test
  void aValueNoWriteCarriedOrWhoseWriteWasRefusedIsAPhantom() {
    write("k", 1, Outcome.OK, 0);
    write("k", 2, Outcome.FAILED, 2);
    assertEquals(List.of("phantom"), kinds(Map.of("k", new long[] {7})));
    assertEquals(List.of("phantom"), kinds(Map.of("k", new long[] {2})));
  }

  @Test
  void aReadDuringTheRunMustNotBeOlderThanWhatWasAcknowledgedBeforeItBegan() {
    write("k", 1, Outcome.OK, 0);
    write("k", 2, Outcome.OK, 2);
    read("k", 1, 2); // n=2 was in flight: either answer is right
    assertEquals(List.of(), kinds(Map.of("k", new long[] {2})));
    read("k", 1, 4); // n=2 was acknowledged at 3 s
    assertEquals(List.of("stale"), kinds(Map.of("k", new long[] {2})));
  }

  @Test
  void aReadOfAValueInvokedOnlyAfterTheReadCompletedIsAPhantom() {
    write("k", 1, Outcome.OK, 0);
    read("k", 2, 1);
    write("k", 2, Outcome.OK, 5);
    assertEquals(List.of("phantom"), kinds(Map.of("k", new long[] {2})));
  }

  @Test
  void podsThatDisagreeAfterTheRunAreReported() {
    write("k", 1, Outcome.OK, 0);
    write("k", 2, Outcome.UNKNOWN, 2);
    List<Checker.Violation> v = Checker.check(h, Map.of("k", new long[] {1, 2, 1}));
    assertEquals(List.of("diverged"), v.stream().map(Checker.Violation::kind).toList());
    assertTrue(v.get(0).detail().contains("pod 1"), v.get(0).detail());
  }

  @Test
  void anAcknowledgedKeyThatWasNotReadBackIsReported() {
    write("k", 1, Outcome.OK, 0);
    assertEquals(List.of("lost"), kinds(Map.of()));
  }
}
