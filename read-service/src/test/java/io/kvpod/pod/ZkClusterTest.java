package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.chaos.CheckedWrites;
import io.kvpod.client.KvPodClient;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.TableLayout;
import io.kvpod.thrift.KvPodException;
import io.kvpod.zk.LoopbackZooKeeper;
import io.kvpod.zk.RegistryTree;
import io.kvpod.zk.ZkAddress;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kvpod.coordination=zookeeper} on a real HDFS, a real 3-server ZooKeeper ensemble
 * and pod processes, while writes run through a client that was given only the registry and
 * the table: it finds the pods; an idle client (no polling at all) follows a takeover after a
 * {@code kill -9} from its watches alone; no call goes to a pod whose registration is gone;
 * and when the ZooKeeper leader dies and then the whole ensemble stops, writes and reads go
 * on through the cached routing (a takeover in the outage included), and the registry
 * catches up when ZooKeeper returns. The chaos checker checks every acknowledged write.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ZkClusterTest {
  private static final int PODS = 3;
  private static final int BUCKETS = 6;

  @TempDir
  static File tmp;
  private TestingCluster zk;
  private String registry;
  private PodCluster cluster;
  private KvPodClient client;
  private KvPodClient idle;
  private CuratorFramework reader;
  private RegistryTree tree;
  private CheckedWrites checked;
  private final Map<String, Map<String, String>> acked = new ConcurrentHashMap<>();
  private final AtomicBoolean writing = new AtomicBoolean();
  private final AtomicInteger failures = new AtomicInteger();
  private Thread writer;

  @BeforeAll
  void start() throws Exception {
    zk = LoopbackZooKeeper.ensemble(3);
    registry = zk.getConnectString() + "/kvpod-zk-test";
    Map<String, String> settings = new HashMap<>();
    settings.put(PodConfig.TABLE_BUCKETS, Integer.toString(BUCKETS));
    settings.put(PodConfig.COORDINATION, "zookeeper");
    settings.put(PodConfig.ZK_QUORUM, registry);
    settings.put(PodConfig.ZK_SESSION_TIMEOUT, "4s");
    settings.put(PodConfig.HAND_BACK_AFTER, "2s");
    cluster = new PodCluster(tmp, "Zk", PODS, id -> settings);
    cluster.client.close(); // it found the pods by their list; this test's clients use only ZooKeeper
    tree = new RegistryTree(cluster.table);
    reader = ZkAddress.parse(registry).connect(10_000, 10_000);
  }

  @AfterAll
  void stop() throws Exception {
    stopWriters();
    for (AutoCloseable c : new AutoCloseable[] {idle, client, reader, cluster, zk}) {
      if (c != null) {
        c.close();
      }
    }
  }

  private KvPodClient zkClient(boolean polls) {
    return KvPodClient.builder().zookeeper(registry).table(cluster.table).callTimeoutMs(15_000).deadlineMs(30_000)
        .silentAfterMs(polls ? 1000 : 0).zookeeperTimeoutMs(30_000).build();
  }

  private boolean registered(int pod) throws Exception {
    return reader.checkExists().forPath(tree.podPath(pod)) != null;
  }

  private void startWriters() {
    checked = new CheckedWrites(client, 3, 40, 17);
    checked.start();
    writing.set(true);
    writer = new Thread(() -> {
      for (int i = 0; writing.get(); i++) {
        String key = "z-" + i;
        Map<String, String> value = Map.of("v", key);
        try {
          if (client.put(key, value)) {
            acked.put(key, value);
          }
        } catch (KvPodException e) {
          failures.incrementAndGet(); // not acknowledged: not checked
        }
      }
    }, "zk-writer");
    writer.start();
  }

  private void stopWriters() throws InterruptedException {
    writing.set(false);
    if (writer != null) {
      writer.join();
      writer = null;
    }
  }

  private void awaitMoreWrites(String when, int more) throws Exception {
    int before = acked.size();
    PodCluster.await("writes are acknowledged " + when, 120_000, () -> acked.size() >= before + more);
  }

  /** The newest epoch recorded on HDFS for {@code bucket}, and its holder: {epoch, holder}; {0, -1} if none. */
  private long[] recorded(FileSystem fs, TableLayout layout, int bucket) throws IOException {
    Pattern name = Pattern.compile("pod-" + bucket + "\\.epoch-(\\d{12})");
    long[] newest = {0, -1};
    for (FileStatus st : fs.listStatus(layout.ownersDir())) {
      Matcher m = name.matcher(st.getPath().getName());
      if (m.matches() && Long.parseLong(m.group(1)) > newest[0]) {
        newest[0] = Long.parseLong(m.group(1));
        try (var in = fs.open(st.getPath())) {
          String text = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
          newest[1] = text.startsWith("holder=") && text.endsWith("\n")
              ? Integer.parseInt(text.substring(7, text.length() - 1)) : -1;
        }
      }
    }
    return newest;
  }

  /** The method name of the first Thrift call on {@code s} (framed, binary protocol); "" if none came. */
  private static String firstMethod(Socket s) throws IOException {
    s.setSoTimeout(2000);
    java.io.DataInputStream in = new java.io.DataInputStream(s.getInputStream());
    try {
      in.readInt(); // frame length
      in.readInt(); // version and message type
      byte[] name = new byte[Math.min(64, Math.max(0, in.readInt()))];
      in.readFully(name);
      return new String(name, java.nio.charset.StandardCharsets.UTF_8);
    } catch (java.io.EOFException | java.net.SocketTimeoutException e) {
      return "";
    }
  }

  private static String keyOf(int bucket) {
    for (int i = 0; ; i++) {
      if (KeyPartitioner.bucket("probe-" + i, BUCKETS) == bucket) {
        return "probe-" + i;
      }
    }
  }

  @Test
  @Order(1)
  void aClientGivenOnlyTheRegistryAndTableFindsThePods() throws Exception {
    client = zkClient(true);
    assertEquals(List.of(0, 1, 2), client.podIds());
    assertEquals(true, client.put("hello", Map.of("v", "world")));
    assertEquals(Map.of("v", "world"), client.get("hello"));
    for (int p = 0; p < PODS; p++) {
      int pod = p;
      PodCluster.await("pod " + pod + "'s node lists the buckets it holds", 30_000, () -> {
        RegistryTree.PodNode n = RegistryTree.PodNode.parse(reader.getData().forPath(tree.podPath(pod)));
        return n != null && n.state().equals("active")
            && client.status(pod).getHolders().stream().filter(h -> h == pod).count() == n.holds().size();
      });
    }
    startWriters();
    awaitMoreWrites("through the registry", 200);
  }

  @Test
  @Order(2)
  void anIdleClientFollowsATakeoverFromItsWatchesAndNoCallGoesToTheDeadPod() throws Exception {
    idle = zkClient(false);
    int victim = 2;
    int found = -1;
    for (int b = 0; b < BUCKETS && found < 0; b++) {
      found = idle.ownerOf(keyOf(b)) == victim ? b : -1;
    }
    assertTrue(found >= 0, "pod " + victim + " holds a bucket");
    int bucket = found;
    String key = keyOf(bucket);
    FileSystem fs = cluster.hdfs.fs();
    TableLayout layout = new TableLayout(cluster.root, cluster.table);
    long epochBefore = recorded(fs, layout, bucket)[0];

    long killed = System.nanoTime();
    cluster.pod(victim).kill9();
    long recordedAt = 0;
    long routedAt = 0;
    long[] rec = {0, -1};
    long deadline = System.currentTimeMillis() + 120_000;
    while ((recordedAt == 0 || routedAt == 0) && System.currentTimeMillis() < deadline) {
      if (recordedAt == 0) {
        rec = recorded(fs, layout, bucket);
        if (rec[0] > epochBefore && rec[1] >= 0) {
          recordedAt = System.nanoTime();
        }
      }
      if (routedAt == 0 && idle.ownerOf(key) != victim) {
        routedAt = System.nanoTime();
      }
      Thread.sleep(5);
    }
    assertEquals(true, recordedAt > 0 && routedAt > 0, "the takeover was recorded, and the idle client followed it");
    PodCluster.await("the idle client routes bucket " + bucket + " to the recorded holder", 30_000,
        () -> idle.ownerOf(key) == recorded(fs, layout, bucket)[1]);
    System.out.printf("[zk] bucket %d taken over: recorded %d ms after the kill -9; an idle client (watches only) "
        + "routed to the new holder %d ms after the record%n", bucket, (recordedAt - killed) / 1_000_000,
        (routedAt - recordedAt) / 1_000_000);

    PodCluster.await("the dead pod's registration is gone (its session expired)", 60_000, () -> !registered(victim));
    // Something else now answers on the dead pod's port: no client call may reach it. (The
    // other pods keep pinging it, through heartbeat() and process(), to notice when it is back.)
    int port = Integer.parseInt(cluster.podList.split(",")[victim].split(":")[1]);
    AtomicInteger reached = new AtomicInteger();
    try (ServerSocket impostor = new ServerSocket(port, 50, InetAddress.getLoopbackAddress())) {
      Thread t = new Thread(() -> {
        while (!impostor.isClosed()) {
          try (Socket s = impostor.accept()) {
            String method = firstMethod(s);
            if (!method.equals("process") && !method.equals("heartbeat")) { // the pods' own calls
              reached.incrementAndGet();
              System.out.println("[zk] a call reached the unregistered pod's port: " + method);
            }
          } catch (IOException e) {
            if (impostor.isClosed()) {
              return;
            }
          }
        }
      }, "impostor");
      t.setDaemon(true);
      t.start();
      assertThrows(KvPodException.class, () -> client.getVia(victim, key));
      assertThrows(KvPodException.class, () -> client.putVia(victim, key, Map.of("v", "never")));
      awaitMoreWrites("while pod " + victim + " is dead", 200);
      assertEquals(0, reached.get(), "calls that reached the port of a pod with no registration");
    }
    cluster.relaunch(victim, Map.of());
    PodCluster.await("pod " + victim + " registers again and takes its buckets back", 120_000,
        () -> registered(victim) && idle.ownerOf(key) == victim);
    awaitMoreWrites("after pod " + victim + " returned", 200);
  }

  @Test
  @Order(3)
  void routingOutlivesAZooKeeperOutageAndTheRegistryCatchesUpAfter() throws Exception {
    InstanceSpec leader = LoopbackZooKeeper.leader(zk);
    assertNotNull(leader, "the ensemble has a leader");
    zk.killServer(leader);
    awaitMoreWrites("after the ZooKeeper leader died", 200);
    List<InstanceSpec> down = new ArrayList<>(List.of(leader));
    for (InstanceSpec s : zk.getInstances()) {
      if (!s.equals(leader)) {
        zk.killServer(s);
        down.add(s);
      }
    }
    awaitMoreWrites("with all of ZooKeeper down", 200);
    int victim = 1;
    cluster.pod(victim).kill9();
    PodCluster.await("pod 0 records the takeover of pod " + victim + "'s buckets, ZooKeeper still down", 120_000,
        () -> client.status(0).getHolders().stream().noneMatch(h -> h == victim));
    awaitMoreWrites("after a takeover during the ZooKeeper outage", 200);

    for (InstanceSpec s : down) {
      zk.restartServer(s);
    }
    PodCluster.await("the registry's holders match what HDFS records", 120_000, () -> {
      List<Integer> holders = client.status(0).getHolders();
      for (int b = 0; b < BUCKETS; b++) {
        byte[] d = reader.getData().forPath(tree.holderPath(b));
        RegistryTree.HolderNode h = RegistryTree.HolderNode.parse(d);
        if (h == null || h.holder() != holders.get(b)) {
          return false;
        }
      }
      return true;
    });
    PodCluster.await("the dead pod's registration is gone", 60_000, () -> !registered(victim));
    PodCluster.await("the idle client's routing caught up from its watches", 60_000, () -> {
      List<Integer> holders = client.status(0).getHolders();
      for (int b = 0; b < BUCKETS; b++) {
        if (idle.ownerOf(keyOf(b)) != holders.get(b)) {
          return false;
        }
      }
      return true;
    });
    awaitMoreWrites("after ZooKeeper returned", 200);
  }

  @Test
  @Order(4)
  void everyAcknowledgedWriteIsReadBack() throws Exception {
    stopWriters();
    long ordered = checked.acknowledged();
    List<Integer> live = List.of(0, 2);
    assertEquals(List.of(), checked.stopAndCheck(live), "the chaos checker's violations");
    System.out.printf("[zk] ordered writers: %d writes acknowledged, 0 violations; %d other writes acknowledged, "
        + "%d failed (not checked)%n", ordered, acked.size(), failures.get());
    List<String> keys = new ArrayList<>(acked.keySet());
    for (int pod : live) {
      for (int from = 0; from < keys.size(); from += 500) {
        List<String> chunk = keys.subList(from, Math.min(keys.size(), from + 500));
        Map<String, Map<String, String>> got = client.multiGetVia(pod, chunk);
        for (String k : chunk) {
          assertEquals(acked.get(k), got.get(k), "acknowledged key " + k + " read through pod " + pod);
        }
      }
    }
  }
}
