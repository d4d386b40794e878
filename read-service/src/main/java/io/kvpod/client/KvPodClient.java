package io.kvpod.client;

import static io.kvpod.client.PodCalls.error;
import static io.kvpod.client.PodCalls.failure;

import io.kvpod.contract.ContractViolation;
import io.kvpod.contract.Limits;
import io.kvpod.contract.Membership;
import io.kvpod.contract.PeerSigner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPod;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.Lookup;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.Record;
import io.kvpod.thrift.WriteOptions;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import java.io.Closeable;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.thrift.TException;

/**
 * The Java client of a kvpod cluster, with the seed's interface ({@code get}, {@code put},
 * {@code batchPut}) plus {@code multiGet}.
 *
 * <ul>
 *   <li><b>Routing.</b> A key's call goes first to the holder of its bucket
 *       ({@code murmur3(key) mod B}, B the table's bucket count): the bucket's home pod,
 *       unless a takeover recorded another pod in a later epoch. The client learns B and the
 *       holders from a pod's {@code status()} on its first call (until then, or if no pod
 *       answers, it sends each call to any pod, which forwards it). On failure a call goes to
 *       the next pods in order (any pod forwards to the holder), and the client re-learns
 *       the holders, keeping for each bucket the holding of the highest epoch.
 *       {@code batchPut} splits the batch by holder and sends the shares in parallel.</li>
 *   <li><b>Finding the pods.</b> Either a pod list ({@code builder("host:port,...")}), from
 *       which the client learns the rest from the pods, or a ZooKeeper registry
 *       ({@code builder().zookeeper("zk1:2181,zk2:2181/kvpod").table("users")}), which the pods
 *       keep up to date with {@code kvpod.coordination=zookeeper}: the client then watches
 *       the table's holders and pods ({@link ZkDiscovery}), re-routes as soon as a watch
 *       fires, never calls a pod whose registration is gone, and keeps routing with what it
 *       last heard while ZooKeeper is unreachable.</li>
 *   <li><b>Pods that join and leave.</b> The pod list given to the builder is where to start;
 *       each {@code status()} also carries the table's membership (its pods' addresses, with
 *       a version), and the client adopts a newer one before it routes to the pods it names.
 *       So pods added or decommissioned online need no client restart ({@link #podIds}).</li>
 *   <li><b>Retries</b> are decided by the failure: a transport failure (refused, reset,
 *       timed out) or a {@code KvPodException} marked retriable is retried on the next pod;
 *       any other {@code KvPodException} is thrown at once. Retries wait
 *       {@link Backoff} and stop at {@code maxAttempts} or the call's {@code deadline},
 *       whichever comes first; then a retriable {@code UNAVAILABLE} is thrown
 *       ({@link PodCalls}).</li>
 *   <li><b>Following a takeover while calls are stuck.</b> A pod that has calls waiting
 *       and has answered none for {@code silentAfterMs} (default 1 s) is silent
 *       ({@link SilentPods}): a frozen or cut-off holder. While one is, the client re-learns
 *       the holders from another pod every half second, so calls made after the bucket was
 *       taken over go to its new holder, without waiting for the stuck calls to time out.</li>
 *   <li><b>Hedged reads</b> (off unless {@code hedgeAfterMs > 0}): if a get has no answer
 *       after that long, the same get goes to the next pod too, and the first answer wins.</li>
 *   <li><b>One copy of a write at a time.</b> Every attempt of {@code put} or
 *       {@code batchPut} carries its own deadline, {@code min(call deadline, now + callTimeoutMs
 *       - maxClockSkewMs)}, which every pod enforces: a copy is logged by then or never
 *       ({@code WriteOptions}). An attempt that timed out has outlived its deadline, so the
 *       next attempt never races it; an attempt lost otherwise (a reset connection) is waited
 *       out before the next one; a pod answers an error only once every copy it sent on is
 *       settled. So when {@code put} returns, by success or by failure, no copy of the write
 *       can take effect later: writing the key again is never overtaken by it.</li>
 * </ul>
 *
 * Thread-safe; share one instance. Close it to release connections.
 */
