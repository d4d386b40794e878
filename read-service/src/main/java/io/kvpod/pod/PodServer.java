package io.kvpod.pod;

import io.kvpod.contract.Limits;
import io.kvpod.contract.PeerSigner;
import io.kvpod.contract.TableLayout;
import io.kvpod.thrift.KvPod;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hbase.io.hfile.BlockCache;
import org.apache.hadoop.hbase.io.hfile.BlockCacheFactory;
import org.apache.hadoop.hbase.io.hfile.CacheConfig;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.server.TServer;
import org.apache.thrift.server.TThreadedSelectorServer;
import org.apache.thrift.transport.TNonblockingServerSocket;
import org.apache.thrift.transport.TTransportException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pod: opens the table's layers, then serves the KvPod API over Thrift.
 *
 * <p>Server choice: {@link TThreadedSelectorServer} with framed transport and the binary
 * protocol. A few selector threads multiplex many client and peer connections with
 * non-blocking I/O, and a separate worker pool runs the calls, which may block on HDFS
 * reads; a thread-per-connection server would need a thread per idle client, and
 * THsHaServer's single selector caps throughput. The binary protocol costs the least CPU to
 * decode, and every Thrift language speaks it. Frames are bounded by libthrift's frame
 * limit ({@link Limits#MAX_FRAME_BYTES}), strings and containers by the protocol limits,
 * and total buffered request bytes by {@code kvpod.server.max.read.buffer.bytes}.
 *
 * <p>Lifecycle: {@link #start()} once, {@link #close()} once. Not reusable.
 */
public final class PodServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(PodServer.class);

  private final PodConfig config;
  private final Configuration hadoop;
  private BlockCache blockCache;
  private LayerWatcher layers;
  private TServer server;
  private Thread serveThread;
  private TNonblockingServerSocket socket;

  public PodServer(PodConfig config) {
    this.config = config;
    this.hadoop = new Configuration();
    config.raw().forEach((k, v) -> {
      if (!k.startsWith("kvpod.")) {
        hadoop.set(k, v); // fs.*, dfs.*, hbase.* settings pass through
      }
    });
  }

  /** Opens the layers and starts serving; returns once the port accepts connections. */
  public void start() throws IOException, TTransportException {
    var v = config.values();
    TableLayout layout = new TableLayout(v.getString(PodConfig.ROOT), v.getString(PodConfig.TABLE));
    FileSystem fs = layout.tableDir().getFileSystem(hadoop);
    hadoop.setLong("hfile.block.cache.memory.size", v.getLong(PodConfig.BLOCK_CACHE_BYTES));
    blockCache = BlockCacheFactory.createBlockCache(hadoop);
    CacheConfig cache = new CacheConfig(hadoop, blockCache);

    layers = new LayerWatcher(fs, layout, cache, hadoop);
    layers.start(v.getMillis(PodConfig.LAYERS_POLL));

    PeerSigner signer = new PeerSigner(v.getString(PodConfig.SECRET), config.podId(),
        v.getMillis(PodConfig.AUTH_MAX_SKEW), System::currentTimeMillis);
    PodService[] service = new PodService[1];
    PeerDispatcher peers = new PeerDispatcher(signer, config.podId(), layout.table(), layers,
        () -> service[0].uptimeMillis());
    service[0] = new PodService(config.podId(), config.pods().size(), layout.table(), layers, peers,
        () -> blockCache == null ? 0 : blockCache.getStats().getHitRatio());

    InetSocketAddress bind = new InetSocketAddress(config.bindHost(), config.self().getPort());
    socket = new TNonblockingServerSocket(bind);
    TThreadedSelectorServer.Args args = new TThreadedSelectorServer.Args(socket)
        .selectorThreads(v.getInt(PodConfig.SELECTOR_THREADS))
        .workerThreads(v.getInt(PodConfig.WORKER_THREADS))
        .processor(new KvPod.Processor<>(service[0]))
        .protocolFactory(new TBinaryProtocol.Factory(Limits.MAX_FRAME_BYTES, Limits.MAX_BATCH));
    args.maxReadBufferBytes = v.getLong(PodConfig.MAX_READ_BUFFER_BYTES);
    server = new TThreadedSelectorServer(args);
    serveThread = new Thread(server::serve, "thrift-server");
    serveThread.start();
    long deadline = System.currentTimeMillis() + 10_000;
    while (!server.isServing()) {
      if (System.currentTimeMillis() > deadline) {
        throw new IOException("Thrift server did not start within 10 s");
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting", e);
      }
    }
    LOG.info("pod {} of {} serving table {} on {} ({} layers)", config.podId(), config.pods().size(),
        layout.table(), bind, layers.liveLayerCount());
  }

  /** Blocks until the server stops. */
  public void awaitStop() throws InterruptedException {
    serveThread.join();
  }

  @Override
  public void close() {
    if (server != null) {
      server.stop();
    }
    if (socket != null) {
      socket.close();
    }
    if (layers != null) {
      layers.close();
    }
    if (blockCache != null) {
      blockCache.shutdown();
    }
  }
}
