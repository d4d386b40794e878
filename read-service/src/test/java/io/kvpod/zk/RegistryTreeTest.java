package io.kvpod.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class RegistryTreeTest {
  @Test
  void podNodeRoundTripsAndReadsAsDocumented() {
    RegistryTree.PodNode n = new RegistryTree.PodNode("10.0.0.7:9090", "ACTIVE", List.of(0, 3, 6));
    assertEquals("address=10.0.0.7:9090\nstate=active\nholds=0,3,6\n", new String(n.format(), StandardCharsets.UTF_8));
    assertEquals(new RegistryTree.PodNode("10.0.0.7:9090", "active", List.of(0, 3, 6)),
        RegistryTree.PodNode.parse(n.format()));
    RegistryTree.PodNode none = new RegistryTree.PodNode("h:1", "joining", List.of());
    assertEquals(none, RegistryTree.PodNode.parse(none.format()));
  }

  @Test
  void holderNodeRoundTrips() {
    RegistryTree.HolderNode h = new RegistryTree.HolderNode(12, 2);
    assertEquals("epoch=12\nholder=2\n", new String(h.format(), StandardCharsets.UTF_8));
    assertEquals(h, RegistryTree.HolderNode.parse(h.format()));
  }

  @Test
  void contentOutsideTheGrammarReadsAsNull() {
    for (String bad : List.of("", "epoch=1\n", "epoch=1\nholder=-1\n", "epoch=x\nholder=1\n", "epoch=1\nholder=1")) {
      assertNull(RegistryTree.HolderNode.parse(bad.getBytes(StandardCharsets.UTF_8)), bad);
    }
    for (String bad : List.of("", "address=h:1\nstate=dead\nholds=\n", "address=h\nstate=active\nholds=\n",
        "address=h:1\nstate=active\nholds=1,\n")) {
      assertNull(RegistryTree.PodNode.parse(bad.getBytes(StandardCharsets.UTF_8)), bad);
    }
  }

  @Test
  void pathsNameTheirBucketOrPod() {
    RegistryTree t = new RegistryTree("users");
    assertEquals("/tables/users/holders/7", t.holderPath(7));
    assertEquals(7, t.bucketOf(t.holderPath(7)));
    assertEquals(2, t.podOf(t.podPath(2)));
    assertEquals(-1, t.bucketOf(t.podPath(2)));
    assertEquals(-1, t.podOf(t.podsPath()));
    assertEquals(-1, t.bucketOf(t.holdersPath() + "/x"));
  }

  @Test
  void addressTakesARootOrDefaultsToKvpod() {
    assertEquals(new ZkAddress("zk1:2181,zk2:2181", "/kvpod"), ZkAddress.parse("zk1:2181,zk2:2181"));
    assertEquals(new ZkAddress("zk1:2181", "/prod/kvpod"), ZkAddress.parse("zk1:2181/prod/kvpod"));
    assertEquals(new ZkAddress("zk1:2181", "/kvpod"), ZkAddress.parse("zk1:2181/"));
    for (String bad : List.of("", "zk1", "zk1:", "zk1:x", "zk1:2181/a//b", "zk1:2181/a/", ":2181")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ZkAddress.parse(bad), bad);
      assertTrue(e.getMessage().contains("ZooKeeper"), e.getMessage());
    }
  }

  @Test
  void aRegistryIsTakenOverOnlyFromAnOlderTableOfTheSameDirectory() {
    String ours = new String(RegistryTree.identity("hdfs://nn/kvpod/tables/t@2000"), StandardCharsets.UTF_8);
    assertEquals("table=hdfs://nn/kvpod/tables/t\ncreated=2000\n", ours);
    String older = new String(RegistryTree.identity("hdfs://nn/kvpod/tables/t@1000"), StandardCharsets.UTF_8);
    String newer = new String(RegistryTree.identity("hdfs://nn/kvpod/tables/t@3000"), StandardCharsets.UTF_8);
    String other = new String(RegistryTree.identity("hdfs://nn2/kvpod/tables/t@1000"), StandardCharsets.UTF_8);
    assertTrue(RegistryTree.replaces(ours, older));
    assertTrue(RegistryTree.replaces(ours, "garbage"), "content outside the grammar is replaced");
    assertTrue(!RegistryTree.replaces(ours, newer), "a newer table's registry is left alone");
    assertTrue(!RegistryTree.replaces(ours, other), "another directory's registry is left alone");
  }
}
