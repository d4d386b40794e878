package io.kvpod.pod;

import io.kvpod.contract.ContractViolation;
import io.kvpod.contract.CorruptionException;
import io.kvpod.contract.Limits;
import io.kvpod.contract.RecordCodec;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.LayerStatus;
import io.kvpod.thrift.Lookup;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.Record;
import io.kvpod.thrift.WriteOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The public KvPod API of one table of a pod ({@link TableRouter} picks the table of each
 * call, and answers the pod-to-pod calls). Keys are served by their owners through the
 * {@link OwnerRouter}: this pod's own keys from its memtables and layers, others through
 * their owners (or, when an owner is out of reach, its WAL); every failure
 * leaves as a {@link KvPodException} with a numbered code, and a bad request never harms
 * the pod. Thread-safe: called concurrently by the server's worker threads.
 */
final class PodService {
  private static final Logger LOG = LoggerFactory.getLogger(PodService.class);

  private final int podId;
  private final int pods;
  private final String table;
  private final LayerWatcher layers;
  private final OwnerRouter router;
  private final Consumer<PodStatus> writeStatus;
  private final DoubleSupplier cacheHitRatio;
  private final WriteGate gate;
  private final long startedAt = System.currentTimeMillis();
  private final LongAdder gets = new LongAdder();
  private final LongAdder puts = new LongAdder();

  /**
   * {@code writeStatus} adds the write path's figures to a status answer and sets its
   * state when writes are refused.
   */
  PodService(int podId, int pods, String table, LayerWatcher layers, OwnerRouter router,
             Consumer<PodStatus> writeStatus, DoubleSupplier cacheHitRatio, WriteGate gate) {
    this.gate = gate;
    this.podId = podId;
    this.pods = pods;
    this.table = table;
    this.layers = layers;
    this.router = router;
    this.writeStatus = writeStatus;
    this.cacheHitRatio = cacheHitRatio;
  }

  long uptimeMillis() {
    return System.currentTimeMillis() - startedAt;
  }

