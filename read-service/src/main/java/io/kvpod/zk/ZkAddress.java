package io.kvpod.zk;

import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.BoundedExponentialBackoffRetry;

/**
 * Where kvpod's registry lives in ZooKeeper: {@code host:port[,host:port...][/root]}, the
 * form of a ZooKeeper connect string with a chroot. The root defaults to {@value #DEFAULT_ROOT};
 * everything kvpod writes is under it ({@link RegistryTree}). Pods
 * ({@code kvpod.zookeeper.quorum}), clients ({@code KvPodClient.builder().zookeeper(...)}) and
 * the CLI ({@code --zk}) take the same string. Immutable.
 */
public record ZkAddress(String hosts, String root) {
  public static final String DEFAULT_ROOT = "/kvpod";

  public ZkAddress {
    if (hosts.isBlank()) {
      throw new IllegalArgumentException("no ZooKeeper servers given: expected host:port[,host:port...][/root]");
    }
    if (!root.startsWith("/") || root.length() < 2 || root.endsWith("/") || root.contains("//")) {
      throw new IllegalArgumentException("bad ZooKeeper root '" + root + "': expected /name[/name...]");
    }
  }

  /** Parses {@code host:port[,host:port...][/root]}. */
  public static ZkAddress parse(String address) {
    String s = address.trim();
    int slash = s.indexOf('/');
    String hosts = slash < 0 ? s : s.substring(0, slash);
    String root = slash < 0 || slash == s.length() - 1 ? DEFAULT_ROOT : s.substring(slash);
    for (String h : hosts.split(",")) {
      int c = h.lastIndexOf(':');
      if (c <= 0 || c == h.length() - 1) {
        throw new IllegalArgumentException("bad ZooKeeper server '" + h + "' in '" + address
            + "': expected host:port[,host:port...][/root]");
      }
      try {
        Integer.parseInt(h.substring(c + 1).trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad port in ZooKeeper server '" + h + "' in '" + address + "'");
      }
    }
    return new ZkAddress(hosts, root);
  }

  /**
   * A started Curator client rooted at {@link #root} (as Curator's namespace, which it
   * creates on first use). It retries each operation 4 times, 100 ms doubling to 1 s apart
   * ({@link BoundedExponentialBackoffRetry}); while ZooKeeper is unreachable each try also
   * waits up to {@code connectTimeoutMs}, so an operation can take 5 times that before it
   * fails. Callers decide what a failure means. The caller closes it.
   */
  public CuratorFramework connect(int sessionTimeoutMs, int connectTimeoutMs) {
    CuratorFramework c = CuratorFrameworkFactory.builder()
        .connectString(hosts)
        .namespace(root.substring(1))
        .sessionTimeoutMs(sessionTimeoutMs)
        .connectionTimeoutMs(connectTimeoutMs)
        .retryPolicy(new BoundedExponentialBackoffRetry(100, 1000, 4))
        .build();
    c.start();
    return c;
  }

  /** Waits up to {@code millis} for the first connection; false if none was made. */
  public static boolean awaitConnected(CuratorFramework c, long millis) throws InterruptedException {
    return c.blockUntilConnected((int) Math.max(1, millis), TimeUnit.MILLISECONDS);
  }

  @Override
  public String toString() {
    return hosts + root;
  }
}
