package io.kvpod.pod;

import io.kvpod.client.KvPodClient;
import io.kvpod.client.ScatterGather;
import io.kvpod.contract.ContractViolation;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.Limits;
import io.kvpod.contract.PeerSigner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.FlushReply;
import io.kvpod.thrift.internal.FoundRecord;
import io.kvpod.thrift.internal.KeyValue;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.PingReply;
import io.kvpod.thrift.internal.ReadReply;
import io.kvpod.thrift.internal.RefreshReply;
import io.kvpod.thrift.internal.ShareOutcome;
import io.kvpod.thrift.internal.WriteReply;
import io.kvpod.thrift.internal.WriteRequest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * Answers the internal messages that arrive through {@code process()}: verifies the
 * envelope's signature ({@link PeerSigner}), refuses senders whose link is cut
 * ({@link PeerFaults}), then dispatches on the request type. A relay is passed on once to
 * its target. Forwarded writes and reads are served from the {@link Shard}s this pod holds
 * only, never forwarded again; keys of a bucket held elsewhere get a retriable
 * {@code NOT_OWNER}, and the sender routes again; keys of a bucket this pod is still
 * recovering get a retriable {@code RECOVERING}, and the sender waits. A ping is answered
 * with this pod's {@link PeerLiveness} view. Thread-safe.
 */
final class PeerDispatcher {
  private final PeerSigner signer;
  private final int podId;
  /** One more than the highest pod id now (the membership's slots). */
  private final IntSupplier slots;
  private final ShardSet shards;
  private final LayerWatcher layers;
  private final String table;
  private final LongSupplier uptime;
  private final PeerFaults faults;
  private final PeerClient relay;
  private final PeerLiveness liveness;
  private final LongSupplier defaultDeadline;
  private final long clockSkewMillis;
  private final WriteGate gate;
  private final WaitSlots waitSlots;
  /** Writes the shares of byBucket writes, each waiting for its bucket's group commit. */
  private final ScatterGather shareWriters = new ScatterGather("share-writer", KeyShares.MAX_THREADS);

  /** {@code defaultDeadline}: the deadline of a forwarded write that carries none (an older sender). */
  PeerDispatcher(PeerSigner signer, int podId, IntSupplier slots, String table, ShardSet shards, LayerWatcher layers,
                 LongSupplier uptime, PeerFaults faults, PeerClient relay, PeerLiveness liveness,
                 LongSupplier defaultDeadline, long clockSkewMillis, WriteGate gate, WaitSlots waitSlots) {
    this.clockSkewMillis = clockSkewMillis;
    this.gate = gate;
    this.waitSlots = waitSlots;
    this.faults = faults;
    this.relay = relay;
    this.liveness = liveness;
    this.defaultDeadline = defaultDeadline;
    this.signer = signer;
    this.podId = podId;
    this.slots = slots;
    this.table = table;
    this.shards = shards;
    this.layers = layers;
    this.uptime = uptime;
  }

