package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.client.KvPodClient;
import io.kvpod.local.PodProcess;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.internal.FaultRequest;
import java.io.File;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The interleavings behind lost or overwritten writes, each forced on three pod processes
 * over a real HDFS, with the pods' <em>default</em> timing settings:
 * <ol>
 *   <li>a pod whose recovery is slow (held up on purpose, longer than the takeover window)
 *       keeps its bucket: it listens first and answers {@code RECOVERING};</li>
 *   <li>a frozen holder (SIGSTOP) is taken over, and when it wakes it is fenced: it serves
 *       no stale read and loses nothing it acknowledged; a client with a call stuck on it
 *       sends its next write to the new holder without waiting for that call;</li>
 *   <li>a forwarded write delayed past a newer acknowledged write of the same key is
 *       refused by its deadline rather than applied over it;</li>
 *   <li>a clean stop whose flush is slow (held up longer than the takeover window) flushes
 *       while the pod still answers, so no pod takes its bucket over mid-flush, and the next
 *       holder has nothing to replay.</li>
 * </ol>
 * The pods also register in ZooKeeper ({@link PodCluster#inBothModes}; only the ZooKeeper
 * session timeout is shorter than its default), and the client with a stuck call is checked
 * both ways: one given the pod list, one that found the pods in ZooKeeper.
 * Waits are on conditions, with generous limits: the times are printed, not asserted.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FailoverClusterTest {
  private static final int PODS = 3;
  private static final Pattern CLAIMED = Pattern.compile("bucket (\\d+): claimed epoch (\\d+)");

  @TempDir
  static File tmp;
  private PodCluster cluster;
  private final Map<String, Map<String, String>> acked = new ConcurrentHashMap<>();

  @BeforeAll
  void start() throws Exception {
    cluster = PodCluster.inBothModes(tmp, "FailoverClusterTest", PODS, id -> Map.of());
  }

  @AfterAll
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static Map<String, String> value(String key, int version) {
    return Map.of("key", key, "v", Integer.toString(version));
  }

  private void put(int via, String key, Map<String, String> value) throws KvPodException {
    cluster.client.putVia(via, key, value);
    acked.put(key, value);
  }

  /**
   * Puts through pod {@code via} until one call is acknowledged (each call is retried by the
   * pod until its write deadline); returns the seconds it took.
   */
  private double putUntilAcknowledged(int via, String key, Map<String, String> value) throws Exception {
    long start = System.nanoTime();
    PodCluster.await(key + " is acknowledged through pod " + via, 120_000, () -> {
      try {
        put(via, key, value);
        return true;
      } catch (KvPodException e) {
        assertTrue(e.isRetriable(), e.getMessage());
        return false;
      }
    });
    return (System.nanoTime() - start) / 1e9;
  }

  /** "hdfs" for the first of {@code patients} (given the pod list), "zookeeper" for the other. */
  private static String modeOf(KvPodClient patient, List<KvPodClient> patients) {
    return patient == patients.get(0) ? "hdfs" : "zookeeper";
  }

  /** Puts through {@code client}; true if acknowledged, false on a retriable failure. */
  private static boolean putQuietly(KvPodClient client, String key) {
    try {
      client.put(key, value(key, 1));
      return true;
    } catch (KvPodException e) {
      assertTrue(e.isRetriable(), e.getMessage());
      return false;
    }
  }

  private void verifyEveryAckedWriteThroughEveryPod() throws KvPodException {
    List<String> wrong = new ArrayList<>();
    for (int pod = 0; pod < PODS; pod++) {
      Map<String, Map<String, String>> got = cluster.client.multiGetVia(pod, new ArrayList<>(acked.keySet()));
      for (Map.Entry<String, Map<String, String>> e : acked.entrySet()) {
        if (!e.getValue().equals(got.get(e.getKey())) && wrong.size() < 10) {
          wrong.add("pod " + pod + ": " + e.getKey() + " read as " + got.get(e.getKey()) + ", acknowledged " + e.getValue());
        }
      }
    }
    assertTrue(wrong.isEmpty(), "acknowledged writes read wrong: " + wrong);
  }

  private static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  /** The epoch of the last claim of {@code bucket} that pod {@code pod} logged. */
  private long lastClaimLogged(int pod, int bucket) throws Exception {
    long epoch = -1;
    Matcher m = CLAIMED.matcher(cluster.pod(pod).logText());
    while (m.find()) {
      if (Integer.parseInt(m.group(1)) == bucket) {
        epoch = Long.parseLong(m.group(2));
      }
    }
    return epoch;
  }

  @Test
  @Order(1)
  void aPodWhoseRecoveryIsSlowerThanTheTakeoverWindowKeepsItsBucket() throws Exception {
    for (int i = 0; i < 20; i++) {
      String k = cluster.keyOf(2, "slow", i);
      put(i % PODS, k, value(k, 1));
    }
    PodProcess p2 = cluster.pod(2);
    p2.stop();
    long delayMillis = 6000; // four takeover windows (kvpod.takeover.after is 1.5 s by default)
    CompletableFuture<Void> relaunched = CompletableFuture.runAsync(() -> {
      try {
        cluster.relaunch(2, Map.of(PodConfig.DEBUG_RECOVERY_DELAY, delayMillis + "ms"));
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    PodCluster.await("pod 2 listens and says it is recovering bucket 2", 120_000, () -> {
      PodStatus st = cluster.client.status(2);
      return st.isSetRecovering() && st.getRecovering().contains(2);
    });
    long recoveringSince = System.nanoTime();
    // meanwhile reads of bucket 2 are right through every pod, from its log and the layers
    String first = cluster.keyOf(2, "slow", 0);
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(value(first, 1), cluster.client.getVia(pod, first), "read through pod " + pod + " while recovering");
    }
    // and a write through another pod waits for the recovery instead of taking the bucket away
    String during = cluster.keyOf(2, "during-recovery", 0);
    putUntilAcknowledged(0, during, value(during, 1));
    System.out.printf("[slow recovery] a write through pod 0 waited %.1f s for pod 2's recovery (held up %d ms)%n",
        (System.nanoTime() - recoveringSince) / 1e9, delayMillis);
    relaunched.get(180, TimeUnit.SECONDS);
    assertTrue(p2.alive(), "pod 2 started");
    long claimed = lastClaimLogged(2, 2);
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(2, cluster.holderIn(pod, 2), "pod 2 holds its bucket in pod " + pod + "'s view");
      assertEquals(claimed, cluster.client.status(pod).getHolderEpochs().get(2),
          "no pod claimed bucket 2 after pod 2 did, in pod " + pod + "'s view");
    }
    verifyEveryAckedWriteThroughEveryPod();
    p2.stop(); // back to recovering at full speed, for the tests that follow
    cluster.relaunch(2, Map.of());
  }

  @Test
  @Order(2)
  void aFrozenHolderIsTakenOverWithDefaultSettingsFencedWhenItWakesAndTakesItsBucketBack() throws Exception {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      String k = cluster.keyOf(1, "frozen", i);
      keys.add(k);
      put(i % PODS, k, value(k, 1));
    }
    PodProcess p1 = cluster.pod(1);
    // routing clients whose calls wait a minute, one per way of finding the pods: a call of
    // each gets stuck on the frozen holder
    List<KvPodClient> patients = new ArrayList<>();
    Map<KvPodClient, CompletableFuture<Boolean>> stuck = new HashMap<>();
    try {
      patients.add(KvPodClient.builder(cluster.podList).callTimeoutMs(60_000).deadlineMs(120_000).build());
      patients.add(KvPodClient.builder().zookeeper(cluster.registry).table(cluster.table).callTimeoutMs(60_000)
          .deadlineMs(120_000).zookeeperTimeoutMs(30_000).build());
      p1.signal("STOP");
      try {
        for (KvPodClient patient : patients) {
          String stuckKey = cluster.keyOf(1, "stuck-" + modeOf(patient, patients), 0);
          stuck.put(patient, CompletableFuture.supplyAsync(() -> putQuietly(patient, stuckKey)));
        }
        String probe = cluster.keyOf(1, "probe", 0);
        double took = putUntilAcknowledged(0, probe, value(probe, 1)); // pod 1 stays frozen until then
        System.out.printf("[freeze] pod 1 frozen (SIGSTOP); a write of its bucket through pod 0 succeeded after %.1f s%n",
            took);
        assertNotEquals(1, cluster.holderIn(0, 1), "bucket 1 was taken over");
        // each patient client learns the new holder while its first call may still wait on pod 1
        for (KvPodClient patient : patients) {
          String mode = modeOf(patient, patients);
          String afterKey = cluster.keyOf(1, "after-takeover-" + mode, 0);
          long start = System.nanoTime();
          PodCluster.await("the " + mode + " client with a stuck call learns bucket 1's new holder", 30_000,
              () -> patient.ownerOf(afterKey) != 1);
          patient.put(afterKey, value(afterKey, 1));
          acked.put(afterKey, value(afterKey, 1));
          System.out.printf("[freeze] a %s client with a call stuck on the frozen holder wrote to the new holder "
              + "%.1f s after the takeover%n", mode, (System.nanoTime() - start) / 1e9);
        }
        // the list client's first call still waits on the frozen pod, so its second did not wait for it
        // to time out (the ZooKeeper client may have given up on it: its node went with its session)
        assertTrue(!stuck.get(patients.get(0)).isDone(), "the hdfs client's first call is still waiting on the "
            + "frozen pod");
        for (String k : keys) {
          put(2, k, value(k, 2)); // overwrites what pod 1 still holds in memory
        }
      } finally {
        p1.signal("CONT");
      }
      for (KvPodClient patient : patients) {
        if (stuck.get(patient).get(120, TimeUnit.SECONDS)) {
          String stuckKey = cluster.keyOf(1, "stuck-" + modeOf(patient, patients), 0);
          acked.put(stuckKey, value(stuckKey, 1));
        }
      }
    } finally {
      for (KvPodClient patient : patients) {
        patient.close();
      }
    }
    for (String k : keys) {
      assertEquals(value(k, 2), cluster.client.getVia(1, k), "the woken pod serves no stale read of " + k);
    }
    put(1, keys.get(0), value(keys.get(0), 3)); // and takes writes again, for the new holder
    verifyEveryAckedWriteThroughEveryPod();
    // no restart: once the new holder has held it for kvpod.handback.after (30 s), pod 1 takes
    // its home bucket back, under writes
    long woke = System.nanoTime();
    int[] n = {0};
    PodCluster.await("pod 1 takes bucket 1 back without a restart", 180_000, () -> {
      String k = cluster.keyOf(1, "during-hand-back", n[0]++);
      putUntilAcknowledged(n[0] % PODS, k, value(k, 1));
      return cluster.holderIn(0, 1) == 1;
    });
    System.out.printf("[freeze] pod 1 took bucket 1 back %.1f s after it woke, %d writes meanwhile%n",
        (System.nanoTime() - woke) / 1e9, n[0]);
    assertTrue(cluster.pod(1).logText().contains("its home is this pod and pod"), "pod 1 took it back as a hand-back");
    verifyEveryAckedWriteThroughEveryPod();
  }

  @Test
  @Order(3)
  void aForwardedWriteDelayedPastANewerAcknowledgedOneIsRefusedNotApplied() throws Exception {
    String k = cluster.keyOf(1, "delayed", 0);
    put(1, k, value(k, 1));
    long expiredBefore = cluster.client.status(1).getExpiredWrites();
    cluster.fault(0, new FaultRequest().setDelayProbability(1).setDelayMillis(4000)); // pod 0's calls to peers
    try (KvPodClient impatient = KvPodClient.builder(cluster.podList).callTimeoutMs(1000).deadlineMs(3000)
        .maxClockSkewMs(500).maxAttempts(1).build()) {
      long deadline = impatient.writeDeadline();
      assertThrows(KvPodException.class, () -> impatient.putVia(0, k, value(k, 2), deadline),
          "the client gives up on the write stuck in pod 0");
      long settled = deadline + impatient.maxClockSkewMs() - System.currentTimeMillis();
      if (settled > 0) {
        Thread.sleep(settled); // from here on the failed write can never take effect
      }
    }
    put(1, k, value(k, 3)); // a newer write of the key, acknowledged by its holder
    PodCluster.await("pod 1 refused the delayed write", 60_000,
        () -> cluster.client.status(1).getExpiredWrites() > expiredBefore);
    cluster.fault(0, new FaultRequest().setClear(true));
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(value(k, 3), cluster.client.getVia(pod, k), "the newer write stands, through pod " + pod);
    }
    verifyEveryAckedWriteThroughEveryPod();
  }

  /**
   * The retry the soak caught: a routed put whose first attempt went to a pod that no longer
   * holds the bucket, and sat there (a delayed peer call), times out; the retry through
   * another pod is acknowledged, and the key is written again. The stuck copy carried only
   * its own attempt's deadline, so when it finally reaches the holder it is refused, not
   * applied over the newer write.
   */
  @Test
  @Order(4)
  void aCopyLeftBehindByATimedOutAttemptNeverOverwritesTheNextWrite() throws Exception {
    try (KvPodClient routed = KvPodClient.builder(cluster.podList).callTimeoutMs(1500).deadlineMs(10_000)
        .maxClockSkewMs(500).build()) {
      String k = cluster.keyOf(2, "left-behind", 0);
      put(2, k, value(k, 1));
      cluster.pod(2).kill9(); // pod 0, the successor of pod 2, takes bucket 2...
      PodCluster.await("pod 0 took bucket 2 over", 60_000, () -> cluster.holderIn(0, 2) == 0);
      routed.status(0); // ...and the routed client learns it
      cluster.relaunch(2, Map.of()); // pod 2 takes its bucket back; the client still routes bucket 2 to pod 0
      PodCluster.await("pod 2 holds bucket 2 again", 60_000, () -> cluster.holderIn(1, 2) == 2);
      assertEquals(0, routed.ownerOf(k), "the client's view of bucket 2 is stale");
      long expiredBefore = cluster.client.status(2).getExpiredWrites();
      // longer than the client's attempt (1.5 s), shorter than the copy window pod 0 would allow itself (4 s)
      cluster.fault(0, new FaultRequest().setDelayProbability(1).setDelayMillis(3000));
      try {
        routed.put(k, value(k, 2)); // to pod 0 first: stuck there; then through another pod: acknowledged
        acked.put(k, value(k, 2));
        put(2, k, value(k, 3)); // the key written again, at its holder
        PodCluster.await("pod 2 refused the copy pod 0 held back (had it applied it, it would have overwritten "
            + "the newer write)", 60_000,
            () -> cluster.client.status(2).getExpiredWrites() > expiredBefore);
      } finally {
        cluster.fault(0, new FaultRequest().setClear(true));
      }
      for (int pod = 0; pod < PODS; pod++) {
        assertEquals(value(k, 3), cluster.client.getVia(pod, k), "the newer write stands, through pod " + pod);
      }
    }
    verifyEveryAckedWriteThroughEveryPod();
  }

  /**
   * A forwarding pod gives each copy a deadline shorter than the write's. A copy that reaches
   * the holder after its own deadline is refused (EXPIRED, never applied); that settles it, so
   * the forwarding pod sends another while the write's deadline allows, rather than giving
   * the write up. A busy machine made the first copy late in a CI run under a CPU hog.
   */
  @Test
  @Order(5)
  void aCopyRefusedForItsOwnDeadlineIsFollowedByAnotherWithinTheWritesDeadline() throws Exception {
    PodCluster.await("pod 2 holds bucket 2", 60_000, () -> cluster.holderIn(0, 2) == 2);
    String k = cluster.keyOf(2, "late-copy", 0);
    put(2, k, value(k, 1));
    long expiredBefore = cluster.client.status(2).getExpiredWrites();
    // every forward from pod 0 arrives after its copy's own deadline (4 s) but inside the peer timeout (5 s)
    cluster.fault(0, new FaultRequest().setDelayProbability(1).setDelayMillis(4500));
    try {
      assertThrows(KvPodException.class,
          () -> cluster.client.putVia(0, k, value(k, 2), System.currentTimeMillis() + 10_000));
      PodCluster.await("pod 0 sent another copy after the holder refused the first for its own deadline", 60_000,
          () -> cluster.client.status(2).getExpiredWrites() - expiredBefore >= 2);
    } finally {
      cluster.fault(0, new FaultRequest().setClear(true));
    }
    for (int pod = 0; pod < PODS; pod++) {
      assertEquals(value(k, 1), cluster.client.getVia(pod, k), "no refused copy was applied, through pod " + pod);
    }
  }

  /**
   * Writes forwarded to a frozen holder wait (for the peer timeout, then for the takeover),
   * each holding a worker thread of the forwarding pod. Without a bound they took every
   * worker, the pod's pings went unanswered, and the other pods took its own bucket over
   * although it was alive (a cascade of takeovers in chaos soaks). Now at most
   * {@code kvpod.server.waiting.writes} wait (6 of the 8 workers here); the others are
   * refused at once with BUSY, and the pod keeps its bucket. A batch with a share for pod 0's
   * own bucket and one for the frozen holder's takes one slot for both, or is refused whole:
   * a batch refused as BUSY stored nothing.
   */
  @Test
  @Order(6)
  void writesWaitingOnAFrozenHolderNeverTakeEveryWorkerSoTheForwardingPodKeepsItsBucket() throws Exception {
    PodCluster.await("pods 0 and 1 hold their own buckets", 60_000,
        () -> cluster.holderIn(2, 0) == 0 && cluster.holderIn(2, 1) == 1);
    long pod2ClaimsOfBucket0 = lastClaimLogged(2, 0);
    int pod0SilentToPod2 = count(cluster.pod(2).logText(), "pod 0 has not answered");
    PodProcess p1 = cluster.pod(1);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger busy = new AtomicInteger();
    AtomicInteger ackedAfterTakeover = new AtomicInteger();
    AtomicBoolean takenOver = new AtomicBoolean();
    List<Map<String, Map<String, String>>> refusedBatches = new CopyOnWriteArrayList<>();
    AtomicInteger partlyRefused = new AtomicInteger();
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    List<Thread> writers = new ArrayList<>();
    try (KvPodClient oneShot = KvPodClient.builder(cluster.podList).callTimeoutMs(60_000).silentAfterMs(0).build()) {
      p1.signal("STOP");
      try {
        for (int t = 0; t < 24; t++) { // three times the workers, all through pod 0
          int thread = t;
          Thread w = new Thread(() -> {
            for (int n = 0; !stop.get(); n++) {
              String k = cluster.keyOf(1, "waiting-" + thread, n);
              boolean after = takenOver.get();
              try {
                oneShot.putVia(0, k, value(k, 1));
                acked.put(k, value(k, 1));
                if (after) {
                  ackedAfterTakeover.incrementAndGet();
                }
              } catch (KvPodException e) {
                if (!e.isRetriable()) {
                  errors.add(e);
                  return;
                }
                if (e.getCode() == ErrorCode.BUSY) {
                  busy.incrementAndGet();
                  try {
                    Thread.sleep(20); // the caller's pause before it sends the write again
                  } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                  }
                }
              }
            }
          }, "waiting-writer-" + t);
          w.start();
          writers.add(w);
        }
        for (int t = 0; t < 2; t++) { // batches of a key pod 0 holds and a key of the frozen holder's
          int thread = t;
          Thread w = new Thread(() -> {
            for (int n = 0; !stop.get(); n++) {
              Map<String, Map<String, String>> batch = new HashMap<>();
              for (int bucket = 0; bucket < 2; bucket++) {
                String k = cluster.keyOf(bucket, "mixed-" + thread, n);
                batch.put(k, value(k, 1));
              }
              try {
                oneShot.batchPutVia(0, batch);
                acked.putAll(batch);
              } catch (KvPodException e) {
                if (e.getCode() == ErrorCode.BUSY) {
                  refusedBatches.add(batch);
                }
                partlyRefused.addAndGet(e.getMessage().contains("part of the request was refused") ? 1 : 0);
              }
            }
          }, "mixed-writer-" + t);
          w.start();
          writers.add(w);
        }
        PodCluster.await("bucket 1 is taken over from the frozen pod", 120_000, () -> cluster.holderIn(2, 1) != 1);
        takenOver.set(true);
        PodCluster.await("writes through pod 0 are acknowledged by bucket 1's new holder", 120_000,
            () -> ackedAfterTakeover.get() >= 20);
      } finally {
        stop.set(true);
        for (Thread w : writers) {
          w.join();
        }
        p1.signal("CONT");
      }
    }
    assertTrue(errors.isEmpty(), "writes failed for good: " + errors);
    System.out.printf("[waiting writes] %d writes through pod 0 refused as BUSY while bucket 1's holder was frozen%n",
        busy.get());
    assertEquals(pod0SilentToPod2, count(cluster.pod(2).logText(), "pod 0 has not answered"),
        "pod 0 answered pod 2's pings while its writes waited");
    assertEquals(pod2ClaimsOfBucket0, lastClaimLogged(2, 0),
        "pod 2 never took bucket 0 over");
    assertEquals(0, cluster.holderIn(2, 0), "pod 0 still holds bucket 0");
    assertTrue(busy.get() > 0, "writes beyond the waiting limit were refused as BUSY");
    // A batch that would wait on another pod takes one slot for all its shares, or is refused
    // whole as BUSY before any share is sent: its share of pod 0's own bucket is not stored either
    assertTrue(!refusedBatches.isEmpty(), "batches with a share for the frozen holder were refused as BUSY ("
        + partlyRefused.get() + " said part of them was applied)");
    for (Map<String, Map<String, String>> batch : refusedBatches) {
      for (String k : batch.keySet()) {
        assertEquals(Map.of(), cluster.client.getVia(2, k), "a batch refused as BUSY stored nothing: " + k);
      }
    }
    verifyEveryAckedWriteThroughEveryPod();
  }

  @Test
  @Order(7)
  void aCleanStopFlushesBeforeThePodFallsSilentSoItsBucketsNextHolderReplaysNothing() throws Exception {
    PodProcess p2 = cluster.pod(2);
    p2.stop();
    long delayMillis = 4500; // three takeover windows: a stop that fell silent first was taken over mid-flush
    cluster.relaunch(2, Map.of(PodConfig.DEBUG_STOP_FLUSH_DELAY, delayMillis + "ms"));
    PodCluster.await("pod 2 holds bucket 2 again", 120_000, () -> cluster.holderIn(0, 2) == 2);
    for (int i = 0; i < 30; i++) {
      String k = cluster.keyOf(2, "clean-stop", i);
      putUntilAcknowledged(i % PODS, k, value(k, 1));
    }
    int[] logFrom = {cluster.pod(0).logText().length(), cluster.pod(1).logText().length()};
    long stopping = System.nanoTime();
    p2.stop();
    System.out.printf("[clean stop] pod 2 stopped in %.1f s, its flush held up %d ms%n",
        (System.nanoTime() - stopping) / 1e9, delayMillis);
    assertTrue(p2.logText().contains("through WAL sequence"), "pod 2 flushed bucket 2 as it stopped");
    PodCluster.await("another pod holds bucket 2", 120_000, () -> cluster.holderIn(0, 2) != 2);
    int next = cluster.holderIn(0, 2);
    Pattern recovered = Pattern.compile("bucket 2 \\(epoch \\d+\\): WAL recovered in \\d+ ms: \\d+ segments, \\d+ bytes, "
        + "(\\d+) entries replayed");
    PodCluster.await("pod " + next + " logs its recovery of bucket 2", 60_000,
        () -> recovered.matcher(cluster.pod(next).logText().substring(logFrom[next])).find());
    Matcher m = recovered.matcher(cluster.pod(next).logText().substring(logFrom[next]));
    assertTrue(m.find());
    assertEquals("0", m.group(1), "no pod took bucket 2 over while pod 2 flushed it: its next holder ("
        + "pod " + next + ") had nothing to replay");
    cluster.relaunch(2, Map.of());
    PodCluster.await("pod 2 takes bucket 2 back", 120_000, () -> cluster.holderIn(0, 2) == 2);
    verifyEveryAckedWriteThroughEveryPod();
  }
}
