package io.kvpod.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.Membership;
import io.kvpod.thrift.KvPodException;
import io.kvpod.zk.LoopbackZooKeeper;
import io.kvpod.zk.RegistryTree;
import io.kvpod.zk.ZkAddress;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A client that finds a table's pods in ZooKeeper, against a real ZooKeeper server and a
 * registry written by hand: it routes by the holder nodes, follows their changes without
 * calling any pod, and never calls a pod that has no node. The "pods" are sockets that count
 * connections and close them.
 */
class ZkDiscoveryTest {
  private static final int BUCKETS = 4;
  private final RegistryTree tree = new RegistryTree("t");
  private TestingServer server;
  private String registry;
  private CuratorFramework writer;
  private final List<CountingSocket> pods = new ArrayList<>();

  /** Accepts connections, counts them, and closes them. */
  private static final class CountingSocket implements AutoCloseable {
    final ServerSocket socket;
    final AtomicInteger accepted = new AtomicInteger();

    CountingSocket() throws IOException {
      socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread t = new Thread(() -> {
        while (!socket.isClosed()) {
          try (Socket s = socket.accept()) {
            accepted.incrementAndGet();
          } catch (IOException e) {
            return; // closed
          }
        }
      }, "counting-socket");
      t.setDaemon(true);
      t.start();
    }

    String address() {
      return "127.0.0.1:" + socket.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  @BeforeEach
  void start() throws Exception {
    server = LoopbackZooKeeper.server();
    registry = server.getConnectString() + "/discovery-test";
    writer = ZkAddress.parse(registry).connect(5000, 5000);
    pods.add(new CountingSocket());
    pods.add(new CountingSocket());
    Membership m = Membership.seed(List.of(pods.get(0).address(), pods.get(1).address()), BUCKETS);
    writer.create().creatingParentContainersIfNeeded().forPath(tree.membersPath(), m.format());
    for (int b = 0; b < BUCKETS; b++) {
      writer.create().creatingParentContainersIfNeeded().forPath(tree.holderPath(b),
          new RegistryTree.HolderNode(0, b % 2).format());
    }
    register(0);
  }

  @AfterEach
  void stop() throws Exception {
    for (CountingSocket s : pods) {
      s.close();
    }
    if (writer != null) {
      writer.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private void register(int pod) throws Exception {
    writer.create().creatingParentContainersIfNeeded().forPath(tree.podPath(pod),
        new RegistryTree.PodNode(pods.get(pod).address(), "active", List.of()).format());
  }

  private KvPodClient client() {
    return KvPodClient.builder().zookeeper(registry).table("t").silentAfterMs(0) // no polling: only watches
        .callTimeoutMs(1000).deadlineMs(3000).maxClockSkewMs(100).maxAttempts(4).zookeeperTimeoutMs(10_000).build();
  }

  private static String keyOf(int bucket) {
    for (int i = 0; ; i++) {
      if (KeyPartitioner.bucket("k" + i, BUCKETS) == bucket) {
        return "k" + i;
      }
    }
  }

  private static void await(String what, java.util.function.BooleanSupplier ok) throws InterruptedException {
    long deadline = System.currentTimeMillis() + 30_000;
    while (!ok.getAsBoolean()) {
      if (System.currentTimeMillis() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(20);
    }
  }

  @Test
  void routesByTheRegistryAndFollowsAHolderChangeWithoutCallingAnyPod() throws Exception {
    String key = keyOf(1);
    try (KvPodClient c = client()) {
      assertEquals(List.of(0, 1), c.podIds());
      assertEquals(1, c.ownerOf(key));
      writer.setData().forPath(tree.holderPath(1), new RegistryTree.HolderNode(2, 0).format());
      await("the client routes bucket 1 to its new holder", () -> c.ownerOf(key) == 0);
      writer.setData().forPath(tree.holderPath(1), new RegistryTree.HolderNode(1, 1).format());
      Thread.sleep(500); // an older epoch arriving late: nothing to wait for, it must change nothing
      assertEquals(0, c.ownerOf(key), "an older epoch does not undo a newer one");
    }
    assertEquals(0, pods.get(0).accepted.get() + pods.get(1).accepted.get(), "no pod was called");
  }

  @Test
  void aPodWithoutANodeIsNeverCalledEvenWhenItHoldsTheKey() throws Exception {
    String key = keyOf(1); // held by pod 1, which has no node
    try (KvPodClient c = client()) {
      assertThrows(KvPodException.class, () -> c.get(key));
      assertThrows(KvPodException.class, () -> c.getVia(1, key));
      assertEquals(0, pods.get(1).accepted.get(), "pod 1 has no node: not called");
      assertTrue(pods.get(0).accepted.get() > 0, "the calls went to the registered pod");
      register(1);
      await("pod 1 is called once it registers", () -> {
        try {
          c.getVia(1, key);
        } catch (KvPodException e) {
          // the counting socket answers nothing
        }
        return pods.get(1).accepted.get() > 0;
      });
    }
  }

  @Test
  void aTableWithNoRegistrationOrAnUnreachableZooKeeperIsAClearError() throws Exception {
    IllegalStateException none = assertThrows(IllegalStateException.class,
        () -> KvPodClient.builder().zookeeper(registry).table("nope").build());
    assertTrue(none.getMessage().contains("kvpod.coordination=zookeeper"), none.getMessage());
    int dead;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      dead = s.getLocalPort();
    }
    IllegalStateException down = assertThrows(IllegalStateException.class,
        () -> KvPodClient.builder().zookeeper("127.0.0.1:" + dead).table("t").zookeeperTimeoutMs(1500).build());
    assertTrue(down.getMessage().contains("did not answer"), down.getMessage());
    IllegalArgumentException noTable = assertThrows(IllegalArgumentException.class,
        () -> KvPodClient.builder().zookeeper(registry).build());
    assertTrue(noTable.getMessage().contains("table"), noTable.getMessage());
  }

  @Test
  void aClientStartingOnAHalfWrittenMirrorRoutesByFirstHoldersThatAnyRecordReplaces() throws Exception {
    for (int b = 0; b < BUCKETS; b++) {
      writer.delete().forPath(tree.holderPath(b)); // members written, holders not yet
    }
    Membership joined = Membership.seed(List.of(pods.get(0).address(), pods.get(1).address()), BUCKETS)
        .join("127.0.0.1:1");
    writer.setData().forPath(tree.membersPath(), joined.format());
    String key = keyOf(2);
    try (KvPodClient c = client()) {
      assertEquals(joined.firstHolder(2), c.ownerOf(key), "epoch 0: the first holder, b mod 2");
      writer.create().forPath(tree.holderPath(2), new RegistryTree.HolderNode(1, 2).format());
      await("a record's node replaces the first holder", () -> c.ownerOf(key) == 2);
    }
  }

  @Test
  void withNoPodRegisteredEveryPodIsCalled() throws Exception {
    writer.delete().forPath(tree.podPath(0));
    String key = keyOf(1);
    try (KvPodClient c = client()) {
      assertThrows(KvPodException.class, () -> c.get(key));
      assertTrue(pods.get(1).accepted.get() > 0, "ZooKeeper says nothing of who is up: the holder was called");
    }
  }
}