  /**
   * Runs and answers one signed message, opened by {@link TableRouter} (which checked its
   * signature and that it is about this dispatcher's table). A {@code heartbeat} (sent to the
   * {@code heartbeat} method, which the pod answers on its heartbeat lane, see
   * {@link CallLanes}) may only be a {@code PING}: anything else there is refused with
   * {@code INVALID_ARGUMENT}, so that no work but a ping's ever runs on that lane.
   */
  byte[] handle(PeerSigner.Opened opened, boolean heartbeat) throws IOException, InterruptedException,
      KvPodException {
    PeerRequest req = opened.request();
    if (heartbeat && !req.isSetPing()) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "heartbeat() carries only a PING, not "
          + req.getSetField() + "; send other messages with process()");
    }
    boolean write = req.isSetForwardedWrite() || req.isSetRelay();
    if (write && !gate.enter()) {
      throw PodService.stopping();
    }
    try {
      return signer.sealReply(opened, dispatch(opened, req));
    } finally {
      if (write) {
        gate.exit();
      }
    }
  }

  private PeerResponse dispatch(PeerSigner.Opened opened, PeerRequest req)
      throws IOException, InterruptedException, KvPodException {
    if (opened.fromPod() >= 0) {
      // A message from a pod is not a sign that it serves: a stopping pod, which answers
      // nothing any more, still tells its peers about the flush it made on the way out.
      // Only answers count as hearing from it (PeerClient).
      faults.onMessageFrom(opened.fromPod());
    }
    PeerResponse resp = switch (req.getSetField()) {
      case PING -> PeerResponse.ping(new PingReply(podId, uptime.getAsLong()).setSilentMillis(liveness.view()));
      case REFRESH -> {
        String t = req.getRefresh().getTable();
        if (t != null && !t.equals(table)) {
          throw new ContractViolation(ErrorCode.INVALID_ARGUMENT,
              "refresh for table " + t + " sent to a pod serving " + table);
        }
        yield PeerResponse.refresh(new RefreshReply(layers.refresh()));
      }
      case FORWARDED_WRITE -> {
        WriteRequest w = req.getForwardedWrite();
        long deadline = w.isSetDeadlineMillis() ? w.getDeadlineMillis() : defaultDeadline.getAsLong();
        yield PeerResponse.forwardedWrite(w.isByBucket() ? writeByBucket(w.getRecords(), deadline)
            : write(w.getRecords(), deadline));
      }
      case FORWARDED_READ -> PeerResponse.forwardedRead(read(req.getForwardedRead().getKeys()));
      case FAULT -> PeerResponse.fault(faults.apply(req.getFault()));
      case FLUSH -> PeerResponse.flush(new FlushReply(held(req.getFlush().getBucket()).flush()));
      case RELAY -> relay(req.getRelay().getTarget(), PeerSigner.decodeRequest(req.getRelay().getRequest()));
    };
    return resp;
  }

  /**
   * Passes a request on to its target, once; the target's refusal or silence goes back to
   * the sender. A write that got no answer is answered only once its deadline (plus the
   * clock skew) has passed: until then it may still take effect, and the sender must not
   * send another copy.
   */
  private PeerResponse relay(int target, PeerRequest inner)
      throws IOException, KvPodException, InterruptedException {
    if (inner.isSetRelay() || target == podId || target < 0 || target >= slots.getAsInt()) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "cannot relay to pod " + target
          + (inner.isSetRelay() ? ": a relay may not carry another relay" : ""));
    }
    waitSlots.take("a relay to pod " + target); // BUSY: nothing was sent yet
    KvPodClient.Delivery d = new KvPodClient.Delivery();
    try {
      return relay.write(target, inner, d);
    } catch (KvPodException e) {
      if (d.uncertain() && inner.isSetForwardedWrite() && inner.getForwardedWrite().isSetDeadlineMillis()) {
        long wait = inner.getForwardedWrite().getDeadlineMillis() + clockSkewMillis - System.currentTimeMillis();
        if (wait > 0) {
          Thread.sleep(wait);
        }
      }
      throw e;
    } finally {
      waitSlots.release();
    }
  }

  private WriteReply write(List<KeyValue> records, long deadlineMillis) throws IOException, InterruptedException {
    byte[][][] kv = checkedRecords(records);
    int bucket = oneBucket(kv[0]);
    GroupCommitter.Committed c = held(bucket).write(kv[0], kv[1], deadlineMillis);
    return new WriteReply(c.seq(), c.version());
  }

  /**
   * A write whose records may be of several buckets: each bucket's share is written on its
   * own, all at once, and its outcome reported; none fails the request.
   */
  private WriteReply writeByBucket(List<KeyValue> records, long deadlineMillis) throws InterruptedException {
    byte[][][] kv = checkedRecords(records);
    int buckets = shards.buckets();
    Map<Integer, List<Integer>> byBucket = new TreeMap<>();
    for (int i = 0; i < kv[0].length; i++) {
      byBucket.computeIfAbsent(KeyPartitioner.bucket(kv[0][i], buckets), b -> new ArrayList<>()).add(i);
    }
    ScatterGather.Outcome<ShareOutcome> out = shareWriters.run(new ArrayList<>(byBucket.keySet()), bucket -> {
      List<Integer> idx = byBucket.get(bucket);
      return writeShare(bucket, pick(kv[0], idx), pick(kv[1], idx), deadlineMillis);
    });
    if (out.failed()) {
      throw new IllegalStateException("writing a share failed outside its own handling", out.failures().get(0));
    }
    return new WriteReply(-1, -1).setShares(out.results());
  }

  /** Writes one bucket's share of a byBucket write; its failure becomes its outcome. */
  private ShareOutcome writeShare(int bucket, byte[][] keys, byte[][] values, long deadlineMillis) {
    ShareOutcome o = new ShareOutcome(bucket);
    try {
      GroupCommitter.Committed c = held(bucket).write(keys, values, deadlineMillis);
      return o.setSeq(c.seq()).setVersion(c.version());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return o.setErrorCode(ErrorCode.UNAVAILABLE.getValue()).setMessage("pod " + podId + " is stopping")
          .setRetriable(true);
    } catch (IOException | RuntimeException e) {
      KvPodException k = Errors.from(e);
      return o.setErrorCode(k.getCode().getValue()).setMessage(k.getMessage()).setRetriable(k.isRetriable());
    }
  }

  /** The keys ([0]) and values ([1]) of a forwarded write, checked against the limits. */
  private static byte[][][] checkedRecords(List<KeyValue> records) {
    Limits.checkBatchSize(records.size());
    if (records.isEmpty()) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "a forwarded write with no records");
    }
    byte[][] keys = new byte[records.size()][];
    byte[][] values = new byte[records.size()][];
    for (int i = 0; i < keys.length; i++) {
      keys[i] = checkKey(records.get(i).getKey());
      values[i] = records.get(i).getValue();
      Limits.checkValueLength(values[i].length);
    }
    return new byte[][][] {keys, values};
  }

  private static byte[][] pick(byte[][] all, List<Integer> idx) {
    byte[][] out = new byte[idx.size()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = all[idx.get(i)];
    }
    return out;
  }

  private ReadReply read(List<ByteBuffer> keyBuffers) throws IOException {
    Limits.checkBatchSize(keyBuffers.size());
    byte[][] keys = new byte[keyBuffers.size()][];
    for (int i = 0; i < keys.length; i++) {
      ByteBuffer b = keyBuffers.get(i).duplicate();
      keys[i] = new byte[b.remaining()];
      b.get(keys[i]);
      checkKey(keys[i]);
    }
    Found[] found = readHeld(keys);
    List<FoundRecord> out = new ArrayList<>(found.length);
    for (Found f : found) {
      out.add(f == null ? new FoundRecord() : new FoundRecord().setVersion(f.version()).setValue(f.value()));
    }
    return new ReadReply(out);
  }

  /** The shard of {@code bucket}, or a retriable NOT_OWNER (RECOVERING) if this pod does not serve it now. */
  private Shard held(int bucket) throws IOException {
    checkBucket(bucket);
    Shard s = shards.serving(bucket);
    if (s == null) {
      throw notServing(bucket);
    }
    return s;
  }

  /**
   * Reads keys of buckets this pod holds, bucket by bucket (a sender groups the keys of all
   * the buckets it believes this pod holds into one read); a retriable NOT_OWNER (RECOVERING)
   * if it does not serve one of them now.
   */
  private Found[] readHeld(byte[][] keys) throws IOException {
    int buckets = shards.buckets();
    if (keys.length == 1) { // a forwarded get: no grouping
      int bucket = KeyPartitioner.bucket(keys[0], buckets);
      Found[] found = shards.read(bucket, keys);
      if (found == null) {
        throw notServing(bucket);
      }
      return found;
    }
    Map<Integer, List<Integer>> byBucket = new TreeMap<>();
    for (int i = 0; i < keys.length; i++) {
      byBucket.computeIfAbsent(KeyPartitioner.bucket(keys[i], buckets), b -> new ArrayList<>()).add(i);
    }
    Found[] out = new Found[keys.length];
    for (Map.Entry<Integer, List<Integer>> e : byBucket.entrySet()) {
      List<Integer> idx = e.getValue();
      byte[][] share = new byte[idx.size()][];
      for (int i = 0; i < share.length; i++) {
        share[i] = keys[idx.get(i)];
      }
      Found[] found = shards.read(e.getKey(), share);
      if (found == null) {
        throw notServing(e.getKey());
      }
      for (int i = 0; i < found.length; i++) {
        out[idx.get(i)] = found[i];
      }
    }
    return out;
  }

  private void checkBucket(int bucket) {
    if (bucket < 0 || bucket >= shards.buckets()) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "no bucket " + bucket + " in a table of "
          + shards.buckets() + " buckets");
    }
  }

  private PodUnavailable notServing(int bucket) throws IOException {
    if (shards.isRecovering(bucket)) {
      return new PodUnavailable(ErrorCode.RECOVERING, "pod " + podId + " is recovering bucket " + bucket
          + " (replaying its log); retry shortly");
    }
    return new PodUnavailable(ErrorCode.NOT_OWNER, "pod " + podId + " does not hold bucket " + bucket
        + " (holder: pod " + shards.holding(bucket).holder() + ")");
  }

  /** A forwarded write carries the keys of one bucket (senders split writes by bucket). */
  private int oneBucket(byte[][] keys) {
    int buckets = shards.buckets();
    int bucket = KeyPartitioner.bucket(keys[0], buckets);
    for (byte[] k : keys) {
      if (KeyPartitioner.bucket(k, buckets) != bucket) {
        throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "a forwarded request mixes the keys of buckets "
            + bucket + " and " + KeyPartitioner.bucket(k, buckets) + " of " + buckets
            + "; do all pods serve the same table under the same root?");
      }
    }
    return bucket;
  }

  private static byte[] checkKey(byte[] key) {
    Limits.checkKeyLength(key.length);
    return key;
  }
}
