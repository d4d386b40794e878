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
 * <p>Nothing here decides anything: ZooKeeper being slow, down or partitioned away changes
 * what clients hear and when, never who holds a bucket. Failures are logged (throttled) and
 * the mirror catches up on the next round once ZooKeeper answers.
 *
 * <p>Owns the Curator client it is given. One thread, {@code zk-registration}, does all the
 * writing every {@link #INTERVAL_MILLIS}.
 */
final class ZkRegistration implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(ZkRegistration.class);
  /** How often the mirror looks for changes to write; reading the suppliers costs nothing. */
  static final long INTERVAL_MILLIS = 50;

  private final CuratorFramework zk;
  private final RegistryTree tree;
  private final int self;
  private final String address;
  private final Supplier<Ownership.View> view;
  private final Supplier<Set<Integer>> held;
  private final Supplier<Membership> members;
  private final PersistentNode node;
  private final LogThrottle failures = new LogThrottle(1, TimeUnit.SECONDS);
  private final Thread thread;
  /** Per bucket, the highest epoch known to be in ZooKeeper; -1 until known. Mirror thread only. */
  private long[] mirrored = new long[0];
  private long mirroredMembers = -1;
  private Ownership.View lastView;
  private RegistryTree.PodNode lastNode;

  ZkRegistration(CuratorFramework zk, String table, int self, String address, Supplier<Ownership.View> view,
      Supplier<Set<Integer>> held, Supplier<Membership> members) {
    this.zk = zk;
    this.tree = new RegistryTree(table);
    this.self = self;
    this.address = address;
    this.view = view;
    this.held = held;
    this.members = members;
    this.lastNode = podNode();
    this.node = new PersistentNode(zk, CreateMode.EPHEMERAL, false, tree.podPath(self), lastNode.format());
    this.thread = new Thread(this::run, "zk-registration");
    this.thread.setDaemon(true);
  }

  /** Creates this pod's node (in the background if ZooKeeper is not reachable now) and starts mirroring. */
  void start() {
    node.start();
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
            LOG.warn("could not update the ZooKeeper registry ({} failures so far); retrying: {}", n, e.toString());
          }
        }
        Thread.sleep(INTERVAL_MILLIS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // closing
    }
  }

  /** Writes whatever changed since the last round: this pod's node, the membership, the holders. */
  private void mirrorOnce() throws Exception {
    RegistryTree.PodNode now = podNode();
    if (!now.equals(lastNode)) {
      node.setData(now.format());
      lastNode = now;
    }
    Membership m = members.get();
    if (m.version() > mirroredMembers) {
      mirroredMembers = forward(tree.membersPath(), m.version(), m.format(), d -> {
        Membership there = Membership.parse(d);
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

  /** Removes this pod's node (clients stop calling it) and stops mirroring. Closes the Curator client. */
  @Override
  public void close() {
    thread.interrupt();
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      node.close();
    } catch (java.io.IOException e) {
      LOG.warn("could not remove pod {}'s ZooKeeper node; it goes when the session ends: {}", self, e.toString());
    }
    zk.close();
  }
}
