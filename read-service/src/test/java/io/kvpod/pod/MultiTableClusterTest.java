package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.TableLayout;
import io.kvpod.loader.MiniHdfs;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import java.io.File;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two tables, {@code users} (the default) and {@code orders}, served by the same three pod
 * processes over a real HDFS. The same keys hold different values in each table, and a
 * bulk-loaded layer of {@code users} is not seen in {@code orders}. Writes and reads go
 * through the routing client of each table and through pods that forward them to the
 * holder (signed pod-to-pod messages that name the table). The pods also register each table
 * in ZooKeeper ({@link PodCluster#inBothModes}), and each table's batches are split between a
 * client given the pod list and one that found the pods there. A pod killed with
 * {@code kill -9} has the buckets of both tables taken over, and takes them back when
 * restarted, and both kinds of client follow; every acknowledged write of each table is then
 * read back through every pod.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiTableClusterTest {
  private static final int PODS = 3;
  private static final int BUCKETS = 6;
  private static final int VICTIM = 2;
  private static final List<String> TABLES = List.of("users", "orders");
  private static final long CACHE_BYTES = 2L << 20;
  private static final int BIG_LAYER_RECORDS = 60_000;

  @TempDir
  static File tmp;
  private PodCluster cluster;
  private KvPodClient users;
  private KvPodClient orders;
  /** Each table's client that found the pods in ZooKeeper. */
  private KvPodClient usersZk;
  private KvPodClient ordersZk;
  /** Each table's acknowledged writes. */
  private final Map<String, Map<String, Map<String, String>>> acked = Map.of("users", new HashMap<>(),
      "orders", new HashMap<>());

  @BeforeAll
  void start() throws Exception {
    Map<String, String> settings = new HashMap<>();
    settings.put(PodConfig.TABLE, String.join(",", TABLES));
    settings.put(PodConfig.TABLE_BUCKETS, Integer.toString(BUCKETS));
    settings.put(PodConfig.TAKEOVER_AFTER, "1500ms");
    // small enough that reading orders' big layer (the last case) overflows it
    settings.put(PodConfig.BLOCK_CACHE_BYTES, Long.toString(CACHE_BYTES));
    settings.put(PodConfig.LAYERS_POLL, "1s");
    cluster = PodCluster.inBothModes(tmp, "MultiTable", PODS, id -> settings, this::loadUsersLayer);
    users = client("users");
    orders = client("orders");
    usersZk = cluster.newZkClient("users");
    ordersZk = cluster.newZkClient("orders");
  }

  /** Before the pods start: a bulk-loaded layer of table users only, 200 records. */
  private void loadUsersLayer(MiniHdfs hdfs, String root) throws Exception {
    Map<String, TestLayers.Rec> records = new HashMap<>();
    for (int i = 0; i < 200; i++) {
      records.put("loaded-" + i, TestLayers.Rec.of(1, "users-loaded-" + i));
    }
    TestLayers.write(hdfs.conf(), hdfs.fs(), new TableLayout(root, "users"), "1000000000000-load-0000aa", BUCKETS,
        records);
    records.forEach((k, r) -> acked.get("users").put(k, r.value()));
  }

  private KvPodClient client(String table) {
    return KvPodClient.builder(cluster.podList).table(table).callTimeoutMs(15_000).deadlineMs(30_000).build();
  }

  private KvPodClient of(String table) {
    return table.equals("users") ? users : orders;
  }

  @AfterAll
  void stop() throws Exception {
    for (KvPodClient c : new KvPodClient[] {users, orders, usersZk, ordersZk}) {
      if (c != null) {
        c.close();
      }
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private KvPodClient zkOf(String table) {
    return table.equals("users") ? usersZk : ordersZk;
  }

  /**
   * Writes {@code n} records of {@code prefix} to each table, the same keys with the table's
   * own values: the even ones through the client given the pod list, the odd ones through
   * the one that found the pods in ZooKeeper, each batch split by holder.
   */
  private void writeBoth(String prefix, int n) throws KvPodException {
    for (String t : TABLES) {
      for (int half = 0; half < 2; half++) {
        Map<String, Map<String, String>> batch = new HashMap<>();
        for (int i = half; i < n; i += 2) {
          batch.put(prefix + "-" + i, Map.of("v", t + "-" + prefix + "-" + i));
        }
        KvPodClient c = half == 0 ? of(t) : zkOf(t);
        assertTrue(c.batchPut(batch), "a batch of " + t + ", split by holder (" + (half == 0 ? "hdfs" : "zookeeper")
            + " client)");
        acked.get(t).putAll(batch);
      }
    }
  }

  /** Every acknowledged record of each table reads right through each of {@code pods}. */
  private void everyWriteReadsRight(int... pods) throws KvPodException {
    for (String t : TABLES) {
      List<String> keys = new ArrayList<>(acked.get(t).keySet());
      for (int pod : pods) {
        for (int from = 0; from < keys.size(); from += 500) {
          List<String> some = keys.subList(from, Math.min(keys.size(), from + 500));
          Map<String, Map<String, String>> want = new HashMap<>();
          some.forEach(k -> want.put(k, acked.get(t).get(k)));
          assertEquals(want, of(t).multiGetVia(pod, some), "table " + t + " through pod " + pod);
        }
      }
    }
  }

  @Test
  @Order(1)
  void eachTableKeepsItsOwnRecordsUnderTheSameKeys() throws Exception {
    for (int pod = 0; pod < PODS; pod++) {
      PodStatus st = users.status(pod);
      assertEquals(TABLES, st.getTables(), "pod " + pod + " serves both tables, the default first");
      assertEquals("users", st.getTable());
      assertEquals("orders", orders.status(pod).getTable());
      assertEquals(BUCKETS, orders.status(pod).getHoldersSize());
    }
    writeBoth("k", 300);
    for (String t : TABLES) {
      for (int pod = 0; pod < PODS; pod++) {
        String key = "single-" + t + "-" + pod;
        assertTrue(of(t).putVia(pod, key, Map.of("v", t + "-via-" + pod)), "a put sent to pod " + pod
            + ", forwarded to its holder");
        acked.get(t).put(key, Map.of("v", t + "-via-" + pod));
      }
    }
    everyWriteReadsRight(0, 1, 2);
    assertEquals(Map.of(), orders.get("loaded-7"), "users' bulk-loaded layer is not orders'");
    assertFalse(orders.getRecord("single-users-0").isFound(), "a key written to users only");
    assertEquals(Map.of("v", "orders-k-7"), orders.getVia(1, "k-7"));
    assertEquals(Map.of("v", "users-k-7"), users.getVia(1, "k-7"));
  }

  /** The body and status of GET {@code path} on pod {@code pod}'s HTTP endpoint. */
  private String http(int pod, String path, int wantStatus) throws Exception {
    int port = users.status(pod).getHttpPort();
    java.net.HttpURLConnection c = (java.net.HttpURLConnection) new java.net.URL("http://127.0.0.1:" + port + path)
        .openConnection();
    try {
      assertEquals(wantStatus, c.getResponseCode(), path);
      try (java.io.InputStream in = wantStatus == 200 ? c.getInputStream() : c.getErrorStream()) {
        return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      }
    } finally {
      c.disconnect();
    }
  }

  @Test
  @Order(2)
  void theStatusPagesShowEachTableAndRefuseAnUnknownOne() throws Exception {
    assertTrue(http(1, "/status.json", 200).contains("\"table\":\"users\""));
    assertTrue(http(1, "/status.json?table=orders", 200).contains("\"table\":\"orders\""));
    String page = http(1, "/?table=orders", 200);
    assertTrue(page.contains("<b>orders</b>") && page.contains("<a href=\"/?table=users\">users</a>"), page);
    assertTrue(http(1, "/?table=nope", 404).contains("does not serve table 'nope'"));
  }

  /** Pod {@code pod}'s value of the metric {@code name}. */
  private double metric(int pod, String name) throws Exception {
    return PrometheusText.parse(http(pod, "/metrics", 200)).stream()
        .filter(x -> x.name().equals(name)).mapToDouble(PrometheusText.Sample::value).sum();
  }

  /** Gets and multiGets answered on the I/O thread, summed over the pods. */
  private double inlineGets() throws Exception {
    double n = 0;
    for (int pod = 0; pod < PODS; pod++) {
      n += metric(pod, "kvpod_gets_inline_total");
    }
    return n;
  }

  @Test
  @Order(2)
  void getsOfATableOtherThanTheDefaultOneAreAnsweredInline() throws Exception {
    double before = inlineGets();
    for (int i = 0; i < 300; i++) {
      assertEquals(Map.of("v", "orders-k-" + i), orders.get("k-" + i));
    }
    // each pod answers a get inline only while its view of the holders is fresh: on a busy
    // machine some may go to a worker, so this asks for some, not all
    assertTrue(inlineGets() > before, "no get of orders was answered inline");
  }

  @Test
  @Order(2)
  void callsThatNameNoTableAreAboutTheDefaultTableAndAnUnknownTableIsRefused() throws Exception {
    try (KvPodClient seed = KvPodClient.builder(cluster.podList).callTimeoutMs(15_000).build();
         KvPodClient unknown = KvPodClient.builder(cluster.podList).table("nope").maxAttempts(1).build()) {
      assertEquals(Map.of("v", "users-k-3"), seed.getVia(0, "k-3"));
      KvPodException e = assertThrows(KvPodException.class, () -> unknown.getVia(0, "k-3"));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.getCode());
      assertTrue(e.getMessage().contains("nope") && e.getMessage().contains("[users, orders]"), e.getMessage());
      e = assertThrows(KvPodException.class, () -> unknown.putVia(0, "k-3", Map.of("v", "x")));
      assertEquals(ErrorCode.INVALID_ARGUMENT, e.getCode());
    }
    assertEquals(Map.of("v", "orders-k-3"), orders.get("k-3"), "nothing was written by the refused put");
  }

  @Test
  @Order(3)
  void aKilledPodsBucketsOfBothTablesAreTakenOverAndTakenBack() throws Exception {
    cluster.pod(VICTIM).kill9();
    for (String t : TABLES) {
      PodCluster.await("the survivors hold every bucket of " + t, 120_000, () -> {
        List<Integer> h = of(t).status(0).getHolders();
        return h.size() == BUCKETS && !h.contains(VICTIM);
      });
    }
    writeBoth("after-kill", 200);
    everyWriteReadsRight(0, 1);
    cluster.relaunch(VICTIM, Map.of());
    for (String t : TABLES) {
      PodCluster.await("pod " + VICTIM + " holds its home buckets of " + t + " again", 120_000,
          () -> of(t).status(VICTIM).getHolders().contains(VICTIM));
    }
    for (String t : TABLES) {
      String key = keyOfVictim();
      PodCluster.await("the zookeeper client of " + t + " routes pod " + VICTIM + "'s home bucket to it again, "
          + "with no call of its own since the restart", 60_000, () -> zkOf(t).ownerOf(key) == VICTIM);
    }
    writeBoth("after-return", 100);
    everyWriteReadsRight(0, 1, 2);
  }

  /** A key of bucket {@code VICTIM}, the victim's home bucket (bucket b's home is pod b mod PODS). */
  private static String keyOfVictim() {
    for (int i = 0; ; i++) {
      if (io.kvpod.contract.KeyPartitioner.bucket("victim-" + i, BUCKETS) == VICTIM) {
        return "victim-" + i;
      }
    }
  }

  /** The records of users' bulk-loaded layer, read through their holders, each right. */
  private void readUsersLoadedLayer() throws KvPodException {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      keys.add("loaded-" + i);
    }
    Map<String, Map<String, String>> got = users.multiGet(keys);
    for (String k : keys) {
      assertEquals(acked.get("users").get(k), got.get(k), k);
    }
  }

  @Test
  @Order(4)
  void aTableWhoseLayerOverflowsTheCacheLeavesTheOtherTablesGetsOnTheIoThread() throws Exception {
    // a bulk-loaded layer of orders, several times each pod's cache, published by one rename
    Map<String, TestLayers.Rec> big = new HashMap<>();
    for (int i = 0; i < BIG_LAYER_RECORDS; i++) {
      big.put("big-" + i, TestLayers.Rec.of(1, "orders-big-" + i + "-" + "x".repeat(80)));
    }
    String id = "1000000000001-load-0000bb";
    TableLayout staged = new TableLayout(cluster.root + "-staging", "orders");
    TestLayers.write(cluster.hdfs.conf(), cluster.hdfs.fs(), staged, id, BUCKETS, big);
    TableLayout live = new TableLayout(cluster.root, "orders");
    assertTrue(cluster.hdfs.fs().rename(staged.layerDir(id), live.layerDir(id)));
    PodCluster.await("every pod serves orders' new layer", 60_000, () -> {
      for (int pod = 0; pod < PODS; pod++) {
        if (orders.status(pod).getLayers().stream().noneMatch(l -> l.getLayerId().equals(id))) {
          return false;
        }
      }
      return true;
    });

    // read all of it, keeping users' blocks the most recently used (as a table in use is)
    List<String> keys = new ArrayList<>(big.keySet());
    for (int from = 0; from < keys.size(); from += 200) {
      List<String> some = keys.subList(from, Math.min(keys.size(), from + 200));
      Map<String, Map<String, String>> got = orders.multiGet(some);
      for (String k : some) {
        assertEquals(big.get(k).value(), got.get(k), k);
      }
      readUsersLoadedLayer();
    }
    for (int pod = 0; pod < PODS; pod++) {
      assertTrue(metric(pod, "kvpod_block_cache_evicted_blocks") > 0, "pod " + pod + "'s cache evicted for room");
      assertTrue(metric(pod, "kvpod_block_cache_evicted_files") > 0, "pod " + pod + " names the files that lost blocks");
    }

    // users' files lost nothing: their gets are still answered on the I/O thread
    double before = inlineGets();
    for (int i = 0; i < 200; i++) {
      assertEquals(acked.get("users").get("loaded-" + i), users.get("loaded-" + i));
    }
    assertTrue(inlineGets() > before, "an eviction of orders' blocks sent users' gets to worker threads");
  }
}
