package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.PeerSigner;
import io.kvpod.loader.MiniHdfs;
import io.kvpod.local.PodProcess;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.internal.FaultRequest;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.wal.WalReplay;
import io.kvpod.wal.WriteAheadLog;
import io.kvpod.zk.LoopbackZooKeeper;
import java.io.File;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.test.TestingServer;
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
 * Fenced takeover and reclaim with three pod processes on a real HDFS: a holder cut off from
 * every pod (split brain), a holder killed with {@code kill -9} while writes run, and a
 * holder whose own log was fenced from outside. Every
 * write is a new key, so each acknowledged key has exactly one right answer. The pods also
 * register in a ZooKeeper server ({@code kvpod.coordination=zookeeper}; HDFS still decides and
 * fences), so routing is checked both ways: a client given the pod list learns the new
 * holders from the pods' answers, and one that found the pods in ZooKeeper from its watches.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TakeoverClusterTest {
  private static final String SECRET = "takeover-secret";
  private static final int PODS = 3;

  @TempDir
  static File tmp;
  private MiniHdfs hdfs;
  private String root;
  private String podList;
  private final List<PodProcess> pods = new ArrayList<>();
  private KvPodClient client;
  private TestingServer zk;
  private String registry;
  /** A client that found the pods in ZooKeeper: the other way of routing under test. */
  private KvPodClient zkClient;
  private final File logDir = new File("target/pod-logs/" + getClass().getSimpleName());
  private final Map<String, Map<String, String>> acked = new ConcurrentHashMap<>();
  /** How each acknowledged key was written: when, and through what (for a failure's message). */
  private final Map<String, String> ackedHow = new ConcurrentHashMap<>();

  @BeforeAll
  void startCluster() throws Exception {
    zk = LoopbackZooKeeper.server();
    registry = zk.getConnectString() + "/kvpod-takeover";
    hdfs = new MiniHdfs(new File(tmp, "dfs"), 1);
    root = hdfs.uri() + "/kvpod";
    podList = PodProcess.loopbackPodList(PODS);
    for (int id = 0; id < PODS; id++) {
      pods.add(PodProcess.start(id, podConfig(id), logDir));
    }
    client = KvPodClient.builder(podList).callTimeoutMs(20_000).deadlineMs(40_000).build();
    zkClient = KvPodClient.builder().zookeeper(registry).table("takeover").callTimeoutMs(20_000).deadlineMs(40_000)
        .zookeeperTimeoutMs(30_000).build();
  }

  private Map<String, String> podConfig(int id) {
    Map<String, String> c = PodProcess.baseConfig(podList, id, root, "takeover", SECRET);
    c.put(PodConfig.TABLE_BUCKETS, Integer.toString(PODS)); // one bucket per pod: bucket b's home is pod b
    c.put(PodConfig.BLOCK_CACHE_BYTES, Long.toString(16L << 20));
    c.put(PodConfig.WORKER_THREADS, "8");
    c.put(PodConfig.LAYERS_POLL, "1s");
    c.put(PodConfig.FLUSH_BYTES, Long.toString(256L << 10));
    c.put(PodConfig.FLUSH_CHECK, "200ms");
    c.put(PodConfig.WAL_SEGMENT_BYTES, Long.toString(128L << 10));
    c.put(PodConfig.PEER_TIMEOUT, "1s");
    c.put(PodConfig.TAKEOVER_AFTER, "2s");
    c.put(PodConfig.WRITE_DEADLINE, "15s");
    c.put(PodConfig.WAL_LEASE_TIMEOUT, "30s");
    c.put(PodConfig.COORDINATION, "zookeeper");
    c.put(PodConfig.ZK_QUORUM, registry);
    c.put(PodConfig.ZK_SESSION_TIMEOUT, "4s");
    return c;
  }

  @AfterAll
  void stopCluster() throws Exception {
    for (KvPodClient c : new KvPodClient[] {zkClient, client}) {
      if (c != null) {
        c.close();
      }
    }
    PodCluster.stop(pods, hdfs, zk);
  }

  /**
   * Waits until {@code c} routes bucket {@code bucket}'s keys to pod {@code holder}; with
   * {@code writing}, putting a key of the bucket through {@code c} each round (a client given
   * the pod list learns from the answers), else by what it hears alone (its watches, and the
   * refresh every client makes every 10 s: these waits do not tell the two apart).
   */
  private void awaitRoute(KvPodClient c, String mode, int bucket, int holder, boolean writing) throws Exception {
    String key = keyOf(bucket, "route", 0);
    int[] n = {0};
    PodCluster.await("the " + mode + " client routes bucket " + bucket + " to pod " + holder, 60_000, () -> {
      if (writing) {
        String k = keyOf(bucket, "route-" + mode, n[0]++);
        c.put(k, value(k));
        acked.put(k, value(k));
      }
      return c.ownerOf(key) == holder;
    });
  }

  private static Map<String, String> value(String key) {
    return Map.of("key", key, "pad", "p".repeat(40));
  }

  private static String keyOf(int bucket, String prefix, int n) {
    for (int i = 0; ; i++) {
      String k = prefix + "-" + n + "-" + i;
      if (KeyPartitioner.bucket(k, PODS) == bucket) {
        return k;
      }
    }
  }

  private void cut(int a, int b, boolean blocked) throws Exception {
    PeerSigner tool = PeerSigner.tool(SECRET);
    FaultRequest ab = blocked ? new FaultRequest().setBlock(List.of(b)) : new FaultRequest().setUnblock(List.of(b));
    FaultRequest ba = blocked ? new FaultRequest().setBlock(List.of(a)) : new FaultRequest().setUnblock(List.of(a));
    client.process(a, tool, PeerRequest.fault(ab));
    client.process(b, tool, PeerRequest.fault(ba));
  }

  private int holderIn(int pod, int bucket) throws KvPodException {
    PodStatus st = client.status(pod);
    return st.getHolders().get(bucket);
  }

  private void verifyAllThroughEveryPod() throws Exception {
    List<String> keys = new ArrayList<>(acked.keySet());
    List<String> wrong = new ArrayList<>();
    int[] wrongPerPod = new int[PODS];
    for (int pod = 0; pod < PODS; pod++) {
      for (int from = 0; from < keys.size(); from += 500) {
        List<String> chunk = keys.subList(from, Math.min(keys.size(), from + 500));
        Map<String, Map<String, String>> got = client.multiGetVia(pod, chunk);
        for (String k : chunk) {
          if (!acked.get(k).equals(got.get(k))) {
            wrongPerPod[pod]++;
            if (wrong.size() < 10) {
              wrong.add("pod " + pod + ": " + k + " read as " + got.get(k) + " (acknowledged " + ackedHow.get(k) + ")");
            }
          }
        }
      }
    }
    if (!wrong.isEmpty()) {
      keepEvidence(wrong, wrongPerPod);
    }
    assertTrue(wrong.isEmpty(), "wrong or missing reads of acknowledged writes (per pod: "
        + java.util.Arrays.toString(wrongPerPod) + "): " + wrong);
  }

  /** For a failure: single gets of the first wrong keys through each pod, and a copy of the table's files. */
  private void keepEvidence(List<String> wrong, int[] wrongPerPod) throws Exception {
    for (String w : wrong.subList(0, Math.min(3, wrong.size()))) {
      String k = w.substring(w.indexOf(": ") + 2, w.indexOf(" read as"));
      for (int pod = 0; pod < PODS; pod++) {
        System.out.printf("[evidence] get %s via pod %d: %s%n", k, pod, client.getVia(pod, k));
      }
    }
    File copy = new File(logDir, "hdfs-" + System.currentTimeMillis());
    try (FileSystem fs = FileSystem.newInstance(java.net.URI.create(hdfs.uri()), hdfs.conf())) {
      fs.copyToLocalFile(new Path(root), new Path(copy.getAbsolutePath()));
    }
    System.out.printf("[evidence] wrong per pod %s; the table's files are copied to %s%n",
        java.util.Arrays.toString(wrongPerPod), copy);
  }

  @Test
  @Order(1)
  void aHolderCutOffFromEveryPodIsTakenOverFencedAndReclaimsAfterRestart() throws Exception {
    for (int i = 0; i < 100; i++) {
      String k = keyOf(1, "before-cut", i);
      client.putVia(i % PODS, k, value(k));
      acked.put(k, value(k));
    }
    cut(1, 0, true);
    cut(1, 2, true);
    long cutAt = System.nanoTime();
    String first = keyOf(1, "after-cut", 0);
    client.putVia(0, first, value(first)); // waits out the takeover
    acked.put(first, value(first));
    System.out.printf("[split brain] pod 1 cut off from both others; its keys took a write through pod 0 again "
        + "after %.1f s%n", (System.nanoTime() - cutAt) / 1e9);
    int newHolder = holderIn(0, 1);
    assertNotEquals(1, newHolder, "bucket 1 was taken over");
    assertEquals(newHolder, holderIn(2, 1), "both connected pods route bucket 1 to the same holder");
    awaitRoute(zkClient, "zookeeper", 1, newHolder, false); // this client made no call since the cut
    String routed = keyOf(1, "after-cut-zk", 0);
    zkClient.put(routed, value(routed));
    acked.put(routed, value(routed));
    for (int i = 1; i < 50; i++) {
      String k = keyOf(1, "after-cut", i);
      client.putVia(i % 2 == 0 ? 0 : 2, k, value(k));
      acked.put(k, value(k));
    }

    // the cut-off pod no longer takes writes for its keys: it is fenced, and does not take them back
    for (int i = 0; i < 2; i++) {
      String k = keyOf(1, "through-fenced", i);
      KvPodException e = assertThrows(KvPodException.class, () -> client.putVia(1, k, value(k)),
          "a write through the cut-off pod is refused");
      assertTrue(e.isRetriable(), e.getMessage());
      assertEquals(Map.of(), client.getVia(0, k), "a refused write is nowhere");
    }
    assertEquals(newHolder, holderIn(0, 1), "the cut-off pod did not take its bucket back");
    // and it still reads right: what the new holder acknowledged is in the bucket's log
    assertEquals(value(first), client.getVia(1, first));

    cut(1, 0, false);
    cut(1, 2, false);
    PodProcess p1 = pods.get(1);
    p1.stop();
    p1.launch(podConfig(1));
    assertTrue(p1.logText().contains("asking it to flush"), "the restarted pod asked the interim holder to flush");
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(1, holderIn(pod, 1), "pod 1 holds its keys again, in pod " + pod + "'s view");
    }
    String back = keyOf(1, "reclaimed", 0);
    client.put(back, value(back));
    acked.put(back, value(back));
    verifyAllThroughEveryPod();
  }

  @Test
  @Order(2)
  void aKilledHoldersKeysTakeWritesAgainAndComeBackOnRestart() throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    AtomicInteger retried = new AtomicInteger();
    List<Thread> writers = new ArrayList<>();
    for (int w = 0; w < 3; w++) {
      String name = "load-" + w;
      Thread t = new Thread(() -> {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        for (int n = 0; !stop.get(); n++) {
          Map<String, Map<String, String>> batch = new HashMap<>();
          for (int i = 0; i < 30; i++) {
            String k = name + "-" + n + "-" + i;
            batch.put(k, value(k));
          }
          try {
            long invoked = System.currentTimeMillis();
            String via;
            if (n % 3 == 0) {
              via = "client";
              client.batchPut(batch); // the smart client, routing by the holders it learned from the pods
            } else if (n % 3 == 1) {
              via = "zookeeper client";
              zkClient.batchPut(batch); // routing by the holders its watches show
            } else {
              int pod = r.nextInt(PODS);
              via = "pod " + pod;
              client.batchPutVia(pod, batch);
            }
            acked.putAll(batch);
            String how = "via " + via + ", invoked " + java.time.Instant.ofEpochMilli(invoked) + ", acknowledged "
                + java.time.Instant.now();
            batch.keySet().forEach(k -> ackedHow.put(k, how));
          } catch (KvPodException e) {
            if (!e.isRetriable()) {
              errors.add(e);
              return;
            }
            retried.incrementAndGet(); // not acknowledged: may or may not be stored
          }
        }
      }, name);
      t.start();
      writers.add(t);
    }
    try {
      Thread.sleep(2000);
      PodProcess victim = pods.get(2);
      victim.kill9();
      long killedAt = System.nanoTime();
      for (int i = 0; ; i++) {
        String k = keyOf(2, "probe", i);
        try {
          client.putVia(0, k, value(k));
          acked.put(k, value(k));
          break;
        } catch (KvPodException e) {
          assertTrue(e.isRetriable(), e.getMessage());
        }
      }
      System.out.printf("[kill -9] pod 2's keys took writes again %.1f s after it was killed%n",
          (System.nanoTime() - killedAt) / 1e9);
      int interim = holderIn(0, 2);
      assertNotEquals(2, interim);
      awaitRoute(client, "hdfs", 2, interim, false); // the writers use both clients meanwhile
      awaitRoute(zkClient, "zookeeper", 2, interim, false);
      Thread.sleep(3000);
      victim.launch(podConfig(2)); // reclaims its keys while the writers run
      Thread.sleep(3000);
    } finally {
      stop.set(true);
      for (Thread t : writers) {
        t.join();
      }
    }
    assertTrue(errors.isEmpty(), "writers failed: " + errors);
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(2, holderIn(pod, 2), "pod 2 holds its keys again, in pod " + pod + "'s view");
    }
    awaitRoute(zkClient, "zookeeper", 2, 2, false);
    awaitRoute(client, "hdfs", 2, 2, true);
    verifyAllThroughEveryPod();
    System.out.printf("[kill -9] %d keys acknowledged in all and read back through every pod; %d writes failed "
        + "retriably during the takeover and the reclaim%n", acked.size(), retried.get());
  }

  @Test
  @Order(3)
  void aHolderWhoseOwnLogFailedTakesItsBucketOverFromItselfWithoutARestart() throws Exception {
    String before = keyOf(0, "heal", 0);
    client.putVia(0, before, value(before));
    acked.put(before, value(before));
    long epochBefore = client.status(0).getHolderEpochs().get(0);
    // fence pod 0's own log from outside, as a stray writer would: recover the lease on its newest segment
    try (FileSystem fs = FileSystem.newInstance(java.net.URI.create(hdfs.uri()), hdfs.conf())) {
      List<Path> segments = WalReplay.segments(fs, new Path(root + "/tables/takeover/wal/pod-0"));
      WriteAheadLog.recoverLease(fs, segments.get(segments.size() - 1), 30_000);
    }
    long fencedAt = System.nanoTime();
    for (int i = 1; i <= 20; i++) { // the first waits until pod 0 has recovered its log
      String k = keyOf(0, "heal", i);
      client.putVia(0, k, value(k));
      acked.put(k, value(k));
    }
    System.out.printf("[self-heal] pod 0 took writes to its own keys again %.1f s after its log was fenced%n",
        (System.nanoTime() - fencedAt) / 1e9);
    assertTrue(pods.get(0).logText().contains("taking the bucket over again to recover it"),
        "pod 0 recovered its log by taking its bucket over from itself");
    assertEquals(0, holderIn(0, 0), "pod 0 still holds its bucket");
    assertTrue(client.status(0).getHolderEpochs().get(0) > epochBefore, "in a new epoch");
    verifyAllThroughEveryPod();
  }
}
