package io.kvpod.local;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.kvpod.client.KvPodClient;
import io.kvpod.config.ConfigDef;
import io.kvpod.contract.PeerSigner;
import io.kvpod.loader.LoaderConfig;
import io.kvpod.loader.LoaderMain;
import io.kvpod.loader.RecordGenerator;
import io.kvpod.pod.PodConfig;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.FaultRequest;
import io.kvpod.thrift.internal.PeerRequest;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code bin/kvpod suite}: the contest harness's five cases against a real local cluster,
 * an HDFS ({@link LocalHdfs}) and pod processes ({@link PodProcess}), all on 127.0.0.1.
 * Every case gets a fresh table and fresh pods, and every request goes to a random pod.
 * <ol>
 *   <li>write N records (batchPuts, and every tenth call single puts), restart every pod,
 *       read every record back and compare;</li>
 *   <li>the same, with the link between pods 0 and 1 cut for the whole write phase;</li>
 *   <li>the same, with pod 2 killed ({@code kill -9}) a third of the way through the writes
 *       (its keys are taken over; the restart brings it back, and it reclaims them);</li>
 *   <li>case 1 with {@code --big} records (default 1M);</li>
 *   <li>{@code --bulk} records (default 100M) through the bulk path: generate them on HDFS,
 *       load them with the MapReduce loader, start the pods, and read back a random sample
 *       of {@code --sample} keys (0: every key).</li>
 * </ol>
 * A write is retried on other pods until it is acknowledged (or for 2 minutes, after which
 * its records are reported as unacknowledged and not checked). Records are deterministic
 * ({@link RecordGenerator}), so checking needs no memory of what was written.
 */
public final class Suite {
  /** One case's outcome: a row of the final table (in {@code --json}, {@code kase} is "case"). */
  public record Result(@JsonProperty("case") int kase, long records, double writtenPerSec, double readPerSec,
                       long wrong, long missing, long unacknowledged, double seconds, String note) {}

  /**
   * Case 5's pods read block files straight from the DataNode's disk: HDFS's legacy
   * short-circuit read, which needs no native library ({@link LocalHdfs} allows it). Its table
   * holds only finalized HFiles; the other cases keep the DataNode path, which the WAL's
   * tailing and recovery were tested on. On this machine it made random gets about 3 times
   * faster (docs/performance.md); {@code -D dfs.client.read.shortcircuit=false} turns it off.
   */
  private static final Map<String, String> LOCAL_READS = Map.of(
      "dfs.client.read.shortcircuit", "true", "dfs.client.use.legacy.blockreader.local", "true");
  private final File work;
  private final int pods;
  private final int threads;
  private final String podHeap;
  private final PrintStream out;
  private final Map<String, String> settings = new LinkedHashMap<>();
  private final String secret = "suite-" + Long.toHexString(System.nanoTime());
  private LocalHdfs hdfs;
  private int dataNodes = 1;
  private boolean zookeeper;
  /** Running while the cases run, with {@link #zookeeper}. */
  private LocalZooKeeper zk;

  public Suite(File work, int pods, int threads, String podHeap, PrintStream out) {
    this.work = work;
    this.pods = pods;
    this.threads = threads;
    this.podHeap = podHeap;
    this.out = out;
  }