public final class KvPodClient implements Closeable {
  /** The most threads one client runs the shares of its multi-key calls on; past that, on the caller's. */
  static final int FAN_OUT_THREADS = 64;
  private final ConnectionPool pool;
  private final int callTimeoutMs;
  private final long deadlineMs;
  private final long maxClockSkewMs;
  /** Attempts, retries and hedges of calls to the pods. */
  private final PodCalls calls;
  private final PodHealth health;
  /** Which pod holds each bucket. */
  private final HolderTable holders;
  /** Null unless the client found the pods through ZooKeeper. */
  private final ZkDiscovery discovery;
  private final SilentPods silent;
  private final java.util.concurrent.ScheduledExecutorService watchdog;
  /** The table every call is about; null: each pod's default table. */
  private final String table;
  /** Runs the shares of a multi-key call in parallel, on at most {@link #FAN_OUT_THREADS} threads. */
  private final ScatterGather shares = new ScatterGather("kvpod-client-fan-out", FAN_OUT_THREADS);
  /** Relearns the holders after failures: best effort, so a request made while two run is dropped. */
  private final ThreadPoolExecutor background = new ThreadPoolExecutor(0, 2, 60, TimeUnit.SECONDS,
      new SynchronousQueue<>(), r -> {
        Thread t = new Thread(r, "kvpod-client-holders");
        t.setDaemon(true);
        return t;
      }, new ThreadPoolExecutor.DiscardPolicy());

  private KvPodClient(Builder b) {
    this.table = b.table == null || b.table.isEmpty() ? null : b.table;
    this.pool = new ConnectionPool(b.pods, b.maxIdlePerPod, b.connectTimeoutMs, b.callTimeoutMs, b.tls);
    this.callTimeoutMs = b.callTimeoutMs;
    this.deadlineMs = b.deadlineMs;
    this.maxClockSkewMs = b.maxClockSkewMs;
    this.health = new PodHealth(Membership.MAX_PODS, b.backoff);
    this.silent = new SilentPods(Membership.MAX_PODS);
    this.calls = new PodCalls(pool, health, silent, this::registered, this::relearn, b.callTimeoutMs, b.deadlineMs,
        b.maxAttempts, b.backoff, b.maxClockSkewMs, b.hedgeAfterMs);
    this.holders = new HolderTable(pool::size,
        pod -> calls.attempt(pod, c -> c.status(table), Math.min(callTimeoutMs, 2000)), background, this::members);
    this.discovery = b.zookeeper == null ? null : discover(b);
    this.watchdog = b.silentAfterMs > 0 ? startWatchdog(b.silentAfterMs) : null;
  }

  /** False for a pod not to be called: with ZooKeeper, one with no registration (dead or stopped). */
  private boolean registered(int pod) {
    return discovery == null || discovery.registered(pod);
  }

  /** A call sent first to {@code pod} as a bucket's holder failed: the holder may have moved. */
  private void relearn(int pod) {
    holders.relearn(pod);
  }

  /** Watches the table in ZooKeeper, and waits for the first view of it; on failure, releases everything. */
  private ZkDiscovery discover(Builder b) {
    ZkDiscovery d = null;
    try {
      d = new ZkDiscovery(b.zookeeper, b.table, (int) b.zookeeperTimeoutMs,
          (int) Math.min(b.zookeeperTimeoutMs, Integer.MAX_VALUE), holders::learn);
      d.awaitFirstView(b.zookeeperTimeoutMs);
      return d;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      release(d);
      throw new IllegalStateException("interrupted while reading table '" + b.table + "' from ZooKeeper", e);
    } catch (RuntimeException e) {
      release(d);
      throw e;
    }
  }

  /** Closes {@code d} (if any) and this client's other parts, for a constructor that fails. */
  private void release(ZkDiscovery d) {
    if (d != null) {
      d.close();
    }
    close();
  }

  public static Builder builder(List<InetSocketAddress> pods) {
    return new Builder(pods);
  }

  /** A builder to be given the pods' ZooKeeper registry ({@link Builder#zookeeper}) and the table. */
  public static Builder builder() {
    return new Builder(List.of());
  }

  /** {@code host:port,host:port,...} in pod-id order. */
  public static Builder builder(String pods) {
    List<InetSocketAddress> list = new ArrayList<>();
    for (String s : pods.split(",")) {
      list.add(address(s.trim()));
    }
    return new Builder(list);
  }

