package io.kvpod.pod;

import io.kvpod.client.TlsConfig;
import io.kvpod.contract.Membership;
import io.kvpod.contract.PeerSigner;
import io.kvpod.contract.TableLayout;
import io.kvpod.loader.HFileOptions;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.internal.FlushRequest;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.RefreshRequest;
import io.kvpod.wal.WriteAheadLog;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hbase.io.hfile.BlockCache;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One table of a pod process: its layers, its buckets' logs and memtables ({@link ShardSet}),
 * its holder records and membership ({@link Ownership}), the router that sends its keys to
 * their holders, its own peer client and heartbeats, and the {@link PodService} and
 * {@link PeerDispatcher} that answer calls about it. Each table is owned, taken over and
 * recovered on its own, under its own directory; what the tables of a process share
 * ({@link Shared}: the server, the block cache, the meters, the signer, the link faults) is
 * the {@link PodServer}'s.
 *
 * <p>Lifecycle: {@link #open}, then {@link #takeBuckets} once the server listens, then
 * {@link #close} once. Thread-safe after {@link #open}.
 */
final class TablePod implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(TablePod.class);

  /** What every table of a pod process shares; owned by the {@link PodServer}. */
  record Shared(PodConfig config, Configuration hadoop, BlockCache blockCache, PodMetrics metrics, PeerSigner signer,
                PeerFaults faults, RecentEvents events, TlsConfig tls) {}

  private final Shared shared;
  private final String table;
  private final int podId;
  private final WriteGate gate = new WriteGate();
  private FileSystem fs;
  private TableLayout layout;
  private int buckets;
  private LayerWatcher layers;
  private PeerWalReader peerWals;
  private ShardSet shards;
  private Compactor compactor;
  private PeerClient peerClient;
  private PeerLiveness liveness;
  private WaitSlots waitSlots;
  private OwnerRouter router;
  private Ownership ownership;
  private TakeoverPolicy policy;
  private PodService service;
  private PeerDispatcher peers;
  private long silentAfter;
  /** Null unless {@code kvpod.coordination=zookeeper}. */
  private volatile ZkRegistration registration;
  /** True until {@link #takeBuckets} has taken this pod's buckets (see {@link #holdUpStartRecovery}). */
  private volatile boolean starting = true;

  private TablePod(Shared shared, String table) {
    this.shared = shared;
    this.table = table;
    this.podId = shared.config().podId();
  }

  /** Opens {@code table}'s layers and builds its parts; takes no bucket yet. */
  static TablePod open(Shared shared, String table) throws IOException {
    TablePod t = new TablePod(shared, table);
    try {
      t.build();
    } catch (IOException | RuntimeException e) {
      t.close();
      throw e;
    }
    return t;
  }

  private void build() throws IOException {
    PodConfig config = shared.config();
    var v = config.values();
    Configuration hadoop = shared.hadoop();
    layout = new TableLayout(v.getString(PodConfig.ROOT), table);
    fs = layout.tableDir().getFileSystem(hadoop);
    buckets = TableBuckets.resolve(fs, layout, config.pods().size(), v.getInt(PodConfig.TABLE_BUCKETS),
        config.raw().containsKey(PodConfig.TABLE_BUCKETS));
    FileSystem recordFs = Ownership.recordFileSystem(fs);
    Membership members = TableMembers.atStart(recordFs, layout, config.pods(), podId, buckets);
    int pods = members.slots();
    layers = new LayerWatcher(LayerReader.Opener.of(fs, layout, hadoop, shared.blockCache(), buckets,
        v.getBoolean(PodConfig.LAYERS_PREFETCH), v.getInt(PodConfig.LAYERS_PREFETCH_CACHE_PERCENT)));
    layers.start(v.getMillis(PodConfig.LAYERS_POLL));

    PodMetrics metrics = shared.metrics();
    liveness = new PeerLiveness(podId, 0, Membership.MAX_PODS);
    liveness.members(TableMembers.ids(members));
    peerClient = new PeerClient(config.pods(), shared.signer(), table, (int) v.getMillis(PodConfig.PEER_READ_TIMEOUT),
        (int) v.getMillis(PodConfig.PEER_TIMEOUT), (int) v.getMillis(PodConfig.HEARTBEAT_TIMEOUT),
        v.getMillis(PodConfig.PEER_DOWN_WINDOW), shared.faults(), liveness, metrics, shared.tls());
    peerClient.addresses(TableMembers.addresses(members));

    FileSystem walFs = WriteAheadLog.walFileSystem(fs);
    HFileOptions flushFormat = new HFileOptions(v.getString(PodConfig.FLUSH_COMPRESSION), 64 * 1024);
    boolean readBack = v.getString(PodConfig.FLUSH_VERIFY).equals("read-back");
    Flusher.LayerSink sink = (id, partitions) -> new LayerBuilder(fs, layout, hadoop, flushFormat, id, partitions,
        readBack);
    Shard.Context shardContext = new Shard.Context(podId, walFs, layout, layers,
        WriteAheadLog.Durability.valueOf(v.getString(PodConfig.WAL_DURABILITY).toUpperCase(Locale.ROOT)),
        new Shard.Settings(v.getMillis(PodConfig.WAL_LEASE_TIMEOUT), v.getLong(PodConfig.WAL_SEGMENT_BYTES),
            v.getLong(PodConfig.WAL_GROUP_BYTES), v.getLong(PodConfig.MEMTABLE_MAX_BYTES),
            v.getInt(PodConfig.FLUSH_PARTITIONS), v.getLong(PodConfig.FLUSH_BYTES), v.getMillis(PodConfig.FLUSH_AGE),
            v.getMillis(PodConfig.WRITE_TIMEOUT), v.getMillis(PodConfig.FLUSH_CHECK)),
        sink, this::tellPeers, new MemoryBudget(v.getLong(PodConfig.POD_FLUSH_BYTES)), metrics);
    ownership = new Ownership(recordFs, layout, members);
    ownership.onMembers(this::membersChanged);
    shards = new ShardSet(podId, ownership,
        v.getMillis(PodConfig.OWNERSHIP_LEASE),
        (bucket, epoch, claim) -> {
          if (starting) {
            holdUpStartRecovery(bucket, epoch, v.getMillis(PodConfig.DEBUG_RECOVERY_DELAY));
          }
          return Shard.open(shardContext, bucket, epoch, claim);
        }, shared.events());
    long takeoverAfter = v.getMillis(PodConfig.TAKEOVER_AFTER);
    silentAfter = takeoverAfter > 0 ? takeoverAfter : v.getMillis(PodConfig.PEER_TIMEOUT);
    policy = new TakeoverPolicy(podId, pods, buckets, liveness, takeoverAfter,
        v.getMillis(PodConfig.HAND_BACK_AFTER), System::nanoTime);
    waitSlots = new WaitSlots(config.waitingWrites());
    peerWals = new PeerWalReader(walFs, layout, layers, buckets);
    router = new OwnerRouter(podId, () -> ownership.members().slots(), buckets, shards, peerClient, peerWals,
        liveness, policy, waitSlots, v.getMillis(PodConfig.WRITE_DEADLINE), silentAfter,
        v.getMillis(PodConfig.PEER_TIMEOUT), v.getMillis(PodConfig.CLOCK_MAX_SKEW));

    compactor = v.getInt(PodConfig.COMPACTION_POD) == podId
        ? new Compactor(fs, layout, layers, sink, buckets, v.getInt(PodConfig.COMPACTION_MAX_LAYERS),
            v.getLong(PodConfig.COMPACTION_MAX_RECORDS))
        : null;
    if (compactor != null) {
      compactor.start(v.getMillis(PodConfig.FLUSH_CHECK), this::tellPeers, metrics.compactions());
    }
    service = new PodService(podId, pods, table, layers, router, this::describeWrites,
        () -> shared.blockCache().getStats().getHitRatio(), gate);
    peers = new PeerDispatcher(shared.signer(), podId, () -> ownership.members().slots(), table, shards, layers,
        service::uptimeMillis, shared.faults(), peerClient, liveness, router::defaultDeadline,
        v.getMillis(PodConfig.CLOCK_MAX_SKEW), gate, waitSlots);
  }

  /**
   * Starts the heartbeats, registers in ZooKeeper if set, then takes this pod's buckets of
   * the table (recovering their logs); returns once it holds them. Call once the server
   * listens: see {@link PodServer#start}.
   */
  void takeBuckets() throws IOException {
    var v = shared.config().values();
    liveness.start(peerClient::ping, v.getMillis(PodConfig.HEARTBEAT_INTERVAL), silentAfter, peerClient::abort);
    register();
    List<Integer> planned = shards.plan();
    LOG.info("pod {}, table {}: taking buckets {}", podId, table, planned);
    try {
      shards.start(planned, v.getMillis(PodConfig.OWNERSHIP_POLL), this::askToFlush, policy);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while taking this pod's buckets of table " + table);
    }
    starting = false;
    LOG.info("pod {} serving table {} ({} buckets; {} layers; holding buckets {})", podId, table, buckets,
        layers.liveLayerCount(), shards.held().keySet());
  }

  /**
   * With {@code kvpod.coordination=zookeeper}: registers this pod's holding of the table and
   * starts mirroring the holders and the membership into ZooKeeper ({@link ZkRegistration}).
   * Serving does not wait for ZooKeeper: if it cannot be reached now, the pod registers once
   * it can.
   */
  private void register() throws IOException {
    PodConfig config = shared.config();
    io.kvpod.zk.ZkAddress zk = config.zookeeper();
    if (zk == null) {
      return;
    }
    String identity = layout.tableDir() + "@" + io.kvpod.contract.TableMeta.read(fs, layout).createdAtMillis;
    int session = (int) config.values().getMillis(PodConfig.ZK_SESSION_TIMEOUT);
    org.apache.curator.framework.CuratorFramework client = zk.connect(session, Math.min(session, 5000));
    try {
      registration = new ZkRegistration(client, table, identity, podId,
          config.self().getHostString() + ":" + config.self().getPort(), shards::lastView,
          () -> shards.held().keySet(), ownership::members, ZkRegistration.RESYNC_MILLIS);
    } catch (RuntimeException e) {
      client.close();
      throw e;
    }
    registration.start();
    LOG.info("pod {} registers table {} in ZooKeeper at {}", podId, table, zk);
  }

  String name() {
    return table;
  }

  PodService service() {
    return service;
  }

  PeerDispatcher peers() {
    return peers;
  }

  int buckets() {
    return buckets;
  }

  ShardSet shards() {
    return shards;
  }

  LayerWatcher layers() {
    return layers;
  }

  PeerWalReader peerWals() {
    return peerWals;
  }

  WaitSlots waitSlots() {
    return waitSlots;
  }

  /**
   * Whether this pod is leaving the table (being decommissioned, or gone from its membership)
   * and holds none of its buckets any more.
   */
  boolean handedOver() {
    Membership.Member me = ownership.members().member(podId);
    boolean leaving = me == null || me.state() == Membership.State.LEAVING;
    return leaving && shards.held().isEmpty() && shards.recovering().isEmpty();
  }

  /**
   * Fault tests only ({@code kvpod.debug.recovery.delay}): holds up a recovery this pod makes
   * while it starts, after the claim and before the log is fenced and replayed, as a slow
   * machine or a large log would. Takeovers after the start are not held up.
   */
  private static void holdUpStartRecovery(int bucket, long epoch, long delayMillis) throws IOException {
    if (delayMillis <= 0) {
      return;
    }
    LOG.info("bucket {} (epoch {}): waiting {} ms before recovering its log ({})", bucket, epoch, delayMillis,
        PodConfig.DEBUG_RECOVERY_DELAY);
    try {
      Thread.sleep(delayMillis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while holding up the recovery of bucket " + bucket);
    }
  }

  /** Adds the write path's figures, the holders and the membership to a status answer. */
  private void describeWrites(PodStatus st) {
    int firstHome = podId; // the lowest bucket whose home is this pod
    int walSegments = 0;
    long flushes = 0;
    long records = 0;
    long expired = 0;
    List<String> held = new ArrayList<>();
    String problem = null;
    for (Shard s : shards.held().values()) {
      records += s.memRecords();
      expired += s.expiredWrites();
      held.add(s.bucket + "@" + s.epoch);
      walSegments += s.walSegments();
      flushes += s.flushes();
      if (s.bucket == firstHome) {
        st.setWalDurableSeq(s.durableSeq());
      }
      if (s.walFailure() != null) {
        problem = "REFUSING WRITES to bucket " + s.bucket + " (WAL failed: " + s.walFailure().getMessage()
            + "); reads still served";
      } else if (s.lastFlushError() != null && problem == null) {
        problem = st.getState() + "; last flush of bucket " + s.bucket + " failed: " + s.lastFlushError();
      }
    }
    st.setMemtableRecords(records);
    st.setWalSegments(walSegments);
    st.setFlushes(flushes);
    if (compactor != null) {
      st.setCompactions(compactor.compactions());
    }
    Ownership.View v = shards.lastView();
    List<Integer> holders = new ArrayList<>();
    List<Long> epochs = new ArrayList<>();
    for (Ownership.Holding h : v.holdings()) {
      holders.add(h.holder());
      epochs.add(h.epoch());
    }
    st.setHolders(holders);
    st.setHolderEpochs(epochs);
    Membership m = v.members() != null ? v.members() : ownership.members();
    List<String> members = new ArrayList<>();
    List<String> states = new ArrayList<>();
    for (int p = 0; p < m.slots(); p++) {
      Membership.Member x = m.member(p);
      members.add(x == null ? "" : x.address());
      states.add(x == null ? "" : x.state().name().toLowerCase(Locale.ROOT));
    }
    st.setPods(m.slots());
    st.setMembers(members);
    st.setMemberStates(states);
    st.setMembersVersion(m.version());
    st.setRecovering(new ArrayList<>(shards.recovering()));
    st.setExpiredWrites(expired);
    st.setWaitingWrites(waitSlots.waiting());
    st.setWaitingWritesMax(waitSlots.size());
    st.setBusyWrites(waitSlots.refused());
    st.setBlockCacheBytes(shared.blockCache().getCurrentSize());
    st.setLayerFilesOpen(layers.openFiles());
    st.setLatencies(shared.metrics().latencies());
    st.setEvents(shared.events().list());
    Set<Integer> recovering = shards.recovering();
    st.setState((problem != null ? problem : st.getState()) + "; holds buckets " + held
        + (recovering.isEmpty() ? "" : "; RECOVERING buckets " + recovering)
        + "; buckets claimed since start: " + shards.takeovers());
  }

  /** Asks {@code holder} to flush {@code bucket}, so that taking it back leaves little to replay. */
  private void askToFlush(int holder, int bucket) {
    try {
      long through = peerClient.write(holder, PeerRequest.flush(new FlushRequest(bucket))).getFlush().getThroughSeq();
      LOG.info("pod {} flushed bucket {} of table {} through sequence {}", holder, bucket, table, through);
    } catch (KvPodException e) {
      LOG.info("pod {} did not flush bucket {} of table {} ({}); its log is replayed instead", holder, bucket, table,
          e.getMessage());
    }
  }

  /** A newer membership was read: call and ping the pods it names. */
  private void membersChanged(Membership m) {
    peerClient.addresses(TableMembers.addresses(m));
    liveness.members(TableMembers.ids(m));
    shared.events().add(RecentEvents.MEMBERS, "table " + table + ", membership version " + m.version() + ": "
        + m.members());
  }

  /** Asks the other pods to look at the table's layers now (best effort; they also poll). */
  private void tellPeers() {
    for (int p : TableMembers.ids(ownership.members())) {
      if (p != podId && !peerClient.readsSkip(p)) {
        try {
          peerClient.read(p, PeerRequest.refresh(new RefreshRequest().setTable(table)));
        } catch (KvPodException e) {
          LOG.debug("pod {} did not take a refresh of table {}: {}", p, table, e.getMessage());
        }
      }
    }
  }

  /** Refuses new writes to the table and waits up to {@code millis} for those admitted. */
  void drainWrites(long millis) throws InterruptedException {
    gate.closeAndDrain(millis);
    if (gate.inFlight() > 0) {
      LOG.warn("stopping with {} writes to table {} still in progress; their callers see their connections close",
          gate.inFlight(), table);
    }
  }

  /**
   * Flushes every held bucket while the pod still answers its peers, takes no more buckets,
   * starts no more compactions, and leaves the logs with nothing to replay ({@link ShardSet#flushBeforeStop}). Call after
   * {@link #drainWrites}, before the server stops.
   */
  void flushBeforeStop(long delayMillis) throws InterruptedException {
    if (compactor != null) {
      compactor.close(); // a stopping pod merges nothing: the flushes below would start a merge of their layers
    }
    if (shards != null) {
      shards.flushBeforeStop(delayMillis);
    }
  }

  /** Leaves the ZooKeeper registry (if the pod registered), so that clients stop sending calls here. */
  void leaveRegistry() {
    ZkRegistration r = registration;
    registration = null;
    if (r != null) {
      try {
        r.close();
      } catch (RuntimeException e) {
        LOG.warn("could not leave the ZooKeeper registry cleanly; this pod's node for table {} goes when its "
            + "session ends", table, e);
      }
    }
  }

  /**
   * Leaves ZooKeeper, flushes the memtables (so a clean stop leaves nothing to replay), and
   * closes the logs and the layers. Call after the server stopped.
   */
  @Override
  public void close() {
    leaveRegistry();
    if (compactor != null) {
      compactor.close();
    }
    if (liveness != null) {
      liveness.close();
    }
    if (shards != null) {
      shards.close();
    }
    if (router != null) {
      router.close();
    }
    if (peerClient != null) {
      peerClient.close();
    }
    if (layers != null) {
      layers.close();
    }
  }
}
