package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.LayerCatalog;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.PeerSigner;
import io.kvpod.contract.RecordCodec;
import io.kvpod.contract.TableLayout;
import io.kvpod.loader.MiniHdfs;
import io.kvpod.local.PodProcess;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.Lookup;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.Record;
import io.kvpod.thrift.internal.FaultReply;
import io.kvpod.thrift.internal.FaultRequest;
import io.kvpod.thrift.internal.KeyValue;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.WriteRequest;
import io.kvpod.wal.WalReplay;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Online writes on three pod processes over real HDFS (MiniDFSCluster): read-your-write
 * through every pod, reads of a frozen owner's keys from its WAL, flushes and compactions
 * under load, a torn tail and a flipped byte in a WAL on HDFS, and a crash loop of 20
 * {@code kill -9}s while writes stream in. Every acknowledged write is checked through
 * every pod. The tests run in order on one cluster.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OnlineWritesClusterTest {
  private static final String SECRET = "online-writes-secret";
  private static final String TABLE = "events";
  private static final int PODS = 3;

  @TempDir
  static File tmp; // static: injected before @BeforeAll (an instance field was still null there)
  private MiniHdfs hdfs;
  private String root;
  private String podList;
  private final List<PodProcess> pods = new ArrayList<>();
  private KvPodClient client;
  private final File logDir = new File("target/pod-logs/" + getClass().getSimpleName());
  /** Every acknowledged write: key to the values it may read as (one, unless a later write was not acknowledged). */
  private final Map<String, Set<Map<String, String>>> acked = new ConcurrentHashMap<>();

  @BeforeAll
  void startCluster() throws Exception {
    hdfs = new MiniHdfs(new File(tmp, "dfs"), 1);
    root = hdfs.uri() + "/kvpod";
    podList = PodProcess.loopbackPodList(3);
    for (int id = 0; id < PODS; id++) {
      pods.add(PodProcess.start(id, podConfig(id), logDir));
    }
    client = KvPodClient.builder(podList).callTimeoutMs(30_000).deadlineMs(60_000).build();
  }

  private Map<String, String> podConfig(int id) {
    Map<String, String> c = PodProcess.baseConfig(podList, id, root, TABLE, SECRET);
    c.put(PodConfig.TABLE_BUCKETS, Integer.toString(PODS)); // one bucket per pod: bucket b's home is pod b
    c.put(PodConfig.BLOCK_CACHE_BYTES, Long.toString(16L << 20));
    c.put(PodConfig.WORKER_THREADS, "8");
    c.put(PodConfig.LAYERS_POLL, "1s");
    c.put(PodConfig.MEMTABLE_MAX_BYTES, Long.toString(64L << 20));
    c.put(PodConfig.FLUSH_BYTES, Long.toString(512L << 10));
    c.put(PodConfig.FLUSH_CHECK, "200ms");
    c.put(PodConfig.WAL_SEGMENT_BYTES, Long.toString(256L << 10));
    c.put(PodConfig.COMPACTION_MAX_LAYERS, "4");
    c.put(PodConfig.PEER_TIMEOUT, "2s");
    c.put(PodConfig.WRITE_DEADLINE, "2s");
    c.put(PodConfig.WAL_LEASE_TIMEOUT, "30s");
    c.put(PodConfig.TAKEOVER_AFTER, "0"); // takeovers are TakeoverClusterTest's; here an owner stays the owner
    return c;
  }

  @AfterAll
  void stopCluster() throws Exception {
    if (client != null) {
      client.close();
    }
    PodProcess.stopAll(pods);
    if (hdfs != null) {
      hdfs.close();
    }
  }

  private static Map<String, String> value(String key, int generation) {
    return Map.of("key", key, "gen", Integer.toString(generation), "pad", "p".repeat(40));
  }

  private static String keyOwnedBy(int owner, String prefix, int n) {
    for (int i = 0; ; i++) {
      String k = prefix + "-" + n + "-" + i;
      if (KeyPartitioner.bucket(k, PODS) == owner) {
        return k;
      }
    }
  }

  private void ack(String key, Map<String, String> v) {
    acked.put(key, Set.of(v));
  }

  /** Reads every acknowledged key through every pod; returns how many reads were checked. */
  private long verifyAllThroughEveryPod() throws KvPodException {
    List<String> keys = new ArrayList<>(acked.keySet());
    long checked = 0;
    List<String> wrong = new ArrayList<>();
    for (int pod = 0; pod < PODS; pod++) {
      for (int from = 0; from < keys.size(); from += 1000) {
        List<String> chunk = keys.subList(from, Math.min(keys.size(), from + 1000));
        Map<String, Map<String, String>> got = client.multiGetVia(pod, chunk);
        for (String k : chunk) {
          checked++;
          if (!acked.get(k).contains(got.get(k)) && wrong.size() < 10) {
            wrong.add("pod " + pod + ": " + k + " read as " + got.get(k) + ", expected one of " + acked.get(k));
          }
        }
      }
    }
    assertTrue(wrong.isEmpty(), "wrong reads: " + wrong);
    return checked;
  }

  @Test
  @Order(1)
  void aPutIsReadableAtOnceThroughEveryPod() throws Exception {
    Random r = new Random(1);
    for (int i = 0; i < 60; i++) {
      String k = "ryw-" + i;
      Map<String, String> v = value(k, 1);
      assertTrue(client.putVia(r.nextInt(PODS), k, v));
      for (int pod = 0; pod < PODS; pod++) {
        assertEquals(v, client.getVia(pod, k), "key " + k + " through pod " + pod);
      }
      ack(k, v);
    }
    Map<String, Map<String, String>> batch = new HashMap<>();
    for (int i = 0; i < 500; i++) {
      batch.put("ryw-batch-" + i, value("ryw-batch-" + i, 1));
    }
    assertTrue(client.batchPutVia(2, batch)); // pod 2 splits it among the owners
    batch.forEach(this::ack);
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(batch, client.multiGetVia(pod, new ArrayList<>(batch.keySet())));
    }
    Map<String, String> newer = value("ryw-0", 2);
    client.putVia(1, "ryw-0", newer);
    ack("ryw-0", newer);
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(newer, client.getVia(pod, "ryw-0"), "the later write wins through pod " + pod);
    }
  }

  @Test
  @Order(2)
  void aBatchWithOneBadRecordIsRefusedAndWritesNothing() throws Exception {
    Map<String, Map<String, String>> batch = new HashMap<>();
    for (int i = 0; i < 20; i++) {
      batch.put("bad-batch-" + i, value("bad-batch-" + i, 1));
    }
    batch.put("bad-batch-big", Map.of("f", "x".repeat(io.kvpod.contract.Limits.MAX_VALUE_BYTES)));
    KvPodException e = assertThrows(KvPodException.class, () -> client.batchPutVia(0, batch));
    assertEquals(ErrorCode.TOO_LARGE, e.getCode());
    assertTrue(e.getMessage().contains("bad-batch-big"), e.getMessage());
    batch.remove("bad-batch-big");
    batch.put("", value("empty", 1));
    assertEquals(ErrorCode.INVALID_ARGUMENT,
        assertThrows(KvPodException.class, () -> client.batchPutVia(1, batch)).getCode());
    batch.remove("");
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(Map.of(), client.multiGetVia(pod, new ArrayList<>(batch.keySet())), "nothing written, pod " + pod);
    }
  }

  @Test
  @Order(2)
  void anEncodedBatchReadsBackByteForByteAndAsMapsAndAMalformedValueWritesNothing() throws Exception {
    Map<String, byte[]> batch = new HashMap<>();
    for (int i = 0; i < 300; i++) {
      String k = "encoded-" + i;
      batch.put(k, io.kvpod.contract.RecordCodec.encode(value(k, 1)));
    }
    assertTrue(client.batchPutEncoded(batch), "split by holder, stored as sent");
    List<String> keys = new ArrayList<>(batch.keySet());
    keys.add("encoded-never-written");
    Map<String, byte[]> got = client.multiGetEncoded(keys);
    assertEquals(batch.keySet(), got.keySet(), "every key written, and not the one never written");
    Map<String, Map<String, String>> decoded = new HashMap<>();
    batch.forEach((k, v) -> {
      org.junit.jupiter.api.Assertions.assertArrayEquals(v, got.get(k), "the stored bytes of " + k);
      decoded.put(k, value(k, 1));
      ack(k, value(k, 1));
    });
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(decoded, client.multiGetVia(pod, keys), "the same records as maps, through pod " + pod);
    }

    // a malformed value refuses its pod's whole share: the batch is made of one holder's keys
    String bad = "encoded-bad";
    Map<String, byte[]> refused = new HashMap<>();
    for (int i = 0; refused.size() < 20; i++) {
      String k = "encoded-refused-" + i;
      if (client.ownerOf(k) == client.ownerOf(bad)) {
        refused.put(k, io.kvpod.contract.RecordCodec.encode(value(k, 1)));
      }
    }
    refused.put(bad, new byte[] {1, 1, 'a'}); // a field name without its text
    KvPodException e = assertThrows(KvPodException.class, () -> client.batchPutEncoded(refused));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.getCode());
    assertTrue(e.getMessage().contains(bad) && e.getMessage().contains("malformed"), e.getMessage());
    refused.put(bad, io.kvpod.contract.RecordCodec.tombstone());
    e = assertThrows(KvPodException.class, () -> client.batchPutEncoded(refused));
    assertTrue(e.getMessage().contains("use remove"), "a removal cannot be put as a value: " + e.getMessage());
    refused.remove(bad);
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(Map.of(), client.multiGetVia(pod, new ArrayList<>(refused.keySet())), "nothing written, pod " + pod);
    }
  }

  @Test
  @Order(3)
  void aFrozenOwnersAcknowledgedWritesAreReadFromItsWal() throws Exception {
    PodProcess owner = pods.get(1);
    Map<String, Map<String, String>> mine = new HashMap<>();
    for (int i = 0; i < 100; i++) {
      String k = keyOwnedBy(1, "frozen", i);
      mine.put(k, value(k, 1));
    }
    client.batchPut(mine);
    mine.forEach(this::ack);
    owner.signal("STOP");
    try {
      long start = System.nanoTime();
      for (int pod : new int[] {0, 2}) {
        for (Map.Entry<String, Map<String, String>> e : mine.entrySet()) {
          assertEquals(e.getValue(), client.getVia(pod, e.getKey()), e.getKey() + " through pod " + pod);
        }
      }
      System.out.printf("[frozen owner] %d gets of its keys through pods 0 and 2 took %.0f ms%n",
          2 * mine.size(), (System.nanoTime() - start) / 1e6);
      String k = keyOwnedBy(1, "frozen-write", 0);
      KvPodException e = assertThrows(KvPodException.class, () -> client.putVia(0, k, value(k, 1)));
      assertEquals(ErrorCode.OWNER_UNREACHABLE, e.getCode(), e.getMessage());
      assertTrue(e.isRetriable());
    } finally {
      owner.signal("CONT");
    }
    String after = keyOwnedBy(1, "thawed", 0);
    client.putVia(0, after, value(after, 1));
    ack(after, value(after, 1));
    verifyAllThroughEveryPod();
  }

  private FaultReply fault(int pod, FaultRequest req) throws Exception {
    return client.process(pod, PeerSigner.tool(SECRET), PeerRequest.fault(req)).getFault();
  }

  @Test
  @Order(4)
  void aCutLinkIsRelayedAroundAndReadsGoToTheOwnersWal() throws Exception {
    Map<String, Map<String, String>> ownedBy1 = new HashMap<>();
    for (int i = 0; i < 50; i++) {
      String k = keyOwnedBy(1, "cut", i);
      ownedBy1.put(k, value(k, 1));
    }
    client.batchPut(ownedBy1);
    ownedBy1.forEach(this::ack);
    assertEquals(List.of(1), fault(0, new FaultRequest().setBlock(List.of(1))).getBlocked());
    assertEquals(List.of(0), fault(1, new FaultRequest().setBlock(List.of(0))).getBlocked());
    try {
      long start = System.nanoTime();
      for (Map.Entry<String, Map<String, String>> e : ownedBy1.entrySet()) {
        assertEquals(e.getValue(), client.getVia(0, e.getKey()), e.getKey() + " through pod 0, cut off from its owner");
      }
      System.out.printf("[cut link] %d gets through pod 0 of keys owned by pod 1 took %.0f ms%n", ownedBy1.size(),
          (System.nanoTime() - start) / 1e6);
      // a write acknowledged by the owner itself is readable at once through the cut-off pod
      String k = keyOwnedBy(1, "cut-direct", 0);
      client.putVia(1, k, value(k, 2));
      ack(k, value(k, 2));
      assertEquals(value(k, 2), client.getVia(0, k));
      // writes through pod 0 for pod 1's keys are relayed through pod 2
      client.putVia(0, k, value(k, 3));
      ack(k, value(k, 3));
      for (int pod = 0; pod < PODS; pod++) {
        assertEquals(value(k, 3), client.getVia(pod, k), "relayed write through pod " + pod);
      }
      // with pod 1 cut off from both others, they fail, retriably, once the forward deadline passes
      fault(2, new FaultRequest().setBlock(List.of(1)));
      fault(1, new FaultRequest().setBlock(List.of(2)));
      KvPodException e = assertThrows(KvPodException.class, () -> client.putVia(0, k, value(k, 4)));
      assertEquals(ErrorCode.OWNER_UNREACHABLE, e.getCode(), e.getMessage());
      assertTrue(e.getMessage().contains("cut"), e.getMessage());
      assertEquals(value(k, 3), client.getVia(2, k), "the failed write changed nothing");
    } finally {
      for (int pod = 0; pod < PODS; pod++) {
        fault(pod, new FaultRequest().setClear(true));
      }
    }
    String k = keyOwnedBy(1, "cut-healed", 0);
    client.putVia(0, k, value(k, 1));
    ack(k, value(k, 1));
    assertEquals(value(k, 1), client.getVia(2, k));
  }

  /** Writes batches through random pods until {@code stop}; records what was acknowledged. */
  private Thread writer(String name, AtomicBoolean stop, AtomicLong ackedRecords, AtomicLong failedCalls,
                        List<Throwable> errors) {
    Thread t = new Thread(() -> {
      ThreadLocalRandom r = ThreadLocalRandom.current();
      List<String> mineAcked = new ArrayList<>();
      int n = 0;
      int gen = 0;
      while (!stop.get()) {
        Map<String, Map<String, String>> batch = new HashMap<>();
        for (int i = 0; i < 40; i++) {
          String k = name + "-" + n++;
          batch.put(k, value(k, 1));
        }
        gen++;
        for (int i = 0; i < 4 && !mineAcked.isEmpty(); i++) {
          String k = mineAcked.get(r.nextInt(mineAcked.size()));
          batch.put(k, value(k, 1000 + gen));
        }
        boolean ok = false;
        long deadline = System.currentTimeMillis() + 60_000;
        while (!ok && System.currentTimeMillis() < deadline) {
          try {
            client.batchPutVia(r.nextInt(PODS), batch);
            ok = true;
          } catch (KvPodException e) {
            if (!e.isRetriable()) {
              errors.add(e);
              return;
            }
            failedCalls.incrementAndGet();
            try {
              Thread.sleep(50);
            } catch (InterruptedException ie) {
              Thread.currentThread().interrupt();
              return;
            }
          }
        }
        for (Map.Entry<String, Map<String, String>> e : batch.entrySet()) {
          Set<Map<String, String>> before = acked.get(e.getKey());
          if (ok) {
            acked.put(e.getKey(), Set.of(e.getValue()));
          } else if (before != null) { // a write that may or may not have landed
            Set<Map<String, String>> either = new java.util.HashSet<>(before);
            either.add(e.getValue());
            acked.put(e.getKey(), either);
          }
        }
        if (ok) {
          ackedRecords.addAndGet(batch.size());
          batch.keySet().stream().filter(k -> !mineAcked.contains(k)).limit(8).forEach(mineAcked::add);
        }
      }
    }, name);
    t.start();
    return t;
  }

  private PodStatus status(int pod) throws KvPodException {
    return client.status(pod);
  }

  @Test
  @Order(5)
  void flushesAndCompactionsUnderLoadLoseAndDuplicateNothing() throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong ackedRecords = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<Thread> ws = List.of(writer("load-a", stop, ackedRecords, failed, errors),
        writer("load-b", stop, ackedRecords, failed, errors), writer("load-c", stop, ackedRecords, failed, errors));
    long deadline = System.currentTimeMillis() + 180_000; // ends as soon as the flushes and a compaction happened
    long compactions = 0;
    long flushes = 0;
    while (System.currentTimeMillis() < deadline && (compactions < 1 || flushes < 6)) {
      Thread.sleep(1000);
      compactions = status(0).getCompactions();
      flushes = 0;
      for (int p = 0; p < PODS; p++) {
        flushes += status(p).getFlushes();
      }
    }
    stop.set(true);
    for (Thread t : ws) {
      t.join();
    }
    assertTrue(errors.isEmpty(), "writers failed: " + errors);
    assertTrue(flushes >= 6, "flushes happened: " + flushes);
    assertTrue(compactions >= 1, "a compaction happened: " + compactions);
    FileSystem fs = hdfs.fs();
    TableLayout layout = new TableLayout(root, TABLE);
    List<LayerMeta> live = LayerCatalog.liveLayers(fs, layout);
    assertTrue(live.stream().anyMatch(m -> "compact".equals(m.kind)), "a compacted layer is live");
    for (int p = 0; p < PODS; p++) {
      int segments = WalReplay.segments(fs, layout.walDir(p)).size();
      assertTrue(segments <= 4, "pod " + p + " retired its flushed WAL segments; " + segments + " remain");
    }
    long checked = verifyAllThroughEveryPod();
    System.out.printf("[flush under load] %d records acknowledged, %d failed calls, %d flushes, %d compactions, "
        + "%d live layers; %d reads checked%n", ackedRecords.get(), failed.get(), flushes, compactions, live.size(), checked);
  }

  private static byte[] readAll(FileSystem fs, Path p) throws IOException {
    try (InputStream in = fs.open(p)) {
      return in.readAllBytes();
    }
  }

  private static void rewrite(FileSystem fs, Path p, byte[] bytes) throws IOException {
    fs.delete(p, false);
    try (OutputStream out = fs.create(p, false)) {
      out.write(bytes);
    }
  }

  @Test
  @Order(6)
  void aTornTailIsDroppedAndAFlippedByteStopsThePodWithAClearError() throws Exception {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      String k = keyOwnedBy(2, "torn", i);
      client.putVia(0, k, value(k, 1));
      keys.add(k);
    }
    PodProcess pod2 = pods.get(2);
    pod2.kill9();
    FileSystem fs = hdfs.fs();
    TableLayout layout = new TableLayout(root, TABLE);
    List<Path> segs = WalReplay.segments(fs, layout.walDir(2));
    Path last = segs.get(segs.size() - 1);
    io.kvpod.wal.WriteAheadLog.recoverLease(fs, last, 30_000); // the dead pod's lease, so the file can be replaced
    byte[] good = readAll(fs, last);

    byte[] flipped = good.clone();
    flipped[good.length / 2] ^= 0x01;
    rewrite(fs, last, flipped);
    IOException e = assertThrows(IOException.class, () -> pod2.launch(podConfig(2)));
    assertTrue(e.getMessage().contains("corrupt"), "the pod names the corruption:\n" + e.getMessage());
    assertTrue(e.getMessage().contains(last.getName()), "and the segment");

    rewrite(fs, last, java.util.Arrays.copyOf(good, good.length - 3));
    pod2.launch(podConfig(2));
    assertTrue(pod2.logText().contains("dropped a torn tail"), "the pod logs what it dropped");
    String lost = keys.get(keys.size() - 1); // its entry was the one torn
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(Map.of(), client.getVia(pod, lost));
      for (String k : keys.subList(0, keys.size() - 1)) {
        assertEquals(value(k, 1), client.getVia(pod, k), k + " through pod " + pod);
      }
    }
    keys.subList(0, keys.size() - 1).forEach(k -> ack(k, value(k, 1)));
  }

  @Test
  @Order(7)
  void everyAcknowledgedWriteSurvivesTenKill9sDuringWrites() throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong ackedRecords = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<Thread> ws = List.of(writer("crash-a", stop, ackedRecords, failed, errors),
        writer("crash-b", stop, ackedRecords, failed, errors), writer("crash-c", stop, ackedRecords, failed, errors));
    Random r = new Random(20);
    int kills = 0;
    try {
      for (; kills < 10; kills++) { // ChaosTest and bin/kvpod chaos add kills with other faults
        Thread.sleep(200 + r.nextInt(1500));
        PodProcess victim = pods.get(r.nextInt(PODS));
        victim.kill9();
        victim.launch(podConfig(victim.id));
        if (!errors.isEmpty()) {
          fail("a writer failed: " + errors);
        }
      }
      Thread.sleep(1000);
    } finally {
      stop.set(true);
      for (Thread t : ws) {
        t.join();
      }
    }
    assertTrue(errors.isEmpty(), "writers failed: " + errors);
    long checked = verifyAllThroughEveryPod();
    System.out.printf("[crash loop] %d kill -9s; %d records acknowledged during the loop (%d calls failed and were "
        + "retried); %d keys acknowledged in all; %d reads checked through %d pods, all correct%n",
        kills, ackedRecords.get(), failed.get(), acked.size(), checked, PODS);
    assertTrue(ackedRecords.get() > 0, "writes were acknowledged during the loop");
  }

  /**
   * A forwarded write captured on the wire (as pod 1 would send it to pod 0) is applied once.
   * Sent again after a newer write of its key, it is refused as a replay and changes nothing;
   * sent to any other pod, it is refused as addressed elsewhere. Each refusal is logged.
   */
  @Test
  @Order(8)
  void aCapturedPeerWriteIsNeitherReplayedNorAcceptedByAnotherPod() throws Exception {
    String k = keyOwnedBy(0, "replay", 0);
    Map<String, String> captured = value(k, 1);
    PeerSigner asPod1 = new PeerSigner(SECRET, 1, 30_000, System::currentTimeMillis);
    PeerSigner.Sealed message = asPod1.seal(PeerRequest.forwardedWrite(new WriteRequest(List.of(new KeyValue(
        ByteBuffer.wrap(k.getBytes(StandardCharsets.UTF_8)), ByteBuffer.wrap(RecordCodec.encode(captured)))))
        .setDeadlineMillis(System.currentTimeMillis() + 60_000)), 0);
    assertTrue(asPod1.openReply(message, client.process(0, message.bytes())).isSetForwardedWrite());
    assertEquals(captured, client.getVia(2, k));
    Map<String, String> newer = value(k, 2);
    assertTrue(client.put(k, newer));
    ack(k, newer);

    KvPodException e = assertThrows(KvPodException.class, () -> client.process(0, message.bytes()));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.getCode());
    assertTrue(e.getMessage().contains("a replay"), e.getMessage());
    for (int pod = 1; pod < PODS; pod++) {
      int target = pod;
      e = assertThrows(KvPodException.class, () -> client.process(target, message.bytes()));
      assertEquals(ErrorCode.UNAUTHENTICATED, e.getCode());
      assertTrue(e.getMessage().contains("addressed to pod 0"), e.getMessage());
    }
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(newer, client.getVia(pod, k), "through pod " + pod);
    }
    PodCluster.await("pod 0 logs the replay and pod 1 the re-targeted message", 30_000,
        () -> logOf(0).contains("refused an internal message") && logOf(0).contains("a replay")
            && logOf(1).contains("addressed to pod 0"));
  }

  /**
   * The pod takes an internal message, and the connection is reset before its answer comes
   * back: the client sends the message again over a new connection, sealed afresh, so the
   * pod takes the second copy instead of refusing it as a replay of the first.
   */
  @Test
  @Order(9)
  void anInternalMessageSentAgainAfterItsAnswerWasCutOffIsSealedAfreshNotRefusedAsAReplay() throws Exception {
    String[] addresses = podList.split(",");
    int colon = addresses[0].lastIndexOf(':');
    try (CuttingProxy proxy = new CuttingProxy(new java.net.InetSocketAddress(addresses[0].substring(0, colon),
             Integer.parseInt(addresses[0].substring(colon + 1))));
         KvPodClient viaProxy = KvPodClient.builder(proxy.address() + "," + addresses[1] + "," + addresses[2]).build()) {
      viaProxy.ping(0); // leaves a pooled connection through the proxy, which the next call reuses
      proxy.cutNextAnswer();
      PeerSigner tool = PeerSigner.tool(SECRET);
      PeerResponse r = viaProxy.process(0, tool, PeerRequest.fault(new FaultRequest().setClear(true)));
      assertTrue(r.isSetFault(), "the second copy was taken and answered: " + r);
      assertEquals(1, proxy.cuts(), "the first copy's answer was cut off");
    }
  }

  /** Checks that {@code key} reads as not found through every pod, by each read call. */
  private void assertNotFoundThroughEveryPod(String key, String when) throws Exception {
    for (int pod = 0; pod < PODS; pod++) {
      assertFalse(client.getRecordVia(pod, key).isFound(), key + " " + when + ", through pod " + pod);
      assertEquals(Map.of(), client.getVia(pod, key), key + " " + when + ", get through pod " + pod);
      assertFalse(client.multiGetVia(pod, List.of(key)).containsKey(key), key + " " + when + ", multiGet, pod " + pod);
    }
  }

  /** Fills bucket 0's memtable past kvpod.memtable.flush.bytes, and waits for pod 0 to flush it. */
  private void flushBucket0(String tag) throws Exception {
    long before = status(0).getFlushes();
    Map<String, Map<String, String>> filler = new HashMap<>();
    for (int i = 0; filler.size() < 1500; i++) {
      filler.put(keyOwnedBy(0, "filler-" + tag, i), Map.of("pad", "f".repeat(400)));
    }
    assertTrue(client.batchPut(filler));
    PodCluster.await("pod 0 flushed bucket 0 (" + tag + ")", 120_000, () -> status(0).getFlushes() > before);
  }

  /**
   * The API tells a record stored as {} from no record, returns versions, and removes keys:
   * a removal forwarded by another pod reads as not found through every pod, hides the key's
   * older record in a layer, and stays in force across a flush and a kill -9 of the holder;
   * writing the key again brings it back with a higher version.
   */
  @Test
  @Order(10)
  void aRemovedKeyIsNotFoundThroughEveryPodAcrossAFlushAndARestart() throws Exception {
    String gone = keyOwnedBy(0, "removed", 1);
    String empty = keyOwnedBy(0, "empty", 1);
    Map<String, String> v = value(gone, 1);
    assertTrue(client.put(gone, v));
    assertTrue(client.put(empty, Map.of()));
    Lookup before = client.getRecordVia(2, gone);
    assertTrue(before.isFound());
    assertEquals(v, before.getRecord().getValue());
    assertTrue(before.getRecord().isSetVersion() && before.getRecord().getVersion() > 0, "a version: " + before);
    Lookup e = client.getRecord(empty);
    assertTrue(e.isFound(), "a record stored as {} is found");
    assertEquals(Map.of(), e.getRecord().getValue());
    assertEquals(Map.of(), client.get(empty), "get cannot tell it from none: that is what getRecord is for");
    assertFalse(client.getRecord("never-written").isFound());
    Map<String, Record> records = client.multiGetRecords(List.of(gone, empty, "never-written"));
    assertEquals(java.util.Set.of(gone, empty), records.keySet());
    assertEquals(before.getRecord().getVersion(), records.get(gone).getVersion());

    flushBucket0("first");  // gone's record is now in a layer
    String unflushed = keyOwnedBy(0, "removed", 2);
    assertTrue(client.put(unflushed, value(unflushed, 1)));
    assertTrue(client.removeVia(1, gone), "forwarded by pod 1 to the holder, pod 0");
    assertTrue(client.remove(unflushed));
    assertTrue(client.remove("never-written"), "removing a key with no record is not an error");
    assertNotFoundThroughEveryPod(gone, "removed, its record in a layer");
    assertNotFoundThroughEveryPod(unflushed, "removed, its record in the same memtable");
    assertEquals(Map.of(empty, Map.of()), client.multiGetVia(1, List.of(gone, empty)));
    flushBucket0("second"); // and now the tombstones are too
    assertNotFoundThroughEveryPod(gone, "after the tombstone's flush");
    assertNotFoundThroughEveryPod(unflushed, "after the tombstone's flush");

    pods.get(0).kill9();
    pods.get(0).launch(podConfig(0));
    PodCluster.await("pod 0 serves again", 120_000, () -> {
      client.getRecordVia(0, empty);
      return true;
    });
    assertNotFoundThroughEveryPod(gone, "after pod 0 was killed and restarted");
    assertTrue(client.getRecordVia(0, empty).isFound());

    Map<String, String> again = value(gone, 2);
    assertTrue(client.putVia(2, gone, again));
    for (int pod = 0; pod < PODS; pod++) {
      Lookup back = client.getRecordVia(pod, gone);
      assertTrue(back.isFound(), "written again, through pod " + pod);
      assertEquals(again, back.getRecord().getValue());
      assertTrue(back.getRecord().getVersion() > before.getRecord().getVersion(), "a higher version: " + back);
    }
    ack(gone, again);
  }

  private String logOf(int pod) throws IOException {
    return java.nio.file.Files.readString(new File(logDir, "pod-" + pod + ".log").toPath());
  }
}
