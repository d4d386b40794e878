package io.kvpod.chaos;

import io.kvpod.client.Backoff;
import io.kvpod.client.KvPodClient;
import io.kvpod.contract.PeerSigner;
import io.kvpod.local.LocalHdfs;
import io.kvpod.local.PodProcess;
import io.kvpod.pod.PodConfig;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.internal.FaultRequest;
import io.kvpod.thrift.internal.PeerRequest;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.Map;

/**
 * The cluster a chaos run breaks: a real HDFS in its own process ({@link LocalHdfs}) and
 * pod processes ({@link PodProcess}) on 127.0.0.1, with the operations the nemesis needs
 * (kill -9, restart, SIGSTOP/SIGCONT of a pod or of HDFS, cutting links, dropping and
 * delaying peer calls) and a short-timeout tool client to ask pods how they are.
 * Pods run with kvpod's default timing settings; only memory and flush sizes are set, so
 * that flushes, segment rolls and compactions happen within a short run.
 */
final class ChaosCluster implements AutoCloseable {
  private final File work;
  private final int size;
  private final String podHeap;
  private final Map<String, String> settings;
  private final PrintStream log;
  private final String secret = "chaos-" + Long.toHexString(System.nanoTime());
  private final PeerSigner signer = PeerSigner.tool(secret);
  private final List<PodProcess> pods = new ArrayList<>();
  private LocalHdfs hdfs;
  private String podList;
  private KvPodClient tool;

  ChaosCluster(File work, int size, String podHeap, Map<String, String> settings, PrintStream log) {
    this.work = work;
    this.size = size;
    this.podHeap = podHeap;
    this.settings = settings;
    this.log = log;
  }

  /** Starts HDFS and every pod; returns once all serve. */
  /** How long {@link #fault} keeps trying a pod whose process runs. */
  private static final long FAULT_REQUEST_SECONDS = 30;

  void start() throws IOException, InterruptedException {
    LocalHdfs.deleteRecursively(work);
    work.mkdirs();
    hdfs = LocalHdfs.start(new File(work, "hdfs"));
    log.printf("[chaos] HDFS at %s (pid %d)%n", hdfs.uri(), hdfs.pid());
    podList = PodProcess.loopbackPodList(size);
    tool = KvPodClient.builder(podList).connectTimeoutMs(1000).callTimeoutMs(2000).deadlineMs(3000)
        .maxClockSkewMs(1000).maxAttempts(1).backoff(new Backoff(0, 0)).build();
    for (int i = 0; i < size; i++) {
      PodProcess p = PodProcess.prepare(i, new File(work, "logs")).heap(podHeap);
      pods.add(p);
      p.launch(config(i, 0));
    }
  }

  int size() {
    return size;
  }

  String podList() {
    return podList;
  }

  File work() {
    return work;
  }

  /** Pod {@code id}'s settings; {@code recoveryDelayMillis} > 0 holds up the bucket recoveries of its start. */
  private Map<String, String> config(int id, long recoveryDelayMillis) {
    Map<String, String> c = PodProcess.baseConfig(podList, id, hdfs.uri() + "/kvpod", "chaos", secret);
    c.put(PodConfig.BLOCK_CACHE_BYTES, Long.toString(32L << 20));
    c.put(PodConfig.FLUSH_BYTES, Long.toString(2L << 20));
    c.put(PodConfig.WAL_SEGMENT_BYTES, Long.toString(512L << 10));
    c.put(PodConfig.COMPACTION_MAX_LAYERS, "6");
    c.put(PodConfig.DEBUG_RECOVERY_DELAY, recoveryDelayMillis + "ms");
    c.putAll(settings);
    return c;
  }

  void kill9(int pod) throws InterruptedException {
    pods.get(pod).kill9();
  }

  /** SIGTERM: the pod flushes and exits. */
  void stop(int pod) throws InterruptedException {
    pods.get(pod).stop();
  }

  /** Starts a stopped pod and waits until it serves (every bucket recovery held up {@code delay} ms). */
  void relaunch(int pod, long recoveryDelayMillis) throws IOException, InterruptedException {
    pods.get(pod).launch(config(pod, recoveryDelayMillis));
  }

