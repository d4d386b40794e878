package io.kvpod.pod;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.PeerSigner;
import io.kvpod.loader.MiniHdfs;
import io.kvpod.local.PodProcess;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.FaultRequest;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.zk.LoopbackZooKeeper;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import org.apache.curator.test.TestingServer;

/**
 * For cluster tests: a MiniDFSCluster and {@code n} pod processes on loopback serving one
 * table, and a client. Pods get {@link PodProcess#baseConfig} plus modest memory settings,
 * plus what the test adds per pod. {@link #close} stops everything, even after a failure.
 *
 * <p>Built {@link #inBothModes}, the cluster also runs a ZooKeeper server on loopback, the
 * pods register in it ({@code kvpod.coordination=zookeeper}), and a second client finds the
 * pods there and follows the holders by its watches: {@link #routingClients} gives both, so a
 * routing test checks each case under both ways of finding the pods. The first client is
 * given the pod list and never touches ZooKeeper: it routes as under {@code hdfs}, from the
 * pods' answers and its polling. Whatever the pods decide, they decide on HDFS in both modes.
 */
final class PodCluster implements AutoCloseable {
  final MiniHdfs hdfs;
  final String root;
  final String podList;
  final String table;
  final String secret;
  final int size;
  final KvPodClient client;
  /** The ZooKeeper server the pods register in, or null if they do not ({@code hdfs}). */
  final TestingServer zk;
  /** The registry ({@code host:port/root}), or null. */
  final String registry;
  /** A client of the pods' first table that found the pods in {@link #registry}, or null. */
  final KvPodClient zkClient;
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
    this(tmp, name, n, extra, before, false);
  }

  /**
   * As {@link #PodCluster(File, String, int, IntFunction, BeforePods)}, the pods also
   * registered in a ZooKeeper server, with {@link #zkClient} (see the class comment).
   */
  static PodCluster inBothModes(File tmp, String name, int n, IntFunction<Map<String, String>> extra,
      BeforePods before) throws Exception {
    return new PodCluster(tmp, name, n, extra, before, true);
  }

  /** As {@link #inBothModes(File, String, int, IntFunction, BeforePods)}, with nothing put on HDFS first. */
  static PodCluster inBothModes(File tmp, String name, int n, IntFunction<Map<String, String>> extra)
      throws Exception {
    return inBothModes(tmp, name, n, extra, (hdfs, root) -> { });
  }

  private PodCluster(File tmp, String name, int n, IntFunction<Map<String, String>> extra, BeforePods before,
      boolean withZooKeeper) throws Exception {
    this.zk = withZooKeeper ? LoopbackZooKeeper.server() : null;
    this.registry = withZooKeeper ? zk.getConnectString() + "/kvpod-" + name.toLowerCase() : null;
    try {
      this.hdfs = new MiniHdfs(new File(tmp, "dfs"), 1);
    } catch (Exception e) {
      if (zk != null) {
        zk.close();
      }
      throw e;
    }
    this.root = hdfs.uri() + "/kvpod";
    this.podList = PodProcess.loopbackPodList(n);
    this.table = name.toLowerCase();
    this.secret = name + "-secret";
    this.size = n;
    this.extra = extra;
    this.logDir = new File("target/pod-logs/" + name);
    KvPodClient c = null;
    KvPodClient z = null;
    try {
      before.run(hdfs, root);
      for (int id = 0; id < n; id++) {
        pods.add(PodProcess.start(id, config(id, Map.of()), logDir));
      }
      c = KvPodClient.builder(podList).callTimeoutMs(15_000).deadlineMs(30_000).build();
      // the pods' first table is the one a client means when it names none
      z = withZooKeeper ? newZkClient(config(0, Map.of()).get(PodConfig.TABLE).split(",")[0].trim()) : null;
    } finally {
      if (c == null || (withZooKeeper && z == null)) {
        if (c != null) {
          c.close();
        }
        stopAll();
      }
    }
    this.client = c;
    this.zkClient = z;
  }

  /** A new client of {@code table} that finds the pods in {@link #registry}; the caller closes it. */
  KvPodClient newZkClient(String table) {
    if (registry == null) {
      throw new IllegalStateException("this cluster's pods do not register in ZooKeeper");
    }
    return KvPodClient.builder().zookeeper(registry).table(table).callTimeoutMs(15_000).deadlineMs(30_000)
        .zookeeperTimeoutMs(30_000).build();
  }

  /** The clients that route by holder: the one given the pod list, and then, in both modes, {@link #zkClient}. */
  List<KvPodClient> routingClients() {
    return zkClient == null ? List.of(client) : List.of(client, zkClient);
  }

  /** How {@code c}, one of {@link #routingClients}, finds the pods: "hdfs" or "zookeeper". */
  String modeOf(KvPodClient c) {
    return c == zkClient ? "zookeeper" : "hdfs";
  }

  /** Pod {@code id}'s settings: the base, the test's, then {@code more}; a key mapped to null is unset. */
  Map<String, String> config(int id, Map<String, String> more) {
    Map<String, String> c = PodProcess.baseConfig(podList, id, root, table, secret);
    c.put(PodConfig.BLOCK_CACHE_BYTES, Long.toString(16L << 20));
    c.put(PodConfig.WORKER_THREADS, "8");
    c.put(PodConfig.TABLE_BUCKETS, Integer.toString(size)); // one bucket per pod, unless the test sets more
    if (registry != null) {
      c.put(PodConfig.COORDINATION, "zookeeper");
      c.put(PodConfig.ZK_QUORUM, registry);
      c.put(PodConfig.ZK_SESSION_TIMEOUT, "4s"); // a killed pod's node goes within seconds
    }
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
    for (KvPodClient c : new KvPodClient[] {zkClient, client}) {
      if (c != null) {
        c.close();
      }
    }
    stopAll();
  }

  private void stopAll() throws Exception {
    stop(pods, hdfs, zk);
  }

  /** Stops {@code pods}, then HDFS, then ZooKeeper (either may be null), ZooKeeper even if the others fail. */
  static void stop(List<PodProcess> pods, MiniHdfs hdfs, TestingServer zk) throws Exception {
    try {
      PodProcess.stopAll(pods);
      if (hdfs != null) {
        hdfs.close();
      }
    } finally {
      if (zk != null) {
        zk.close();
      }
    }
  }
}
