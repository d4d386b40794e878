package io.kvpod.pod;

import io.kvpod.client.TlsConfig;
import io.kvpod.config.KerberosLogin;
import io.kvpod.contract.Limits;
import io.kvpod.contract.Membership;
import io.kvpod.contract.PeerSigner;
import io.kvpod.contract.TableLayout;
import io.kvpod.contract.ThriftJson;
import io.kvpod.loader.HFileOptions;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.internal.FlushRequest;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.RefreshRequest;
import io.kvpod.wal.WriteAheadLog;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hbase.io.hfile.BlockCache;
import org.apache.hadoop.hbase.io.hfile.BlockCacheFactory;
import org.apache.thrift.protocol.TProtocolFactory;
import org.apache.thrift.server.TNonblockingServer;
import org.apache.thrift.server.TServer;
import org.apache.thrift.transport.TNonblockingServerSocket;
import org.apache.thrift.transport.TTransportException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pod: opens the table's layers, recovers its write-ahead log, then serves the KvPod
 * API over Thrift, with the group committer, flusher and (on one pod) compactor running
 * behind it.
 *
 * <p>Server choice: {@link SelectorServer} (the model of libthrift's TThreadedSelectorServer,
 * without its selector rebuild, which strands connections) with framed transport and the
 * binary protocol. A few selector threads multiplex many client and peer connections with
 * non-blocking I/O, and a separate worker pool runs the calls, which may block on HDFS
 * reads; a thread-per-connection server would need a thread per idle client, and
 * THsHaServer's single selector caps throughput. The binary protocol costs the least CPU to
 * decode, and every Thrift language speaks it. Frames are bounded by libthrift's frame
 * limit ({@link Limits#MAX_FRAME_BYTES}), strings and containers by the protocol limits
 * ({@link StrictBinaryProtocol}, which also refuses strings that are not UTF-8), total
 * buffered request bytes by {@code kvpod.server.max.read.buffer.bytes}, and the heap that
 * decoded arguments take by a {@link DecodeBudget} ({@code kvpod.server.max.decode.bytes}). Arguments that fail
 * to decode are answered as the method's {@code KvPodException} ({@link ContractProcessor}).
 *
 * <p>Lifecycle: {@link #start()} once, {@link #close()} once. Not reusable.
 */
public final class PodServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(PodServer.class);

  private final PodConfig config;
  private final Configuration hadoop;
  private BlockCache blockCache;
  private PeerWalReader peerWals;
  private InlineReads inlineReads;
  private LayerWatcher layers;
  private ShardSet shards;
  private Compactor compactor;
  private PeerClient peerClient;
  private PeerLiveness liveness;
  private final WriteGate gate = new WriteGate();
  private WaitSlots waitSlots;
  private OwnerRouter router;
  private Ownership ownership;
  private volatile boolean left;
  private final AtomicBoolean closing = new AtomicBoolean();
  private final CountDownLatch closed = new CountDownLatch(1);
  /** The server, one of the two: libthrift's model without TLS, or Netty (see {@link #listen}). */
  private TServer server;
  private NettyServer netty;
  /** Null unless the pod serves TLS. */
  private final TlsConfig tls;
  /** True until {@link #start} has taken this pod's buckets (see {@link #holdUpStartRecovery}). */
  private volatile boolean starting = true;
  private Thread serveThread;
  private TNonblockingServerSocket socket;
  private FrameWatch frameWatch;
  private PodMetrics metrics;
  private final RecentEvents events = new RecentEvents();
  private HttpEndpoint http;
  /** Null unless {@code kvpod.coordination=zookeeper}. */
  private ZkRegistration registration;

  public PodServer(PodConfig config) {
    this.config = config;
    this.hadoop = new Configuration();
    config.raw().forEach((k, v) -> {
      if (!k.startsWith("kvpod.") || k.startsWith("kvpod.kerberos.")) {
        hadoop.set(k, v); // fs.*, dfs.*, hbase.*, hadoop.security.* settings and the keytab pass through
      }
    });
    WriteAheadLog.applyClientDefaults(hadoop); // where the pod's settings leave them unset
    try {
      this.tls = TlsConfig.from(config.raw());
    } catch (IOException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /**
   * Opens the layers, starts serving, then takes this pod's buckets (recovering their logs);
   * returns once it holds them. The pod listens <em>before</em> it recovers: while a bucket
   * is being recovered, calls for it get a retriable {@code RECOVERING}, reads are answered
   * from the bucket's log and the layers, and pings are answered, so no other pod mistakes
   * a slow recovery for a dead pod and takes the bucket away.
   */
  public void start() throws IOException, TTransportException {
    var v = config.values();
    int podId = config.podId();
    String user = KerberosLogin.login(hadoop);
    if (user != null) {
      LOG.info("pod {}: Kerberos login as {}", podId, user);
    }
    TableLayout layout = new TableLayout(v.getString(PodConfig.ROOT), v.getString(PodConfig.TABLE));
    FileSystem fs = layout.tableDir().getFileSystem(hadoop);
    int buckets = bucketCount(fs, layout, config.pods().size());
    FileSystem recordFs = Ownership.recordFileSystem(fs);
    Membership members = TableMembers.atStart(recordFs, layout, config.pods(), podId, buckets);
    int pods = members.slots();
    hadoop.setLong("hfile.block.cache.memory.size", v.getLong(PodConfig.BLOCK_CACHE_BYTES));
    blockCache = BlockCacheFactory.createBlockCache(hadoop);
    layers = new LayerWatcher(LayerReader.Opener.of(fs, layout, hadoop, blockCache, buckets,
        v.getBoolean(PodConfig.LAYERS_PREFETCH)));
    layers.start(v.getMillis(PodConfig.LAYERS_POLL));

    metrics = PodMetrics.exported(podId, v.getMillis(PodConfig.SLOW_CALL), events);
    PeerSigner signer = new PeerSigner(v.getString(PodConfig.SECRET), podId,
        v.getMillis(PodConfig.AUTH_MAX_SKEW), System::currentTimeMillis);
    PeerFaults faults = new PeerFaults(Membership.MAX_PODS);
    liveness = new PeerLiveness(podId, 0, Membership.MAX_PODS);
    liveness.members(TableMembers.ids(members));
    peerClient = new PeerClient(config.pods(), signer, (int) v.getMillis(PodConfig.PEER_READ_TIMEOUT),
        (int) v.getMillis(PodConfig.PEER_TIMEOUT), (int) v.getMillis(PodConfig.HEARTBEAT_TIMEOUT),
        v.getMillis(PodConfig.PEER_DOWN_WINDOW), faults, liveness, metrics, tls);
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
        sink, () -> tellPeers(podId), new MemoryBudget(v.getLong(PodConfig.POD_FLUSH_BYTES)), metrics);
    ownership = new Ownership(recordFs, layout, members);
    ownership.onMembers(this::membersChanged);
    shards = new ShardSet(podId, ownership,
        v.getMillis(PodConfig.OWNERSHIP_LEASE),
        (bucket, epoch, claim) -> {
          if (starting) {
            holdUpStartRecovery(bucket, epoch, v.getMillis(PodConfig.DEBUG_RECOVERY_DELAY));
          }
          return Shard.open(shardContext, bucket, epoch, claim);
        }, events);
    long takeoverAfter = v.getMillis(PodConfig.TAKEOVER_AFTER);
    long silentAfter = takeoverAfter > 0 ? takeoverAfter : v.getMillis(PodConfig.PEER_TIMEOUT);
    TakeoverPolicy policy = new TakeoverPolicy(podId, pods, buckets, liveness, takeoverAfter,
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
      compactor.start(v.getMillis(PodConfig.FLUSH_CHECK), () -> tellPeers(podId), metrics.compactions());
    }

    PodService[] service = new PodService[1];
    PeerDispatcher peers = new PeerDispatcher(signer, podId, () -> ownership.members().slots(), layout.table(),
        shards, layers,
        () -> service[0].uptimeMillis(), faults, peerClient, liveness, router::defaultDeadline,
        v.getMillis(PodConfig.CLOCK_MAX_SKEW), gate, waitSlots);
    service[0] = new PodService(podId, pods, layout.table(), layers, router, peers, this::describeWrites,
        () -> blockCache == null ? 0 : blockCache.getStats().getHitRatio(), gate);

    List<Integer> planned = shards.plan();
    InetSocketAddress bind = new InetSocketAddress(config.bindHost(), config.self().getPort());
    inlineReads = new InlineReads(buckets, shards, layers, blockCache);
    listen(bind, new ContractProcessor(service[0], metrics));
    registerGauges();
    int httpPort = v.getInt(PodConfig.HTTP_PORT);
    if (httpPort >= 0) {
      http = new HttpEndpoint(new InetSocketAddress(config.bindHost(), httpPort),
          () -> StatusPage.render(service[0].status()), () -> ThriftJson.of(service[0].status()), metrics::scrape);
      LOG.info("pod {}: status at http://{}:{}/ (and /status.json), metrics at /metrics", podId,
          config.bindHost(), http.port());
    }
    liveness.start(peerClient::ping, v.getMillis(PodConfig.HEARTBEAT_INTERVAL), silentAfter, peerClient::abort);
    register(podId, fs, layout);
    LOG.info("pod {} of {} listening on {}; taking buckets {}", podId, pods, bind, planned);
    try {
      shards.start(planned, v.getMillis(PodConfig.OWNERSHIP_POLL), this::askToFlush, policy);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while taking this pod's buckets", e);
    }
    starting = false;
    startLeaveWatch();
    LOG.info("pod {} of {} serving table {} ({} buckets) on {} ({} layers; holding buckets {})", podId, pods,
        layout.table(), buckets, bind, layers.liveLayerCount(), shards.held().keySet());
  }

  /**
   * With {@code kvpod.coordination=zookeeper}: registers this pod and starts mirroring the
   * holders and the membership into ZooKeeper ({@link ZkRegistration}). Serving does not wait
   * for ZooKeeper: if it cannot be reached now, the pod registers once it can.
   */
  private void register(int podId, FileSystem fs, TableLayout layout) throws IOException {
    io.kvpod.zk.ZkAddress zk = config.zookeeper();
    if (zk == null) {
      return;
    }
    String identity = layout.tableDir() + "@" + io.kvpod.contract.TableMeta.read(fs, layout).createdAtMillis;
    int session = (int) config.values().getMillis(PodConfig.ZK_SESSION_TIMEOUT);
    org.apache.curator.framework.CuratorFramework client = zk.connect(session, Math.min(session, 5000));
    try {
      registration = new ZkRegistration(client, layout.table(), identity, podId,
          config.self().getHostString() + ":" + config.self().getPort(), shards::lastView,
          () -> shards.held().keySet(), ownership::members, ZkRegistration.RESYNC_MILLIS);
    } catch (RuntimeException e) {
      client.close();
      throw e;
    }
    registration.start();
    LOG.info("pod {} registers in ZooKeeper at {}", podId, zk);
  }

  /** The gauges read from the pod's parts when the meters are exported (see {@link PodMetrics}). */
  private void registerGauges() {
    metrics.gauge("kvpod.buckets.held", "buckets this pod holds", () -> shards.held().size());
    metrics.gauge("kvpod.buckets.recovering", "buckets this pod is taking over now", () -> shards.recovering().size());
    metrics.counter("kvpod.gets.inline", "gets and multiGets answered on the I/O thread that read them "
        + "(their blocks prefetched, their buckets held here)", inlineReads, InlineReads::answered);
    metrics.counter("kvpod.reads.from.log", "keys this pod read from their bucket's log and the layers because "
        + "the bucket's holder did not answer", peerWals, PeerWalReader::keysRead);
    metrics.counter("kvpod.takeovers", "buckets this pod claimed since it started", shards, ShardSet::takeovers);
    metrics.gauge("kvpod.memtable.records", "records in memtables, not yet flushed",
        () -> shards.held().values().stream().mapToLong(Shard::memRecords).sum());
    metrics.gauge("kvpod.wal.segments", "write-ahead log segments not yet retired",
        () -> shards.held().values().stream().mapToInt(Shard::walSegments).sum());
    metrics.counter("kvpod.flushes", "memtables flushed to layers since start", shards,
        s -> s.held().values().stream().mapToLong(Shard::flushes).sum());
    metrics.gauge("kvpod.layers", "layers this pod serves", () -> layers.liveLayerCount());
    metrics.gauge("kvpod.layer.files.open", "layer data files this pod has open (its buckets' files, and "
        + "others it read for a holder that did not answer)", () -> layers.openFiles());
    metrics.gauge("kvpod.block.cache.bytes", "bytes of HFile blocks cached", () -> blockCache.getCurrentSize());
    metrics.gauge("kvpod.block.cache.hit.ratio", "block cache hits over lookups since start",
        () -> blockCache.getStats().getHitRatio());
    metrics.gauge("kvpod.connections", "open Thrift connections",
        () -> netty != null ? netty.connections() : frameWatch.connections());
    if (netty != null) {
      metrics.counter("kvpod.tls.handshake.failures", "TLS handshakes that failed since start (wrong or missing "
          + "certificates, plaintext on the TLS port)", netty, NettyServer::handshakeFailures);
    }
    metrics.gauge("kvpod.writes.waiting", "writes waiting on other pods now", () -> waitSlots.waiting());
    metrics.counter("kvpod.writes.busy", "writes refused as BUSY since start", waitSlots, WaitSlots::refused);
  }

  private int bucketCount(FileSystem fs, TableLayout layout, int pods) throws IOException {
    return TableBuckets.resolve(fs, layout, pods, config.values().getInt(PodConfig.TABLE_BUCKETS),
        config.raw().containsKey(PodConfig.TABLE_BUCKETS));
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

  /**
   * The server's worker pool (the worker lane of {@link CallLanes}; pings have a lane of
   * their own): up to {@code n} threads, started as calls arrive and ended after a minute
   * idle; calls beyond {@code n} queue. Workers mostly wait (on HDFS, on
   * other pods), so a pod can afford many, and an idle one keeps none.
   */
  private static ExecutorService workers(int n) {
    AtomicInteger count = new AtomicInteger();
    ThreadPoolExecutor pool = new ThreadPoolExecutor(n, n, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "worker-" + count.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  /**
   * Starts the Thrift server on {@code bind}; returns once it accepts connections. Without
   * TLS it is {@link SelectorServer} with {@link FrameWatch}'s guards; with TLS (or
   * {@code kvpod.server.transport=netty}) it is {@link NettyServer}, with the same bounds.
   */
  private void listen(InetSocketAddress bind, ContractProcessor processor)
      throws IOException, TTransportException {
    var v = config.values();
    ConnectionLimits limits = new ConnectionLimits(v.getInt(PodConfig.MAX_CONNECTIONS),
        v.getInt(PodConfig.MAX_CONNECTIONS_PER_ADDRESS));
    TProtocolFactory protocols = StrictBinaryProtocol.factory(new DecodeBudget(v.getLong(PodConfig.MAX_DECODE_BYTES)),
        v.getLong(PodConfig.MAX_DECODE_BYTES_PER_CALL));
    CallLanes lanes = new CallLanes(processor, workers(v.getInt(PodConfig.WORKER_THREADS)));
    if (v.getBoolean(PodConfig.SERVER_INLINE_READS)) {
      lanes.inline(inlineReads);
    }
    String transport = v.getString(PodConfig.SERVER_TRANSPORT);
    if (tls != null || transport.equals("netty")) {
      netty = new NettyServer(new NettyServer.Settings(bind, v.getInt(PodConfig.ACCEPT_BACKLOG),
          v.getInt(PodConfig.SELECTOR_THREADS), v.getMillis(PodConfig.FRAME_TIMEOUT),
          v.getLong(PodConfig.MAX_READ_BUFFER_BYTES), limits), lanes, processor, protocols, serverTls(),
          v.getString(PodConfig.TLS_CLIENT_AUTH).equals("require"));
      netty.start();
      LOG.info("pod {} serves {} (Netty){}", config.podId(), tls == null ? "plain TCP" : "TLS",
          tls == null ? "" : ", client certificates " + v.getString(PodConfig.TLS_CLIENT_AUTH));
      return;
    }
    frameWatch = new FrameWatch(v.getMillis(PodConfig.FRAME_TIMEOUT), limits,
        v.getLong(PodConfig.MAX_READ_BUFFER_BYTES));
    socket = frameWatch.serverSocket(bind, v.getInt(PodConfig.ACCEPT_BACKLOG));
    TNonblockingServer.Args args = new TNonblockingServer.Args(socket).protocolFactory(protocols);
    args.maxReadBufferBytes = v.getLong(PodConfig.MAX_READ_BUFFER_BYTES);
    server = lanes.server(args, v.getInt(PodConfig.SELECTOR_THREADS));
    serveThread = new Thread(server::serve, "thrift-server");
    serveThread.start();
    long deadline = System.currentTimeMillis() + 60_000;
    while (!server.isServing()) {
      if (System.currentTimeMillis() > deadline) {
        throw new IOException("Thrift server did not start within 60 s");
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting", e);
      }
    }
  }

  /** Netty's TLS context from the pod's stores, or null without TLS. */
  private SslContext serverTls() throws IOException {
    if (tls == null) {
      return null;
    }
    String wanted = config.values().getString(PodConfig.TLS_PROVIDER);
    if (wanted.equals("openssl") && !OpenSsl.isAvailable()) {
      throw new IOException(PodConfig.TLS_PROVIDER + "=openssl, but BoringSSL does not load here: "
          + OpenSsl.unavailabilityCause());
    }
    SslProvider provider = !wanted.equals("jdk") && OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
    LOG.info("pod {}: TLS by {} serving, by {} calling other pods", config.podId(),
        provider == SslProvider.OPENSSL ? OpenSsl.versionString() : "the JDK", tls.implementation());
    try {
      return SslContextBuilder.forServer(tls.keyManagers()).trustManager(tls.trustManagers())
          .clientAuth(ClientAuth.OPTIONAL) // kvpod.tls.client.auth=require answers UNAUTHENTICATED itself
          .protocols(TlsConfig.PROTOCOLS).sslProvider(provider).build();
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot set up TLS from " + tls + ": " + e.getMessage(), e);
    }
  }

  private void describeWrites(PodStatus st) {
    int firstHome = config.podId(); // the lowest bucket whose home is this pod
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
    if (blockCache != null) {
      st.setBlockCacheBytes(blockCache.getCurrentSize());
    }
    st.setLayerFilesOpen(layers.openFiles());
    if (http != null) {
      st.setHttpPort(http.port());
    }
    st.setLatencies(metrics.latencies());
    st.setEvents(events.list());
    Set<Integer> recovering = shards.recovering();
    st.setState((problem != null ? problem : st.getState()) + "; holds buckets " + held
        + (recovering.isEmpty() ? "" : "; RECOVERING buckets " + recovering)
        + "; buckets claimed since start: " + shards.takeovers());
  }

  /** Asks {@code holder} to flush {@code bucket}, so that taking it back leaves little to replay. */
  private void askToFlush(int holder, int bucket) {
    try {
      long through = peerClient.write(holder, PeerRequest.flush(new FlushRequest(bucket))).getFlush().getThroughSeq();
      LOG.info("pod {} flushed bucket {} through sequence {}", holder, bucket, through);
    } catch (KvPodException e) {
      LOG.info("pod {} did not flush bucket {} ({}); its log is replayed instead", holder, bucket, e.getMessage());
    }
  }

  /** A newer membership was read: call and ping the pods it names. */
  private void membersChanged(Membership m) {
    peerClient.addresses(TableMembers.addresses(m));
    liveness.members(TableMembers.ids(m));
    events.add(RecentEvents.MEMBERS, "membership version " + m.version() + ": " + m.members());
  }

  /**
   * Once this pod is leaving (being decommissioned) and holds no bucket any more, stops it:
   * {@link #awaitStop} returns, and the pod process exits.
   */
  private void startLeaveWatch() {
    Thread t = new Thread(() -> {
      try {
        while (true) {
          Thread.sleep(500);
          Membership.Member me = ownership.members().member(config.podId());
          boolean leaving = me == null || me.state() == Membership.State.LEAVING;
          if (leaving && shards.held().isEmpty() && shards.recovering().isEmpty()) {
            LOG.info("pod {} is decommissioned and holds no bucket any more; stopping", config.podId());
            left = true;
            close();
            return;
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "leave-watch");
    t.setDaemon(true);
    t.start();
  }

  /** Whether this pod stopped because it was decommissioned (then its process exits 0). */
  public boolean left() {
    return left;
  }

  /** Asks the other pods to look at the layers now (best effort; they also poll). */
  private void tellPeers(int self) {
    for (int p : TableMembers.ids(ownership.members())) {
      if (p != self && !peerClient.readsSkip(p)) {
        try {
          peerClient.read(p, PeerRequest.refresh(new RefreshRequest()));
        } catch (KvPodException e) {
          LOG.debug("pod {} did not take a refresh: {}", p, e.getMessage());
        }
      }
    }
  }

  /** Blocks until the server stops. */
  public void awaitStop() throws InterruptedException {
    if (netty != null) {
      netty.awaitClosed();
    } else {
      serveThread.join();
    }
  }

  /**
   * Refuses new writes and waits for the writes already admitted (up to their deadline),
   * then stops serving, flushes the memtables (so a clean stop leaves nothing to replay),
   * and closes the WAL and the layers. A flush that fails leaves the WAL to replay at the
   * next start.
   */
  @Override
  public void close() {
    if (!closing.compareAndSet(false, true)) {
      try {
        closed.await(); // another thread is closing: return once it is done
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return;
    }
    try {
      closeParts();
    } finally {
      closed.countDown();
    }
  }

  private void closeParts() {
    if (registration != null) {
      try {
        registration.close(); // first: clients stop sending calls here
      } catch (RuntimeException e) {
        LOG.warn("could not leave the ZooKeeper registry cleanly; this pod's node goes when its session ends", e);
      }
    }
    try {
      var v = config.values();
      gate.closeAndDrain(v.getMillis(PodConfig.WRITE_DEADLINE) + v.getMillis(PodConfig.CLOCK_MAX_SKEW));
      if (gate.inFlight() > 0) {
        LOG.warn("stopping with {} writes still in progress; their callers see their connections close", gate.inFlight());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (server != null) {
      server.stop();
    }
    if (netty != null) {
      netty.close();
    }
    if (http != null) {
      http.close();
    }
    if (frameWatch != null) {
      frameWatch.close();
    }
    if (socket != null) {
      socket.close();
    }
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
    if (blockCache != null) {
      blockCache.shutdown();
    }
    if (metrics != null) {
      metrics.close();
    }
  }
}
