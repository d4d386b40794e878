package io.kvpod.pod;

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
 *       {@code afterMillis}, and it was heard from at least once since the pods started, or
 *       a write for {@code b} is waiting ({@link #demand}); a pod that was never up yet
 *       (a cluster still starting) is left alone unless someone needs its keys; and</li>
 *   <li>this pod is {@code b}'s <em>designated successor</em>: the first pod after
 *       {@code h}, in pod order and wrapping, that this pod hears from (or this pod itself).
 *       So the survivors agree, without talking, on who takes which bucket, and a dead
 *       holder's buckets are not fought over. If the successor has not taken it after twice
 *       {@code afterMillis}, any pod may.</li>
 * </ul>
 * A holder that answers {@code RECOVERING} is alive to the detector, so a slow recovery is
 * never taken away. Deciding wrongly costs a takeover, never data. Thread-safe.
 */
final class TakeoverPolicy {
  private final int self;
  private final int pods;
  private final PeerLiveness liveness;
  private final long afterMillis;
  private final LongSupplier nanoClock;
  /** When a write last waited for each bucket's holder ({@code nanoClock}); 0: never. */
  private final AtomicLongArray demandedNanos;

  TakeoverPolicy(int self, int pods, PeerLiveness liveness, long afterMillis, LongSupplier nanoClock) {
    this.self = self;
    this.pods = pods;
    this.liveness = liveness;
    this.afterMillis = afterMillis;
    this.nanoClock = nanoClock;
    this.demandedNanos = new AtomicLongArray(pods);
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
  List<Integer> toTakeOver(Ownership.View v, Set<Integer> held) {
    List<Integer> out = new ArrayList<>();
    if (!enabled()) {
      return out;
    }
    for (int b = 0; b < v.holdings().length; b++) {
      int h = v.of(b).holder();
      if (h < 0 || held.contains(b)) {
        continue; // a record still being written, or held here already
      }
      if (h == self || shouldTakeFrom(b, h)) {
        out.add(b);
      }
    }
    return out;
  }

  private boolean shouldTakeFrom(int bucket, int holder) {
    if (!liveness.downForEveryone(holder, afterMillis)) {
      return false;
    }
    if (!liveness.everHeard(holder) && !demandedRecently(bucket)) {
      return false;
    }
    return designated(holder) == self || liveness.downForEveryone(holder, 2 * afterMillis);
  }

  private boolean demandedRecently(int bucket) {
    long at = demandedNanos.get(bucket);
    return at != 0 && nanoClock.getAsLong() - at < TimeUnit.MILLISECONDS.toNanos(2 * afterMillis);
  }

  /** The first pod after {@code holder} that this pod hears from, or this pod. */
  int designated(int holder) {
    for (int i = 1; i < pods; i++) {
      int p = (holder + i) % pods;
      if (p == self || liveness.silentMillis(p) < afterMillis) {
        return p;
      }
    }
    return self;
  }
}
