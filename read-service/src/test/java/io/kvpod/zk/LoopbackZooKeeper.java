package io.kvpod.zk;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.apache.curator.test.TestingServer;

/**
 * Real ZooKeeper servers for tests, from Curator's test kit, bound to loopback only: one
 * server, or an ensemble in this JVM. Close what you get.
 */
public final class LoopbackZooKeeper {
  static {
    System.setProperty("zookeeper.admin.enableServer", "false"); // no Jetty admin server on 8080
  }

  private LoopbackZooKeeper() {}

  private static InstanceSpec spec(int serverId) {
    return new InstanceSpec(null, -1, -1, -1, true, serverId, 500, -1, Map.of(), "127.0.0.1");
  }

  /** One started server (tick 500 ms: sessions of 1 to 10 s). */
  public static TestingServer server() throws Exception {
    return new TestingServer(spec(1), true);
  }

  /** A started ensemble of {@code n} servers (tick 500 ms). */
  public static TestingCluster ensemble(int n) throws Exception {
    List<InstanceSpec> specs = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      specs.add(spec(i));
    }
    TestingCluster c = new TestingCluster(specs);
    c.start();
    return c;
  }

  /** What server {@code spec} says it is ({@code srvr}'s "Mode:": leader, follower, standalone), or null. */
  public static String mode(InstanceSpec spec) {
    return io.kvpod.local.LocalZooKeeper.mode(spec.getPort());
  }

  /** The ensemble's leader now, or null if none answers as one. */
  public static InstanceSpec leader(TestingCluster c) {
    for (InstanceSpec s : c.getInstances()) {
      if ("leader".equals(mode(s))) {
        return s;
      }
    }
    return null;
  }
}
