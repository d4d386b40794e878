package io.kvpod.pod;

import io.kvpod.client.Backoff;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.PeerSigner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.FoundRecord;
import io.kvpod.thrift.internal.KeyValue;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PingRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.ReadRequest;
import io.kvpod.thrift.internal.RelayRequest;
import io.kvpod.thrift.internal.WriteRequest;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends each key's reads and writes to the pod that holds its bucket ({@code murmur3(key)
 * mod pods}; the bucket's home pod unless a takeover recorded another, see
 * {@link ShardSet}): buckets held here to their {@link Shard}, the others through
 * {@code process()}, one request per bucket, sent in parallel.
 *
 * <p><b>Reads</b> of a bucket held elsewhere are forwarded to its holder, which answers from
 * one consistent view (its memtables, then its layers), so a flush in progress there cannot
 * hide a record between two sources. If the holder does not answer within the short read
 * timeout, was recently unreachable ({@link PeerClient}), or no longer holds the bucket, the
 * read is answered from the bucket's WAL and the layers ({@link PeerWalReader}): every
 * acknowledged write is in one of the two, so a read never fails for want of a peer.
 *
 * <p><b>Writes</b> of a bucket held elsewhere are forwarded to its holder; if the holder
 * cannot be reached directly (a cut link), the write is relayed through each other pod in
 * turn. A holder that answers {@code NOT_OWNER} makes this pod re-read the records and route
 * again. When no pod has reached the holder for {@code takeoverAfterMillis}, this pod takes
 * the bucket over ({@link ShardSet#takeOver}) and writes it itself. Retriable failures are
 * retried with {@link Backoff} until {@code forwardDeadlineMillis}, then fail with a
 * retriable {@code OWNER_UNREACHABLE}. Thread-safe.
 */
final class OwnerRouter implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(OwnerRouter.class);

  private final int self;
  private final int pods;
  private final ShardSet shards;
  private final PeerClient peers;
  private final PeerWalReader peerWals;
  private final long forwardDeadlineMillis;
  private final long takeoverAfterMillis;
  private final Backoff backoff = new Backoff(20, 500);
  private final ExecutorService fanOut = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "owner-fan-out");
    t.setDaemon(true);
    return t;
  });

  OwnerRouter(int self, int pods, ShardSet shards, PeerClient peers, PeerWalReader peerWals,
              long forwardDeadlineMillis, long takeoverAfterMillis) {
    this.self = self;
    this.pods = pods;
    this.shards = shards;
    this.peers = peers;
    this.peerWals = peerWals;
    this.forwardDeadlineMillis = forwardDeadlineMillis;
    this.takeoverAfterMillis = takeoverAfterMillis;
  }

  int bucketOf(byte[] key) {
    return KeyPartitioner.bucket(key, pods);
  }

  /** The newest record of each key, null where there is none. */
  Found[] get(byte[][] keys) throws IOException, KvPodException, InterruptedException {
    if (keys.length == 1) { // the common get: no grouping, no fan-out
      return read(bucketOf(keys[0]), keys);
    }
    List<List<Integer>> byBucket = groupByBucket(keys);
    Object[] found = eachBucket(byBucket, (bucket, idx) -> read(bucket, pick(keys, idx)));
    Found[] out = new Found[keys.length];
    for (int bucket = 0; bucket < pods; bucket++) {
      List<Integer> idx = byBucket.get(bucket);
      for (int i = 0; i < idx.size(); i++) {
        out[idx.get(i)] = ((Found[]) found[bucket])[i];
      }
    }
    return out;
  }

  /** Durably stores records (keys and values pair by index) at their holders. */
  void put(byte[][] keys, byte[][] values) throws IOException, KvPodException, InterruptedException {
    if (keys.length == 1) { // the common put: no grouping, no fan-out
      write(bucketOf(keys[0]), keys, values);
      return;
    }
    eachBucket(groupByBucket(keys), (bucket, idx) -> {
      write(bucket, pick(keys, idx), pick(values, idx));
      return null;
    });
  }

  private Found[] read(int bucket, byte[][] keys) throws IOException, KvPodException {
    Shard s = shards.serving(bucket);
    if (s != null) {
      return s.get(keys);
    }
    int holder = shards.holding(bucket).holder();
    if (holder >= 0 && holder != self && !peers.readsSkip(holder)) {
      List<ByteBuffer> ks = new ArrayList<>(keys.length);
      for (byte[] k : keys) {
        ks.add(ByteBuffer.wrap(k));
      }
      try {
        PeerResponse r = peers.read(holder, PeerRequest.read(new ReadRequest(ks)));
        List<FoundRecord> found = r.getRead().getFound();
        Found[] out = new Found[keys.length];
        for (int i = 0; i < out.length; i++) {
          FoundRecord f = found.get(i);
          out[i] = f.isSetValue() ? new Found(f.getVersion(), f.getValue()) : null;
        }
        return out;
      } catch (KvPodException e) {
        if (!e.isRetriable()) {
          throw e;
        }
        if (e.getCode() == ErrorCode.NOT_OWNER) {
          shards.refresh();
        }
        // out of reach, not serving yet, or moved: the bucket's WAL has every acknowledged write
      }
    }
    return peerWals.get(bucket, keys);
  }

  /**
   * Writes one bucket's records where the bucket is held, taking the bucket over when its
   * holder has been out of everyone's reach for {@code takeoverAfterMillis}.
   */
  private void write(int bucket, byte[][] keys, byte[][] values)
      throws IOException, KvPodException, InterruptedException {
    PeerRequest req = null;
    long deadline = System.currentTimeMillis() + forwardDeadlineMillis;
    long failingSince = -1;
    Exception last = null;
    int attempt = 0;
    while (true) {
      Ownership.Holding h = null;
      try {
        Shard s = shards.serving(bucket);
        if (s != null) {
          s.write(keys, values);
          return;
        }
        h = shards.holding(bucket);
        if (h.holder() == self || h.holder() < 0) {
          throw new PodUnavailable(ErrorCode.UNAVAILABLE, "bucket " + bucket + " is being taken over");
        }
        if (req == null) {
          req = writeRequest(keys, values);
        }
        sendDirectOrRelayed(h.holder(), req);
        return;
      } catch (KvPodException e) {
        if (!e.isRetriable()) {
          throw e;
        }
        last = e;
        if (e.getCode() == ErrorCode.NOT_OWNER) {
          shards.refresh();
        }
      } catch (PodUnavailable e) {
        last = e; // this pod's shard is stopping or being replaced, or the holder records could not be read
      } catch (IOException e) {
        last = e; // this pod's log failed: the poller takes the bucket over again to recover it
        shards.refresh();
      }
      long now = System.currentTimeMillis();
      failingSince = failingSince < 0 ? now : failingSince;
      if (takeoverAfterMillis > 0 && now - failingSince >= takeoverAfterMillis && h != null && h.holder() != self) {
        failingSince = -1;
        if (reachesAnotherPod(h.holder())) {
          LOG.warn("bucket {}: its holder pod {} could not take writes for {} ms, directly or relayed ({}); "
              + "taking the bucket over", bucket, h.holder(), takeoverAfterMillis, last.getMessage());
          if (shards.takeOver(bucket, h)) {
            continue;
          } // else another pod took it first: route to it
        } else {
          LOG.warn("bucket {}: its holder pod {} is out of reach, but so is every other pod: not taking the "
              + "bucket over (this pod is the one cut off, most likely)", bucket, h.holder());
        }
      }
      long pause = backoff.delayMillis(attempt++);
      if (System.currentTimeMillis() + pause >= deadline) {
        break;
      }
      Thread.sleep(pause);
    }
    throw Errors.of(ErrorCode.OWNER_UNREACHABLE, "the holder of bucket " + bucket + " (" + keys.length
        + " records) could not take the write within " + forwardDeadlineMillis + " ms (" + attempt
        + " rounds, each direct and through every other pod); last error: " + last.getMessage(), true);
  }

  /**
   * Whether this pod reaches a pod other than {@code holder}. A pod cut off from all the
   * others must not take buckets over: it would only fence the pods that can still serve.
   * With two pods there is no third to ask, and a takeover goes ahead.
   */
  private boolean reachesAnotherPod(int holder) {
    if (pods < 3) {
      return true;
    }
    for (int p = 0; p < pods; p++) {
      if (p != self && p != holder) {
        try {
          peers.read(p, PeerRequest.ping(new PingRequest()));
          return true;
        } catch (KvPodException e) {
          // try the next
        }
      }
    }
    return false;
  }

  private static PeerRequest writeRequest(byte[][] keys, byte[][] values) {
    List<KeyValue> records = new ArrayList<>(keys.length);
    for (int i = 0; i < keys.length; i++) {
      records.add(new KeyValue(ByteBuffer.wrap(keys[i]), ByteBuffer.wrap(values[i])));
    }
    return PeerRequest.write(new WriteRequest(records));
  }

  /**
   * Sends {@code req} to {@code owner}; if the owner cannot be reached directly, relays it
   * through each other pod in turn until one gets an answer. Throws the direct failure if
   * no relay got through, and at once an answer from the owner itself ({@code NOT_OWNER}).
   */
  private void sendDirectOrRelayed(int owner, PeerRequest req) throws KvPodException {
    KvPodException direct;
    try {
      peers.write(owner, req);
      return;
    } catch (KvPodException e) {
      if (!e.isRetriable() || e.getCode() == ErrorCode.NOT_OWNER) {
        throw e;
      }
      direct = e;
    }
    PeerRequest relayed = null;
    for (int via = 0; via < pods; via++) {
      if (via == self || via == owner) {
        continue;
      }
      if (relayed == null) {
        relayed = PeerRequest.relay(new RelayRequest(owner, ByteBuffer.wrap(PeerSigner.encodeRequest(req))));
      }
      try {
        peers.write(via, relayed);
        return;
      } catch (KvPodException e) {
        if (!e.isRetriable() || e.getCode() == ErrorCode.NOT_OWNER) {
          throw e;
        }
      }
    }
    throw direct;
  }

  private List<List<Integer>> groupByBucket(byte[][] keys) {
    List<List<Integer>> byBucket = new ArrayList<>(pods);
    for (int i = 0; i < pods; i++) {
      byBucket.add(new ArrayList<>());
    }
    for (int i = 0; i < keys.length; i++) {
      byBucket.get(bucketOf(keys[i])).add(i);
    }
    return byBucket;
  }

  /** One bucket's share of a request: the indexes of its keys. */
  @FunctionalInterface
  private interface Share {
    Object run(int bucket, List<Integer> idx) throws Exception;
  }

  /**
   * Runs {@code share} for every bucket that has keys and returns the results by bucket.
   * The shares of other pods' home buckets run in parallel on the fan-out pool; this pod's
   * home bucket's share, or a share that is the only one, runs on the calling thread. Waits
   * for all, then throws the first failure.
   */
  private Object[] eachBucket(List<List<Integer>> byOwner, Share share)
      throws IOException, KvPodException, InterruptedException {
    int shares = 0;
    for (List<Integer> idx : byOwner) {
      shares += idx.isEmpty() ? 0 : 1;
    }
    Object[] results = new Object[pods];
    List<Future<Object>> futures = new ArrayList<>();
    List<Integer> futureOwners = new ArrayList<>();
    for (int owner = 0; owner < pods; owner++) {
      List<Integer> idx = byOwner.get(owner);
      if (!idx.isEmpty() && owner != self && shares > 1) {
        int o = owner;
        futures.add(fanOut.submit(() -> share.run(o, idx)));
        futureOwners.add(owner);
      }
    }
    Exception first = null;
    for (int owner = 0; owner < pods; owner++) {
      List<Integer> idx = byOwner.get(owner);
      if (!idx.isEmpty() && (owner == self || shares == 1)) {
        try {
          results[owner] = share.run(owner, idx);
        } catch (Exception e) {
          first = e;
        }
      }
    }
    for (int i = 0; i < futures.size(); i++) {
      try {
        results[futureOwners.get(i)] = await(futures.get(i));
      } catch (IOException | KvPodException | RuntimeException e) {
        first = first == null ? e : first;
      }
    }
    if (first instanceof InterruptedException ie) {
      throw ie;
    }
    if (first instanceof IOException io) {
      throw io;
    }
    if (first instanceof KvPodException k) {
      throw k;
    }
    if (first instanceof RuntimeException re) {
      throw re;
    }
    if (first != null) {
      throw new IOException(first);
    }
    return results;
  }

  private static <T> T await(Future<T> f) throws IOException, KvPodException, InterruptedException {
    try {
      return f.get();
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof KvPodException k) {
        throw k;
      }
      if (c instanceof InterruptedException ie) {
        throw new InterruptedIOException(ie.getMessage());
      }
      if (c instanceof IOException io) {
        throw io;
      }
      if (c instanceof RuntimeException re) {
        throw re;
      }
      throw new IOException(c);
    }
  }

  private static byte[][] pick(byte[][] all, List<Integer> idx) {
    byte[][] out = new byte[idx.size()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = all[idx.get(i)];
    }
    return out;
  }

  @Override
  public void close() {
    fanOut.shutdownNow();
  }
}
