package io.kvpod.pod;

import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.Membership;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.FoundRecord;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.ReadRequest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * Reads of keys wherever their buckets are held ({@link OwnerRouter} routes writes). A bucket
 * held here is read here; one held elsewhere is forwarded to its holder, which answers from
 * one consistent view (its memtables, then its layers), so a flush in progress there cannot
 * hide a record between two sources. Reads to one holder that wait at the same time travel
 * in one forwarded read ({@link ReadCoalescer}). If the holder does not answer within the
 * short read timeout, was recently unreachable ({@link PeerClient}), is silent to this pod's
 * {@link PeerLiveness}, is recovering, or no longer holds the bucket, the read is answered
 * from the bucket's WAL and the layers ({@link PeerWalReader}): every acknowledged write is
 * in one of the two, so a read never fails for want of a peer.
 *
 * <p>Thread-safe.
 */
final class RoutedReads {
  /** The most keys one merged forwarded read carries. */
  private static final int FORWARD_BATCH_KEYS = 1000;

  private final int self;
  /** One more than the highest pod id now (the membership's slots). */
  private final IntSupplier slots;
  private final int buckets;
  private final ShardSet shards;
  private final PeerClient peers;
  private final ReadCoalescer forwards;
  private final PeerWalReader peerWals;
  private final PeerLiveness liveness;
  private final long silentAfterMillis;
  private final KeyShares shares;

  /** {@code silentAfterMillis}: a holder silent this long to this pod's detector is not asked. */
  RoutedReads(int self, IntSupplier slots, int buckets, ShardSet shards, PeerClient peers, PeerWalReader peerWals,
              PeerLiveness liveness, long silentAfterMillis, KeyShares shares) {
    this.self = self;
    this.slots = slots;
    this.buckets = buckets;
    this.shards = shards;
    this.peers = peers;
    this.forwards = new ReadCoalescer(Membership.MAX_PODS, FORWARD_BATCH_KEYS, this::forwardRead);
    this.peerWals = peerWals;
    this.liveness = liveness;
    this.silentAfterMillis = silentAfterMillis;
    this.shares = shares;
  }

  /**
   * The newest record of each key, null where there is none. Keys are grouped by their
   * bucket's holder: one forwarded read per other holder, whatever the number of its buckets
   * the keys fall in, sent in parallel; the keys of buckets held here are read here.
   */
  Found[] get(byte[][] keys) throws IOException, KvPodException, InterruptedException {
    if (keys.length == 1) { // the common get: no grouping, no fan-out
      return read(KeyPartitioner.bucket(keys[0], buckets), keys);
    }
    int pods = slots.getAsInt();
    List<List<Integer>> byHolder = new ArrayList<>(pods + 1); // index pods: holder not known yet
    for (int i = 0; i <= pods; i++) {
      byHolder.add(new ArrayList<>());
    }
    for (int i = 0; i < keys.length; i++) {
      int holder = shards.holding(KeyPartitioner.bucket(keys[i], buckets)).holder();
      byHolder.get(holder >= 0 && holder < pods ? holder : pods).add(i);
    }
    Object[] found = shares.eachShare(byHolder, (holder, idx) -> holder == self || holder == pods
        ? readEachBucket(KeyShares.pick(keys, idx)) : readVia(holder, KeyShares.pick(keys, idx)));
    Found[] out = new Found[keys.length];
    for (int h = 0; h <= pods; h++) {
      List<Integer> idx = byHolder.get(h);
      for (int i = 0; i < idx.size(); i++) {
        out[idx.get(i)] = ((Found[]) found[h])[i];
      }
    }
    return out;
  }

  /** Reads {@code keys} bucket by bucket ({@link #read}), in order. */
  private Found[] readEachBucket(byte[][] keys) throws IOException, KvPodException, InterruptedException {
    List<List<Integer>> byBucket = KeyShares.groupByBucket(keys, buckets);
    Found[] out = new Found[keys.length];
    for (int b = 0; b < buckets; b++) {
      List<Integer> idx = byBucket.get(b);
      if (!idx.isEmpty()) {
        Found[] f = read(b, KeyShares.pick(keys, idx));
        for (int i = 0; i < f.length; i++) {
          out[idx.get(i)] = f[i];
        }
      }
    }
    return out;
  }

  /**
   * Reads {@code keys}, whose buckets are all held by pod {@code holder} in this pod's view,
   * with one forwarded read. If that fails for want of the holder (out of reach, recovering,
   * a bucket moved), each bucket is read on its own ({@link #read}), which falls back to
   * the bucket's log.
   */
  private Found[] readVia(int holder, byte[][] keys) throws IOException, KvPodException, InterruptedException {
    Found[] found = tryForwardRead(holder, keys);
    return found != null ? found : readEachBucket(keys);
  }

  /**
   * {@link #forwardRead} unless {@code holder} is silent or recently failed; null if it did
   * not answer for want of the holder (out of reach, recovering, a bucket moved).
   */
  private Found[] tryForwardRead(int holder, byte[][] keys)
      throws IOException, KvPodException, InterruptedException {
    if (peers.readsSkip(holder) || liveness.silentMillis(holder) >= silentAfterMillis) {
      return null;
    }
    try {
      return forwards.read(holder, keys);
    } catch (KvPodException e) {
      if (!e.isRetriable()) {
        throw e;
      }
      if (e.getCode() == ErrorCode.NOT_OWNER) {
        shards.refresh();
      }
      return null;
    }
  }

  /**
   * Asks {@code holder} for {@code keys} (of buckets it holds) with one forwarded read; through
   * {@link #forwards}, which merges reads to one holder that wait at the same time.
   */
  private Found[] forwardRead(int holder, byte[][] keys) throws KvPodException {
    List<ByteBuffer> ks = new ArrayList<>(keys.length);
    for (byte[] k : keys) {
      ks.add(ByteBuffer.wrap(k));
    }
    PeerResponse r = peers.read(holder, PeerRequest.forwardedRead(new ReadRequest(ks)));
    List<FoundRecord> found = r.getForwardedRead().getFound();
    if (found.size() != keys.length) {
      throw Errors.of(ErrorCode.INTERNAL, "pod " + holder + " answered " + found.size() + " records for "
          + keys.length + " keys", false);
    }
    Found[] out = new Found[keys.length];
    for (int i = 0; i < out.length; i++) {
      FoundRecord f = found.get(i);
      out[i] = f.isSetValue() ? new Found(f.getVersion(), f.getValue()) : null;
    }
    return out;
  }

  /**
   * Reads one bucket's keys: here if this pod holds it, else forwarded to its holder, else
   * (the holder out of reach, recovering, or no longer holding it) from the bucket's log and
   * the layers, which hold every acknowledged write.
   */
  private Found[] read(int bucket, byte[][] keys) throws IOException, KvPodException, InterruptedException {
    Found[] mine = shards.read(bucket, keys);
    if (mine != null) {
      return mine;
    }
    int holder = shards.holding(bucket).holder();
    if (holder >= 0 && holder != self) {
      Found[] found = tryForwardRead(holder, keys);
      if (found != null) {
        return found;
      }
    }
    // no holder answered: the bucket's WAL has every acknowledged write
    return peerWals.get(bucket, keys);
  }

}
