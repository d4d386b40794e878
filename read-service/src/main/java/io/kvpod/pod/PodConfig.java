package io.kvpod.pod;

import io.kvpod.config.ConfigDef;
import io.kvpod.config.ConfigDef.Type;
import io.kvpod.config.ConfigDef.Validator;
import io.kvpod.contract.Limits;
import java.io.IOException;
import java.io.Reader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Every configuration key of a pod, declared once with its type, default and doc. Values
 * come from a properties file ({@code --config}) overridden by {@code -D key=value}; the
 * secret may also come from the environment ({@code KVPOD_SECRET}). Immutable.
 */
public final class PodConfig {
  public static final String PODS = "kvpod.pods";
  public static final String POD_ID = "kvpod.pod.id";
  public static final String ROOT = "kvpod.root";
  public static final String TABLE = "kvpod.table";
  public static final String TABLE_BUCKETS = "kvpod.table.buckets";
  public static final String BIND_HOST = "kvpod.bind.host";
  public static final String SECRET = "kvpod.secret";
  public static final String AUTH_MAX_SKEW = "kvpod.auth.max.skew";
  public static final String SELECTOR_THREADS = "kvpod.server.selector.threads";
  public static final String WORKER_THREADS = "kvpod.server.worker.threads";
  public static final String WAITING_WRITES = "kvpod.server.waiting.writes";
  public static final String MAX_READ_BUFFER_BYTES = "kvpod.server.max.read.buffer.bytes";
  public static final String FRAME_TIMEOUT = "kvpod.server.frame.timeout";
  public static final String MAX_DECODE_BYTES = "kvpod.server.max.decode.bytes";
  public static final String MAX_DECODE_BYTES_PER_CALL = "kvpod.server.max.decode.bytes.per.call";
  public static final String MAX_CONNECTIONS = "kvpod.server.max.connections";
  public static final String SLOW_CALL = "kvpod.server.slow.call";
  public static final String HTTP_PORT = "kvpod.http.port";
  public static final String MAX_CONNECTIONS_PER_ADDRESS = "kvpod.server.max.connections.per.address";
  public static final String ACCEPT_BACKLOG = "kvpod.server.accept.backlog";
  public static final String BLOCK_CACHE_BYTES = "kvpod.block.cache.bytes";
  public static final String LAYERS_POLL = "kvpod.layers.poll.interval";
  public static final String LAYERS_PREFETCH = "kvpod.layers.prefetch";
  public static final String LAYERS_PREFETCH_CACHE_PERCENT = "kvpod.layers.prefetch.cache.percent";
  public static final String PEER_TIMEOUT = "kvpod.peer.timeout";
  public static final String PEER_READ_TIMEOUT = "kvpod.peer.read.timeout";
  public static final String PEER_DOWN_WINDOW = "kvpod.peer.down.window";
  public static final String WRITE_DEADLINE = "kvpod.write.deadline";
  public static final String WRITE_TIMEOUT = "kvpod.write.timeout";
  public static final String WAL_DURABILITY = "kvpod.wal.durability";
  public static final String WAL_SEGMENT_BYTES = "kvpod.wal.segment.bytes";
  public static final String WAL_LEASE_TIMEOUT = "kvpod.wal.lease.recovery.timeout";
  public static final String WAL_GROUP_BYTES = "kvpod.wal.group.bytes";
  public static final String FLUSH_BYTES = "kvpod.memtable.flush.bytes";
  public static final String FLUSH_AGE = "kvpod.memtable.flush.age";
  public static final String POD_FLUSH_BYTES = "kvpod.memtable.pod.flush.bytes";
  public static final String MEMTABLE_MAX_BYTES = "kvpod.memtable.max.bytes";
  public static final String FLUSH_PARTITIONS = "kvpod.flush.partitions";
  public static final String FLUSH_COMPRESSION = "kvpod.flush.compression";
  public static final String FLUSH_CHECK = "kvpod.flush.check.interval";
  public static final String FLUSH_VERIFY = "kvpod.flush.verify";
  public static final String COMPACTION_POD = "kvpod.compaction.pod";
  public static final String COMPACTION_MAX_LAYERS = "kvpod.compaction.max.layers";
  public static final String COMPACTION_MAX_RECORDS = "kvpod.compaction.max.records";
  public static final String TAKEOVER_AFTER = "kvpod.takeover.after";
  public static final String HAND_BACK_AFTER = "kvpod.handback.after";
  public static final String OWNERSHIP_POLL = "kvpod.ownership.poll.interval";
  public static final String OWNERSHIP_LEASE = "kvpod.ownership.lease";
  public static final String HEARTBEAT_INTERVAL = "kvpod.peer.heartbeat.interval";
  public static final String HEARTBEAT_TIMEOUT = "kvpod.peer.heartbeat.timeout";
  public static final String DEBUG_RECOVERY_DELAY = "kvpod.debug.recovery.delay";
  public static final String DEBUG_STOP_FLUSH_DELAY = "kvpod.debug.stop.flush.delay";
  public static final String CLOCK_MAX_SKEW = "kvpod.clock.max.skew";
  public static final String SERVER_TRANSPORT = "kvpod.server.transport";
  public static final String SERVER_INLINE_READS = "kvpod.server.inline.reads";
  public static final String COORDINATION = "kvpod.coordination";
  public static final String ZK_QUORUM = "kvpod.zookeeper.quorum";
  public static final String ZK_SESSION_TIMEOUT = "kvpod.zookeeper.session.timeout";
  public static final String TLS_ENABLED = io.kvpod.client.TlsConfig.ENABLED;
  public static final String TLS_KEYSTORE = io.kvpod.client.TlsConfig.KEYSTORE;
  public static final String TLS_KEYSTORE_PASSWORD = io.kvpod.client.TlsConfig.KEYSTORE_PASSWORD;
  public static final String TLS_TRUSTSTORE = io.kvpod.client.TlsConfig.TRUSTSTORE;
  public static final String TLS_TRUSTSTORE_PASSWORD = io.kvpod.client.TlsConfig.TRUSTSTORE_PASSWORD;
  public static final String TLS_CLIENT_AUTH = "kvpod.tls.client.auth";
  public static final String TLS_PROVIDER = io.kvpod.client.TlsConfig.PROVIDER;

