package io.kvpod.pod;

import io.kvpod.contract.Membership;
import io.kvpod.zk.RegistryTree;
import java.io.Closeable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pod's presence in the ZooKeeper registry ({@code kvpod.coordination=zookeeper}): its own
 * ephemeral node (address, state, the buckets it holds), and a mirror of the holder records
 * and the membership that this pod reads on HDFS ({@link RegistryTree}). Every pod mirrors
 * what it sees, so a change is in ZooKeeper as soon as the first pod that sees it has
 * written it; the writes are compare-and-set and only move forward, so the pods never undo
 * each other.
 *
 * <p>The table's {@code identity} node names the table directory and its creation time. A
 * pod mirrors only into a registry of its own table: it takes over one left by an older
 * table of the same directory (deleted and made again), and stays out of one that another
 * table, or a newer one, uses.
 *
 * <p>Nothing here decides anything: ZooKeeper being slow, down or partitioned away changes
 * what clients hear and when, never who holds a bucket. Failures are logged (throttled) and
 * the mirror catches up once ZooKeeper answers. After a reconnection or a new session, and
 * every {@code resyncMillis} anyway, the pod checks every node again, so a registry that was
 * wiped or restored from an old snapshot is written again.
 *
 * <p>Owns the Curator client it is given. One thread, {@code zk-registration}, does all the
 * writing every {@link #INTERVAL_MILLIS}.
 */
final class ZkRegistration implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(ZkRegistration.class);
  /** How often the mirror looks for changes to write; reading the suppliers costs nothing. */
  static final long INTERVAL_MILLIS = 50;
  /** How often every node is checked again, changed or not (a wiped or restored registry is written again). */
  static final long RESYNC_MILLIS = 60_000;

  private final CuratorFramework zk;
  private final RegistryTree tree;
  private final String identity;
  private final int self;
  private final String address;
  private final Supplier<Ownership.View> view;
  private final Supplier<Set<Integer>> held;
  private final Supplier<Membership> members;
  private final long resyncNanos;
  private final PersistentNode node;
  private final LogThrottle failures = new LogThrottle(1, TimeUnit.SECONDS);
  private final Thread thread;
  /** Set by the connection listener: check every node again on the next round. */
  private volatile boolean resync = true;
  // The rest is the mirror thread's own.
  private boolean identityChecked;
  private boolean foreign;
  private boolean nodeStarted;
  private long lastResyncNanos = System.nanoTime();
  /** Per bucket, the highest epoch known to be in ZooKeeper; -1 until known. */
  private long[] mirrored = new long[0];
  private long mirroredMembers = -1;
  private Ownership.View lastView;
  private RegistryTree.PodNode lastNode;

  /**
   * @param identity     what makes this table this table: its directory and creation time
   * @param resyncMillis how often every node is checked again even with no change seen
   */
  ZkRegistration(CuratorFramework zk, String table, String identity, int self, String address,
      Supplier<Ownership.View> view, Supplier<Set<Integer>> held, Supplier<Membership> members, long resyncMillis) {
    this.zk = zk;
    this.tree = new RegistryTree(table);
    this.identity = identity;
    this.self = self;
    this.address = address;
    this.view = view;
    this.held = held;
    this.members = members;
    this.resyncNanos = TimeUnit.MILLISECONDS.toNanos(resyncMillis);
    this.lastNode = podNode();
    this.node = new PersistentNode(zk, CreateMode.EPHEMERAL, false, tree.podPath(self), lastNode.format());
    this.thread = new Thread(this::run, "zk-registration");
    this.thread.setDaemon(true);
  }

  /** Starts registering and mirroring, in the background: ZooKeeper need not be reachable now. */
  void start() {
    zk.getConnectionStateListenable().addListener((client, state) -> {
      if (state == ConnectionState.RECONNECTED || state == ConnectionState.LOST) {
        resync = true;
      }
      if (state == ConnectionState.SUSPENDED || state == ConnectionState.LOST) {
        LOG.warn("pod {}: ZooKeeper connection {}; serving goes on, the registry catches up once it is back",
            self, state);
      } else {
        LOG.info("pod {}: ZooKeeper connection {}", self, state);
      }
    });
    thread.start();
  }

  private RegistryTree.PodNode podNode() {
    Membership.Member me = members.get().member(self);
    String state = me == null ? "leaving" : me.state().name();
    List<Integer> holds = new ArrayList<>(held.get());
    holds.sort(null);
    return new RegistryTree.PodNode(address, state, holds);
  }

  private void run() {
    try {
      while (!Thread.currentThread().isInterrupted()) {
        try {
          mirrorOnce();
        } catch (InterruptedException e) {
          throw e;
        } catch (Exception e) { // Curator declares Exception; every failure here waits for the next round
          long n = failures.count();
          if (n > 0) {
            LOG.warn("pod {}: could not update the ZooKeeper registry ({} failures so far); retrying: {}", self, n,
                e.toString());
          }
        }
        Thread.sleep(INTERVAL_MILLIS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // closing
    }
  }

  /** One round: the table's identity, this pod's node, the membership, the holders; each only if changed. */
  private void mirrorOnce() throws Exception {
    if (resync || System.nanoTime() - lastResyncNanos > resyncNanos) {
      resync = false;
      lastResyncNanos = System.nanoTime();
      identityChecked = false;
      mirroredMembers = -1;
      Arrays.fill(mirrored, -1);
      lastView = null;
    }
    if (!identityChecked) {
      foreign = !claimIdentity();
      identityChecked = true;
    }
    if (foreign) {
      return;
    }
    if (!nodeStarted) {
      node.start();
      nodeStarted = true;
    }
    RegistryTree.PodNode now = podNode();
    if (!now.equals(lastNode) && node.getActualPath() != null) { // before the first create, start() has the data
      node.setData(now.format());
      lastNode = now;
    }
    Membership m = members.get();
    if (m.version() > mirroredMembers) {
      mirroredMembers = forward(tree.membersPath(), m.version(), m.format(), d -> {
        Membership there = RegistryTree.parseMembers(d);
        return there == null ? -1 : there.version();
      });
    }
    Ownership.View v = view.get();
    if (v == lastView) {
      return;
    }
    if (mirrored.length != v.holdings().length) {
      mirrored = new long[v.holdings().length];
      Arrays.fill(mirrored, -1);
    }
    for (int b = 0; b < mirrored.length; b++) {
      Ownership.Holding h = v.of(b);
      if (h.holder() >= 0 && h.epoch() > mirrored[b]) {
        mirrored[b] = forward(tree.holderPath(b), h.epoch(), new RegistryTree.HolderNode(h.epoch(), h.holder()).format(),
            d -> {
              RegistryTree.HolderNode there = RegistryTree.HolderNode.parse(d);
              return there == null ? -1 : there.epoch();
            });
      }
    }
    lastView = v;
  }

  /**
   * Makes sure the registry is this table's: writes its identity if there is none; takes the
   * registry over (deleting the holders and membership there) from an older table of the
   * same directory; returns false, and logs, if another table, or a newer one, uses it.
   */
  private boolean claimIdentity() throws Exception {
    while (true) {
      Stat stat = new Stat();
      String there;
      try {
        there = new String(zk.getData().storingStatIn(stat).forPath(tree.identityPath()),
            java.nio.charset.StandardCharsets.UTF_8);
      } catch (KeeperException.NoNodeException e) {
        try {
          zk.create().creatingParentContainersIfNeeded().forPath(tree.identityPath(), RegistryTree.identity(identity));
          return true;
        } catch (KeeperException.NodeExistsException raced) {
          continue;
        }
      }
      String ours = new String(RegistryTree.identity(identity), java.nio.charset.StandardCharsets.UTF_8);
      if (there.equals(ours)) {
        return true;
      }
      if (!RegistryTree.replaces(ours, there)) {
        LOG.error("pod {}: the ZooKeeper registry of table {} belongs to another table ({}), not this one ({}); "
            + "not registering. Give each cluster its own root (kvpod.zookeeper.quorum=host:port/root)", self,
            tree.tablePath(), there.trim(), ours.trim());
        return false;
      }
      LOG.warn("pod {}: the ZooKeeper registry of table {} is left from an older table of the same directory ({}); "
          + "replacing it", self, tree.tablePath(), there.trim());
      try {
        zk.setData().withVersion(stat.getVersion()).forPath(tree.identityPath(), RegistryTree.identity(identity));
      } catch (KeeperException.BadVersionException raced) {
        continue;
      }
      zk.delete().quietly().deletingChildrenIfNeeded().forPath(tree.holdersPath());
      zk.delete().quietly().forPath(tree.membersPath());
      return true;
    }
  }

  /** Reads the order ({@code version} or {@code epoch}) of a node's content; -1 if unreadable. */
  @FunctionalInterface
  private interface Order {
    long of(byte[] data);
  }

  /**
   * Makes {@code path} hold {@code data}, of order {@code order}, unless it already holds
   * something of that order or higher. Returns the order the node holds afterwards.
   */
  private long forward(String path, long order, byte[] data, Order orderOf) throws Exception {
    while (true) {
      Stat stat = new Stat();
      try {
        long there = orderOf.of(zk.getData().storingStatIn(stat).forPath(path));
        if (there >= order) {
          return there;
        }
        zk.setData().withVersion(stat.getVersion()).forPath(path, data);
        return order;
      } catch (KeeperException.NoNodeException e) {
        try {
          zk.create().creatingParentContainersIfNeeded().forPath(path, data);
          return order;
        } catch (KeeperException.NodeExistsException raced) {
          // another pod created it first: read it and decide again
        }
      } catch (KeeperException.BadVersionException raced) {
        // another pod changed it meanwhile: read it and decide again
      }
    }
  }

  /**
   * Stops mirroring and ends this pod's session, which removes its node at once if
   * ZooKeeper answers (clients stop calling it); if ZooKeeper does not, the node goes when
   * the session times out. Never waits for ZooKeeper beyond Curator's own close.
   */
  @Override
  public void close() {
    thread.interrupt();
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    zk.close(); // not node.close(): its guaranteed delete retries for tens of seconds while ZooKeeper is down
  }
}