  static byte[] checkedKey(String key) {
    if (key == null) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "key is missing");
    }
    byte[] b = key.getBytes(StandardCharsets.UTF_8);
    Limits.checkKeyLength(b.length);
    return b;
  }

  /** Whether {@code f} is a record: found, and not a removal's tombstone. */
  private static boolean isRecord(Found f) {
    return f != null && !RecordCodec.isTombstone(f.value());
  }

  private Found lookup(String key) throws IOException, KvPodException, InterruptedException {
    byte[] k = checkedKey(key);
    gets.increment();
    return router.get(new byte[][] {k})[0];
  }

  public Map<String, String> get(String key) throws KvPodException {
    try {
      Found f = lookup(key);
      return isRecord(f) ? RecordCodec.decode(f.value()) : Map.of();
    } catch (Exception e) {
      throw fail("get", e);
    }
  }

  public Lookup getRecord(String key) throws KvPodException {
    try {
      Found f = lookup(key);
      return isRecord(f) ? new Lookup(true).setRecord(record(f)) : new Lookup(false);
    } catch (Exception e) {
      throw fail("getRecord", e);
    }
  }

  private static Record record(Found f) throws CorruptionException {
    return new Record(RecordCodec.decode(f.value())).setVersion(f.version());
  }

  /** The stored records of {@code keys}, index for index (null: none; tombstones included). */
  private Found[] lookup(List<String> keys) throws IOException, KvPodException, InterruptedException {
    if (keys == null) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "keys are missing");
    }
    Limits.checkBatchSize(keys.size());
    byte[][] ks = new byte[keys.size()][];
    for (int i = 0; i < ks.length; i++) {
      ks[i] = checkedKey(keys.get(i));
    }
    gets.add(ks.length);
    // One seek per key: with blocks cached this measured faster than sorting the keys
    // and walking each partition with a forward-only scanner (120K vs 103K keys/s).
    return router.get(ks);
  }

  public Map<String, Map<String, String>> multiGet(List<String> keys) throws KvPodException {
    try {
      Found[] found = lookup(keys);
      Map<String, Map<String, String>> out = new HashMap<>();
      for (int i = 0; i < found.length; i++) {
        if (isRecord(found[i])) {
          out.put(keys.get(i), RecordCodec.decode(found[i].value()));
        }
      }
      return out;
    } catch (Exception e) {
      throw fail("multiGet", e);
    }
  }

  public Map<String, Record> multiGetRecords(List<String> keys) throws KvPodException {
    try {
      Found[] found = lookup(keys);
      Map<String, Record> out = new HashMap<>();
      for (int i = 0; i < found.length; i++) {
        if (isRecord(found[i])) {
          out.put(keys.get(i), record(found[i]));
        }
      }
      return out;
    } catch (Exception e) {
      throw fail("multiGetRecords", e);
    }
  }

  /** multiGetEncoded's answer for a key with no record: empty, which no value encodes to. */
  private static final ByteBuffer NONE = ByteBuffer.wrap(new byte[0]);

  /** The records of {@code keys} in their stored form, index for index; empty where there is none. */
  public List<ByteBuffer> multiGetEncoded(List<String> keys) throws KvPodException {
    try {
      Found[] found = lookup(keys);
      List<ByteBuffer> out = new ArrayList<>(found.length);
      for (Found f : found) {
        out.add(isRecord(f) ? ByteBuffer.wrap(f.value()) : NONE);
      }
      return out;
    } catch (Exception e) {
      throw fail("multiGetEncoded", e);
    }
  }

  /** The write's deadline: the caller's, or this pod's default from now. */
  private long deadlineOf(WriteOptions options) {
    return options != null && options.isSetDeadlineMillis() ? options.getDeadlineMillis() : router.defaultDeadline();
  }

  public boolean put(String key, Map<String, String> value, WriteOptions options) throws KvPodException {
    return writeOne("put", key, options, () -> checkedValue(key, value));
  }

  public boolean remove(String key, WriteOptions options) throws KvPodException {
    return writeOne("remove", key, options, RecordCodec::tombstone);
  }

  /** Logs one record, {@code stored} (a value or a tombstone), under {@code key}: put and remove. */
  private boolean writeOne(String call, String key, WriteOptions options, java.util.function.Supplier<byte[]> stored)
      throws KvPodException {
    if (!gate.enter()) {
      throw stopping();
    }
    try {
      long deadline = deadlineOf(options);
      byte[][] k = {checkedKey(key)};
      byte[][] v = {stored.get()};
      router.put(k, v, deadline);
      puts.increment();
      return true;
    } catch (Exception e) {
      throw fail(call, e);
    } finally {
      gate.exit();
    }
  }

  /** The answer to a write that arrives while the pod stops: nothing was applied. */
  static KvPodException stopping() {
    return Errors.of(ErrorCode.UNAVAILABLE, "the pod is stopping; the write was not applied (send it to another pod)",
        true);
  }

  public boolean batchPut(Map<String, Map<String, String>> records, WriteOptions options) throws KvPodException {
    return writeBatch("batchPut", records, options, PodService::checkedValue);
  }

  /** batchPut of values in their stored form: each is checked ({@link RecordCodec#check}), then stored as it is. */
  public boolean batchPutEncoded(Map<String, ByteBuffer> records, WriteOptions options) throws KvPodException {
    return writeBatch("batchPutEncoded", records, options, PodService::checkedEncoded);
  }

  /** Logs {@code records}, each value turned into its stored form by {@code stored}, once all are checked. */
  private <V> boolean writeBatch(String call, Map<String, V> records, WriteOptions options,
      java.util.function.BiFunction<String, V, byte[]> stored) throws KvPodException {
    if (!gate.enter()) {
      throw stopping();
    }
    try {
      long deadline = deadlineOf(options);
      if (records == null) {
        throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "records are missing");
      }
      Limits.checkBatchSize(records.size());
      byte[][] keys = new byte[records.size()][];
      byte[][] values = new byte[records.size()][];
      int i = 0;
      for (Map.Entry<String, V> e : records.entrySet()) {
        keys[i] = checkedKey(e.getKey());
        values[i] = stored.apply(e.getKey(), e.getValue());
        i++;
      }
      router.put(keys, values, deadline); // every record was checked first: a bad one writes nothing
      puts.add(keys.length);
      return true;
    } catch (Exception e) {
      throw fail(call, e);
    } finally {
      gate.exit();
    }
  }

  private static byte[] checkedValue(String key, Map<String, String> value) {
    if (value == null) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "value of key '" + key + "' is missing");
    }
    try {
      return RecordCodec.encode(value);
    } catch (ContractViolation v) {
      throw new ContractViolation(v.code(), "value of key '" + abbreviate(key) + "': " + v.getMessage());
    }
  }

  /** A copy of an encoded value (the call's buffer is not ours to keep), checked against the format. */
  private static byte[] checkedEncoded(String key, ByteBuffer value) {
    if (value == null) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "value of key '" + abbreviate(key) + "' is missing");
    }
    byte[] copy = new byte[value.remaining()];
    value.duplicate().get(copy);
    try {
      RecordCodec.check(copy);
    } catch (ContractViolation v) {
      throw new ContractViolation(v.code(), "value of key '" + abbreviate(key) + "': " + v.getMessage());
    }
    return copy;
  }

  private static String abbreviate(String key) {
    return key.length() <= 64 ? key : key.substring(0, 64) + "...";
  }

  public PodStatus status() throws KvPodException {
    LayerSet s = layers.acquire();
    try {
      PodStatus st = new PodStatus(podId, pods, table, uptimeMillis(),
          s.layers().stream().map(l -> new LayerStatus(l.id(), l.meta().partitions, l.meta().records)
              .setKind(l.meta().kind)).toList());
      st.setLayerRecords(s.records());
      st.setBlockCacheHitRatio(cacheHitRatio.getAsDouble());
      st.setGets(gets.sum());
      st.setPuts(puts.sum());
      st.setState(layers.lastError() == null ? "SERVING" : "SERVING (last layer refresh failed: "
          + layers.lastError() + ")");
      writeStatus.accept(st);
      return st;
    } finally {
      s.release();
    }
  }

  private KvPodException fail(String call, Exception e) {
    if (e instanceof InterruptedException) {
      Thread.currentThread().interrupt();
      return Errors.of(ErrorCode.UNAVAILABLE, call + " interrupted: the pod is stopping", true);
    }
    KvPodException k = Errors.from(e);
    if (k.getCode() == ErrorCode.INTERNAL || k.getCode() == ErrorCode.CORRUPTION) {
      LOG.error("{} failed", call, e);
    } else if (k.isRetriable() && !call.equals("process") && !call.equals("heartbeat") && k.getCode() != ErrorCode.BUSY) { // BUSY: WaitSlots logs
      LOG.warn("{} failed: {}", call, k.getMessage());
    } else {
      LOG.debug("{} refused: {}", call, k.getMessage());
    }
    return k;
  }
}