  /** Settings, each with its default. */
  public static final class Builder {
    private final List<InetSocketAddress> pods;
    private int connectTimeoutMs = 1000;
    private int callTimeoutMs = 5000;
    private long deadlineMs = 15_000;
    private int maxAttempts = 6;
    private Backoff backoff = new Backoff(20, 1000);
    private long hedgeAfterMs = -1;
    private long maxClockSkewMs = 1000;
    private int maxIdlePerPod = 16;
    private long silentAfterMs = 1000;
    private TlsConfig tls;
    private io.kvpod.zk.ZkAddress zookeeper;
    private String table;
    private long zookeeperTimeoutMs = 10_000;

    private Builder(List<InetSocketAddress> pods) {
      this.pods = List.copyOf(pods);
    }

    /**
     * Find the pods in this ZooKeeper registry, {@code host:port[,host:port...][/root]} (root
     * default {@code /kvpod}), instead of a pod list; give the {@link #table} too.
     */
    public Builder zookeeper(String address) {
      this.zookeeper = io.kvpod.zk.ZkAddress.parse(address);
      return this;
    }

    /**
     * The table to read and write (a pod may serve several); by default each pod's default
     * table, the first it serves. With {@link #zookeeper}, also the table to find there.
     */
    public Builder table(String table) {
      this.table = table;
      return this;
    }

    /**
     * With {@link #zookeeper}: the ZooKeeper session timeout, and how long {@link #build}
     * waits for the first view of the table (default 10000 ms).
     */
    public Builder zookeeperTimeoutMs(long ms) {
      this.zookeeperTimeoutMs = ms;
      return this;
    }

    /** Time to open a connection (default 1000 ms). */
    public Builder connectTimeoutMs(int ms) {
      this.connectTimeoutMs = ms;
      return this;
    }

    /** Time one attempt may wait for its answer (default 5000 ms). */
    public Builder callTimeoutMs(int ms) {
      this.callTimeoutMs = ms;
      return this;
    }

    /** Time a call may take over all its attempts (default 15000 ms). */
    public Builder deadlineMs(long ms) {
      this.deadlineMs = ms;
      return this;
    }

    /** Attempts per call, the first included (default 6). */
    public Builder maxAttempts(int n) {
      this.maxAttempts = Math.max(1, n);
      return this;
    }

    /** Backoff between attempts (default 20 ms base, 1 s cap). */
    public Builder backoff(Backoff b) {
      this.backoff = b;
      return this;
    }

    /** Hedge a get after this long without an answer; <= 0 turns hedging off (default). */
    public Builder hedgeAfterMs(long ms) {
      this.hedgeAfterMs = ms;
      return this;
    }

    /**
     * Re-learn the holders while a pod has had calls waiting this long without answering
     * any (default 1000 ms; <= 0 turns it off). See {@link SilentPods}.
     */
    public Builder silentAfterMs(long ms) {
      this.silentAfterMs = ms;
      return this;
    }

    /**
     * Talk to the pods over TLS with these settings (default: plain TCP). The pods must serve
     * TLS ({@code kvpod.tls.enabled=true}); null means plain TCP.
     */
    public Builder tls(TlsConfig tls) {
      this.tls = tls;
      return this;
    }

    /** Idle connections kept per pod (default 16). */
    public Builder maxIdlePerPod(int n) {
      this.maxIdlePerPod = n;
      return this;
    }

    /**
     * The most this client's clock may differ from any pod's (default 1000 ms): a write's
     * deadline is set this much before the call's own, and a failed write is reported only
     * once its deadline plus this much has passed.
     */
    public Builder maxClockSkewMs(long ms) {
      this.maxClockSkewMs = ms;
      return this;
    }

    /**
     * @throws IllegalArgumentException if neither pods nor a ZooKeeper registry and table were
     *     given, or the settings contradict each other
     * @throws IllegalStateException if ZooKeeper does not answer in time, or has no such table
     */
    public KvPodClient build() {
      if (pods.isEmpty() == (zookeeper == null)) {
        throw new IllegalArgumentException(pods.isEmpty() ? "no pods given: give their addresses, or a ZooKeeper "
            + "registry with zookeeper(...)" : "give pods or a ZooKeeper registry, not both");
      }
      if (zookeeper != null && (table == null || table.isBlank())) {
        throw new IllegalArgumentException("with zookeeper(...), say which table: table(name)");
      }
      if (maxClockSkewMs < 0 || deadlineMs <= 2 * maxClockSkewMs) {
        throw new IllegalArgumentException("the deadline (" + deadlineMs + " ms) must exceed twice the clock skew ("
            + maxClockSkewMs + " ms): a write's deadline is the call's less the skew");
      }
      return new KvPodClient(this);
    }
  }