  public static final ConfigDef DEF = io.kvpod.config.KerberosLogin.define(new ConfigDef()
      .define(PODS, Type.STRING, null,
          "the cluster's pods, in order, as host:port,host:port,...; a pod's id is its index")
      .define(POD_ID, Type.INT, null, Validator.atLeast(0), "this pod's index in kvpod.pods")
      .define(ROOT, Type.STRING, null, "kvpod root URI, e.g. hdfs://nn:8020/kvpod or file:///tmp/kvpod")
      .define(TABLE, Type.STRING, "default", PodConfig::checkTables,
          "the tables this pod serves under kvpod.root, comma-separated (e.g. users,orders); the first is "
              + "the default table, which calls that name no table are about. Each table is owned, recovered "
              + "and taken over on its own; the pods share one port, block cache and set of meters")
      .define(TABLE_BUCKETS, Type.INT, Integer.toString(io.kvpod.contract.TableMeta.DEFAULT_BUCKETS), Validator.between(1, io.kvpod.contract.TableMeta.MAX_BUCKETS),
          "buckets of a table this pod creates (the first pod to find the table without _table.json "
              + "records it there; a table made before bucket counts were recorded keeps one bucket per pod). "
              + "Fixed for the table's life: later pods use the recorded count. Each bucket is one write-ahead "
              + "log and one holder; more buckets spread a dead pod's keys over more survivors")
      .define(BIND_HOST, Type.STRING, null,
          "address to listen on; default: the host of this pod's entry in kvpod.pods")
      .define(SECRET, Type.STRING, null,
          "cluster secret that signs pod-to-pod messages (or env KVPOD_SECRET); at least 8 characters")
      .define(AUTH_MAX_SKEW, Type.DURATION_MS, "30s", Validator.atLeast(1000),
          "a pod accepts an internal message only within this of its sending time (by the pod's clock); "
              + "within it, each message is accepted once (replays are refused)")
      .define(SELECTOR_THREADS, Type.INT, "2", Validator.between(1, 64), "threads that do network I/O")
      .define(SERVER_INLINE_READS, Type.BOOLEAN, "true",
          "answer a get on the I/O thread (selector or Netty event loop) that read it when nothing in it can wait (its bucket held here, "
              + "its files prefetched and none of their blocks evicted since), rather than hand it to a worker")
      .define(WORKER_THREADS, Type.INT, "64", Validator.between(2, 1024),
          "threads that run calls, started as calls need them (gets block on HDFS reads, and forwarded "
              + "writes on other pods, so many more than cores); one idle for a minute ends. Pings and pods' "
              + "heartbeats do not take one: they run on two threads of their own")
      .define(WAITING_WRITES, Type.INT, "0", Validator.atLeast(0),
          "most writes that may wait on another pod at once (forwarded or relayed to a holder, or waiting "
              + "out a takeover); more are refused at once with BUSY (retriable, nothing applied), so that "
              + "pings and reads always find a worker thread. 0: three quarters of kvpod.server.worker.threads; "
              + "must be below it")
      .define(MAX_READ_BUFFER_BYTES, Type.LONG, "268435456", Validator.atLeast(Limits.MAX_FRAME_BYTES),
          "memory for requests being read, over all connections; one frame is at most "
              + Limits.MAX_FRAME_BYTES + " bytes (MAX_FRAME_BYTES)")
      .define(MAX_DECODE_BYTES, Type.LONG, "268435456", Validator.atLeast(1 << 20),
          "heap that the decoded arguments of calls may take at once, over all connections (estimated as "
              + "they are decoded, before they are built); a call that finds it taken gets BUSY (retriable, "
              + "nothing applied)")
      .define(MAX_DECODE_BYTES_PER_CALL, Type.LONG, "134217728", Validator.atLeast(1 << 20),
          "heap that one call's decoded arguments may take; a call over it gets TOO_LARGE before it is built. "
              + "A full frame of ordinary records takes about 60 MiB; millions of tiny fields take more. At most "
              + MAX_DECODE_BYTES)
      .define(SLOW_CALL, Type.DURATION_MS, "1s", Validator.atLeast(1),
          "a call that takes longer is logged as slow (at most one line a second, with a count)")
      .define(HTTP_PORT, Type.INT, "0", Validator.between(-1, 65535),
          "port of the pod's HTTP endpoint, on kvpod.bind.host: GET /metrics answers Prometheus text (the same "
              + "meters are JMX MBeans in domain kvpod). 0: any free port (the log and status' httpPort say "
              + "which); -1: no endpoint")
      .define(MAX_CONNECTIONS, Type.INT, "4096", Validator.atLeast(1),
          "most client and peer connections open at once; one more is closed as soon as it is accepted")
      .define(ACCEPT_BACKLOG, Type.INT, "1024", Validator.between(1, 65535),
          "connections the kernel queues for the pod to accept (capped by net.core.somaxconn); when it is full, "
              + "new connections wait a second or more to be tried again")
      .define(MAX_CONNECTIONS_PER_ADDRESS, Type.INT, "1024", Validator.atLeast(1),
          "most connections open at once from one IP address; one more is closed as soon as it is accepted")
      .define(FRAME_TIMEOUT, Type.DURATION_MS, "20s", Validator.atLeast(100),
          "a connection whose request frame is not complete this long after its first byte is ended (each "
              + "announced frame holds its size of kvpod.server.max.read.buffer.bytes until it is read)")
      .define(SERVER_TRANSPORT, Type.STRING, "auto", Validator.oneOf("auto", "selector", "netty"),
          "the server: selector (libthrift non-blocking I/O), netty (Netty, which carries TLS) or auto "
              + "(netty with TLS, selector without). Both speak the same framed binary Thrift")
      .define(TLS_ENABLED, Type.BOOLEAN, "false",
          "serve TLS (1.3 or 1.2) to clients and pods, and call other pods over TLS; needs "
              + TLS_KEYSTORE + " and " + TLS_TRUSTSTORE)
      .define(TLS_KEYSTORE, Type.STRING, null,
          "key store (PKCS#12 or JKS) holding this pod's private key and certificate, which must name the "
              + "pod's host (or IP) as a subject alternative name; also shown to other pods as a client")
      .define(TLS_KEYSTORE_PASSWORD, Type.STRING, "", "password of the key store and of its key")
      .define(TLS_TRUSTSTORE, Type.STRING, null,
          "trust store (PKCS#12 or JKS) of the certificates (or their CA) that pods and clients may show")
      .define(TLS_TRUSTSTORE_PASSWORD, Type.STRING, "", "password of the trust store")
      .define(TLS_CLIENT_AUTH, Type.STRING, "none", Validator.oneOf("none", "require"),
          "require: every call on a connection whose client showed no certificate gets UNAUTHENTICATED (a "
              + "certificate that is shown but not trusted fails the handshake); none: any TLS client may call")
      .define(TLS_PROVIDER, Type.STRING, "auto", Validator.oneOf("auto", "openssl", "jdk"),
          "whose TLS the pod speaks, serving and calling other pods: openssl (BoringSSL: netty-tcnative's "
              + "serving, for Linux x86-64, and Conscrypt's calling; far cheaper per call), jdk (the JDK's), or auto "
              + "(openssl where it loads, else jdk; the log says which). Clients read the same key from their --tls file")
      .define(BLOCK_CACHE_BYTES, Type.LONG, "268435456", Validator.atLeast(0),
          "on-heap HFile block cache shared by all layers, in bytes")
      .define(LAYERS_PREFETCH, Type.BOOLEAN, "true",
          "read the layer files of the buckets this pod holds into the block cache when they open "
          + "(a new layer, a bucket taken over), rather than block by block as gets miss")
      .define(LAYERS_PREFETCH_CACHE_PERCENT, Type.INT, "25", Validator.between(1, 100),
          "the most of the block cache one layer's prefetch may fill, in percent: the files of the buckets held "
              + "are prefetched in turn while the layer's prefetched bytes stay within it, and the rest are cached "
              + "block by block as gets read them. The cache keeps blocks read once, as a prefetch reads them, in a "
              + "quarter of its room once it is full, so a larger prefetch would evict itself and other tables' blocks")
      .define(LAYERS_POLL, Type.DURATION_MS, "5s", Validator.atLeast(100),
          "how often to look for new, rolled-back or compacted layers")
      .define(PEER_TIMEOUT, Type.DURATION_MS, "5s", Validator.atLeast(1),
          "timeout of one forwarded write (or other message) to another pod")
      .define(PEER_READ_TIMEOUT, Type.DURATION_MS, "300ms", Validator.atLeast(1),
          "how long a forwarded read waits for the key's owner before answering from the owner's WAL")
      .define(PEER_DOWN_WINDOW, Type.DURATION_MS, "2s", Validator.atLeast(0),
          "after an owner failed to answer a read, how long reads skip it and use its WAL directly")
      .define(WRITE_DEADLINE, Type.DURATION_MS, "10s", Validator.atLeast(1),
          "a write is logged within this long of reaching a pod, or never (unless its caller set an earlier "
              + "deadline in WriteOptions); a pod retries an unreachable holder until then, then answers "
              + "OWNER_UNREACHABLE")
      .define(WRITE_TIMEOUT, Type.DURATION_MS, "30s", Validator.atLeast(1),
          "how long a write waits to become durable before it fails with TIMEOUT")
      .define(WAL_DURABILITY, Type.STRING, "hflush", Validator.oneOf("hflush", "hsync"),
          "when a write is acknowledged: hflush (in every DataNode's memory) or hsync (on their disks)")
      .define(WAL_SEGMENT_BYTES, Type.LONG, "134217728", Validator.atLeast(4096),
          "size at which the WAL starts a new segment")
      .define(WAL_LEASE_TIMEOUT, Type.DURATION_MS, "60s", Validator.atLeast(1),
          "how long recovery waits for the HDFS lease on the last WAL segment")
      .define(WAL_GROUP_BYTES, Type.LONG, "4194304", Validator.atLeast(1),
          "most bytes of entries that share one sync (group commit)")
      .define(FLUSH_BYTES, Type.LONG, "67108864", Validator.atLeast(1),
          "memtable size of one bucket (approximate heap bytes) that triggers a flush of that bucket to a layer")
      .define(FLUSH_AGE, Type.DURATION_MS, "10m", Validator.atLeast(1),
          "a memtable holding records this old is flushed even if small")
      .define(POD_FLUSH_BYTES, Type.LONG, "268435456", Validator.atLeast(1),
          "when the memtables of all the buckets this pod holds reach this many bytes, each bucket holding at "
              + "least the mean per bucket flushes (each bucket also flushes at kvpod.memtable.flush.bytes)")
      .define(MEMTABLE_MAX_BYTES, Type.LONG, "268435456", Validator.atLeast(1),
          "when one bucket's active and frozen memtables hold more than this, its writes wait for flushes")
      .define(FLUSH_PARTITIONS, Type.INT, "1", Validator.between(1, 4096),
          "partitions (files) of a flushed layer")
      .define(FLUSH_COMPRESSION, Type.STRING, "snappy", Validator.oneOf("none", "gz", "snappy"),
          "HFile compression of flushed and compacted layers")
      .define(FLUSH_VERIFY, Type.STRING, "metadata", Validator.oneOf("metadata", "read-back"),
          "how a pod checks a layer it wrote (a flush or a compaction) before publishing it: metadata (open each "
              + "file's trailer, file info, indexes and bloom, and compare its length, record count and content "
              + "checksum with the writer's) or read-back (also read every record back and recompute the checksum, "
              + "as the loader does for a bulk load; costs a read of the whole layer)")
      .define(FLUSH_CHECK, Type.DURATION_MS, "1s", Validator.atLeast(10),
          "how often the flusher (and the compactor) checks whether there is work")
      .define(COMPACTION_POD, Type.INT, "0", Validator.atLeast(-1),
          "the pod that compacts the table's layers; -1: no pod compacts")
      .define(COMPACTION_MAX_LAYERS, Type.INT, "8", Validator.atLeast(1),
          "compact when the table has more live layers than this")
      .define(COMPACTION_MAX_RECORDS, Type.LONG, "20000000", Validator.atLeast(1),
          "largest merge (in records) a pod runs; larger ones are left for a MapReduce job")
      .define(TAKEOVER_AFTER, Type.DURATION_MS, "1500ms", Validator.atLeast(0),
          "take over a bucket whose holder no pod has heard from for this long; 0: never take over")
      .define(HAND_BACK_AFTER, Type.DURATION_MS, "30s", Validator.atLeast(0),
          "take a home bucket back, one at a time, from a live pod that has held it this long (after a "
              + "reclaim at start lost its races, or this pod was frozen or cut off); 0: only a restart reclaims")
      .define(OWNERSHIP_POLL, Type.DURATION_MS, "250ms", Validator.atLeast(10),
          "how often a pod re-reads the bucket holders recorded on HDFS")
      .define(OWNERSHIP_LEASE, Type.DURATION_MS, "1s", Validator.atLeast(1),
          "a holder serves its buckets only while its last confirmed view of the holders is "
              + "younger than this; a new holder waits this long before it serves (must exceed the poll interval)")
      .define(HEARTBEAT_INTERVAL, Type.DURATION_MS, "250ms", Validator.atLeast(10),
          "how often a pod pings each other pod, to learn which pods are down (see kvpod.takeover.after)")
      .define(HEARTBEAT_TIMEOUT, Type.DURATION_MS, "1s", Validator.atLeast(1),
          "how long a ping waits for its answer")
      .define(CLOCK_MAX_SKEW, Type.DURATION_MS, "1s", Validator.atLeast(0),
          "the most two pods' wall clocks may differ: a pod waits this long past a forwarded write's deadline "
              + "before it sends that write again, or gives up on it")
      .define(COORDINATION, Type.STRING, "hdfs", Validator.oneOf("hdfs", "zookeeper"),
          "hdfs: pods and clients learn holders and pods from the records on HDFS (polling); zookeeper: the pods "
              + "also register in ZooKeeper and mirror the records there, so clients that use it hear of changes "
              + "at once. HDFS fences in both")
      .define(ZK_QUORUM, Type.STRING, null,
          "with kvpod.coordination=zookeeper: the registry, host:port[,host:port...][/root] (root default /kvpod)")
      .define(ZK_SESSION_TIMEOUT, Type.DURATION_MS, "10s", Validator.atLeast(1000),
          "ZooKeeper session timeout: how long after a pod stops its node stays, and clients keep calling it")
      .define(DEBUG_RECOVERY_DELAY, Type.DURATION_MS, "0", Validator.atLeast(0),
          "for fault tests only: wait this long in each bucket recovery the pod makes while it starts, after the "
              + "claim and before the log is fenced and replayed, as a slow machine or a large log would")
      .define(DEBUG_STOP_FLUSH_DELAY, Type.DURATION_MS, "0", Validator.atLeast(0),
          "for fault tests only: wait this long before each bucket's flush in a clean stop, as a busy HDFS would"));