  /** Runs HDFS with {@code n} DataNodes (default 1); files get replication min(n, 3). */
  public Suite dataNodes(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("an HDFS needs at least one DataNode, not " + n);
    }
    this.dataNodes = n;
    return this;
  }

  /**
   * {@code hdfs} (the default) or {@code zookeeper}: with {@code zookeeper} the suite runs a
   * ZooKeeper server too, the pods register in it ({@code kvpod.coordination=zookeeper}) and
   * the suite's client finds them there, by table name.
   */
  public Suite coordination(String mode) {
    if (!mode.equals("hdfs") && !mode.equals("zookeeper")) {
      throw new IllegalArgumentException("coordination is hdfs or zookeeper, not '" + mode + "'");
    }
    this.zookeeper = mode.equals("zookeeper");
    return this;
  }

  /**
   * Adds a setting, overriding the suite's own choice of that key. A pod key ({@link PodConfig})
   * goes to every pod, a loader key ({@link LoaderConfig}) to case 5's loader, and any other
   * key (fs.*, dfs.*, ...) to both. Call before {@link #runCases}.
   *
   * @throws IllegalArgumentException for a kvpod.* key that neither pods nor the loader declare
   */
  public Suite set(String key, String value) {
    if (!podKey(key) && !loaderKey(key)) {
      throw new IllegalArgumentException("unknown setting " + key + " (see kvpod pod --help and kvpod load --help)");
    }
    settings.put(key, value);
    return this;
  }

  private static boolean podKey(String key) {
    return !key.startsWith("kvpod.") || declared(PodConfig.DEF, key);
  }

  private static boolean loaderKey(String key) {
    return !key.startsWith("kvpod.") || declared(LoaderConfig.DEF, key);
  }

  private static boolean declared(ConfigDef def, String key) {
    return def.keys().stream().anyMatch(k -> k.name().equals(key));
  }

  /** Runs the cases in order, prints the table, and returns the rows. */
  public List<Result> runCases(List<Integer> cases, long records, long big, long bulk, long sample)
      throws Exception {
    LocalHdfs.deleteRecursively(work);
    work.mkdirs();
    List<Result> results = new ArrayList<>();
    out.printf("[suite] starting HDFS (one NameNode, %d DataNode%s, replication %d) under %s%n", dataNodes,
        dataNodes == 1 ? "" : "s", Math.min(dataNodes, 3), work);
    hdfs = LocalHdfs.start(new File(work, "hdfs"), dataNodes);
    try {
      if (zookeeper) {
        zk = LocalZooKeeper.start(new File(work, "zookeeper"));
        out.printf("[suite] ZooKeeper serving at %s: the pods register there, and the client finds them there%n",
            zk.address());
      }
      for (int k : cases) {
        Result r = switch (k) {
          case 1 -> online(1, records, Fault.NONE);
          case 2 -> online(2, records, Fault.CUT_LINK);
          case 3 -> online(3, records, Fault.KILL_POD);
          case 4 -> online(4, big, Fault.NONE);
          default -> bulk(bulk, sample);
        };
        results.add(r);
        out.printf("[suite] case %d done: %s%n", k, r);
      }
    } finally {
      if (zk != null) {
        zk.close();
      }
      hdfs.close();
      // Case 5 leaves ~30 GB of blocks at the defaults; the logs stay.
      LocalHdfs.deleteRecursively(new File(work, "hdfs/data"));
      out.println("[suite] HDFS stopped and its data deleted; the logs are under " + work);
    }
    out.println();
    out.println("| case | records | written/s | read/s | wrong | missing | seconds |");
    out.println("| --- | --- | --- | --- | --- | --- | --- |");
    for (Result r : results) {
      out.printf("| %d | %,d | %,.0f | %,.0f | %d | %d | %.1f |%n", r.kase(), r.records(), r.writtenPerSec(),
          r.readPerSec(), r.wrong(), r.missing(), r.seconds());
    }
    for (Result r : results) {
      if (!r.note().isEmpty() || r.unacknowledged() > 0) {
        out.printf("case %d: %s%s%n", r.kase(), r.note(),
            r.unacknowledged() > 0 ? " " + r.unacknowledged() + " records never acknowledged (not checked)." : "");
      }
    }
    return results;
  }

  private enum Fault { NONE, CUT_LINK, KILL_POD }

  private final class Cluster implements AutoCloseable {
    final String table;
    final Map<String, String> extra;
    final String podList;
    final List<PodProcess> procs = new ArrayList<>();
    final KvPodClient client;
    final SuiteWorkload workload;

    Cluster(String table, Map<String, String> extra) throws IOException, InterruptedException {
      this.table = table;
      this.extra = extra;
      podList = PodProcess.loopbackPodList(pods);
      for (int i = 0; i < pods; i++) {
        procs.add(PodProcess.prepare(i, new File(work, "logs/" + table)).heap(podHeap));
      }
      PodProcess.launchAll(procs, this::config);
      KvPodClient.Builder b = zk == null ? KvPodClient.builder(podList)
          : KvPodClient.builder().zookeeper(zk.address()).table(table).zookeeperTimeoutMs(10_000);
      client = b.callTimeoutMs(30_000).deadlineMs(120_000).build();
      workload = new SuiteWorkload(client, pods, threads, out);
    }

    Map<String, String> config(int id) {
      Map<String, String> c = PodProcess.baseConfig(podList, id, hdfs.uri() + "/kvpod", table, secret);
      c.put(PodConfig.BLOCK_CACHE_BYTES, Long.toString(64L << 20));
      c.put(PodConfig.PEER_TIMEOUT, "2s");
      c.put(PodConfig.TAKEOVER_AFTER, "2s");
      c.put(PodConfig.WRITE_DEADLINE, "20s");
      c.put(PodConfig.FLUSH_BYTES, Long.toString(32L << 20));
      c.put(PodConfig.MEMTABLE_MAX_BYTES, Long.toString(192L << 20));
      if (zk != null) {
        c.put(PodConfig.COORDINATION, "zookeeper");
        c.put(PodConfig.ZK_QUORUM, zk.address());
        c.put(PodConfig.ZK_SESSION_TIMEOUT, "4s");
      }
      c.putAll(extra);
      settings.forEach((k, v) -> {
        if (podKey(k)) {
          c.put(k, v);
        }
      });
      return c;
    }

    void restartAll() throws IOException, InterruptedException {
      PodProcess.stopAll(procs);
      PodProcess.launchAll(procs, this::config);
    }

    void cut(int a, int b) throws KvPodException {
      PeerSigner tool = PeerSigner.tool(secret);
      client.process(a, tool, PeerRequest.fault(new FaultRequest().setBlock(List.of(b))));
      client.process(b, tool, PeerRequest.fault(new FaultRequest().setBlock(List.of(a))));
    }

    @Override
    public void close() throws InterruptedException {
      client.close();
      PodProcess.stopAll(procs);
    }
  }

  private Result online(int kase, long n, Fault fault) throws Exception {
    String table = "case" + kase;
    RecordGenerator gen = new RecordGenerator(kase, 4, 100);
    out.printf("[case %d] %,d records through random pods%s%n", kase, n, switch (fault) {
      case NONE -> "";
      case CUT_LINK -> ", with the link between pods 0 and 1 cut while writing";
      case KILL_POD -> ", with pod 2 killed (kill -9) a third of the way through";
    });
    long start = System.nanoTime();
    try (Cluster c = new Cluster(table, Map.of())) {
      if (fault == Fault.CUT_LINK) {
        c.cut(0, 1);
      }
      Map<Long, Boolean> unacked = new ConcurrentHashMap<>();
      long writeStart = System.nanoTime();
      Runnable onThird = fault != Fault.KILL_POD ? () -> { } : () -> {
        try {
          c.procs.get(2).kill9();
          out.printf("[case %d] killed pod 2 (kill -9)%n", kase);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      };
      c.workload.parallel("write", kase, n, (first, count) -> c.workload.write(gen, first, count, unacked), onThird);
      double writeSecs = (System.nanoTime() - writeStart) / 1e9;
      out.printf("[case %d] restarting all pods%n", kase);
      c.restartAll();
      long readStart = System.nanoTime();
      AtomicLong wrong = new AtomicLong();
      AtomicLong missing = new AtomicLong();
      c.workload.parallel("read", kase, n, (first, count) -> {
        if (!unacked.containsKey(first)) {
          c.workload.check(gen, SuiteWorkload.range(first, count), wrong, missing);
        }
      }, () -> { });
      double readSecs = (System.nanoTime() - readStart) / 1e9;
      long unackedRecords = unacked.size() * (long) SuiteWorkload.BATCH;
      return new Result(kase, n, n / writeSecs, n / readSecs, wrong.get(), missing.get(), unackedRecords,
          (System.nanoTime() - start) / 1e9, "");
    }
  }

  private Result bulk(long n, long sample) throws Exception {
    String table = "case5";
    out.printf("[case 5] %,d records through the bulk path: generate on HDFS, load with MapReduce, read back %s%n",
        n, sample == 0 ? "every key" : "a random sample of " + sample + " keys");
    long start = System.nanoTime();
    String input = hdfs.uri() + "/suite-input";
    String root = hdfs.uri() + "/kvpod";
    // the local job runner's scratch and staging (by default under /tmp) go with the suite's files
    File scratch = new File(work, "hadoop-tmp");
    List<String> defs = new ArrayList<>(List.of("-D", "fs.defaultFS=" + hdfs.uri(), "-D",
        "hadoop.tmp.dir=" + scratch, "-D", "mapreduce.jobtracker.staging.root.dir=" + new File(scratch, "staging")));
    settings.forEach((k, v) -> {
      if (loaderKey(k)) {
        defs.addAll(List.of("-D", k + "=" + v));
      }
    });
    String[] fs = defs.toArray(new String[0]);
    int rc = LoaderMain.run(LoaderMain.tool("gen"), concat(fs, "--records", Long.toString(n), "--out", input,
        "--seed", "5"));
    if (rc != 0) {
      throw new IOException("generating the records failed (exit " + rc + ")");
    }
    long loadStart = System.nanoTime();
    // one partition per bucket (the loader's default): each pod opens and caches only its buckets' files
    rc = LoaderMain.run(LoaderMain.tool("load"), concat(fs, "--input", input, "--root", root, "--table", table));
    if (rc != 0) {
      throw new IOException("the load failed (exit " + rc + ")");
    }
    double loadSecs = (System.nanoTime() - loadStart) / 1e9;
    RecordGenerator gen = new RecordGenerator(5, 4, 100);
    String shortCircuit = "dfs.client.read.shortcircuit";
    boolean local = Boolean.parseBoolean(settings.getOrDefault(shortCircuit, LOCAL_READS.get(shortCircuit)));
    out.printf("[case 5] pods read the HFiles %s%n", local ? "straight from the DataNode's disk (short-circuit reads)"
        : "through the DataNode");
    try (Cluster c = new Cluster(table, LOCAL_READS)) {
      long readStart = System.nanoTime();
      AtomicLong wrong = new AtomicLong();
      AtomicLong missing = new AtomicLong();
      long reads = sample == 0 || sample >= n ? n : sample;
      c.workload.parallel("read", 5, reads, (first, count) -> c.workload.check(gen,
          reads == n ? SuiteWorkload.range(first, count) : SuiteWorkload.sampleOf(n, first, count), wrong, missing),
          () -> { });
      double readSecs = (System.nanoTime() - readStart) / 1e9;
      return new Result(5, n, n / loadSecs, reads / readSecs, wrong.get(), missing.get(), 0,
          (System.nanoTime() - start) / 1e9, (reads == n ? "read back every key" : "read back a random sample of "
              + reads + " keys") + (local ? " with short-circuit reads" : " through the DataNode")
              + "; written/s is the load alone (generation took "
              + String.format("%.0f", (loadStart - start) / 1e9) + " s).");
    }
  }

  private static String[] concat(String[] a, String... b) {
    String[] r = new String[a.length + b.length];
    System.arraycopy(a, 0, r, 0, a.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}
