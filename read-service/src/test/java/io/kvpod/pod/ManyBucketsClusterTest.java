package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.BucketHomes;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.PeerSigner;
import io.kvpod.contract.RecordCodec;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.internal.KeyValue;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.ShareOutcome;
import io.kvpod.thrift.internal.WriteRequest;
import java.io.File;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * A table with the default bucket count (64) on four pod processes over a real HDFS: each pod
 * holds its 16 home buckets; a pod killed with {@code kill -9} while writes run has its
 * buckets spread over the three survivors rather than given to one; restarted, it takes them
 * back. Writes go through both routing clients ({@link PodCluster#inBothModes}: one given the
 * pod list, one that found the pods in ZooKeeper), each of which must route the dead pod's
 * buckets to their new holders and then back to it, and through survivors that forward them
 * (single puts, and batches that a pod forwards one request per holder). Every write is a new
 * key, so each acknowledged key has exactly one right answer, and every one is read back
 * through every pod.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ManyBucketsClusterTest {
  private static final int PODS = 4;
  private static final int BUCKETS = 64; // kvpod.table.buckets' default, which this test leaves unset
  private static final int VICTIM = 3;

  @TempDir
  static File tmp;
  private PodCluster cluster;
  private final Map<String, Map<String, String>> acked = new ConcurrentHashMap<>();

  @BeforeAll
  void start() throws Exception {
    Map<String, String> unset = new HashMap<>();
    unset.put(PodConfig.TABLE_BUCKETS, null);
    unset.put(PodConfig.TAKEOVER_AFTER, "1500ms");
    cluster = PodCluster.inBothModes(tmp, "ManyBuckets", PODS, id -> unset);
  }

  @AfterAll
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** Pod {@code viewer}'s holder of each bucket. */
  private List<Integer> holders(int viewer) throws KvPodException {
    PodStatus st = cluster.client.status(viewer);
    return st.getHolders();
  }

  private static int[] load(List<Integer> holders) {
    int[] n = new int[PODS];
    for (int h : holders) {
      if (h >= 0) {
        n[h]++;
      }
    }
    return n;
  }

  @Test
  @Order(1)
  void aNewTableGetsTheDefaultBucketCountAndEachPodHoldsItsHomeBuckets() throws Exception {
    assertEquals(BUCKETS, cluster.client.buckets(), "the client learned the table's bucket count");
    for (int viewer = 0; viewer < PODS; viewer++) {
      int v = viewer;
      PodCluster.await("pod " + v + " sees every bucket held by its home pod", 60_000, () -> {
        List<Integer> h = holders(v);
        for (int b = 0; b < h.size(); b++) {
          if (h.get(b) != BucketHomes.home(b, PODS)) {
            return false;
          }
        }
        return h.size() == BUCKETS;
      });
    }
    Map<String, Map<String, String>> batch = new HashMap<>();
    for (KvPodClient c : cluster.routingClients()) {
      Map<String, Map<String, String>> one = new HashMap<>();
      for (int i = 0; i < 500; i++) {
        String k = "first-" + cluster.modeOf(c) + "-" + i;
        one.put(k, Map.of("v", k));
      }
      assertTrue(c.batchPut(one), "a batch over many buckets, split by holder (" + cluster.modeOf(c) + ")");
      acked.putAll(one);
      batch.putAll(one);
    }
    Map<String, Map<String, String>> viaOne = new HashMap<>();
    for (int i = 0; i < 500; i++) {
      viaOne.put("via-0-" + i, Map.of("v", "via-0-" + i));
    }
    assertTrue(cluster.client.batchPutVia(0, viaOne), "a batch sent to pod 0, forwarded one request per holder");
    acked.putAll(viaOne);
    batch.putAll(viaOne);
    for (int pod = 0; pod < PODS; pod++) {
      Map<String, Map<String, String>> got = cluster.client.multiGetVia(pod, new ArrayList<>(batch.keySet()));
      assertEquals(batch, got, "multiGet of the batch through pod " + pod);
    }
  }

  @Test
  @Order(2)
  void aKilledPodsBucketsAreSpreadOverTheSurvivorsAndNoAcknowledgedWriteIsLost() throws Exception {
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicInteger failures = new AtomicInteger();
    List<KvPodClient> routing = cluster.routingClients();
    AtomicIntegerArray routed = new AtomicIntegerArray(routing.size()); // acknowledged puts, by routing client
    List<Thread> writers = new ArrayList<>();
    for (int w = 0; w < 2 + routing.size(); w++) {
      int writer = w;
      Thread t = new Thread(() -> {
        for (int i = 0; running.get(); i++) {
          String key = "w" + writer + "-" + i;
          Map<String, String> value = Map.of("v", key);
          try {
            if (writer == 0 && cluster.client.putVia(i % 3, key, value)) { // forwarded by a survivor
              acked.put(key, value);
            } else if (writer == 1) { // batches over many buckets, forwarded by a survivor
              Map<String, Map<String, String>> batch = new HashMap<>();
              for (int j = 0; j < 20; j++) {
                batch.put(key + "-" + j, Map.of("v", key + "-" + j));
              }
              if (cluster.client.batchPutVia(i % 3, batch)) {
                acked.putAll(batch);
              }
            } else if (writer > 1 && routing.get(writer - 2).put(key, value)) {
              acked.put(key, value);
              routed.incrementAndGet(writer - 2);
            }
          } catch (KvPodException e) {
            failures.incrementAndGet(); // not acknowledged: may or may not be stored, and is not checked
          }
        }
      }, "writer-" + w);
      t.start();
      writers.add(t);
    }
    try {
      PodCluster.await("writes are acknowledged before the kill", 60_000, () -> acked.size() > 1_000);
      cluster.pod(VICTIM).kill9();
      long killed = System.nanoTime();
      PodCluster.await("every bucket of pod " + VICTIM + " is held by a survivor", 60_000, () -> {
        List<Integer> h = holders(0);
        return h.stream().noneMatch(p -> p == VICTIM || p < 0);
      });
      System.out.printf("[many-buckets] pod %d's buckets were all taken over %d ms after kill -9%n", VICTIM,
          (System.nanoTime() - killed) / 1_000_000);
      List<Integer> after = holders(0);
      for (KvPodClient c : routing) {
        PodCluster.await("the " + cluster.modeOf(c) + " client routes each of pod " + VICTIM
            + "'s buckets to its new holder", 60_000, () -> routesAs(c, after, BucketHomes.homedAt(VICTIM, BUCKETS, PODS)));
      }
      int[] routedBefore = new int[routing.size()];
      for (int i = 0; i < routing.size(); i++) {
        routedBefore[i] = routed.get(i);
      }
      for (int i = 0; i < routing.size(); i++) {
        int c = i;
        PodCluster.await("the " + cluster.modeOf(routing.get(c)) + " client's puts are acknowledged after the "
            + "takeovers", 60_000, () -> routed.get(c) > routedBefore[c] + 100);
      }
      int[] n = load(holders(0));
      int took = 0;
      for (int p = 0; p < PODS - 1; p++) {
        int taken = n[p] - BUCKETS / PODS;
        took += taken > 0 ? 1 : 0;
        assertTrue(n[p] <= (BUCKETS + PODS - 2) / (PODS - 1), "survivor " + p + " holds " + n[p]
            + " buckets, more than ceil(" + BUCKETS + "/" + (PODS - 1) + "): " + java.util.Arrays.toString(n));
      }
      assertEquals(PODS - 1, took, "every survivor took some of the dead pod's buckets: "
          + java.util.Arrays.toString(n));
      int before = acked.size();
      PodCluster.await("writes go on after the takeovers", 60_000, () -> acked.size() > before + 500);
    } finally {
      running.set(false);
      for (Thread t : writers) {
        t.join();
      }
    }
    for (int pod = 0; pod < PODS - 1; pod++) {
      assertAllAckedReadableThrough(pod);
    }
  }

  @Test
  @Order(3)
  void aRestartedPodTakesItsHomeBucketsBackAndKeepsTheRecordedBucketCount() throws Exception {
    Map<String, String> otherCount = new HashMap<>();
    otherCount.put(PodConfig.TABLE_BUCKETS, "8"); // ignored: the count is fixed when the table is made
    cluster.relaunch(VICTIM, otherCount);
    List<Integer> home = BucketHomes.homedAt(VICTIM, BUCKETS, PODS);
    PodCluster.await("pod " + VICTIM + " holds its home buckets again", 60_000, () -> {
      List<Integer> h = holders(VICTIM);
      for (int b : home) {
        if (h.get(b) != VICTIM) {
          return false;
        }
      }
      return true;
    });
    List<Integer> now = holders(VICTIM);
    for (KvPodClient c : cluster.routingClients()) {
      int[] n = {0};
      PodCluster.await("the " + cluster.modeOf(c) + " client routes pod " + VICTIM + "'s home buckets to it again",
          60_000, () -> {
            String k = "back-" + cluster.modeOf(c) + "-" + n[0]++;
            assertTrue(c.put(k, Map.of("v", k))); // the client given the list learns from answers or its 10-s refresh
            acked.put(k, Map.of("v", k));
            return routesAs(c, now, home);
          });
    }
    assertEquals(BUCKETS, holders(VICTIM).size(), "the table's recorded bucket count is kept");
    assertTrue(cluster.pod(VICTIM).logText().contains("kvpod.table.buckets=8 is ignored"),
        "the pod says the setting is ignored");
    assertAllAckedReadableThrough(VICTIM);
    assertAllAckedReadableThrough(0);
  }

  @Test
  @Order(4)
  void aForwardedWriteForSeveralBucketsIsAppliedBucketByBucketAndSaysWhichSharesWereApplied() throws Exception {
    String held = keyOf(0, "shares-held"); // bucket 0: pod 0's home
    String elsewhere = keyOf(1, "shares-elsewhere"); // bucket 1: pod 1's
    PodCluster.await("pod 0 holds bucket 0 and pod 1 bucket 1", 60_000,
        () -> holders(0).get(0) == 0 && holders(0).get(1) == 1);
    List<KeyValue> records = List.of(
        new KeyValue(ByteBuffer.wrap(utf8(held)), ByteBuffer.wrap(RecordCodec.encode(Map.of("v", held)))),
        new KeyValue(ByteBuffer.wrap(utf8(elsewhere)), ByteBuffer.wrap(RecordCodec.encode(Map.of("v", elsewhere)))));
    PeerResponse r = cluster.client.process(0, PeerSigner.tool(cluster.secret), PeerRequest.forwardedWrite(
        new WriteRequest(records).setDeadlineMillis(System.currentTimeMillis() + 10_000).setByBucket(true)));
    Map<Integer, ShareOutcome> byBucket = new HashMap<>();
    for (ShareOutcome o : r.getForwardedWrite().getShares()) {
      byBucket.put(o.getBucket(), o);
    }
    assertEquals(2, byBucket.size(), "one outcome per bucket: " + byBucket);
    assertTrue(byBucket.get(0).isSetSeq() && !byBucket.get(0).isSetErrorCode(), "bucket 0's share was applied: "
        + byBucket.get(0));
    assertEquals(ErrorCode.NOT_OWNER.getValue(), byBucket.get(1).getErrorCode(), "bucket 1's was refused: "
        + byBucket.get(1));
    assertTrue(byBucket.get(1).isRetriable());
    assertEquals(Map.of("v", held), cluster.client.get(held));
    assertEquals(Map.of(), cluster.client.get(elsewhere), "the refused share stored nothing");
  }

  /** Whether {@code client} routes a key of each of {@code buckets} to its holder in {@code holders}. */
  private static boolean routesAs(KvPodClient client, List<Integer> holders, List<Integer> buckets) {
    for (int b : buckets) {
      if (client.ownerOf(keyOf(b, "route")) != holders.get(b)) {
        return false;
      }
    }
    return true;
  }

  /** The first key {@code prefix-0, prefix-1, ...} in {@code bucket} of the table's 64. */
  private static String keyOf(int bucket, String prefix) {
    for (int i = 0; ; i++) {
      String k = prefix + "-" + i;
      if (KeyPartitioner.bucket(k, BUCKETS) == bucket) {
        return k;
      }
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  private void assertAllAckedReadableThrough(int pod) throws KvPodException {
    List<String> keys = new ArrayList<>(acked.keySet());
    int buckets = cluster.client.buckets();
    for (int from = 0; from < keys.size(); from += 1000) {
      List<String> chunk = keys.subList(from, Math.min(keys.size(), from + 1000));
      Map<String, Map<String, String>> got = cluster.client.multiGetVia(pod, chunk);
      for (String k : chunk) {
        assertEquals(acked.get(k), got.get(k), "acknowledged key " + k + " (bucket "
            + KeyPartitioner.bucket(k, buckets) + ") read through pod " + pod);
      }
    }
  }
}