  boolean alive(int pod) {
    return pods.get(pod).alive();
  }

  void signal(int pod, String sig) throws IOException, InterruptedException {
    pods.get(pod).signal(sig);
  }

  void signalHdfs(String sig) throws IOException, InterruptedException {
    hdfs.signal(sig);
  }

  /**
   * Sends a signed fault request to a pod, again and again while its process runs and it
   * does not answer (a busy pod may miss one 2 s timeout; a heal that never arrived would
   * leave a cut in place while the report thinks it ended). Fault requests are idempotent. A
   * dead pod is skipped: its restart starts without faults.
   */
  void fault(int pod, FaultRequest req) throws InterruptedException {
    long giveUpAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(FAULT_REQUEST_SECONDS);
    for (int attempt = 1; ; attempt++) {
      try {
        tool.process(pod, signer, PeerRequest.fault(req));
        if (attempt > 1) {
          log.printf("[chaos] a fault request reached pod %d at attempt %d%n", pod, attempt);
        }
        return;
      } catch (KvPodException e) {
        if (!alive(pod) || System.nanoTime() - giveUpAt > 0) {
          log.printf("[chaos] could not send a fault request to pod %d (%d attempts): %s%n", pod, attempt,
              e.getMessage());
          return;
        }
        Thread.sleep(200);
      }
    }
  }

  /** Pod {@code pod}'s status, or null if it does not answer at once. */
  PodStatus status(int pod) {
    try {
      return tool.status(pod);
    } catch (KvPodException e) {
      return null;
    }
  }

  /** Whether pod {@code pod} answers a ping now (it listens, recovering or not). */
  boolean answers(int pod) {
    try {
      tool.ping(pod);
      return true;
    } catch (KvPodException e) {
      return false;
    }
  }

  /**
   * Who holds each bucket, as the first pod that answers sees it (the holder records),
   * asking pod {@code first} first; empty if none answers.
   */
  List<Integer> holders(int first) {
    for (int i = 0; i < size; i++) {
      PodStatus st = status((first + i) % size);
      if (st != null && st.isSetHolders()) {
        return st.getHolders();
      }
    }
    return List.of();
  }

  /** The buckets {@code pod} holds, as another pod sees it. */
  List<Integer> bucketsHeldBy(int pod) {
    List<Integer> holders = holders(pod + 1);
    List<Integer> out = new ArrayList<>();
    for (int b = 0; b < holders.size(); b++) {
      if (holders.get(b) == pod) {
        out.add(b);
      }
    }
    return out;
  }

  /** The buckets some pod is recovering now (as the pods that answer say). */
  Map<Integer, List<Integer>> recovering() {
    Map<Integer, List<Integer>> out = new LinkedHashMap<>();
    for (int p = 0; p < size; p++) {
      PodStatus st = status(p);
      if (st != null && st.isSetRecovering() && !st.getRecovering().isEmpty()) {
        out.put(p, st.getRecovering());
      }
    }
    return out;
  }

  /** Stops every pod cleanly and starts it again, one after another. */
  void restartAll() throws IOException, InterruptedException {
    for (int i = 0; i < size; i++) {
      pods.get(i).stop();
      pods.get(i).launch(config(i, 0));
    }
  }

  @Override
  public void close() throws InterruptedException {
    if (tool != null) {
      tool.close();
    }
    for (PodProcess p : pods) {
      try {
        if (p.alive()) {
          p.signal("CONT");
        }
      } catch (IOException e) {
        log.printf("[chaos] could not resume pod %d: %s%n", p.id, e.getMessage());
      }
    }
    PodProcess.stopAll(pods);
    if (hdfs != null) {
      try {
        hdfs.signal("CONT");
      } catch (IOException e) {
        log.printf("[chaos] could not resume HDFS: %s%n", e.getMessage());
      }
      hdfs.close();
      LocalHdfs.deleteRecursively(new File(work, "hdfs/data"));
    }
  }
}
