package io.kvpod.pod;

import io.kvpod.client.Backoff;
import io.kvpod.contract.PeerSigner;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.FoundRecord;
import io.kvpod.thrift.internal.KeyValue;
import io.kvpod.thrift.internal.PeerRequest;
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

/**
 * Sends each key's reads and writes to its owner, {@code murmur3(key) mod pods}: this pod's
 * own keys to the {@link LocalStore}, the others through {@code process()}, grouped by owner
 * and sent in parallel.
 *
 * <p><b>Reads</b> of another pod's keys are forwarded to the owner, which answers from one
 * consistent view (its memtables, then its layers), so a flush in progress there cannot
 * hide a record between two sources. The alternative, looking up the layers here while
 * asking the owner only for its memtable, races with the owner's flush: the owner may drop
 * a flushed memtable before this pod sees the new layer. If the owner does not answer
 * within the short read timeout, or was recently unreachable ({@link PeerClient}), the read
 * is answered from the owner's WAL and the layers ({@link PeerWalReader}), so a read never
 * waits on an unreachable owner for more than one timeout per window.
 *
 * <p><b>Writes</b> for another pod's keys are forwarded to it. If the owner cannot be
 * reached directly (a cut link), the write is relayed through each other pod in turn.
 * Retriable failures are retried with {@link Backoff} until {@code forwardDeadlineMillis},
 * then fail with a retriable {@code OWNER_UNREACHABLE}. Thread-safe.
 */
final class OwnerRouter implements Closeable {
  private final int self;
  private final int pods;
  private final LocalStore store;
  private final PeerClient peers;
  private final PeerWalReader peerWals;
  private final long forwardDeadlineMillis;
  private final Backoff backoff = new Backoff(20, 500);
  private final ExecutorService fanOut = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "owner-fan-out");
    t.setDaemon(true);
    return t;
  });

  OwnerRouter(int self, int pods, LocalStore store, PeerClient peers, PeerWalReader peerWals,
              long forwardDeadlineMillis) {
    this.self = self;
    this.pods = pods;
    this.store = store;
    this.peers = peers;
    this.peerWals = peerWals;
    this.forwardDeadlineMillis = forwardDeadlineMillis;
  }

  int ownerOf(byte[] key) {
    return KeyPartitioner.bucket(key, pods);
  }

  /** The newest record of each key, null where there is none. */
  Found[] get(byte[][] keys) throws IOException, KvPodException, InterruptedException {
    if (keys.length == 1) { // the common get: no grouping, no fan-out
      int owner = ownerOf(keys[0]);
      return owner == self ? store.get(keys) : readFromOwner(owner, keys);
    }
    List<List<Integer>> byOwner = groupByOwner(keys);
    Object[] found = eachOwner(byOwner, (owner, idx) -> {
      byte[][] ks = pick(keys, idx);
      return owner == self ? store.get(ks) : readFromOwner(owner, ks);
    });
    Found[] out = new Found[keys.length];
    for (int owner = 0; owner < pods; owner++) {
      List<Integer> idx = byOwner.get(owner);
      for (int i = 0; i < idx.size(); i++) {
        out[idx.get(i)] = ((Found[]) found[owner])[i];
      }
    }
    return out;
  }

  /** Durably stores records (keys and values pair by index) at their owners. */
  void put(byte[][] keys, byte[][] values) throws IOException, KvPodException, InterruptedException {
    if (keys.length == 1) { // the common put: no grouping, no fan-out
      int owner = ownerOf(keys[0]);
      if (owner == self) {
        store.write(keys, values);
      } else {
        writeToOwner(owner, keys, values);
      }
      return;
    }
    eachOwner(groupByOwner(keys), (owner, idx) -> {
      byte[][] ks = pick(keys, idx);
      byte[][] vs = pick(values, idx);
      if (owner == self) {
        store.write(ks, vs);
      } else {
        writeToOwner(owner, ks, vs);
      }
      return null;
    });
  }

  private Found[] readFromOwner(int owner, byte[][] keys) throws IOException, KvPodException {
    if (!peers.readsSkip(owner)) {
      List<ByteBuffer> ks = new ArrayList<>(keys.length);
      for (byte[] k : keys) {
        ks.add(ByteBuffer.wrap(k));
      }
      try {
        PeerResponse r = peers.read(owner, PeerRequest.read(new ReadRequest(ks)));
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
        // the owner is out of reach or not serving yet: its WAL has every acknowledged write
      }
    }
    return peerWals.get(owner, keys);
  }

  private void writeToOwner(int owner, byte[][] keys, byte[][] values)
      throws KvPodException, InterruptedException {
    List<KeyValue> records = new ArrayList<>(keys.length);
    for (int i = 0; i < keys.length; i++) {
      records.add(new KeyValue(ByteBuffer.wrap(keys[i]), ByteBuffer.wrap(values[i])));
    }
    PeerRequest req = PeerRequest.write(new WriteRequest(records));
    long deadline = System.currentTimeMillis() + forwardDeadlineMillis;
    KvPodException last;
    int attempt = 0;
    while (true) {
      try {
        sendDirectOrRelayed(owner, req);
        return;
      } catch (KvPodException e) {
        if (!e.isRetriable()) {
          throw e;
        }
        last = e;
      }
      long pause = backoff.delayMillis(attempt++);
      if (System.currentTimeMillis() + pause >= deadline) {
        break;
      }
      Thread.sleep(pause);
    }
    throw Errors.of(ErrorCode.OWNER_UNREACHABLE, "pod " + owner + ", the owner of " + keys.length
        + " of the keys, could not take the write within " + forwardDeadlineMillis + " ms (" + attempt
        + " rounds, each direct and through every other pod); last error: " + last.getMessage(), true);
  }

  /**
   * Sends {@code req} to {@code owner}; if the owner cannot be reached directly, relays it
   * through each other pod in turn until one gets an answer. Throws the direct failure if
   * no relay got through.
   */
  private void sendDirectOrRelayed(int owner, PeerRequest req) throws KvPodException {
    KvPodException direct;
    try {
      peers.write(owner, req);
      return;
    } catch (KvPodException e) {
      if (!e.isRetriable()) {
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
        if (!e.isRetriable()) {
          throw e;
        }
      }
    }
    throw direct;
  }

  private List<List<Integer>> groupByOwner(byte[][] keys) {
    List<List<Integer>> byOwner = new ArrayList<>(pods);
    for (int i = 0; i < pods; i++) {
      byOwner.add(new ArrayList<>());
    }
    for (int i = 0; i < keys.length; i++) {
      byOwner.get(ownerOf(keys[i])).add(i);
    }
    return byOwner;
  }

  /** One owner's share of a request: the indexes of its keys. */
  @FunctionalInterface
  private interface Share {
    Object run(int owner, List<Integer> idx) throws Exception;
  }

  /**
   * Runs {@code share} for every owner that has keys and returns the results by owner.
   * Remote shares run in parallel on the fan-out pool; this pod's share, or a share that is
   * the only one, runs on the calling thread. Waits for all, then throws the first failure.
   */
  private Object[] eachOwner(List<List<Integer>> byOwner, Share share)
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
