package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PodConfigTest {
  private Map<String, String> base() {
    Map<String, String> m = new HashMap<>();
    m.put(PodConfig.PODS, "127.0.0.1:7000,127.0.0.1:7001");
    m.put(PodConfig.POD_ID, "1");
    m.put(PodConfig.ROOT, "file:///tmp/x");
    m.put(PodConfig.SECRET, "0123456789");
    return m;
  }

  private String failure(Map<String, String> m) {
    return assertThrows(IllegalArgumentException.class, () -> PodConfig.of(m)).getMessage();
  }

  @Test
  void validConfigGivesPodsAndDefaults() {
    PodConfig c = PodConfig.of(base());
    assertEquals(2, c.pods().size());
    assertEquals(7001, c.self().getPort());
    assertEquals("127.0.0.1", c.bindHost());
    assertEquals(5000, c.values().getMillis(PodConfig.LAYERS_POLL));
    assertEquals("default", c.values().getString(PodConfig.TABLE));
  }

  @Test
  void errorsNameTheKeyAndTheProblem() {
    Map<String, String> m = base();
    m.remove(PodConfig.ROOT);
    assertTrue(failure(m).contains("kvpod.root is required"));
    m = base();
    m.put(PodConfig.POD_ID, "2");
    assertTrue(failure(m).contains("lists only 2 pods"));
    m = base();
    m.put(PodConfig.PODS, "nohostport");
    assertTrue(failure(m).contains("expected host:port"));
    m = base();
    m.put(PodConfig.LAYERS_POLL, "soon");
    assertTrue(failure(m).contains("kvpod.layers.poll.interval"));
    m = base();
    m.put("kvpod.layer.pol", "1s");
    assertTrue(failure(m).contains("unknown config key kvpod.layer.pol"));
    m = base();
    m.put(PodConfig.WORKER_THREADS, "1");
    assertTrue(failure(m).contains("must be in [2, 1024]"));
    m = base();
    m.put(PodConfig.TABLE, "users,orders,users");
    assertTrue(failure(m).contains("table 'users' is named twice"), failure(m));
    m = base();
    m.put(PodConfig.TABLE, "users,");
    assertTrue(failure(m).contains("bad table name ''"), failure(m));
  }

  @Test
  void tablesAreListedDefaultFirst() {
    Map<String, String> m = base();
    m.put(PodConfig.TABLE, "users, orders");
    assertEquals(java.util.List.of("users", "orders"), PodConfig.of(m).tables());
    assertEquals(java.util.List.of("default"), PodConfig.of(base()).tables(), "one table, named default, unless set");
  }

  @Test
  void zookeeperCoordinationNeedsAWellFormedQuorumAndHdfsNeedsNone() {
    assertEquals(null, PodConfig.of(base()).zookeeper(), "hdfs by default: no registry");
    Map<String, String> m = base();
    m.put(PodConfig.COORDINATION, "zookeeper");
    assertTrue(failure(m).contains("kvpod.coordination=zookeeper needs kvpod.zookeeper.quorum"));
    m.put(PodConfig.ZK_QUORUM, "zk1");
    assertTrue(failure(m).contains("bad ZooKeeper server 'zk1'"));
    m.put(PodConfig.ZK_QUORUM, "zk1:2181,zk2:2181");
    assertEquals(new io.kvpod.zk.ZkAddress("zk1:2181,zk2:2181", "/kvpod"), PodConfig.of(m).zookeeper());
    m.put(PodConfig.COORDINATION, "etcd");
    assertTrue(failure(m).contains("must be one of hdfs, zookeeper"));
  }

  @Test
  void tlsNeedsBothStoresAndTheNettyServerAndClientCertificatesNeedTls() {
    Map<String, String> m = base();
    m.put(PodConfig.TLS_ENABLED, "true");
    m.put(PodConfig.TLS_TRUSTSTORE, "/etc/kvpod/trust.p12");
    assertTrue(failure(m).contains("kvpod.tls.keystore is required with kvpod.tls.enabled=true"), failure(m));
    m.put(PodConfig.TLS_KEYSTORE, "/etc/kvpod/pod.p12");
    m.put(PodConfig.SERVER_TRANSPORT, "selector");
    assertTrue(failure(m).contains("selector cannot serve TLS"), failure(m));
    m.put(PodConfig.SERVER_TRANSPORT, "auto");
    assertEquals("auto", PodConfig.of(m).values().getString(PodConfig.SERVER_TRANSPORT));
    m = base();
    m.put(PodConfig.TLS_CLIENT_AUTH, "require");
    assertTrue(failure(m).contains("kvpod.tls.client.auth=require needs kvpod.tls.enabled=true"), failure(m));
  }

  @Test
  void waitingWritesDefaultToThreeQuartersOfTheWorkersAndMustStayBelowThem() {
    Map<String, String> m = base();
    m.put(PodConfig.WORKER_THREADS, "8");
    assertEquals(6, PodConfig.of(m).waitingWrites());
    m.put(PodConfig.WAITING_WRITES, "7");
    assertEquals(7, PodConfig.of(m).waitingWrites());
    m.put(PodConfig.WAITING_WRITES, "8");
    assertTrue(failure(m).contains("kvpod.server.waiting.writes=8 must be below kvpod.server.worker.threads=8"),
        failure(m));
  }

  @Test
  void usageListsEveryKeyWithItsDefault() {
    String u = PodConfig.DEF.usage();
    for (var k : PodConfig.DEF.keys()) {
      assertTrue(u.contains(k.name()), k.name());
    }
    assertTrue(u.contains("kvpod.layers.poll.interval (duration_ms, default '5s')"), u);
  }
}
