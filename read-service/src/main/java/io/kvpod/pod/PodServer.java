package io.kvpod.pod;

import io.kvpod.contract.Limits;
import io.kvpod.contract.PeerSigner;
import io.kvpod.contract.TableLayout;
import io.kvpod.loader.HFileOptions;
import io.kvpod.thrift.KvPod;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.RefreshRequest;
import io.kvpod.wal.WalReplay;
import io.kvpod.wal.WriteAheadLog;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Locale;
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
 * One pod: opens the table's layers, recovers its write-ahead log, then serves the KvPod
 * API over Thrift, with the group committer, flusher and (on one pod) compactor running
 * behind it.
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
  private WriteAheadLog wal;
  private GroupCommitter committer;
  private Flusher flusher;
  private Compactor compactor;
  private PeerClient peerClient;
  private OwnerRouter router;
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

  /**
   * Opens the layers, recovers the WAL (replaying what no layer holds), then starts
   * serving; returns once the port accepts connections. The pod does not listen before
   * recovery is complete, so no one reads it half-recovered.
   */
  public void start() throws IOException, TTransportException {
    var v = config.values();
    int podId = config.podId();
    int pods = config.pods().size();
    TableLayout layout = new TableLayout(v.getString(PodConfig.ROOT), v.getString(PodConfig.TABLE));
    FileSystem fs = layout.tableDir().getFileSystem(hadoop);
    hadoop.setLong("hfile.block.cache.memory.size", v.getLong(PodConfig.BLOCK_CACHE_BYTES));
    blockCache = BlockCacheFactory.createBlockCache(hadoop);
    CacheConfig cache = new CacheConfig(hadoop, blockCache);

    layers = new LayerWatcher(fs, layout, cache, hadoop);
    layers.start(v.getMillis(PodConfig.LAYERS_POLL));

    MemTables mem = new MemTables();
    FileSystem walFs = WriteAheadLog.walFileSystem(fs);
    wal = new WriteAheadLog(walFs, layout.walDir(podId), podId,
        WriteAheadLog.Durability.valueOf(v.getString(PodConfig.WAL_DURABILITY).toUpperCase(Locale.ROOT)));
    long lastVersion = recover(mem, podId, v.getMillis(PodConfig.WAL_LEASE_TIMEOUT));
    committer = new GroupCommitter(wal, mem, lastVersion, v.getLong(PodConfig.WAL_SEGMENT_BYTES),
        v.getLong(PodConfig.WAL_GROUP_BYTES), v.getLong(PodConfig.MEMTABLE_MAX_BYTES));
    committer.start();
    LocalStore store = new LocalStore(mem, layers, committer, v.getMillis(PodConfig.WRITE_TIMEOUT));

    PeerSigner signer = new PeerSigner(v.getString(PodConfig.SECRET), podId,
        v.getMillis(PodConfig.AUTH_MAX_SKEW), System::currentTimeMillis);
    PeerFaults faults = new PeerFaults(pods);
    peerClient = new PeerClient(config.pods(), signer, (int) v.getMillis(PodConfig.PEER_READ_TIMEOUT),
        (int) v.getMillis(PodConfig.PEER_TIMEOUT), v.getMillis(PodConfig.PEER_DOWN_WINDOW), faults);
    router = new OwnerRouter(podId, pods, store, peerClient, new PeerWalReader(walFs, layout, layers, pods),
        v.getMillis(PodConfig.FORWARD_DEADLINE));

    HFileOptions flushFormat = new HFileOptions(v.getString(PodConfig.FLUSH_COMPRESSION), 64 * 1024);
    Flusher.LayerSink sink = (id, partitions) -> new LayerBuilder(fs, layout, hadoop, flushFormat, id, partitions);
    compactor = v.getInt(PodConfig.COMPACTION_POD) == podId
        ? new Compactor(fs, layout, layers, sink, v.getInt(PodConfig.COMPACTION_MAX_LAYERS),
            v.getLong(PodConfig.COMPACTION_MAX_RECORDS))
        : null;
    flusher = new Flusher(new Flusher.Target(podId, v.getInt(PodConfig.FLUSH_PARTITIONS),
        v.getLong(PodConfig.FLUSH_BYTES), v.getMillis(PodConfig.FLUSH_AGE), v.getMillis(PodConfig.WRITE_TIMEOUT)),
        committer, mem, layers, wal, sink, () -> tellPeers(pods, podId));
    flusher.start(v.getMillis(PodConfig.FLUSH_CHECK));
    if (compactor != null) {
      compactor.start(v.getMillis(PodConfig.FLUSH_CHECK), () -> tellPeers(pods, podId));
    }

    PodService[] service = new PodService[1];
    PeerDispatcher peers = new PeerDispatcher(signer, podId, pods, layout.table(), store,
        () -> service[0].uptimeMillis(), faults, peerClient);
    service[0] = new PodService(podId, pods, layout.table(), layers, router, peers,
        st -> describeWrites(st, mem),
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
    LOG.info("pod {} of {} serving table {} on {} ({} layers, {} records in memory)", podId, pods,
        layout.table(), bind, layers.liveLayerCount(), mem.records());
  }

  /**
   * Replays this pod's WAL above what the live layers hold into the active memtable, and
   * returns the highest version seen, from which new versions continue.
   */
  private long recover(MemTables mem, int podId, long leaseTimeoutMillis) throws IOException {
    long start = System.currentTimeMillis();
    long covered;
    long layerVersion;
    LayerSet s = layers.acquire();
    try {
      covered = s.walThrough(podId);
      layerVersion = s.maxKnownVersion();
    } finally {
      s.release();
    }
    MemTable active = mem.active();
    long[] records = {0};
    WalReplay.Result r = wal.recover(covered, e -> {
      long seq = e.seq();
      long version = e.version();
      e.forEachRecord((k, val) -> {
        active.put(k, version, val, seq);
        records[0]++;
      });
    }, (segment, valid, dropped) -> LOG.warn("WAL {}: dropped a torn tail of {} bytes after byte {} "
        + "(an entry being written when the pod stopped; it was never acknowledged)", segment,
        dropped < 0 ? "<header>" : dropped, valid), leaseTimeoutMillis);
    LOG.info("WAL recovered in {} ms: {} segments, {} bytes, {} entries replayed ({} records), {} already "
        + "in layers (through sequence {}); next sequence {}", System.currentTimeMillis() - start,
        r.segments().size(), r.bytesRead(), r.entriesApplied(), records[0], r.entriesSkipped(), covered,
        r.nextSeq());
    return Math.max(Math.max(r.maxVersion(), layerVersion), 0);
  }

  private void describeWrites(PodStatus st, MemTables mem) {
    st.setMemtableRecords(mem.records());
    st.setWalDurableSeq(wal.durableSeq());
    st.setWalSegments(wal.segmentCount());
    st.setFlushes(flusher.flushes());
    if (compactor != null) {
      st.setCompactions(compactor.compactions());
    }
    if (wal.failure() != null) {
      st.setState("REFUSING WRITES (WAL failed: " + wal.failure().getMessage() + "); reads still served");
    } else if (flusher.lastError() != null) {
      st.setState(st.getState() + "; last flush failed: " + flusher.lastError());
    }
  }

  /** Asks the other pods to look at the layers now (best effort; they also poll). */
  private void tellPeers(int pods, int self) {
    for (int p = 0; p < pods; p++) {
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
    serveThread.join();
  }

  /**
   * Stops serving, flushes the memtables (so a clean stop leaves nothing to replay), and
   * closes the WAL and the layers. A flush that fails leaves the WAL to replay at the next
   * start.
   */
  @Override
  public void close() {
    if (server != null) {
      server.stop();
    }
    if (socket != null) {
      socket.close();
    }
    if (compactor != null) {
      compactor.close();
    }
    if (flusher != null) {
      flusher.close();
    }
    if (committer != null) {
      committer.close();
    }
    if (router != null) {
      router.close();
    }
    if (peerClient != null) {
      peerClient.close();
    }
    if (wal != null) {
      try {
        wal.close();
      } catch (IOException e) {
        LOG.warn("closing the WAL: {}", e.toString());
      }
    }
    if (layers != null) {
      layers.close();
    }
    if (blockCache != null) {
      blockCache.shutdown();
    }
  }
}