  private final Map<String, String> values;
  private final ConfigDef.Values typed;

  private PodConfig(Map<String, String> values) {
    this.values = Map.copyOf(values);
    this.typed = DEF.values(this.values::get);
  }

  /** Reads {@code file} (may be null), applies overrides, then checks every key. */
  public static PodConfig load(Path file, Map<String, String> overrides) throws IOException {
    Map<String, String> v = new HashMap<>();
    if (file != null) {
      Properties p = new Properties();
      try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        p.load(r);
      }
      p.stringPropertyNames().forEach(k -> v.put(k, p.getProperty(k)));
    }
    v.putAll(overrides);
    if (!v.containsKey(SECRET) && System.getenv("KVPOD_SECRET") != null) {
      v.put(SECRET, System.getenv("KVPOD_SECRET"));
    }
    return of(v);
  }

  public static PodConfig of(Map<String, String> values) {
    for (String k : values.keySet()) {
      if (k.startsWith("kvpod.") && DEF.keys().stream().noneMatch(d -> d.name().equals(k))) {
        throw new IllegalArgumentException("unknown config key " + k + " (see --help for the list)");
      }
    }
    PodConfig c = new PodConfig(values);
    c.typed.validateAll();
    for (String required : List.of(PODS, POD_ID, ROOT, SECRET)) {
      c.typed.require(required);
    }
    int workers = c.typed.getInt(WORKER_THREADS);
    if (c.waitingWrites() >= workers) {
      throw new IllegalArgumentException(WAITING_WRITES + "=" + c.waitingWrites() + " must be below "
          + WORKER_THREADS + "=" + workers + ": waiting writes may never take every worker");
    }
    if (c.typed.getBoolean(TLS_ENABLED)) {
      for (String required : List.of(TLS_KEYSTORE, TLS_TRUSTSTORE)) {
        if (c.values.get(required) == null || c.values.get(required).isBlank()) {
          throw new IllegalArgumentException(required + " is required with " + TLS_ENABLED + "=true");
        }
      }
      if (c.typed.getString(SERVER_TRANSPORT).equals("selector")) {
        throw new IllegalArgumentException(SERVER_TRANSPORT + "=selector cannot serve TLS: use netty (or auto)");
      }
    } else if (c.typed.getString(TLS_CLIENT_AUTH).equals("require")) {
      throw new IllegalArgumentException(TLS_CLIENT_AUTH + "=require needs " + TLS_ENABLED + "=true: client "
          + "certificates come with TLS");
    }
    if (c.typed.getLong(MAX_DECODE_BYTES_PER_CALL) > c.typed.getLong(MAX_DECODE_BYTES)) {
      throw new IllegalArgumentException(MAX_DECODE_BYTES_PER_CALL + "=" + c.typed.getLong(MAX_DECODE_BYTES_PER_CALL)
          + " must be at most " + MAX_DECODE_BYTES + "=" + c.typed.getLong(MAX_DECODE_BYTES)
          + ": a call that size could never be decoded");
    }
    if (c.zookeeper() != null) {
      c.zookeeper(); // parses it: a bad address fails at start, not at first use
    } else if (c.typed.getString(COORDINATION).equalsIgnoreCase("zookeeper")) {
      throw new IllegalArgumentException(COORDINATION + "=zookeeper needs " + ZK_QUORUM
          + "=host:port[,host:port...][/root]");
    }
    if (c.podId() >= c.pods().size()) {
      throw new IllegalArgumentException("kvpod.pod.id=" + c.podId() + " but kvpod.pods lists only "
          + c.pods().size() + " pods");
    }
    return c;
  }

  /** {@link #WAITING_WRITES}, with 0 resolved to three quarters of the worker threads. */
  public int waitingWrites() {
    int set = typed.getInt(WAITING_WRITES);
    return set > 0 ? set : Math.max(1, typed.getInt(WORKER_THREADS) * 3 / 4);
  }

  /** The ZooKeeper registry to register in, or null with {@code kvpod.coordination=hdfs}. */
  public io.kvpod.zk.ZkAddress zookeeper() {
    String q = values.get(ZK_QUORUM);
    if (!typed.getString(COORDINATION).equalsIgnoreCase("zookeeper") || q == null || q.isBlank()) {
      return null;
    }
    return io.kvpod.zk.ZkAddress.parse(q);
  }

  public ConfigDef.Values values() {
    return typed;
  }

  /** The raw value of any key, for passing on to Hadoop (e.g. fs.* or dfs.* settings). */
  public Map<String, String> raw() {
    return values;
  }

  public List<InetSocketAddress> pods() {
    return parsePods(typed.getString(PODS));
  }

  /** The tables this pod serves ({@link #TABLE}), the default table first. */
  public List<String> tables() {
    return parseTables(typed.getString(TABLE));
  }

  static List<String> parseTables(String csv) {
    List<String> out = new java.util.ArrayList<>();
    for (String t : csv.split(",", -1)) {
      String name = t.trim();
      io.kvpod.contract.TableLayout.checkTableName(name);
      if (out.contains(name)) {
        throw new IllegalArgumentException("table '" + name + "' is named twice");
      }
      out.add(name);
    }
    return List.copyOf(out);
  }

  private static String checkTables(Object value) {
    try {
      parseTables((String) value);
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  public int podId() {
    return typed.getInt(POD_ID);
  }

  public InetSocketAddress self() {
    return pods().get(podId());
  }

  public String bindHost() {
    String h = values.get(BIND_HOST);
    return h != null ? h : self().getHostString();
  }

  public static List<InetSocketAddress> parsePods(String csv) {
    List<InetSocketAddress> out = new ArrayList<>();
    for (String s : csv.split(",")) {
      String t = s.trim();
      int colon = t.lastIndexOf(':');
      if (colon <= 0 || colon == t.length() - 1) {
        throw new IllegalArgumentException("bad pod address '" + t + "' in kvpod.pods: expected host:port");
      }
      int port;
      try {
        port = Integer.parseInt(t.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad port in pod address '" + t + "'");
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("port out of range in pod address '" + t + "'");
      }
      out.add(InetSocketAddress.createUnresolved(t.substring(0, colon), port));
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("kvpod.pods lists no pods");
    }
    return out;
  }
}
