package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.kvpod.contract.Membership;
import io.kvpod.zk.LoopbackZooKeeper;
import io.kvpod.zk.RegistryTree;
import io.kvpod.zk.ZkAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link ZkRegistration} against a real ZooKeeper server on loopback. */
class ZkRegistrationTest {
  private static final int BUCKETS = 4;
  private TestingServer server;
  private ZkAddress address;
  private CuratorFramework reader;
  private final RegistryTree tree = new RegistryTree("t");

  @BeforeEach
  void start() throws Exception {
    server = LoopbackZooKeeper.server();
    address = ZkAddress.parse(server.getConnectString() + "/registration-test");
    reader = address.connect(5000, 5000);
  }

  @AfterEach
  void stop() throws Exception {
    if (reader != null) {
      reader.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private static Ownership.View view(Membership m, long[] epochs, int[] holders) {
    Ownership.Holding[] h = new Ownership.Holding[BUCKETS];
    for (int b = 0; b < BUCKETS; b++) {
      h[b] = new Ownership.Holding(holders[b], epochs[b]);
    }
    return new Ownership.View(h, System.nanoTime(), m);
  }

  private ZkRegistration registration(int pod, AtomicReference<Ownership.View> view, Set<Integer> held,
      AtomicReference<Membership> members) {
    return registration(pod, view, held, members, "hdfs://nn/kvpod/tables/t@1000");
  }

  private ZkRegistration registration(int pod, AtomicReference<Ownership.View> view, Set<Integer> held,
      AtomicReference<Membership> members, String identity) {
    return new ZkRegistration(address.connect(5000, 5000), "t", identity, pod, "127.0.0.1:" + (9000 + pod),
        view::get, () -> held, members::get, 300);
  }

  private byte[] data(String path) throws Exception {
    return reader.checkExists().forPath(path) == null ? null : reader.getData().forPath(path);
  }

  private RegistryTree.HolderNode holder(int bucket) throws Exception {
    byte[] d = data(tree.holderPath(bucket));
    return d == null ? null : RegistryTree.HolderNode.parse(d);
  }

  @Test
  void mirrorsOnlyMoveForwardWhenPodsSeeDifferentViews() throws Exception {
    Membership v0 = Ownership.seed(3, BUCKETS);
    Membership v1 = v0.join("pod3:0");
    // Pod 0 has seen bucket 1 taken over at epoch 3 and the join; pod 1 lags on both, but has
    // seen a takeover of bucket 2 that pod 0 has not.
    AtomicReference<Ownership.View> ahead = new AtomicReference<>(
        view(v1, new long[] {0, 3, 0, 0}, new int[] {0, 0, 2, 0}));
    AtomicReference<Ownership.View> behind = new AtomicReference<>(
        view(v0, new long[] {0, 2, 5, 0}, new int[] {0, 2, 1, 0}));
    try (ZkRegistration p0 = registration(0, ahead, Set.of(0, 1, 3), new AtomicReference<>(v1))) {
      p0.start();
      PodCluster.await("pod 0's view is mirrored", 30_000, () -> new RegistryTree.HolderNode(3, 0).equals(holder(1)));
      try (ZkRegistration p1 = registration(1, behind, Set.of(2), new AtomicReference<>(v0))) {
        p1.start();
        // Pod 1 handles bucket 1 before bucket 2 in each round: once bucket 2 shows its
        // takeover, it has also tried bucket 1 with its older epoch.
        PodCluster.await("pod 1's newer holding of bucket 2 is mirrored", 30_000,
            () -> new RegistryTree.HolderNode(5, 1).equals(holder(2)));
        assertEquals(new RegistryTree.HolderNode(3, 0), holder(1), "an older epoch never replaces a newer one");
        assertEquals(new RegistryTree.HolderNode(0, 0), holder(0));
        assertEquals(1, Membership.parse(data(tree.membersPath())).version(), "nor an older membership a newer one");
        PodCluster.await("both pods are registered", 30_000, () -> data(tree.podPath(1)) != null);
        assertEquals(new RegistryTree.PodNode("127.0.0.1:9001", "active", List.of(2)),
            RegistryTree.PodNode.parse(data(tree.podPath(1))));
        assertEquals(new RegistryTree.PodNode("127.0.0.1:9000", "active", List.of(0, 1, 3)),
            RegistryTree.PodNode.parse(data(tree.podPath(0))));
      }
      assertNull(data(tree.podPath(1)), "a pod that stops removes its node at once");
      assertNotNull(data(tree.podPath(0)));
      ahead.set(view(v1, new long[] {0, 3, 6, 0}, new int[] {0, 0, 0, 0}));
      PodCluster.await("a later change is mirrored too", 30_000,
          () -> new RegistryTree.HolderNode(6, 0).equals(holder(2)));
    }
  }

  @Test
  void aPodRegistersOnceZooKeeperComesBackAndMirrorsWhatChangedMeanwhile() throws Exception {
    Membership m = Ownership.seed(2, BUCKETS);
    AtomicReference<Ownership.View> view = new AtomicReference<>(view(m, new long[BUCKETS], new int[] {0, 1, 0, 1}));
    int port = server.getPort();
    server.stop();
    try (ZkRegistration p = registration(0, view, Set.of(0, 2), new AtomicReference<>(m))) {
      p.start(); // ZooKeeper is down: the pod starts anyway
      view.set(view(m, new long[] {0, 4, 0, 0}, new int[] {0, 0, 0, 1}));
      server.restart();
      assertEquals(port, server.getPort());
      PodCluster.await("the pod registered", 60_000, () -> data(tree.podPath(0)) != null);
      PodCluster.await("the change made while ZooKeeper was down is mirrored", 60_000,
          () -> new RegistryTree.HolderNode(4, 0).equals(holder(1)));
    }
  }

  @Test
  void aWipedOrMalformedRegistryIsWrittenAgain() throws Exception {
    Membership m = Ownership.seed(2, BUCKETS);
    AtomicReference<Ownership.View> view = new AtomicReference<>(view(m, new long[] {0, 2, 0, 0}, new int[] {0, 0, 0, 1}));
    reader.create().creatingParentContainersIfNeeded().forPath(tree.membersPath(),
        "version=9\nnot a membership".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    try (ZkRegistration p = registration(0, view, Set.of(0, 1, 2), new AtomicReference<>(m))) {
      p.start();
      PodCluster.await("a malformed membership node is replaced", 30_000,
          () -> RegistryTree.parseMembers(data(tree.membersPath())) != null);
      PodCluster.await("the holders are mirrored", 30_000, () -> new RegistryTree.HolderNode(2, 0).equals(holder(1)));
      reader.delete().deletingChildrenIfNeeded().forPath(tree.holdersPath());
      reader.delete().forPath(tree.membersPath());
      PodCluster.await("a wiped registry is written again", 30_000,
          () -> new RegistryTree.HolderNode(2, 0).equals(holder(1)) && data(tree.membersPath()) != null);
    }
  }

  @Test
  void aPodTakesOverItsOwnTablesOlderRegistryButNeverAnotherTables() throws Exception {
    Membership m = Ownership.seed(2, BUCKETS);
    AtomicReference<Ownership.View> view = new AtomicReference<>(view(m, new long[BUCKETS], new int[] {0, 1, 0, 1}));
    // A registry left by the same directory's older table, with a higher epoch than ours.
    reader.create().creatingParentContainersIfNeeded().forPath(tree.identityPath(),
        RegistryTree.identity("hdfs://nn/kvpod/tables/t@500"));
    reader.create().creatingParentContainersIfNeeded().forPath(tree.holderPath(1),
        new RegistryTree.HolderNode(7, 0).format());
    try (ZkRegistration p = registration(0, view, Set.of(0, 2), new AtomicReference<>(m))) {
      p.start();
      PodCluster.await("the older table's holders are replaced", 30_000,
          () -> new RegistryTree.HolderNode(0, 1).equals(holder(1)));
      PodCluster.await("and the pod registered", 30_000, () -> data(tree.podPath(0)) != null);
    }
    // Another table (another directory) now uses the registry: a pod of ours stays out of it.
    reader.setData().forPath(tree.identityPath(), RegistryTree.identity("hdfs://other/kvpod/tables/t@9000"));
    try (ZkRegistration p = registration(1, view, Set.of(1, 3), new AtomicReference<>(m))) {
      p.start();
      Thread.sleep(1000); // nothing to wait for: it must write nothing; a round takes 50 ms
      assertNull(data(tree.podPath(1)), "no node in another table's registry");
    }
    assertEquals(new RegistryTree.HolderNode(0, 1), holder(1), "nor any mirror");
  }
}
