package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The failure detector and the takeover policy on a clock the test steps: which silences
 * mean "down", who takes a dead holder's bucket, and when nobody should. Pod 0's view of
 * a three-pod cluster; the takeover window is 2 s.
 */
class TakeoverPolicyTest {
  private static final long WINDOW = 2000;
  private long nanos = 1_000_000_000L;
  private final PeerLiveness liveness = new PeerLiveness(0, 3, () -> nanos);
  private final TakeoverPolicy policy = new TakeoverPolicy(0, 3, liveness, WINDOW, () -> nanos);

  private void advance(long millis) {
    nanos += TimeUnit.MILLISECONDS.toNanos(millis);
  }

  /** Pod {@code from} answers a ping, saying how long it has not heard from each pod. */
  private void report(int from, long... silentMillis) {
    liveness.reported(from, java.util.Arrays.stream(silentMillis).boxed().toList());
  }

  /** The records: bucket b held by pod b, epoch 1. */
  private static Ownership.View homeView() {
    Ownership.Holding[] h = new Ownership.Holding[3];
    for (int b = 0; b < 3; b++) {
      h[b] = new Ownership.Holding(b, 1);
    }
    return new Ownership.View(h, 0);
  }

  private void everyoneUp() {
    report(1, 0, 0, 0);
    report(2, 0, 0, 0);
  }

  @Test
  void aHolderThatNoPodHearsFromIsTakenOverByTheFirstLivePodAfterIt() {
    everyoneUp();
    advance(2500); // pod 2 falls silent; pod 1 keeps answering, and no longer hears from pod 2 either
    report(1, 0, 0, 2500);
    assertTrue(liveness.downForEveryone(2, WINDOW));
    assertEquals(0, policy.designated(2), "after pod 2 comes pod 0 (wrapping)");
    assertEquals(List.of(2), policy.toTakeOver(homeView(), Set.of(0)));
  }

  @Test
  void aHolderThatAnotherPodStillHearsFromIsNotDownOnlyCutOffFromThisPod() {
    everyoneUp();
    advance(2500);
    report(1, 0, 0, 100); // pod 1 heard from pod 2 100 ms ago
    assertFalse(liveness.downForEveryone(2, WINDOW));
    assertEquals(List.of(), policy.toTakeOver(homeView(), Set.of(0)));
  }

  @Test
  void aPodThatHearsFromNoOtherPodTakesNothingOver() {
    everyoneUp();
    advance(5000); // this pod is the one cut off
    assertFalse(liveness.downForEveryone(1, WINDOW));
    assertFalse(liveness.downForEveryone(2, WINDOW));
    assertEquals(List.of(), policy.toTakeOver(homeView(), Set.of(0)));
  }

  @Test
  void aReportOlderThanHalfTheWindowCountsAsStillHearing() {
    everyoneUp();
    advance(1500);
    report(2, 0, 1500, 0); // pod 2 says it has not heard from pod 1 for 1.5 s...
    advance(1200);         // ...but that was 1.2 s ago, and pod 2 has said nothing since
    liveness.heard(2);
    assertFalse(liveness.downForEveryone(1, WINDOW), "pod 2 may have heard from pod 1 since");
  }

  @Test
  void aSuccessorThatDoesNotActIsStoodInForAfterTwiceTheWindow() {
    everyoneUp();
    advance(2500); // pod 1 falls silent; its successor is pod 2, which is alive
    report(2, 0, 2500, 0);
    assertEquals(2, policy.designated(1));
    assertEquals(List.of(), policy.toTakeOver(homeView(), Set.of(0)), "pod 0 leaves bucket 1 to pod 2");
    advance(2000);
    report(2, 0, 4500, 0);
    assertEquals(List.of(1), policy.toTakeOver(homeView(), Set.of(0)), "pod 2 did not take it: pod 0 does");
  }

  @Test
  void aPodNeverHeardFromIsTakenOverOnlyWhenAWriteWaitsForIt() {
    report(1, 0, 0, -1); // pod 2 has not started: nobody ever heard from it
    advance(3000);
    report(1, 0, 0, -1);
    assertTrue(liveness.downForEveryone(2, WINDOW));
    assertFalse(liveness.everHeard(2));
    assertEquals(List.of(), policy.toTakeOver(homeView(), Set.of(0)), "a cluster still starting is left alone");
    policy.demand(2);
    assertEquals(List.of(2), policy.toTakeOver(homeView(), Set.of(0)), "unless its keys are wanted");
  }

  @Test
  void aBucketRecordedToThisPodThatItDoesNotHoldIsTakenAgain() {
    everyoneUp();
    assertEquals(List.of(0), policy.toTakeOver(homeView(), Set.of()), "its claim outlived a failed recovery");
    assertEquals(List.of(), new TakeoverPolicy(0, 3, liveness, 0, () -> nanos).toTakeOver(homeView(), Set.of()),
        "kvpod.takeover.after=0 turns takeovers off");
  }
}
