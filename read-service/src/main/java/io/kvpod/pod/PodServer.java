package io.kvpod.pod;

import io.kvpod.client.TlsConfig;
import io.kvpod.config.KerberosLogin;
import io.kvpod.contract.Limits;
import io.kvpod.contract.Membership;
import io.kvpod.contract.PeerSigner;
import io.kvpod.contract.ThriftJson;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
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
  /** The tables this pod serves, by name, the default table first. */
  private final Map<String, TablePod> tables = new LinkedHashMap<>();
  private InlineReads inlineReads;
  private volatile boolean left;
  private final AtomicBoolean closing = new AtomicBoolean();
  private final CountDownLatch closed = new CountDownLatch(1);
  /** The server, one of the two: libthrift's model without TLS, or Netty (see {@link #listen}). */
  private TServer server;
  private NettyServer netty;
  /** Null unless the pod serves TLS. */
  private final TlsConfig tls;
  private Thread serveThread;
  private TNonblockingServerSocket socket;
  private FrameWatch frameWatch;
  private PodMetrics metrics;
  private final RecentEvents events = new RecentEvents();
  private volatile HttpEndpoint http;

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
   * Opens each table's layers, starts serving, then takes this pod's buckets of each table
   * (recovering their logs); returns once it holds them. The pod listens <em>before</em> it
   * recovers: while a bucket is being recovered, calls for it get a retriable
   * {@code RECOVERING}, reads are answered from the bucket's log and the layers, and pings
   * are answered, so no other pod mistakes a slow recovery for a dead pod and takes the
   * bucket away.
   */
  public void start() throws IOException, TTransportException {
    var v = config.values();
    int podId = config.podId();
    String user = KerberosLogin.login(hadoop);
    if (user != null) {
      LOG.info("pod {}: Kerberos login as {}", podId, user);
    }
    hadoop.setLong("hfile.block.cache.memory.size", v.getLong(PodConfig.BLOCK_CACHE_BYTES));
    blockCache = BlockCacheFactory.createBlockCache(hadoop);
    metrics = PodMetrics.exported(podId, v.getMillis(PodConfig.SLOW_CALL), events);
    PeerSigner signer = new PeerSigner(v.getString(PodConfig.SECRET), podId,
        v.getMillis(PodConfig.AUTH_MAX_SKEW), System::currentTimeMillis);
    TablePod.Shared shared = new TablePod.Shared(config, hadoop, blockCache, metrics, signer,
        new PeerFaults(Membership.MAX_PODS), events, tls);
    for (String table : config.tables()) {
      tables.put(table, TablePod.open(shared, table));
    }
    TableRouter router = new TableRouter(tables, signer, st -> {
      if (http != null) {
        st.setHttpPort(http.port());
      }
    });
    InetSocketAddress bind = new InetSocketAddress(config.bindHost(), config.self().getPort());
    inlineReads = new InlineReads(router::table);
    listen(bind, new ContractProcessor(router, metrics));
    registerGauges();
    int httpPort = v.getInt(PodConfig.HTTP_PORT);
    if (httpPort >= 0) {
      http = new HttpEndpoint(new InetSocketAddress(config.bindHost(), httpPort),
          table -> StatusPage.render(router.status(table)), table -> ThriftJson.of(router.status(table)),
          table -> metrics.scrape());
      LOG.info("pod {}: status at http://{}:{}/ (and /status.json; ?table=T for a table), metrics at /metrics", podId,
          config.bindHost(), http.port());
    }
    LOG.info("pod {} listening on {}; serving tables {}", podId, bind, tables.keySet());
    takeBuckets();
    startLeaveWatch();
  }

  /** Most tables whose buckets a starting pod takes at once. */
  private static final int TABLES_TAKEN_AT_ONCE = 4;

  /**
   * Takes this pod's buckets of every table, up to {@link #TABLES_TAKEN_AT_ONCE} tables at
   * once (each table's claims and log recoveries are its own; one after another, ten tables
   * took ten times as long to start); returns once it holds them all, or throws the first
   * table's failure.
   */
  private void takeBuckets() throws IOException {
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(tables.size(), TABLES_TAKEN_AT_ONCE), r -> {
      Thread t = new Thread(r, "take-buckets");
      t.setDaemon(true);
      return t;
    });
    try {
      List<Future<?>> taken = new ArrayList<>();
      for (TablePod t : tables.values()) {
        taken.add(pool.submit(() -> {
          t.takeBuckets();
          return null;
        }));
      }
      for (Future<?> f : taken) {
        f.get();
      }
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while taking this pod's buckets");
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * The gauges read from the pod's parts when the meters are exported (see {@link PodMetrics}):
   * each sums over the tables this pod serves.
   */
  private void registerGauges() {
    metrics.gauge("kvpod.buckets.held", "buckets this pod holds", () -> sum(t -> t.shards().held().size()));
    metrics.gauge("kvpod.buckets.recovering", "buckets this pod is taking over now",
        () -> sum(t -> t.shards().recovering().size()));
    metrics.counter("kvpod.gets.inline", "gets and multiGets answered on the I/O thread that read them "
        + "(their blocks prefetched, their buckets held here)", inlineReads, InlineReads::answered);
    metrics.counter("kvpod.reads.from.log", "keys this pod read from their bucket's log and the layers because "
        + "the bucket's holder did not answer", this, s -> s.sum(t -> t.peerWals().keysRead()));
    metrics.counter("kvpod.takeovers", "buckets this pod claimed since it started", this,
        s -> s.sum(t -> t.shards().takeovers()));
    metrics.gauge("kvpod.memtable.records", "records in memtables, not yet flushed",
        () -> sum(t -> t.shards().held().values().stream().mapToLong(Shard::memRecords).sum()));
    metrics.gauge("kvpod.wal.segments", "write-ahead log segments not yet retired",
        () -> sum(t -> t.shards().held().values().stream().mapToInt(Shard::walSegments).sum()));
    metrics.counter("kvpod.flushes", "memtables flushed to layers since start", this,
        s -> s.sum(t -> t.shards().held().values().stream().mapToLong(Shard::flushes).sum()));
    metrics.gauge("kvpod.layers", "layers this pod serves", () -> sum(t -> t.layers().liveLayerCount()));
    metrics.gauge("kvpod.layer.files.open", "layer data files this pod has open (its buckets' files, and "
        + "others it read for a holder that did not answer)", () -> sum(t -> t.layers().openFiles()));
    metrics.gauge("kvpod.block.cache.bytes", "bytes of HFile blocks cached", () -> blockCache.getCurrentSize());
    metrics.gauge("kvpod.block.cache.hit.ratio", "block cache hits over lookups since start",
        () -> blockCache.getStats().getHitRatio());
    metrics.gauge("kvpod.block.cache.evicted.blocks", "blocks the block cache evicted for room since start",
        () -> blockCache.getStats().getEvictedCount());
    EvictedFiles evicted = EvictedFiles.of(blockCache);
    metrics.gauge("kvpod.block.cache.evicted.files", "layer files that lost a block to eviction for room "
        + "since they were last prefetched (gets of their buckets are answered on worker threads)", evicted::count);
    metrics.gauge("kvpod.connections", "open Thrift connections",
        () -> netty != null ? netty.connections() : frameWatch.connections());
    if (netty != null) {
      metrics.counter("kvpod.tls.handshake.failures", "TLS handshakes that failed since start (wrong or missing "
          + "certificates, plaintext on the TLS port)", netty, NettyServer::handshakeFailures);
    }
    metrics.gauge("kvpod.writes.waiting", "writes waiting on other pods now", () -> sum(t -> t.waitSlots().waiting()));
    metrics.counter("kvpod.writes.busy", "writes refused as BUSY since start", this,
        s -> s.sum(t -> t.waitSlots().refused()));
    metrics.gauge("kvpod.tables", "tables this pod serves", tables::size);
  }

  /** {@code f} summed over the tables. */
  private double sum(java.util.function.ToDoubleFunction<TablePod> f) {
    double total = 0;
    for (TablePod t : tables.values()) {
      total += f.applyAsDouble(t);
    }
    return total;
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

  /**
   * Once this pod is leaving (being decommissioned) and holds no bucket of any of its tables
   * any more, stops it:
   * {@link #awaitStop} returns, and the pod process exits.
   */
  private void startLeaveWatch() {
    Thread t = new Thread(() -> {
      try {
        while (true) {
          Thread.sleep(500);
          if (tables.values().stream().allMatch(TablePod::handedOver)) {
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
   * flushes the memtables while still answering reads and peers (so a clean stop leaves
   * nothing to replay, and no peer takes a bucket over meanwhile), then stops serving and
   * closes the WAL and the layers. A flush that fails leaves the WAL to replay.
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
    for (TablePod t : tables.values()) {
      t.leaveRegistry(); // first: clients stop sending calls here
    }
    try {
      var v = config.values();
      long drain = v.getMillis(PodConfig.WRITE_DEADLINE) + v.getMillis(PodConfig.CLOCK_MAX_SKEW);
      for (TablePod t : tables.values()) {
        t.drainWrites(drain);
      }
      // while this pod still answers its peers: were it silent, they would take its buckets
      // over during the flush, fence its logs and replay what the flush was writing out
      long delay = v.getMillis(PodConfig.DEBUG_STOP_FLUSH_DELAY);
      for (TablePod t : tables.values()) {
        t.flushBeforeStop(delay);
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
    for (TablePod t : tables.values()) {
      t.close();
    }
    if (blockCache != null) {
      blockCache.shutdown();
    }
    if (metrics != null) {
      metrics.close();
    }
  }
}