  /** One more than the highest pod id this client knows; some ids may have no pod ({@link #podIds}). */
  public int pods() {
    return pool.size();
  }

  /**
   * The ids of the pods, in increasing order: as the pods last said (asking them now if none
   * has said yet), so it follows pods joining and leaving.
   */
  public List<Integer> podIds() {
    holders.buckets();
    List<Integer> ids = new ArrayList<>();
    for (int p = 0; p < pool.size(); p++) {
      if (pool.address(p) != null) {
        ids.add(p);
      }
    }
    return ids;
  }

  /** Where pod {@code id} serves, as this client knows it now; null if there is no such pod. */
  public InetSocketAddress address(int id) {
    return id >= 0 && id < pool.size() ? pool.address(id) : null;
  }

  /** The table's pods changed: {@code byId} gives each id's {@code host:port}, "" where there is none. */
  private void members(List<String> byId) {
    List<InetSocketAddress> next = new ArrayList<>();
    for (String a : byId) {
      next.add(a.isEmpty() ? null : address(a));
    }
    pool.addresses(next);
  }

  /**
   * The pods are now {@code byId} (null where there is none). For pods, which read the
   * membership on HDFS; a client learns it from the pods' status.
   */
  public void addresses(List<InetSocketAddress> byId) {
    pool.addresses(byId);
  }

  private static InetSocketAddress address(String hostPort) {
    int c = hostPort.lastIndexOf(':');
    if (c <= 0) {
      throw new IllegalArgumentException("bad pod address '" + hostPort + "': expected host:port");
    }
    return InetSocketAddress.createUnresolved(hostPort.substring(0, c), Integer.parseInt(hostPort.substring(c + 1)));
  }

  /** How many gets were hedged so far. */
  public int hedgedCalls() {
    return calls.hedgedCalls();
  }

