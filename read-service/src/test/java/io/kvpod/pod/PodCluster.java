package io.kvpod.pod;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.PeerSigner;
import io.kvpod.loader.MiniHdfs;
import io.kvpod.local.PodProcess;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.FaultRequest;
import io.kvpod.thrift.internal.PeerRequest;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * For cluster tests: a MiniDFSCluster and {@code n} pod processes on loopback serving one
 * table, and a client. Pods get {@link PodProcess#baseConfig} plus modest memory settings,
 * plus what the test adds per pod. {@link #close} stops everything, even after a failure.
 */
final class PodCluster implements AutoCloseable {
  final MiniHdfs hdfs;
  final String root;
  final String podList;
  final String table;
  final String secret;
  final int size;
  final KvPodClient client;
  private final List<PodProcess> pods = new ArrayList<>();
  private final File logDir;
  private final IntFunction<Map<String, String>> extra;

  /** Starts HDFS and the pods; {@code extra} gives each pod's settings beyond the base ones. */
  PodCluster(File tmp, String name, int n, IntFunction<Map<String, String>> extra) throws Exception {
    this(tmp, name, n, extra, (hdfs, root) -> { });
  }

  /** What a test puts on HDFS before the pods start (layers, say). */
  @FunctionalInterface
  interface BeforePods {
    void run(MiniHdfs hdfs, String root) throws Exception;
  }

  /** As {@link #PodCluster(File, String, int, IntFunction)}, running {@code before} once HDFS is up. */
  PodCluster(File tmp, String name, int n, IntFunction<Map<String, String>> extra, BeforePods before)
      throws Exception {
    this.hdfs = new MiniHdfs(new File(tmp, "dfs"), 1);
    this.root = hdfs.uri() + "/kvpod";
    this.podList = PodProcess.loopbackPodList(n);
    this.table = name.toLowerCase();
    this.secret = name + "-secret";
    this.size = n;
    this.extra = extra;
    this.logDir = new File("target/pod-logs/" + name);
    KvPodClient c = null;
    try {
      before.run(hdfs, root);
      for (int id = 0; id < n; id++) {
        pods.add(PodProcess.start(id, config(id, Map.of()), logDir));
      }
      c = KvPodClient.builder(podList).callTimeoutMs(15_000).deadlineMs(30_000).build();
    } finally {
      if (c == null) {
        close();
      }
    }
    this.client = c;
  }

  /** Pod {@code id}'s settings: the base, the test's, then {@code more}; a key mapped to null is unset. */
  Map<String, String> config(int id, Map<String, String> more) {
    Map<String, String> c = PodProcess.baseConfig(podList, id, root, table, secret);
    c.put(PodConfig.BLOCK_CACHE_BYTES, Long.toString(16L << 20));
    c.put(PodConfig.WORKER_THREADS, "8");
    c.put(PodConfig.TABLE_BUCKETS, Integer.toString(size)); // one bucket per pod, unless the test sets more
    c.putAll(extra.apply(id));
    c.putAll(more);
    c.values().removeIf(java.util.Objects::isNull); // a setting mapped to null is left at its default
    return c;
  }

  PodProcess pod(int id) {
    return pods.get(id);
  }

  /** Starts pod {@code id} again (it must be stopped) with {@code more} settings; waits until it serves. */
  void relaunch(int id, Map<String, String> more) throws IOException, InterruptedException {
    pods.get(id).launch(config(id, more));
  }

  /**
   * Starts a new pod {@code id} (the next id), configured with {@code podList}: the cluster's
   * pods and then this one. Waits until it serves.
   */
  PodProcess launchNew(int id, String podList) throws IOException, InterruptedException {
    Map<String, String> c = config(id, Map.of());
    c.put(PodConfig.PODS, podList);
    PodProcess p = PodProcess.prepare(id, logDir);
    pods.add(p);
    p.launch(c);
    return p;
  }

  /** A key of bucket {@code bucket} (of one per pod): the first of {@code prefix-n-0, prefix-n-1, ...} in it. */
  String keyOf(int bucket, String prefix, int n) {
    for (int i = 0; ; i++) {
      String k = prefix + "-" + n + "-" + i;
      if (KeyPartitioner.bucket(k, size) == bucket) {
        return k;
      }
    }
  }

  /** Sends a signed fault-injection request to pod {@code pod}. */
  void fault(int pod, FaultRequest req) throws KvPodException {
    client.process(pod, PeerSigner.tool(secret), PeerRequest.fault(req));
  }

  /** Who holds {@code bucket}, in pod {@code pod}'s view. */
  int holderIn(int pod, int bucket) throws KvPodException {
    return client.status(pod).getHolders().get(bucket);
  }

  /** Waits, polling, until {@code condition} holds; fails after {@code timeoutMillis} with {@code what}. */
  static void await(String what, long timeoutMillis, Check condition) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    Exception last = null;
    while (System.currentTimeMillis() < deadline) {
      try {
        if (condition.holds()) {
          return;
        }
      } catch (KvPodException e) {
        last = e; // a pod not answering yet: keep waiting
      }
      Thread.sleep(100);
    }
    throw new AssertionError("timed out after " + timeoutMillis + " ms waiting until " + what
        + (last == null ? "" : "; last error: " + last.getMessage()));
  }

  /** A condition to wait for. */
  @FunctionalInterface
  interface Check {
    boolean holds() throws Exception;
  }

  @Override
  public void close() throws Exception {
    if (client != null) {
      client.close();
    }
    PodProcess.stopAll(pods);
    hdfs.close();
  }
}
