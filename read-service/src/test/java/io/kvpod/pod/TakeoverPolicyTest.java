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
  private final TakeoverPolicy policy = new TakeoverPolicy(0, 3, 3, liveness, WINDOW, () -> nanos);

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
    assertEquals(0, policy.designated(2, 2, homeView()), "after pod 2 comes pod 0 (wrapping)");
    assertEquals(List.of(2), policy.toTakeOver(homeView(), Set.of(0)));
  }

  /**
   * A pod that restarted on a loaded machine claims its buckets back before it answers its
   * first pings: the claim itself shows it is up, so its bucket is left to it for a window,
   * and taken only if it stays silent after that.
   */
  @Test
  void aFreshClaimByAPodNobodyHearsFromIsLeftToItForAWindow() {
    everyoneUp();
    assertEquals(List.of(), policy.toTakeOver(homeView(), Set.of(0)));
    advance(2500);
    report(1, 0, 0, 2500); // nobody hears from pod 2...
    Ownership.Holding[] h = homeView().holdings().clone();
    h[2] = new Ownership.Holding(2, 2); // ...but it has just claimed bucket 2 again, in epoch 2
    Ownership.View claimed = new Ownership.View(h, 0);
    assertTrue(liveness.downForEveryone(2, WINDOW));
    assertEquals(List.of(), policy.toTakeOver(claimed, Set.of(0)), "a claim this fresh is a sign of life");
    advance(WINDOW - 100);
    report(1, 0, 0, 2500 + WINDOW - 100);
    assertEquals(List.of(), policy.toTakeOver(claimed, Set.of(0)));
    advance(200);
    report(1, 0, 0, 2600 + WINDOW);
    assertEquals(List.of(2), policy.toTakeOver(claimed, Set.of(0)), "silent a window after its claim: taken");
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
  void aSuccessorThatDoesNotActIsStoodInForOnlyAfterFourWindows() {
    everyoneUp();
    advance(2500); // pod 1 falls silent; its successor is pod 2, which is alive
    report(2, 0, 2500, 0);
    assertEquals(2, policy.designated(1, 1, homeView()));
    assertEquals(List.of(), policy.toTakeOver(homeView(), Set.of(0)), "pod 0 leaves bucket 1 to pod 2");
    advance(3000);
    report(2, 0, 5500, 0);
    assertEquals(List.of(), policy.toTakeOver(homeView(), Set.of(0)),
        "a successor still claiming its share on a busy machine is not raced");
    advance(2600);
    report(2, 0, 8100, 0);
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

  /** The records of {@code buckets} buckets over 4 pods, each bucket held by its home pod (b mod 4). */
  private static Ownership.View homeView(int buckets) {
    Ownership.Holding[] h = new Ownership.Holding[buckets];
    for (int b = 0; b < buckets; b++) {
      h[b] = new Ownership.Holding(b % 4, 1);
    }
    return new Ownership.View(h, 0);
  }

  /** Pod 0 of four, which has heard from pods 1 and 2 (and never from pod 3). */
  private final PeerLiveness four = new PeerLiveness(0, 4, () -> nanos);

  /** Pod 0's policy for a table of {@code buckets} on four pods; pods 1 and 2 have answered. */
  private TakeoverPolicy fourPods(int buckets) {
    four.reported(1, List.of(0L, 0L, 0L, 0L));
    four.reported(2, List.of(0L, 0L, 0L, 0L));
    return new TakeoverPolicy(0, 4, buckets, four, WINDOW, () -> nanos);
  }

  @Test
  void aDeadHoldersBucketsAreSpreadOverTheSurvivorsNotGivenToOne() {
    TakeoverPolicy p = fourPods(16);
    Ownership.View v = homeView(16); // pod 3 is home to buckets 3, 7, 11, 15
    int[] got = new int[4];
    for (int b : new int[] {3, 7, 11, 15}) {
      got[p.designated(b, 3, v)]++;
    }
    assertEquals(0, got[3], "never the dead holder");
    assertEquals(4, got[0] + got[1] + got[2]);
    for (int pod = 0; pod < 3; pod++) {
      assertTrue(got[pod] >= 1 && got[pod] <= 2, "pod " + pod + " takes 1 or 2 of the 4, got " + got[pod]);
    }
    assertEquals(0, p.designated(3, 3, v), "bucket 3, the first dealt, goes to pod 0, the first after pod 3");
  }

  @Test
  void aDeadHoldersBucketsGoFirstToTheLeastLoadedSurvivor() {
    TakeoverPolicy p = fourPods(8);
    Ownership.Holding[] h = new Ownership.Holding[8];
    int[] holders = {0, 0, 0, 1, 1, 2, 3, 3}; // pod 2 holds one bucket, pod 3 two
    for (int b = 0; b < 8; b++) {
      h[b] = new Ownership.Holding(holders[b], 1);
    }
    Ownership.View v = new Ownership.View(h, 0);
    assertEquals(2, p.designated(6, 3, v), "pod 2 holds fewest");
    assertEquals(1, p.designated(7, 3, v), "then pods 1 and 2 hold two each; pod 1 comes first after pod 3");
  }

  @Test
  void aSurvivorThisPodDoesNotHearFromIsDealtNothing() {
    TakeoverPolicy p = fourPods(16);
    advance(2500);
    four.reported(2, List.of(0L, 2500L, 0L, 2500L)); // pods 1 and 3 silent; pod 2 still answers
    Ownership.View v = homeView(16);
    for (int b : new int[] {3, 7, 11, 15}) {
      int d = p.designated(b, 3, v);
      assertTrue(d == 0 || d == 2, "bucket " + b + " went to pod " + d);
    }
  }

  @Test
  void theDealStaysTheSameWhileTheSurvivorsClaimTheirShares() {
    TakeoverPolicy p = fourPods(64);
    Ownership.Holding[] h = homeView(64).holdings().clone();
    int[] first = new int[64];
    for (int b = 3; b < 64; b += 4) {
      first[b] = p.designated(b, 3, new Ownership.View(h, 0));
    }
    // pod 2 is quick and has claimed three of its share (as in a CI run); pods 0 and 1 nothing yet
    for (int b : new int[] {35, 47, 59}) {
      assertEquals(2, first[b]);
      h[b] = new Ownership.Holding(2, 2);
    }
    Ownership.View later = new Ownership.View(h, 0);
    int[] got = new int[4];
    for (int b = 3; b < 64; b += 4) {
      got[first[b]]++;
      if (later.of(b).holder() == 3) {
        assertEquals(first[b], p.designated(b, 3, later), "bucket " + b + " is still dealt to the same pod");
      }
    }
    assertEquals(6, got[0]);
    assertEquals(5, got[1]);
    assertEquals(5, got[2]);
  }

  @Test
  void aSurvivorOnlyThisPodCannotHearIsStillDealtItsShare() {
    TakeoverPolicy p = fourPods(16);
    advance(2500);
    four.reported(2, List.of(0L, 100L, 0L, 2500L)); // pod 2 heard from pod 1 100 ms ago: only my link to it is cut
    Ownership.View v = homeView(16);
    assertEquals(1, p.designated(7, 3, v), "pod 1 is alive for the others, so it is dealt the same as they deal it");
    four.reported(1, List.of(0L, 0L, 0L, 2500L));
    assertEquals(1, p.designated(7, 3, v), "and it stays dealt when it answers again");
  }

  @Test
  void aBucketRecordedToThisPodThatItDoesNotHoldIsTakenAgain() {
    everyoneUp();
    assertEquals(List.of(0), policy.toTakeOver(homeView(), Set.of()), "its claim outlived a failed recovery");
    assertEquals(List.of(), new TakeoverPolicy(0, 3, 3, liveness, 0, () -> nanos).toTakeOver(homeView(), Set.of()),
        "kvpod.takeover.after=0 turns takeovers off");
  }

  /** Records with bucket 0 (pod 0's home) recorded to {@code holder}, the others at home. */
  private static Ownership.View homeBucketAt(int holder, long epoch) {
    Ownership.Holding[] h = new Ownership.Holding[3];
    for (int b = 0; b < 3; b++) {
      h[b] = new Ownership.Holding(b, 1);
    }
    h[0] = new Ownership.Holding(holder, epoch);
    return new Ownership.View(h, 0);
  }

  @Test
  void aHomeBucketALivePodHasHeldForTheHandBackTimeIsTakenBack() {
    TakeoverPolicy p = new TakeoverPolicy(0, 3, 3, liveness, WINDOW, 30_000, () -> nanos);
    everyoneUp();
    p.toHandBack(homeView(), Set.of(0)); // the first view: all at home
    assertEquals(-1, p.toHandBack(homeBucketAt(1, 2), Set.of()), "pod 1 just took it (say while pod 0 was frozen)");
    for (int i = 0; i < 29; i++) {
      advance(1000);
      everyoneUp();
      assertEquals(-1, p.toHandBack(homeBucketAt(1, 2), Set.of()), "held by pod 1 for " + (i + 1) + " s");
      assertEquals(List.of(), p.toTakeOver(homeBucketAt(1, 2), Set.of()), "pod 1 is up: no takeover");
    }
    advance(1000);
    everyoneUp();
    assertEquals(0, p.toHandBack(homeBucketAt(1, 2), Set.of()), "30 s: pod 0 takes its home bucket back");
    assertEquals(-1, p.toHandBack(homeBucketAt(0, 3), Set.of(0)), "and once it holds it, nothing more");
  }

  @Test
  void aPodCutOffFromTheOthersNeverTakesItsBucketBack() {
    TakeoverPolicy p = new TakeoverPolicy(0, 3, 3, liveness, WINDOW, 30_000, () -> nanos);
    everyoneUp();
    p.toHandBack(homeView(), Set.of(0));
    p.toHandBack(homeBucketAt(1, 2), Set.of()); // pod 1 took bucket 0 while pod 0 was cut off
    advance(60_000); // and pod 0 still hears nobody: pod 1 looks "not down for everyone", but is not heard
    assertEquals(-1, p.toHandBack(homeBucketAt(1, 2), Set.of()), "no hand-back without hearing the holder");
    report(1, 60_000, 0, 0); // pod 0 hears pod 1 again, but pod 1 still does not hear pod 0 (a one-way cut)
    assertEquals(-1, p.toHandBack(homeBucketAt(1, 2), Set.of()), "nor while the holder cannot hear this pod");
    report(1, 0, 0, 0);
    assertEquals(0, p.toHandBack(homeBucketAt(1, 2), Set.of()), "once they hear each other, it comes home");
  }

  @Test
  void onlyTheHomePodTakesABucketBackAndNeverFromADeadHolder() {
    everyoneUp();
    TakeoverPolicy p = new TakeoverPolicy(0, 3, 3, liveness, WINDOW, 30_000, () -> nanos);
    Ownership.Holding[] h = {new Ownership.Holding(0, 1), new Ownership.Holding(2, 2), new Ownership.Holding(2, 1)};
    Ownership.View bucket1AtPod2 = new Ownership.View(h, 0); // bucket 1's home is pod 1, not pod 0
    advance(60_000);
    everyoneUp();
    assertEquals(-1, p.toHandBack(bucket1AtPod2, Set.of(0)), "pod 0 never takes another pod's home bucket");

    p.toHandBack(homeBucketAt(2, 2), Set.of());
    advance(60_000);
    report(1, 0, 0, 60_000); // pod 2 is silent for everyone: a takeover's business, not a hand-back's
    assertEquals(-1, p.toHandBack(homeBucketAt(2, 2), Set.of()));
    assertEquals(-1, new TakeoverPolicy(0, 3, 3, liveness, WINDOW, () -> nanos).toHandBack(homeBucketAt(1, 2),
        Set.of()), "kvpod.handback.after=0 (the short constructor) turns hand-backs off");
  }

  /**
   * A claimer that died between creating its record and writing it leaves a record that names
   * no holder. It is left alone while it may be a claim in progress, then claimed anew by the
   * bucket's home pod, or, with the home pod down, by the first live pod after it.
   */
  @Test
  void aClaimAbandonedHalfWrittenIsClaimedAnewAfterSomeWindows() {
    everyoneUp();
    Ownership.Holding[] h = homeView().holdings().clone();
    h[0] = new Ownership.Holding(-1, 2); // bucket 0 (home: pod 0): epoch 2's record names nobody
    h[1] = new Ownership.Holding(-1, 2); // bucket 1 (home: pod 1): the same
    Ownership.View half = new Ownership.View(h, 0);

    assertEquals(List.of(), policy.toTakeOver(half, Set.of()), "a claim may be in progress");
    advance(TakeoverPolicy.ABANDONED_WINDOWS * WINDOW - 100);
    everyoneUp();
    assertEquals(List.of(), policy.toTakeOver(half, Set.of()));
    advance(200);
    everyoneUp();
    assertEquals(List.of(0), policy.toTakeOver(half, Set.of()), "pod 0 claims its own bucket; bucket 1 is pod 1's");

    advance(WINDOW + 500); // pod 1 falls silent for everyone
    report(2, 0, WINDOW + 500, 0);
    assertTrue(liveness.downForEveryone(1, WINDOW));
    assertEquals(2, policy.reclaimerOf(1, half), "after pod 1 comes pod 2, which is up");
    assertEquals(List.of(0), policy.toTakeOver(half, Set.of()), "so pod 0 leaves bucket 1 to pod 2");
  }

  /** Three pods and three buckets, each at its first holder (epoch 0), under membership {@code m}. */
  private static Ownership.View firstHolders(io.kvpod.contract.Membership m) {
    Ownership.Holding[] h = new Ownership.Holding[3];
    for (int b = 0; b < 3; b++) {
      h[b] = new Ownership.Holding(b, 0);
    }
    return new Ownership.View(h, 0, m);
  }

  @Test
  void aBucketWhoseHomeMovedIsTakenByItsNewHomeAtOnceWhileBothHearEachOther() {
    io.kvpod.contract.Membership three = io.kvpod.contract.Membership.seed(List.of("a:1", "b:1", "c:1"), 3);
    io.kvpod.contract.Membership pod2Leaves = three.leave(2); // bucket 2's home is now pod 0
    assertEquals(0, pod2Leaves.home(2));
    TakeoverPolicy p = new TakeoverPolicy(0, 3, 3, liveness, WINDOW, 30_000, () -> nanos);
    everyoneUp();
    assertEquals(2, p.toHandBack(firstHolders(pod2Leaves), Set.of(0)),
        "a record unchanged since before: no wait for the hand-back time");
    report(2, 60_000, 0, 0); // but pod 2 no longer hears pod 0
    assertEquals(-1, p.toHandBack(firstHolders(pod2Leaves), Set.of(0)), "mutual hearing, as for any hand-back");
  }

  @Test
  void aLeavingPodTakesNothingOverAndIsDealtNothing() {
    io.kvpod.contract.Membership pod0Leaves =
        io.kvpod.contract.Membership.seed(List.of("a:1", "b:1", "c:1"), 3).leave(0);
    everyoneUp();
    advance(2500);
    report(1, 0, 0, 2500); // pod 2 falls silent for everyone
    assertTrue(liveness.downForEveryone(2, WINDOW));
    assertEquals(List.of(), policy.toTakeOver(firstHolders(pod0Leaves), Set.of(0)), "pod 0 is leaving");
    assertEquals(1, policy.designated(2, 2, firstHolders(pod0Leaves)), "pod 2's bucket goes to pod 1, not pod 0");
  }
}