  /** The pod that holds {@code key}'s bucket, as far as this client knows (its home pod, if it knows none). */
  public int ownerOf(String key) {
    return holders.ownerOf(key.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  /**
   * The table's bucket count, learned from a pod's {@code status()} (asking the pods now if
   * no pod has said yet).
   *
   * @throws KvPodException (UNAVAILABLE) if no pod answers
   */
  public int buckets() throws KvPodException {
    int n = holders.buckets();
    if (n == 0) {
      throw error(ErrorCode.UNAVAILABLE, "no pod answered to say how many buckets the table has", true);
    }
    return n;
  }

  /** How often the watchdog asks for the holders and pods when nothing else made the client ask. */
  static final long REFRESH_MILLIS = 10_000;

  /**
   * Every quarter second: re-learns the holders while some pod is silent (see
   * {@link SilentPods}), and every {@link #REFRESH_MILLIS} anyway, so that buckets that moved
   * and pods that joined or left are followed even when no call fails.
   */
  private java.util.concurrent.ScheduledExecutorService startWatchdog(long silentAfterMs) {
    java.util.concurrent.ScheduledExecutorService s = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "kvpod-client-watchdog");
      t.setDaemon(true);
      return t;
    });
    long every = Math.min(250, silentAfterMs);
    s.scheduleWithFixedDelay(() -> {
      for (int pod = 0; pod < pool.size(); pod++) {
        if (silent.silentMillis(pod) >= silentAfterMs) {
          holders.relearn(pod);
          return;
        }
      }
      holders.refreshIfOlderThan(REFRESH_MILLIS);
    }, every, every, TimeUnit.MILLISECONDS);
    return s;
  }

  /** The record of {@code key}, or an empty map if there is none. */
  public Map<String, String> get(String key) throws KvPodException {
    checkKey(key);
    int owner = ownerOf(key);
    if (!calls.hedging() || pool.size() == 1) {
      return calls.call("get", owner, c -> c.get(key, table));
    }
    return calls.hedged(owner, c -> c.get(key, table));
  }

  /**
   * Whether {@code key} has a record and, if so, the record with its version: unlike
   * {@link #get}, this tells a record stored as {} from no record (or a removed one).
   */
  public Lookup getRecord(String key) throws KvPodException {
    checkKey(key);
    int owner = ownerOf(key);
    if (!calls.hedging() || pool.size() == 1) {
      return calls.call("getRecord", owner, c -> c.getRecord(key, table));
    }
    return calls.hedged(owner, c -> c.getRecord(key, table));
  }

  /**
   * The records of {@code keys}, with their versions; keys with no record are absent. Split by
   * holder, as {@link #multiGet} is.
   */
  public Map<String, Record> multiGetRecords(List<String> keys) throws KvPodException {
    return readShares("multiGetRecords", keys, (c, ks) -> c.multiGetRecords(ks, table));
  }

  /**
   * Removes {@code key}'s record durably; returns true once the removal is acknowledged, and
   * from then on every pod reads the key as not found until it is written again. Failures,
   * deadline and retries are as for {@link #put}.
   */
  public boolean remove(String key) throws KvPodException {
    checkKey(key);
    int owner = ownerOf(key);
    return calls.writeCall("remove", owner, System.currentTimeMillis() + deadlineMs, (c, d) -> c.remove(key, options(d), table));
  }

  /** Asks one given pod for {@code key}, with no failover: for tools and tests. */
  public Map<String, String> getVia(int pod, String key) throws KvPodException {
    checkKey(key);
    return callOne(pod, c -> c.get(key, table));
  }

  /**
   * The records found for {@code keys}; keys without a record are absent. Split by holder as
   * {@link #batchPut} is: each holder's share is read from it, in parallel, so that no pod has
   * to forward keys to another.
   */
  public Map<String, Map<String, String>> multiGet(List<String> keys) throws KvPodException {
    return readShares("multiGet", keys, (c, ks) -> c.multiGet(ks, table));
  }

  /**
   * The records of {@code keys} in their stored form ({@link io.kvpod.contract.RecordCodec}
   * bytes, docs/formats.md), decoded on neither side; keys without a record are absent. Split
   * by holder as {@link #multiGet} is. For callers that pass records on or decode only some:
   * {@code RecordCodec.decode(bytes)} gives what {@link #multiGet} would have.
   */
  public Map<String, byte[]> multiGetEncoded(List<String> keys) throws KvPodException {
    return readShares("multiGetEncoded", keys, (c, ks) -> {
      List<java.nio.ByteBuffer> values = c.multiGetEncoded(ks, table);
      if (values.size() != ks.size()) {
        throw error(ErrorCode.INTERNAL, "a pod answered " + values.size() + " values for " + ks.size() + " keys", false);
      }
      Map<String, byte[]> found = new java.util.HashMap<>();
      for (int i = 0; i < ks.size(); i++) {
        if (values.get(i).hasRemaining()) { // copied now: the buffer may be the connection's
          found.put(ks.get(i), org.apache.thrift.TBaseHelper.byteBufferToByteArray(values.get(i)));
        }
      }
      return found;
    });
  }

  /** A read of many keys from one pod. */
  @FunctionalInterface
  private interface ShareRead<V> {
    Map<String, V> read(KvPod.Client c, List<String> keys) throws TException;
  }

  /**
   * Reads {@code keys} split by holder: each holder's share from it, with the usual failover
   * and retries, the first share on this thread and the others on the fan-out threads
   * ({@link ScatterGather}); the answers merged. The first failure is thrown (a read has
   * nothing to wait out).
   */
  private <V> Map<String, V> readShares(String what, List<String> keys, ShareRead<V> read) throws KvPodException {
    guard(() -> Limits.checkBatchSize(keys.size()));
    Map<Integer, List<String>> byOwner = new java.util.TreeMap<>();
    for (String k : keys) {
      checkKey(k);
      byOwner.computeIfAbsent(ownerOf(k), o -> new ArrayList<>()).add(k);
    }
    long deadline = System.currentTimeMillis() + deadlineMs;
    if (byOwner.size() <= 1) {
      int owner = byOwner.isEmpty() ? 0 : byOwner.keySet().iterator().next();
      return calls.call(what, owner, deadline, c -> read.read(c, keys));
    }
    ScatterGather.Outcome<Map<String, V>> got = gather(new ArrayList<>(byOwner.keySet()),
        owner -> calls.call(what, owner, deadline, c -> read.read(c, byOwner.get(owner))));
    if (got.failed()) {
      throw failure(got.failures().get(0)); // a read has nothing to wait out
    }
    Map<String, V> out = new java.util.HashMap<>();
    got.results().forEach(out::putAll);
    return out;
  }

  /** {@link ScatterGather#run}, with an interrupt reported as a retriable UNAVAILABLE. */
  private <R> ScatterGather.Outcome<R> gather(List<Integer> owners, ScatterGather.Share<R> share)
      throws KvPodException {
    try {
      return shares.run(owners, share);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw error(ErrorCode.UNAVAILABLE, "call interrupted", true);
    }
  }

  /**
   * Stores one record durably; returns true once it is acknowledged. If it throws, the
   * record may or may not be stored (unless the code is INVALID_ARGUMENT, TOO_LARGE or
   * EXPIRED: not stored), but it can no longer be stored later: see the class comment.
   */
  public boolean put(String key, Map<String, String> value) throws KvPodException {
    checkKey(key);
    int owner = ownerOf(key);
    return calls.writeCall("put", owner, System.currentTimeMillis() + deadlineMs, (c, d) -> c.put(key, value, options(d), table));
  }

  /**
   * Stores many records: split by holder, and each holder's share sent to it in parallel
   * (with the usual failover and retries). Returns once every share is acknowledged; if one
   * fails, its error is thrown once no copy of it can take effect any more (as for
   * {@link #put}), and the other shares may have been stored. Sending the batch again is safe.
   */
  public boolean batchPut(Map<String, Map<String, String>> records) throws KvPodException {
    return sendShares("batchPut", records, (c, share, d) -> c.batchPut(share, options(d), table));
  }

  /**
   * {@link #batchPut} of records already in their stored form ({@link
   * io.kvpod.contract.RecordCodec} bytes, as {@link #multiGetEncoded} returns them, or as
   * {@code RecordCodec.encode} or its {@code Builder} makes them): the pods check each value
   * against the format and store it as it is, with no decoding on either side. A malformed
   * value is refused with INVALID_ARGUMENT and nothing of the batch is written by its pod.
   */
  public boolean batchPutEncoded(Map<String, byte[]> records) throws KvPodException {
    Map<String, java.nio.ByteBuffer> wrapped = new java.util.HashMap<>(records.size() * 2);
    records.forEach((k, v) -> wrapped.put(k, v == null ? null : java.nio.ByteBuffer.wrap(v)));
    return sendShares("batchPutEncoded", wrapped, (c, share, d) -> c.batchPutEncoded(share, options(d), table));
  }

  /** A write of one holder's share of a batch to one pod, by the deadline given. */
  @FunctionalInterface
  private interface ShareWrite<V> {
    boolean write(KvPod.Client c, Map<String, V> share, long deadline) throws TException;
  }

  /**
   * Splits {@code records} by holder and sends each holder's share to it in parallel (the
   * first on this thread); see {@link #batchPut} for what a failure means.
   */
  private <V> boolean sendShares(String what, Map<String, V> records, ShareWrite<V> write) throws KvPodException {
    guard(() -> Limits.checkBatchSize(records.size()));
    long deadline = System.currentTimeMillis() + deadlineMs;
    int n = pool.size();
    List<Map<String, V>> byOwner = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      byOwner.add(new java.util.HashMap<>());
    }
    for (Map.Entry<String, V> e : records.entrySet()) {
      checkKey(e.getKey());
      byOwner.get(ownerOf(e.getKey())).put(e.getKey(), e.getValue());
    }
    List<Integer> owners = new ArrayList<>();
    for (int owner = 0; owner < byOwner.size(); owner++) {
      if (!byOwner.get(owner).isEmpty()) {
        owners.add(owner);
      }
    }
    ScatterGather.Outcome<Boolean> got = gather(owners, o ->
        calls.writeCall(what, o, deadline, (c, d) -> write.write(c, byOwner.get(o), d)));
    KvPodException first = null;
    for (Exception e : got.failures()) {
      KvPodException k = failure(e);
      // a share that may still take effect decides: its error is retriable, so the caller waits it out
      if (first == null || (k.isRetriable() && !first.isRetriable())) {
        first = k;
      }
    }
    if (first != null) {
      throw first;
    }
    return true;
  }

  /** Asks one given pod whether {@code key} has a record, with no failover: for tools and tests. */
  public Lookup getRecordVia(int pod, String key) throws KvPodException {
    checkKey(key);
    return callOne(pod, c -> c.getRecord(key, table));
  }

  /** Sends a removal to one given pod, which forwards it to the holder; as {@link #putVia}. */
  public boolean removeVia(int pod, String key) throws KvPodException {
    checkKey(key);
    checkPod(pod);
    return calls.attempt(pod, c -> c.remove(key, options(writeDeadline()), table), callTimeoutMs, new Delivery());
  }

  /** Asks one given pod for many keys, with no failover: for tools and tests. */
  public Map<String, Map<String, String>> multiGetVia(int pod, List<String> keys) throws KvPodException {
    guard(() -> Limits.checkBatchSize(keys.size()));
    return callOne(pod, c -> c.multiGet(keys, table));
  }

  /**
   * Sends a put to one given pod, which forwards it to the owner; no failover, and no wait
   * after a failure: for tools and tests. The write's deadline is the call's (less the
   * clock skew); a failed write may still take effect until then.
   */
  public boolean putVia(int pod, String key, Map<String, String> value) throws KvPodException {
    return putVia(pod, key, value, writeDeadline());
  }

  /** {@link #putVia(int, String, Map)} with the write's deadline given (ms since the epoch). */
  public boolean putVia(int pod, String key, Map<String, String> value, long deadlineMillis) throws KvPodException {
    return putVia(pod, key, value, deadlineMillis, new Delivery());
  }

  /**
   * {@link #putVia(int, String, Map, long)}, telling {@code delivery} whether the write may
   * have left: a write that failed before it was sent (the pod refused the connection) can
   * never take effect, and need not be waited out.
   */
  public boolean putVia(int pod, String key, Map<String, String> value, long deadlineMillis, Delivery delivery)
      throws KvPodException {
    checkKey(key);
    checkPod(pod);
    return calls.attempt(pod, c -> c.put(key, value, options(deadlineMillis), table), callTimeoutMs, delivery);
  }

  /** Sends a whole batch to one given pod, which splits it among the owners; as {@link #putVia}. */
  public boolean batchPutVia(int pod, Map<String, Map<String, String>> records) throws KvPodException {
    return batchPutVia(pod, records, writeDeadline());
  }

  /** {@link #batchPutVia(int, Map)} with the write's deadline given (ms since the epoch). */
  public boolean batchPutVia(int pod, Map<String, Map<String, String>> records, long deadlineMillis)
      throws KvPodException {
    return batchPutVia(pod, records, deadlineMillis, new Delivery());
  }

  /** {@link #batchPutVia(int, Map, long)}, telling {@code delivery} whether the batch may have left (see putVia). */
  public boolean batchPutVia(int pod, Map<String, Map<String, String>> records, long deadlineMillis,
                             Delivery delivery) throws KvPodException {
    guard(() -> Limits.checkBatchSize(records.size()));
    checkPod(pod);
    return calls.attempt(pod, c -> c.batchPut(records, options(deadlineMillis), table), callTimeoutMs, delivery);
  }

  /**
   * The deadline a write sent now gets: the call's deadline less the clock skew, in ms
   * since the epoch. A write that failed can take effect until this time plus
   * {@link #maxClockSkewMs()} at the latest.
   */
  public long writeDeadline() {
    return System.currentTimeMillis() + deadlineMs - maxClockSkewMs;
  }

  public long maxClockSkewMs() {
    return maxClockSkewMs;
  }

  /**
   * Gives up every call in progress to {@code pod} (they fail at once with a retriable
   * UNAVAILABLE) and drops its connections: for a pod known to have stopped answering.
   */
  public void abort(int pod) {
    pool.abort(pod);
  }

  private static WriteOptions options(long deadlineMillis) {
    return new WriteOptions().setDeadlineMillis(deadlineMillis);
  }

  /** The status of one pod (no failover: the caller asked for that pod). */
  public PodStatus status(int pod) throws KvPodException {
    PodStatus st = callOne(pod, c -> c.status(table));
    holders.learn(st);
    return st;
  }

  /** A round trip to one pod that does nothing. */
  public void ping(int pod) throws KvPodException {
    callOne(pod, c -> {
      c.ping();
      return null;
    });
  }

  /** Sends a sealed internal message to one pod (see PeerSigner); returns its sealed reply. */
  public byte[] process(int pod, byte[] sealed) throws KvPodException {
    return process(pod, sealed, new Delivery());
  }

  /**
   * Sends {@code request} about this client's table (see {@link Builder#table}) to
   * {@code pod}, sealed by {@code signer} (a tool's, usually), and returns the pod's reply
   * once its signature and binding to the request are verified.
   */
  public PeerResponse process(int pod, PeerSigner signer, PeerRequest request) throws KvPodException {
    Exchange x = process(pod, () -> signer.seal(request, pod, table), new Delivery());
    try {
      return signer.openReply(x.sent(), x.reply());
    } catch (ContractViolation e) {
      throw error(e.code(), e.getMessage(), false);
    }
  }

  /** A sealed internal message as it was sent, and the pod's sealed reply to it. */
  public record Exchange(PeerSigner.Sealed sent, byte[] reply) {}

  /**
   * Sends an internal message to one pod, sealed afresh by {@code sealer} for each send: when
   * a reused connection fails and the message goes again over a new one, the new copy has
   * its own number, so a pod that took the first copy does not refuse the second as a replay.
   * Returns the copy the pod answered and its reply (for {@link PeerSigner#openReply}).
   */
  public Exchange process(int pod, Supplier<PeerSigner.Sealed> sealer, Delivery delivery) throws KvPodException {
    return exchange(pod, sealer, delivery, false);
  }

  /**
   * {@link #process(int, Supplier, Delivery)} through the pod's {@code heartbeat} method,
   * which takes a signed PING only and is answered on threads of its own, never queued
   * behind the pod's other calls. For pods' failure detectors.
   */
  public Exchange heartbeat(int pod, Supplier<PeerSigner.Sealed> sealer) throws KvPodException {
    return exchange(pod, sealer, new Delivery(), true);
  }

  private Exchange exchange(int pod, Supplier<PeerSigner.Sealed> sealer, Delivery delivery, boolean heartbeat)
      throws KvPodException {
    checkPod(pod);
    PeerSigner.Sealed[] sent = new PeerSigner.Sealed[1];
    ByteBuffer r = calls.attempt(pod, c -> {
      sent[0] = sealer.get();
      ByteBuffer in = ByteBuffer.wrap(sent[0].bytes());
      return heartbeat ? c.heartbeat(in) : c.process(in);
    }, callTimeoutMs, delivery);
    byte[] out = new byte[r.remaining()];
    r.get(out);
    return new Exchange(sent[0], out);
  }

  /** {@link #process(int, byte[])}, telling {@code delivery} whether the message may have reached the pod. */
  public byte[] process(int pod, byte[] sealed, Delivery delivery) throws KvPodException {
    checkPod(pod);
    ByteBuffer r = calls.attempt(pod, c -> c.process(ByteBuffer.wrap(sealed)), callTimeoutMs, delivery);
    byte[] out = new byte[r.remaining()];
    r.get(out);
    return out;
  }

  /** Checks the key against the limits; returns its UTF-8 bytes, for routing without encoding twice. */
  private static byte[] checkKey(String key) throws KvPodException {
    if (key == null) {
      throw error(ErrorCode.INVALID_ARGUMENT, "key is missing", false);
    }
    byte[] bytes = key.getBytes(StandardCharsets.UTF_8);
    guard(() -> Limits.checkKeyLength(bytes.length));
    return bytes;
  }

  private static void guard(Runnable check) throws KvPodException {
    try {
      check.run();
    } catch (ContractViolation v) {
      throw error(v.code(), v.getMessage(), false);
    }
  }

  private <T> T callOne(int pod, PodCalls.PodCall<T> op) throws KvPodException {
    checkPod(pod);
    return calls.attempt(pod, op, callTimeoutMs);
  }

  private void checkPod(int pod) throws KvPodException {
    if (pool.address(pod) == null) {
      throw error(ErrorCode.INVALID_ARGUMENT, "no pod " + pod + " (pods: " + podIds() + ")", false);
    }
  }

  /**
   * What became of a call's request: {@code sent} once its bytes may have left, and
   * {@code answered} once the pod answered, if only with an error. A call that was sent and
   * not answered may still take effect (at the pod, or at a pod it forwarded to).
   */
  public static final class Delivery {
    private boolean sent;
    private boolean answered;

    /** Whether the request may have left; false: it reached no pod and never takes effect. */
    public boolean sent() {
      return sent;
    }

    /** Whether the request may still take effect although no answer came. */
    public boolean uncertain() {
      return sent && !answered;
    }

    /** The answer that came could not be trusted (its signature failed): count it as none. */
    public void distrustAnswer() {
      answered = false;
    }

    void markSent() {
      sent = true;
    }

    void markAnswered() {
      answered = true;
    }
  }

  @Override
  public void close() {
    if (discovery != null) {
      discovery.close();
    }
    if (watchdog != null) {
      watchdog.shutdownNow();
    }
    shares.close();
    background.shutdownNow();
    pool.close();
    calls.close();
  }
}
