package io.kvpod.client;

import io.kvpod.contract.Membership;
import io.kvpod.thrift.PodStatus;
import io.kvpod.zk.RegistryTree;
import io.kvpod.zk.ZkAddress;
import java.io.Closeable;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;

/**
 * A client's window on a table in the ZooKeeper registry ({@link RegistryTree}): a Curator
 * cache of the table's nodes, watched, so the client hears of a takeover or a pod joining,
 * leaving or dying as soon as ZooKeeper does, without asking a pod.
 *
 * <p>Each change is handed on as a {@link PodStatus} carrying only the routing fields
 * (holders, their epochs, the membership), the same way a pod's {@code status()} answer is,
 * so {@link HolderTable} merges both sources by epoch and version and neither can undo a
 * newer fact from the other. While ZooKeeper is unreachable the cache keeps what it had,
 * and the client goes on routing with it (and learning from the pods' answers).
 *
 * <p>{@link #registered} says which pods have a node: a pod whose node is gone (its session
 * ended, or it stopped) is not called. When no pod of the table has one, the registry says
 * nothing about who is up (the pods may be cut off from ZooKeeper alone, or all be
 * re-registering after an outage), and every pod counts as registered: ZooKeeper trouble
 * never stops the client from calling the pods.
 *
 * <p>A {@code members} node that goes missing or stops parsing changes nothing: the client
 * keeps the last membership and registrations it read (the pods write it again).
 *
 * <p>Thread-safe. Owns its Curator client; close it.
 */
final class ZkDiscovery implements Closeable {
  private final ZkAddress address;
  private final RegistryTree tree;
  private final CuratorFramework zk;
  private final CuratorCache cache;
  private final Consumer<PodStatus> onRouting;
  private final CountDownLatch initialized = new CountDownLatch(1);
  /** Which pod ids have a node; null while none has. Replaced, never changed in place. */
  private volatile boolean[] registered;
  /** The last membership read that parsed; null until one has. */
  private volatile Membership members;

  /**
   * Starts watching {@code table} under {@code address}; {@code onRouting} is told of every
   * change once the first full read is done (on Curator's event thread, one at a time).
   */
  ZkDiscovery(ZkAddress address, String table, int sessionTimeoutMs, int connectTimeoutMs,
      Consumer<PodStatus> onRouting) {
    this.address = address;
    this.tree = new RegistryTree(table);
    this.onRouting = onRouting;
    this.zk = address.connect(sessionTimeoutMs, connectTimeoutMs);
    this.cache = CuratorCache.build(zk, tree.tablePath());
    cache.listenable().addListener(CuratorCacheListener.builder()
        .forAll((type, before, after) -> {
          if (initialized.getCount() == 0) {
            changed();
          }
        })
        .forInitialized(() -> {
          changed();
          initialized.countDown();
        })
        .build());
    cache.start();
  }

  /**
   * Waits for the first full read of the table's nodes.
   *
   * @throws IllegalStateException if ZooKeeper did not answer in time, or the table has no
   *     pods registered there
   */
  void awaitFirstView(long millis) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    if (!ZkAddress.awaitConnected(zk, millis)
        || !initialized.await(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
      throw new IllegalStateException("ZooKeeper at " + address + " did not answer within " + millis + " ms");
    }
    if (members == null) {
      throw new IllegalStateException("table '" + tree.tablePath().substring("/tables/".length())
          + "' has no membership in ZooKeeper at " + address
          + (cache.get(tree.membersPath()).isPresent() ? " that can be read" : "")
          + ": are its pods running with kvpod.coordination=zookeeper and this kvpod.zookeeper.quorum?");
    }
  }

  /** Whether pod {@code id} has a node in the registry now (as far as this client has heard). */
  boolean registered(int id) {
    boolean[] r = registered;
    return r == null || (id >= 0 && id < r.length && r[id]);
  }

  /** Reads the cache and hands on the routing it shows. */
  private synchronized void changed() {
    Optional<ChildData> m = cache.get(tree.membersPath());
    Membership read = m.map(d -> RegistryTree.parseMembers(d.getData())).orElse(null);
    Membership last = this.members;
    if (read == null || (last != null && read.version() < last.version())) {
      return; // missing, or not readable: keep what was read last
    }
    this.members = read;
    boolean[] live = new boolean[read.slots()];
    boolean any = false;
    for (ChildData d : (Iterable<ChildData>) cache.stream()::iterator) {
      int id = tree.podOf(d.getPath());
      if (id >= 0 && id < live.length && RegistryTree.PodNode.parse(d.getData()) != null) {
        live[id] = true;
        any = true;
      }
    }
    registered = any ? live : null;
    List<Integer> holders = new ArrayList<>();
    List<Long> epochs = new ArrayList<>();
    for (int b = 0; b < read.buckets(); b++) {
      holders.add(read.firstHolder(b)); // no node yet: epoch 0 (no record), which any record's node beats
      epochs.add(0L);
    }
    cache.stream().forEach(d -> {
      int b = tree.bucketOf(d.getPath());
      RegistryTree.HolderNode h = b >= 0 && b < holders.size() ? RegistryTree.HolderNode.parse(d.getData()) : null;
      if (h != null) {
        holders.set(b, h.holder());
        epochs.set(b, h.epoch());
      }
    });
    List<String> addresses = new ArrayList<>();
    for (int p = 0; p < read.slots(); p++) {
      Membership.Member x = read.member(p);
      addresses.add(x == null ? "" : x.address());
    }
    PodStatus st = new PodStatus();
    st.setHolders(holders);
    st.setHolderEpochs(epochs);
    st.setMembers(addresses);
    st.setMembersVersion(read.version());
    st.setPods(read.slots());
    onRouting.accept(st);
  }

  @Override
  public void close() {
    if (zk.getZookeeperClient().isConnected()) {
      cache.close(); // removes its watches: only worth it, and only quick, while ZooKeeper answers
    }
    zk.close(); // ends the session, and with it the cache
  }
}
