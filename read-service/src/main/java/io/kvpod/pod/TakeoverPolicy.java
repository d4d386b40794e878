package io.kvpod.pod;

import io.kvpod.contract.Membership;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * Decides which buckets this pod should take over, from the holder records and the
 * {@link PeerLiveness} failure detector. A bucket {@code b} recorded to pod {@code h} is
 * taken over when:
 * <ul>
 *   <li>{@code h} is this pod, but this pod has no shard for {@code b} (its claim outlived
 *       a failed recovery): take it again, in a new epoch; or</li>
 *   <li>{@code h} is down for everyone ({@link PeerLiveness#downForEveryone}) for
 *       {@code afterMillis}, its record of {@code b} is at least that old (a fresh claim
 *       shows its claimer was up, see {@link #noteSeen}), and it was heard from at least
 *       once since the pods started, or
 *       a write for {@code b} is waiting ({@link #demand}); a pod that was never up yet
 *       (a cluster still starting) is left alone unless someone needs its keys; and</li>
 *   <li>this pod is {@code b}'s <em>designated successor</em> ({@link #designated}): the
 *       dead holder's buckets are dealt out, in bucket order, each to the live pod that
 *       holds the fewest buckets so far (ties to the first such pod after {@code h}, in pod
 *       order and wrapping). So the survivors agree, without talking, on who takes which
 *       bucket, a dead holder's buckets are spread over them rather than all given to one,
 *       and none is fought over. If the successor has not taken it after
 *       {@link #STAND_IN_WINDOWS} times {@code afterMillis}, any pod may (a successor that
 *       is alive but cannot act, say one whose HDFS calls keep failing).</li>
 * </ul>
 * A holder that answers {@code RECOVERING} is alive to the detector, so a slow recovery is
 * never taken away.
 *
 * <p>Separately, {@link #toHandBack} names a home bucket of this pod to take back from a live
 * holder that it hears, and that hears it: the balance a restart restores, for when the reclaim
 * at start lost its races, or this pod's buckets were taken while it was frozen or cut off.
 * Only a bucket's home pod takes it back, and only while the two hear each other, so no two
 * pods pull one bucket to and fro. Deciding wrongly costs a takeover, never data. Thread-safe.
 */
final class TakeoverPolicy {
  /**
   * How many windows ({@code afterMillis}) a dead holder's buckets are left to their
   * designated successors before any pod may stand in. Generous on purpose: on a busy machine
   * a successor may take seconds to claim its whole share, and a stand-in that comes too soon
   * takes buckets the successor was about to claim, which unbalances the survivors.
   */
  static final int STAND_IN_WINDOWS = 4;
  /**
   * How many windows a bucket's newest record may name no holder before it counts as an
   * abandoned claim: its writer died between creating the record and writing it (an empty
   * file), or HDFS cannot read it (a record being written whose block was lost). Left alone,
   * such a bucket was never taken over, as a record still being written is not: nobody
   * served it again. A claim in progress writes its record in milliseconds.
   */
  static final int ABANDONED_WINDOWS = 5;
  private final int self;
  /** The membership of views that carry none (made by hand, in tests): {@code pods} pods, seeded. */
  private final Membership seedMembers;
  private final int buckets;
  private final PeerLiveness liveness;
  private final long afterMillis;
  private final long handBackMillis;
  private final LongSupplier nanoClock;
  /** When a write last waited for each bucket's holder ({@code nanoClock}); 0: never. */
  private final AtomicLongArray demandedNanos;
  /** Per bucket, the record last seen, and since when ({@code nanoClock}); see {@link #noteSeen}. */
  private final Ownership.Holding[] seen;
  private final long[] seenSinceNanos;
  /** Per bucket: the epoch of a newest record seen naming no holder (0: none), and since when. */
  private final long[] unknownEpoch;
  private final long[] unknownSinceNanos;
  private boolean firstView = true;

  /** A policy that never hands buckets back ({@link #toHandBack} is always -1). */
  TakeoverPolicy(int self, int pods, int buckets, PeerLiveness liveness, long afterMillis, LongSupplier nanoClock) {
    this(self, pods, buckets, liveness, afterMillis, 0, nanoClock);
  }

  /**
   * @param afterMillis    a holder silent for everyone this long is taken over; 0: never
   * @param handBackMillis a home bucket held by a live pod whose record is this old is taken
   *                       back; 0: never (a restart still reclaims)
   */
  TakeoverPolicy(int self, int pods, int buckets, PeerLiveness liveness, long afterMillis, long handBackMillis,
                 LongSupplier nanoClock) {
    this.self = self;
    this.seedMembers = Ownership.seed(pods, buckets);
    this.buckets = buckets;
    this.liveness = liveness;
    this.afterMillis = afterMillis;
    this.handBackMillis = handBackMillis;
    this.nanoClock = nanoClock;
    this.demandedNanos = new AtomicLongArray(buckets);
    this.seen = new Ownership.Holding[buckets];
    this.seenSinceNanos = new long[buckets];
    this.unknownEpoch = new long[buckets];
    this.unknownSinceNanos = new long[buckets];
  }

  /** Notes that a write for {@code bucket} is waiting because its holder cannot be reached. */
  void demand(int bucket) {
    long now = nanoClock.getAsLong();
    demandedNanos.set(bucket, now == 0 ? 1 : now);
  }

  /** Whether takeovers are on at all ({@code kvpod.takeover.after} > 0). */
  boolean enabled() {
    return afterMillis > 0;
  }

  /** The buckets to take over now, given the records {@code v} and the buckets this pod holds. */
  synchronized List<Integer> toTakeOver(Ownership.View v, Set<Integer> held) {
    List<Integer> out = new ArrayList<>();
    if (!enabled()) {
      return out;
    }
    Membership m = members(v);
    if (!m.takesBuckets(self)) {
      return out; // leaving (or no longer a pod): take nothing more
    }
    long now = nanoClock.getAsLong();
    for (int b = 0; b < v.holdings().length; b++) {
      boolean freshClaim = noteSeen(b, v.of(b), now);
      int h = v.of(b).holder();
      if (h < 0 && !held.contains(b) && abandoned(b, v.of(b).epoch(), now) && reclaimerOf(b, v) == self) {
        out.add(b); // claim a later epoch over the abandoned one, as over a dead holder
        continue;
      }
      if (h < 0 || held.contains(b)) {
        continue; // a record still being written, or held here already
      }
      if (h == self || (!freshClaim && shouldTakeFrom(b, h, v))) {
        out.add(b);
      }
    }
    firstView = false;
    return out;
  }

  /**
   * The home bucket of this pod to take back now, or -1: the lowest-numbered bucket whose home
   * ({@link Membership#home}) is this pod, that this pod does not hold, whose record has not
   * changed for {@code handBackMillis}, and whose holder and this pod hear each other: this pod
   * heard from it within the takeover window, and its last report says it heard from this pod
   * within the window too. A pod cut off from the others hears nobody, so it never takes a
   * bucket back while the others, who cannot hear it, would only take it over again (a silent
   * holder's buckets are the takeover rule's business). Returns one bucket at a time; the
   * caller takes it back (asking the holder to flush first) and asks again only once that move
   * has finished, so the buckets come home one by one and writes to the others never pause.
   */
  synchronized int toHandBack(Ownership.View v, Set<Integer> held) {
    if (!enabled() || handBackMillis <= 0) {
      return -1;
    }
    long now = nanoClock.getAsLong();
    Membership m = members(v);
    for (int b = 0; b < v.holdings().length; b++) {
      noteSeen(b, v.of(b), now);
      int h = v.of(b).holder();
      if (m.home(b) != self || h == self || h < 0 || held.contains(b)) {
        continue;
      }
      boolean settled = now - seenSinceNanos[b] >= TimeUnit.MILLISECONDS.toNanos(handBackMillis);
      if (settled && liveness.silentMillis(h) < afterMillis
          && liveness.reportedSilentMillis(h, self, afterMillis) < afterMillis) {
        firstView = false;
        return b;
      }
    }
    firstView = false;
    return -1;
  }

  /**
   * Notes that {@code bucket}'s record says {@code h}; returns whether that record first
   * appeared less than a window ago. A claim is a sign of life: the pod that wrote it was up
   * then, even if it has not answered a ping since (a restarted pod on a loaded machine,
   * taking its buckets back, can be slow to answer its first pings). So a bucket is not taken
   * from a holder within a window of its claim. Records in the first view this policy sees
   * count as old.
   */
  private boolean noteSeen(int bucket, Ownership.Holding h, long now) {
    if (!h.equals(seen[bucket])) {
      seen[bucket] = h;
      seenSinceNanos[bucket] = firstView ? Long.MIN_VALUE / 2 : now;
    }
    return now - seenSinceNanos[bucket] < TimeUnit.MILLISECONDS.toNanos(afterMillis);
  }

  /**
   * Whether {@code bucket}'s newest record, of {@code epoch}, has named no holder for
   * {@link #ABANDONED_WINDOWS} windows, counted from when this policy first saw it so (a
   * record in the first view counts from then, not as old).
   */
  private boolean abandoned(int bucket, long epoch, long now) {
    if (unknownEpoch[bucket] != epoch) {
      unknownEpoch[bucket] = epoch;
      unknownSinceNanos[bucket] = now;
    }
    return now - unknownSinceNanos[bucket] >= TimeUnit.MILLISECONDS.toNanos(ABANDONED_WINDOWS * afterMillis);
  }

  /** The membership {@code v} was read with, or the seed if it carries none. */
  private Membership members(Ownership.View v) {
    return v.members() != null ? v.members() : seedMembers;
  }

  /**
   * Who claims a bucket whose claim was abandoned: its home pod, or the first pod after it
   * (by id, wrapping) that takes buckets and is not down for everyone.
   */
  int reclaimerOf(int bucket, Ownership.View v) {
    Membership m = members(v);
    int home = m.home(bucket);
    int slots = m.slots();
    for (int i = 0; i < slots; i++) {
      int p = (home + i) % slots;
      if (m.takesBuckets(p) && (p == self || !liveness.downForEveryone(p, afterMillis))) {
        return p;
      }
    }
    return self;
  }

  private boolean shouldTakeFrom(int bucket, int holder, Ownership.View v) {
    if (!liveness.downForEveryone(holder, afterMillis)) {
      return false;
    }
    if (!liveness.everHeard(holder) && !demandedRecently(bucket)) {
      return false;
    }
    return designated(bucket, holder, v) == self || liveness.downForEveryone(holder, STAND_IN_WINDOWS * afterMillis);
  }

  private boolean demandedRecently(int bucket) {
    long at = demandedNanos.get(bucket);
    return at != 0 && nanoClock.getAsLong() - at < TimeUnit.MILLISECONDS.toNanos(2 * afterMillis);
  }

  /**
   * Who should take {@code bucket} from its silent {@code holder}, given the records
   * {@code v}. The deal covers the buckets whose home is {@code holder} and any others
   * recorded to it, in increasing order; each goes to the live pod (never {@code holder})
   * with the fewest buckets so far, counting what it holds of other homes and what it was
   * dealt; of equally loaded pods, the first after {@code holder} in pod order, wrapping. The
   * buckets being dealt count for nobody, so the deal stays the same while the survivors
   * claim their shares one by one (a deal over the current records alone shifts as each
   * claim lands, and a slow survivor's share went to the others).
   *
   * <p>A pod is live unless it is down for everyone ({@link PeerLiveness#downForEveryone}),
   * the same test every survivor applies to the holder: so a pod that only this pod cannot
   * hear, or that this pod has not heard from for a moment because it was busy, is dealt its
   * share all the same, and every survivor deals alike. Returns this pod if {@code bucket}
   * is not in the deal.
   */
  int designated(int bucket, int holder, Ownership.View v) {
    Membership m = members(v);
    int pods = Math.max(m.slots(), holder + 1);
    int[] load = new int[pods];
    for (int b = 0; b < v.holdings().length; b++) {
      int h = v.of(b).holder();
      if (h >= 0 && h < pods && m.home(b) != holder) {
        load[h]++;
      }
    }
    boolean[] candidate = new boolean[pods];
    for (int p = 0; p < pods; p++) {
      candidate[p] = p != holder && m.takesBuckets(p) && !liveness.downForEveryone(p, afterMillis);
    }
    for (int b = 0; b < v.holdings().length; b++) {
      if (m.home(b) != holder && v.of(b).holder() != holder) {
        continue;
      }
      int best = -1;
      for (int i = 1; i < pods; i++) {
        int p = (holder + i) % pods;
        if (candidate[p] && (best < 0 || load[p] < load[best])) {
          best = p;
        }
      }
      if (best < 0) {
        return self; // no candidate at all (only when this pod is the holder)
      }
      if (b == bucket) {
        return best;
      }
      load[best]++;
    }
    return self;
  }
}
