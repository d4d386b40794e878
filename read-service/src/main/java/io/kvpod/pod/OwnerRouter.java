package io.kvpod.pod;

import io.kvpod.client.Backoff;
import io.kvpod.client.KvPodClient;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.PeerSigner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.KeyValue;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.RelayRequest;
import io.kvpod.thrift.internal.ShareOutcome;
import io.kvpod.thrift.internal.WriteReply;
import io.kvpod.thrift.internal.WriteRequest;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * Sends each key's reads and writes to the pod that holds its bucket ({@code murmur3(key)
 * mod buckets}; the bucket's home pod unless a takeover recorded another, see
 * {@link ShardSet}): buckets held here to their {@link Shard}, the others through
 * {@code process()}, one request per holder, sent in parallel: reads of several buckets
 * in one forwarded read; writes of several buckets in one forwarded write that the holder
 * applies bucket by bucket, answering per bucket, after which each share not applied is
 * sent again on its own ({@link #writeRounds}).
 *
 * <p><b>Reads</b> are {@link RoutedReads}'s: forwarded to the holder, or answered from the
 * bucket's log when the holder does not answer. Requests over many keys are split and
 * gathered by {@link KeyShares}.
 *
 * <p><b>Writes</b> carry a deadline (wall clock, ms) and are tried until it passes, or until
 * {@code kvpod.write.deadline} after they arrived, whichever is first; the holder refuses
 * to log a write after its deadline. A write of a bucket held elsewhere is forwarded to its
 * holder; if this pod cannot reach the holder (a cut link, or the holder is silent to this
 * pod's {@link PeerLiveness}), it is relayed through another pod that still hears from the
 * holder. A holder that answers {@code NOT_OWNER} makes this pod re-read the records and
 * route again; one that answers {@code RECOVERING} is waited for. Writes never take a
 * bucket over themselves: a write that cannot reach its holder tells the
 * {@link TakeoverPolicy}, and the poller decides. Thread-safe.
 */
final class OwnerRouter implements Closeable {
  private final int self;
  /** One more than the highest pod id now (the membership's slots). */
  private final IntSupplier slots;
  private final int buckets;
  private final ShardSet shards;
  private final PeerClient peers;
  private final KeyShares scatter = new KeyShares();
  private final RoutedReads reads;
  private final PeerLiveness liveness;
  private final TakeoverPolicy policy;
  private final WaitSlots waitSlots;
  private final long writeDeadlineMillis;
  private final long silentAfterMillis;
  private final long peerTimeoutMillis;
  private final long clockSkewMillis;
  /** Between rounds of a write: short, since a takeover or a recovery it waits for ends at no fixed time. */
  private final Backoff backoff = new Backoff(20, 200);
  /** Why the last direct call to a holder failed, for the error of a write that finds none to call. */
  private volatile String lastCallFailure;

  /**
   * {@code silentAfterMillis}: a pod silent this long to this pod's detector is not called
   * directly, nor used as a relay (its calls would only wait out their timeout).
   */
  OwnerRouter(int self, IntSupplier slots, int buckets, ShardSet shards, PeerClient peers, PeerWalReader peerWals,
              PeerLiveness liveness, TakeoverPolicy policy, WaitSlots waitSlots, long writeDeadlineMillis,
              long silentAfterMillis, long peerTimeoutMillis, long clockSkewMillis) {
    this.self = self;
    this.slots = slots;
    this.buckets = buckets;
    this.shards = shards;
    this.peers = peers;
    this.reads = new RoutedReads(self, slots, buckets, shards, peers, peerWals, liveness, silentAfterMillis, scatter);
    this.liveness = liveness;
    this.policy = policy;
    this.waitSlots = waitSlots;
    this.writeDeadlineMillis = writeDeadlineMillis;
    this.silentAfterMillis = silentAfterMillis;
    this.peerTimeoutMillis = peerTimeoutMillis;
    this.clockSkewMillis = clockSkewMillis;
  }

  int bucketOf(byte[] key) {
    return KeyPartitioner.bucket(key, buckets);
  }

  /** The deadline of a write whose caller set none: now plus {@code kvpod.write.deadline}. */
  long defaultDeadline() {
    return System.currentTimeMillis() + writeDeadlineMillis;
  }

  /** The newest record of each key, null where there is none ({@link RoutedReads}). */
  Found[] get(byte[][] keys) throws IOException, KvPodException, InterruptedException {
    return reads.get(keys);
  }

  /**
   * Durably stores records (keys and values pair by index) at their holders, unless
   * {@code deadlineMillis} passes first.
   */
  void put(byte[][] keys, byte[][] values, long deadlineMillis)
      throws IOException, KvPodException, InterruptedException {
    if (keys.length == 1) { // the common put: no grouping, no fan-out
      int bucket = bucketOf(keys[0]);
      write(keys.length + " records of bucket " + bucket, shards.serving(bucket) == null,
          () -> writeRounds(bucket, keys, values, deadlineMillis));
      return;
    }
    List<List<Integer>> byBucket = KeyShares.groupByBucket(keys, buckets);
    boolean waits = false;
    for (int b = 0; b < buckets && !waits; b++) {
      waits = !byBucket.get(b).isEmpty() && shards.serving(b) == null;
    }
    write(keys.length + " records", waits, () -> {
      List<List<Integer>> groups = groupByHolder(byBucket);
      List<List<Integer>> shares = new ArrayList<>(byBucket); // the buckets' own shares...
      for (List<Integer> group : groups) {
        for (int b : group) {
          shares.set(b, List.of()); // ...less those sent in a group...
        }
      }
      shares.addAll(groups); // ...then the groups: share buckets + h is holder h's group
      scatter.eachShare(shares, (share, idx) -> {
        if (share < buckets) {
          writeRounds(share, KeyShares.pick(keys, idx), KeyShares.pick(values, idx), deadlineMillis);
        } else {
          writeGroup(share - buckets, idx, keys, values, byBucket, deadlineMillis);
        }
        return null;
      });
    });
  }

  /**
   * What a grouped forward left of a bucket's share: {@link #APPLIED}, or a copy that got
   * no answer and may take effect until {@code until} (wall ms) at a holder of
   * {@code epoch}, or null (not sent, or refused: send it again as usual).
   */
  private record Unsettled(long until, long epoch) {
    static final Unsettled APPLIED = new Unsettled(Long.MAX_VALUE, Long.MAX_VALUE);
  }

  /**
   * The buckets of a request ({@code byBucket}) to send in one forwarded write per holder,
   * by holder: those held elsewhere, by a pod this pod hears from that holds at least two of
   * them. The others (held here, or alone at their holder) go one bucket at a time.
   */
  private List<List<Integer>> groupByHolder(List<List<Integer>> byBucket) throws IOException {
    int pods = slots.getAsInt();
    List<List<Integer>> groups = new ArrayList<>(pods);
    for (int p = 0; p < pods; p++) {
      groups.add(new ArrayList<>());
    }
    for (int b = 0; b < buckets; b++) {
      if (byBucket.get(b).isEmpty() || shards.serving(b) != null) {
        continue;
      }
      int h = shards.holding(b).holder();
      if (h >= 0 && h < pods && h != self && liveness.silentMillis(h) < silentAfterMillis) {
        groups.get(h).add(b);
      }
    }
    for (List<Integer> group : groups) {
      if (group.size() < 2) {
        group.clear();
      }
    }
    return groups;
  }

  /**
   * Writes the shares of {@code group}'s buckets, all held by {@code holder} in this pod's
   * view: first in one forwarded write, which the holder applies bucket by bucket and
   * answers per bucket; then each share it did not apply through {@link #writeRounds}, as
   * if the grouped write had not been tried, but knowing of its copy if that got no answer.
   */
  private void writeGroup(int holder, List<Integer> group, byte[][] keys, byte[][] values,
                          List<List<Integer>> byBucket, long deadlineMillis)
      throws IOException, KvPodException, InterruptedException {
    Unsettled[] left = new Unsettled[buckets];
    forwardGroup(holder, group, keys, values, byBucket, deadlineMillis, left);
    List<List<Integer>> rest = new ArrayList<>(buckets);
    for (int b = 0; b < buckets; b++) {
      rest.add(group.contains(b) && left[b] != Unsettled.APPLIED ? byBucket.get(b) : List.of());
    }
    scatter.eachShare(rest, (bucket, idx) -> {
      writeRounds(bucket, KeyShares.pick(keys, idx), KeyShares.pick(values, idx), deadlineMillis, left[bucket]);
      return null;
    });
  }

  /**
   * The grouped forward of {@link #writeGroup}: fills {@code left} for the buckets applied,
   * or all of them if the write got no answer. Never throws for a failed send.
   */
  private void forwardGroup(int holder, List<Integer> group, byte[][] keys, byte[][] values,
                            List<List<Integer>> byBucket, long deadlineMillis, Unsettled[] left)
      throws IOException {
    long[] epochs = new long[buckets];
    for (int b : group) {
      epochs[b] = shards.holding(b).epoch();
    }
    long now = System.currentTimeMillis();
    long copyDeadline = Math.min(deadlineMillis,
        now + Math.max(peerTimeoutMillis - clockSkewMillis, peerTimeoutMillis / 2));
    if (copyDeadline <= now) {
      return;
    }
    List<KeyValue> records = new ArrayList<>();
    for (int b : group) {
      for (int i : byBucket.get(b)) {
        records.add(new KeyValue(ByteBuffer.wrap(keys[i]), ByteBuffer.wrap(values[i])));
      }
    }
    PeerRequest req = PeerRequest.forwardedWrite(new WriteRequest(records).setDeadlineMillis(copyDeadline)
        .setByBucket(true));
    KvPodClient.Delivery d = new KvPodClient.Delivery();
    try {
      WriteReply r = peers.write(holder, req, d).getForwardedWrite();
      boolean moved = false;
      for (ShareOutcome o : r.isSetShares() ? r.getShares() : List.<ShareOutcome>of()) {
        if (o.isSetSeq() && group.contains(o.getBucket())) {
          left[o.getBucket()] = Unsettled.APPLIED;
        }
        moved |= o.isSetErrorCode() && o.getErrorCode() == ErrorCode.NOT_OWNER.getValue();
      }
      if (moved) {
        shards.refresh();
      }
    } catch (KvPodException | IOException e) {
      if (d.uncertain()) {
        for (int b : group) {
          left[b] = new Unsettled(copyDeadline + clockSkewMillis, epochs[b]);
        }
      } // else nothing was applied: each share goes the usual way
    }
  }

  /** A write, run once it has what it needs. */
  @FunctionalInterface
  private interface Write {
    void run() throws IOException, KvPodException, InterruptedException;
  }

  /**
   * Runs {@code write}. One that {@code waits} on another pod (a bucket not served here, so
   * it is forwarded, relayed or waits for a takeover) takes one of the {@link WaitSlots}
   * first, or is refused with {@code BUSY} before anything was sent. One slot per request,
   * however many buckets it spans. (A write that starts at a bucket served here and then has
   * to wait, because this pod's log failed, takes none: it is rare, and it may already have
   * been applied, so it may not be refused as if it had not.)
   */
  private void write(String what, boolean waits, Write write)
      throws IOException, KvPodException, InterruptedException {
    if (waits) {
      waitSlots.take(what); // BUSY: nothing was sent yet
    }
    try {
      write.run();
    } finally {
      if (waits) {
        waitSlots.release();
      }
    }
  }

  /**
   * Writes one bucket's records where the bucket is held, retrying retriable failures
   * until the write's deadline, or {@code kvpod.write.deadline} from now if that is sooner.
   *
   * <p>One copy at a time: each copy sent to another pod carries its own deadline,
   * {@code min(write deadline, now + peer timeout - skew)}. A copy that got no answer (a
   * timeout, a call given up on a silent pod) may still take effect until that deadline plus
   * the clock skew, so until then the write is sent again only to a holder of a later epoch
   * (which serves only after fencing the one the copy went to), and a failure is answered
   * only once every copy is settled. So no copy this pod sent can take effect after it
   * answered, and its caller's next write of the key is never overtaken.
   *
   */
  private void writeRounds(int bucket, byte[][] keys, byte[][] values, long deadlineMillis)
      throws IOException, KvPodException, InterruptedException {
    writeRounds(bucket, keys, values, deadlineMillis, null);
  }

  /** {@link #writeRounds}, knowing of a copy already out without an answer ({@code sent}), or none (null). */
  private void writeRounds(int bucket, byte[][] keys, byte[][] values, long deadlineMillis, Unsettled sent)
      throws IOException, KvPodException, InterruptedException {
    long giveUpAt = Math.min(deadlineMillis, System.currentTimeMillis() + writeDeadlineMillis);
    // wall ms until which a copy without an answer may still take effect, and the highest
    // holder epoch such a copy went to
    long unsettledUntil = sent == null ? 0 : sent.until();
    long unsettledEpoch = sent == null ? -1 : sent.epoch();
    Exception last = null;
    int attempt = 0;
    while (true) {
      try {
        Shard s = shards.serving(bucket);
        if (s != null) {
          s.write(keys, values, deadlineMillis); // one committer: its queue keeps copies in order
          return;
        }
        Ownership.Holding h = shards.holding(bucket);
        if (h.holder() == self || h.holder() < 0) {
          throw new PodUnavailable(ErrorCode.RECOVERING, "bucket " + bucket + " is being taken over"
              + (h.holder() == self ? " by this pod" : ""));
        }
        long now = System.currentTimeMillis();
        if (now < unsettledUntil && h.epoch() <= unsettledEpoch) {
          throw new PodUnavailable(ErrorCode.UNAVAILABLE, "an earlier copy of the write to pod " + h.holder()
              + " got no answer; it may take effect until its deadline, so no other copy goes out before then"
              + " (or before a takeover)");
        }
        long copyDeadline = Math.min(deadlineMillis,
            now + Math.max(peerTimeoutMillis - clockSkewMillis, peerTimeoutMillis / 2));
        if (copyDeadline <= now) {
          break;
        }
        KvPodClient.Delivery d = new KvPodClient.Delivery();
        try {
          sendDirectOrRelayed(bucket, h.holder(), writeRequest(keys, values, copyDeadline), d);
          return;
        } catch (KvPodException e) {
          if (e.getCode() == ErrorCode.EXPIRED && copyDeadline < deadlineMillis) {
            // Only this copy's own, shorter deadline passed: it was refused, so it is settled
            // (never applied), and the write's deadline leaves time for another copy.
            throw new PodUnavailable(ErrorCode.UNAVAILABLE, "a copy reached pod " + h.holder()
                + " too late for its own deadline and was not applied: " + e.getMessage());
          }
          throw e;
        } finally {
          if (d.uncertain()) {
            unsettledUntil = Math.max(unsettledUntil, copyDeadline + clockSkewMillis);
            unsettledEpoch = Math.max(unsettledEpoch, h.epoch());
          }
        }
      } catch (KvPodException e) {
        if (!e.isRetriable()) {
          throw e;
        }
        last = e;
        if (e.getCode() == ErrorCode.NOT_OWNER) {
          shards.refresh();
        }
      } catch (PodUnavailable e) {
        if (e.code() == ErrorCode.EXPIRED) {
          throw e;
        }
        last = last != null && e.code() == ErrorCode.UNAVAILABLE ? last : e; // keep the holder's own failure
      } catch (IOException e) {
        last = e; // this pod's log failed: the poller takes the bucket over again to recover it
        shards.refresh();
      }
      long pause = backoff.delayMillis(attempt++);
      if (System.currentTimeMillis() + pause >= giveUpAt) {
        break;
      }
      Thread.sleep(pause);
    }
    long unsettled = unsettledUntil - System.currentTimeMillis();
    if (unsettled > 0) {
      Thread.sleep(unsettled); // answer only once no copy this pod sent can take effect any more
    }
    boolean expired = System.currentTimeMillis() >= deadlineMillis;
    throw Errors.of(ErrorCode.OWNER_UNREACHABLE, "the holder of bucket " + bucket + " (" + keys.length
        + " records) could not take the write " + (expired ? "before its deadline" : "within "
        + writeDeadlineMillis + " ms") + " (" + attempt + " rounds); it did not take effect, or took effect before "
        + "this answer; last error: " + (last == null ? "none" : last.getMessage()), true);
  }

  private static PeerRequest writeRequest(byte[][] keys, byte[][] values, long deadlineMillis) {
    List<KeyValue> records = new ArrayList<>(keys.length);
    for (int i = 0; i < keys.length; i++) {
      records.add(new KeyValue(ByteBuffer.wrap(keys[i]), ByteBuffer.wrap(values[i])));
    }
    return PeerRequest.forwardedWrite(new WriteRequest(records).setDeadlineMillis(deadlineMillis));
  }

  /**
   * Sends {@code req} to {@code owner}, unless the owner is silent to this pod; if that
   * fails, relays it through each other pod that this pod hears from and that still hears
   * from the owner, until one gets an answer. Stops at the first copy that got no answer
   * ({@code delivery} says so): another copy may not follow it yet. Answers that are
   * refusals from the owner itself ({@code NOT_OWNER}, {@code RECOVERING}, non-retriable
   * ones) are thrown at once. If no pod could reach the owner, tells the
   * {@link TakeoverPolicy} and throws.
   */
  private void sendDirectOrRelayed(int bucket, int owner, PeerRequest req, KvPodClient.Delivery delivery)
      throws KvPodException {
    KvPodException direct = null;
    if (liveness.silentMillis(owner) < silentAfterMillis) {
      try {
        peers.write(owner, req, delivery);
        return;
      } catch (KvPodException e) {
        if (ownerAnswered(e) || delivery.uncertain()) {
          throw e;
        }
        direct = e;
        lastCallFailure = e.getMessage();
      }
    }
    PeerRequest relayed = null;
    for (int via = 0, pods = slots.getAsInt(); via < pods; via++) {
      if (via == self || via == owner || liveness.silentMillis(via) >= silentAfterMillis
          || liveness.reportedSilentMillis(via, owner, silentAfterMillis / 2) >= silentAfterMillis) {
        continue;
      }
      if (relayed == null) {
        relayed = PeerRequest.relay(new RelayRequest(owner, ByteBuffer.wrap(PeerSigner.encodeRequest(req))));
      }
      try {
        peers.write(via, relayed, delivery);
        return;
      } catch (KvPodException e) {
        if (ownerAnswered(e) || delivery.uncertain()) {
          throw e;
        }
        direct = direct == null ? e : direct;
      }
    }
    policy.demand(bucket);
    throw direct != null ? direct : Errors.of(ErrorCode.UNAVAILABLE, "no pod has heard from pod " + owner + " for "
        + liveness.silentMillis(owner) + " ms" + (lastCallFailure == null ? "" : " (last failed call to it: "
        + lastCallFailure + ")"), true);
  }

  /** An answer from the holder itself, not a failure to reach it. */
  private static boolean ownerAnswered(KvPodException e) {
    return !e.isRetriable() || e.getCode() == ErrorCode.NOT_OWNER || e.getCode() == ErrorCode.RECOVERING;
  }

  @Override
  public void close() {
    scatter.close();
  }
}
