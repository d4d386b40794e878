package io.kvpod.bench.hbase;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.KeyValue;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Admin;
import org.apache.hadoop.hbase.client.ColumnFamilyDescriptor;
import org.apache.hadoop.hbase.client.ColumnFamilyDescriptorBuilder;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;
import org.apache.hadoop.hbase.client.Get;
import org.apache.hadoop.hbase.client.RegionLocator;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.Table;
import org.apache.hadoop.hbase.client.TableDescriptor;
import org.apache.hadoop.hbase.client.TableDescriptorBuilder;
import org.apache.hadoop.hbase.io.ImmutableBytesWritable;
import org.apache.hadoop.hbase.io.compress.Compression;
import org.apache.hadoop.hbase.io.encoding.DataBlockEncoding;
import org.apache.hadoop.hbase.io.hfile.BlockCache;
import org.apache.hadoop.hbase.mapreduce.HFileOutputFormat2;
import org.apache.hadoop.hbase.regionserver.BloomType;
import org.apache.hadoop.hbase.regionserver.DisabledRegionSplitPolicy;
import org.apache.hadoop.hbase.regionserver.HRegion;
import org.apache.hadoop.hbase.regionserver.HRegionServer;
import org.apache.hadoop.hbase.regionserver.HStore;
import org.apache.hadoop.hbase.tool.BulkLoadHFiles;
import org.apache.hadoop.hbase.util.Bytes;
import org.apache.hadoop.hbase.util.VersionInfo;
import org.apache.hadoop.mapreduce.Counters;
import org.apache.hadoop.mapreduce.Job;
import org.apache.hadoop.mapreduce.TaskCounter;
import org.apache.hadoop.mapreduce.lib.input.FileInputFormat;
import org.apache.hadoop.mapreduce.lib.input.TextInputFormat;
import org.apache.hadoop.mapreduce.lib.output.FileOutputFormat;

/**
 * The HBase side of kvpod's get-throughput comparison: bulk-load kvpod's JSON Lines into a
 * one-RegionServer HBase 2.6 in this JVM, the standard way, then measure random single-row
 * gets. {@code --help} and README.md say what it does and how to run it.
 */
public final class HBaseCompare {
  // Not Bytes.toBytes: nothing of HBase may load (and start logging) before the log is set up.
  static final byte[] FAMILY = {'f'};
  static final byte[] QUALIFIER = {'v'};
  static final int BLOCK_SIZE = 16 * 1024;
  private static final PrintStream OUT = System.out;
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss");

  static void log(String fmt, Object... args) {
    OUT.println("[hbase-compare " + LocalTime.now().format(TIME) + "] " + String.format(fmt, args));
    OUT.flush();
  }

  public static void main(String[] args) {
    BenchOptions o;
    try {
      o = BenchOptions.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("hbase-compare: " + e.getMessage());
      System.exit(2);
      return;
    }
    if (o == null) {
      OUT.print(BenchOptions.USAGE);
      System.exit(0);
      return;
    }
    int code;
    try {
      code = new HBaseCompare().run(o);
    } catch (IllegalArgumentException e) {
      System.err.println("hbase-compare: " + e.getMessage());
      code = 2;
    } catch (Throwable t) {
      System.err.println("hbase-compare: failed: " + t);
      t.printStackTrace();
      code = 1;
    }
    OUT.flush();
    // HBase and the local job runner leave non-daemon threads behind; end the JVM here.
    Runtime.getRuntime().halt(code);
  }

  private int run(BenchOptions o) throws Exception {
    File work = new File(o.work).getAbsoluteFile();
    boolean created = prepareWork(work);
    // Scratch files of the JVM's libraries (snappy-java's native library, HBase's class loader
    // directory, which a default HBase configuration puts in ${java.io.tmpdir}/hbase-${user.name})
    // go under --work too, and are deleted with it.
    File tmp = new File(work, "java-tmp");
    Files.createDirectories(tmp.toPath());
    System.setProperty("java.io.tmpdir", tmp.getPath());
    configureLogging(new File(work, "hbase-compare.log"));
    LocalHBase hbase = null;
    try {
      hbase = LocalHBase.configure(o, work);
      return run(o, work, hbase);
    } finally {
      if (hbase != null) {
        log("stopping HBase");
        hbase.close();
      }
      if (o.keepWork) {
        log("kept %s", work);
      } else {
        deleteWork(work, created);
      }
    }
  }

  private int run(BenchOptions o, File work, LocalHBase hbase) throws Exception {
    Configuration conf = hbase.conf;
    TableName tableName = TableName.valueOf(o.table);
    log("HBase %s, Hadoop %s, Java %s; max heap %,d bytes, block cache %,d bytes asked (hfile.block.cache.size=%s)",
        VersionInfo.getVersion(), org.apache.hadoop.util.VersionInfo.getVersion(),
        System.getProperty("java.version"), hbase.heapMax, o.cacheBytes, hbase.cacheFraction);

    // 1. The input: keys for the readers, split points, records to check.
    log("scanning %s", o.input);
    InputScan scan = InputScan.run(conf, new Path(o.input), o.verify, o.seed);
    log("scan: %,d records (%,d bad lines) in %d files, %,d bytes, in %.1f s", scan.records, scan.badLines,
        scan.files.size(), scan.inputBytes, scan.seconds);
    if (scan.records == 0) {
      throw new IllegalArgumentException("no records in " + o.input);
    }
    long allKeys = scan.keys.size();
    KeyStore keys = o.sample > 0 ? scan.keys.sample((int) Math.min(o.sample, Integer.MAX_VALUE), o.seed) : scan.keys;
    scan.keys = null;
    byte[][] splits = scan.splitKeys(o.regions);

    // 2. HBase.
    log("starting ZooKeeper and HBase (1 master, 1 RegionServer) under %s", work);
    long t0 = System.nanoTime();
    hbase.start(work);
    HRegionServer rs = hbase.regionServer();
    BlockCache cache = rs.getBlockCache().orElseThrow(() -> new IllegalStateException("the RegionServer has no block cache"));
    double startSeconds = (System.nanoTime() - t0) / 1e9;
    log("HBase up in %.1f s; RegionServer %s, block cache %s of %,d bytes", startSeconds,
        rs.getServerName(), cache.getClass().getSimpleName(), cache.getMaxSize());

    try (Connection conn = ConnectionFactory.createConnection(conf)) {
      // 3. The table.
      ColumnFamilyDescriptor family = ColumnFamilyDescriptorBuilder.newBuilder(FAMILY)
          .setCompressionType(Compression.Algorithm.SNAPPY)
          .setBlocksize(BLOCK_SIZE)
          .setBloomFilterType(BloomType.ROW)
          .setDataBlockEncoding(DataBlockEncoding.NONE)
          .setMaxVersions(1)
          .setBlockCacheEnabled(true)
          .setPrefetchBlocksOnOpen(o.prefetch)
          .build();
      TableDescriptor td = TableDescriptorBuilder.newBuilder(tableName)
          .setColumnFamily(family)
          .setRegionSplitPolicyClassName(DisabledRegionSplitPolicy.class.getName())
          .build();
      try (Admin admin = conn.getAdmin()) {
        if (splits.length == 0) {
          admin.createTable(td);
        } else {
          admin.createTable(td, splits);
        }
      }
      int regions;
      try (RegionLocator loc = conn.getRegionLocator(tableName)) {
        regions = loc.getAllRegionLocations().size();
      }
      log("table %s: %d regions, family f: %s", tableName, regions, family);

      // 4. The bulk load: MapReduce job writing HFiles, then BulkLoadHFiles.
      Path hfiles = new Path(new File(work, "hfiles").toURI());
      Job job = Job.getInstance(conf, "hbase-compare load " + o.input);
      job.getConfiguration().setLong(JsonToCellMapper.TIMESTAMP_KEY, System.currentTimeMillis());
      job.setJarByClass(HBaseCompare.class);
      job.setInputFormatClass(TextInputFormat.class);
      FileInputFormat.setInputPaths(job, scan.files.toArray(new Path[0]));
      job.setMapperClass(JsonToCellMapper.class);
      job.setMapOutputKeyClass(ImmutableBytesWritable.class);
      job.setMapOutputValueClass(KeyValue.class);
      FileOutputFormat.setOutputPath(job, hfiles);
      try (Table table = conn.getTable(tableName); RegionLocator loc = conn.getRegionLocator(tableName)) {
        HFileOutputFormat2.configureIncrementalLoad(job, table, loc);
      }
      // configureIncrementalLoad lists HBase's jars in "tmpjars" for a cluster's tasks. The local
      // job runner's tasks run in this JVM, on its classpath, and it would only try to symlink
      // them into the working directory; kvpod's local loads ship no jars either.
      job.getConfiguration().unset("tmpjars");
      int maps = new TextInputFormat().getSplits(job).size();
      log("load: MapReduce job (local job runner, %d parallel tasks, %d maps, %d reduces)", o.parallelism, maps,
          job.getNumReduceTasks());
      long j0 = System.nanoTime();
      job.submit();
      long nextReport = System.nanoTime() + 10_000_000_000L;
      while (!job.isComplete()) {
        Thread.sleep(200);
        if (System.nanoTime() > nextReport) {
          nextReport = System.nanoTime() + 10_000_000_000L;
          log("load: map %.0f%%, reduce %.0f%% | %.0f s", 100 * job.mapProgress(), 100 * job.reduceProgress(),
              (System.nanoTime() - j0) / 1e9);
        }
      }
      double jobSeconds = (System.nanoTime() - j0) / 1e9;
      if (!job.isSuccessful()) {
        throw new IOException("the MapReduce job failed: " + job.getStatus().getFailureInfo());
      }
      Counters counters = job.getCounters();
      long mapIn = counters.findCounter(TaskCounter.MAP_INPUT_RECORDS).getValue();
      long cells = counters.findCounter(TaskCounter.REDUCE_OUTPUT_RECORDS).getValue();
      long badLines = counters.findCounter(JsonToCellMapper.COUNTER_GROUP, JsonToCellMapper.BAD_LINES).getValue();
      FileSystem lfs = hfiles.getFileSystem(conf);
      long hfileBytes = 0;
      int hfileCount = 0;
      for (FileStatus st : listFiles(lfs, hfiles)) {
        if (st.getPath().getParent().getName().equals("f")) {
          hfileBytes += st.getLen();
          hfileCount++;
        }
      }
      log("load: job done in %.1f s: %,d lines in, %,d cells written (%,d bad lines), %d HFiles of %,d bytes",
          jobSeconds, mapIn, cells, badLines, hfileCount, hfileBytes);

      long b0 = System.nanoTime();
      Map<?, ?> loaded = BulkLoadHFiles.create(conf).bulkLoad(tableName, hfiles);
      double bulkSeconds = (System.nanoTime() - b0) / 1e9;
      log("load: BulkLoadHFiles took %.1f s (%d files)", bulkSeconds, loaded.size());

      long storeFiles = 0;
      long storeBytes = 0;
      long storeUncompressed = 0;
      List<HRegion> tableRegions = new ArrayList<>(rs.getRegions(tableName));
      for (HRegion region : tableRegions) {
        for (HStore store : region.getStores()) {
          storeFiles += store.getStorefilesCount();
          storeBytes += store.getStorefilesSize();
          storeUncompressed += store.getStoreSizeUncompressed();
        }
      }
      log("table %s on the RegionServer: %d regions, %d store files, %,d bytes (%,d uncompressed)", tableName,
          tableRegions.size(), storeFiles, storeBytes, storeUncompressed);

      // 5. Read back whole records.
      long vMissing = 0;
      long vDifferent = 0;
      try (Table table = conn.getTable(tableName)) {
        for (int i = 0; i < scan.verifyKeys.size(); i++) {
          Result r = table.get(new Get(scan.verifyKeys.get(i)));
          byte[] v = r.getValue(FAMILY, QUALIFIER);
          if (v == null) {
            if (vMissing++ < 10) {
              log("ERROR: key %s is missing after the load", Bytes.toStringBinary(scan.verifyKeys.get(i)));
            }
          } else if (!Bytes.equals(v, scan.verifyValues.get(i))) {
            if (vDifferent++ < 10) {
              log("ERROR: key %s reads back %s, expected %s", Bytes.toStringBinary(scan.verifyKeys.get(i)),
                  Bytes.toStringBinary(v), Bytes.toStringBinary(scan.verifyValues.get(i)));
            }
          }
        }
      }
      log("verify: %,d records read back, %,d missing, %,d different", scan.verifyKeys.size(), vMissing, vDifferent);

      // 6. The get benchmark.
      log("gets: %d threads, keys drawn from %,d distinct keys; warm-up %.1f s, then %.1f s measured",
          o.threads, keys.size(), o.warmupMs / 1e3, o.durationMs / 1e3);
      long gc0 = gcMillis();
      GetBench.Result0 g = GetBench.run(conn, tableName, keys, cache, o.threads, o.warmupMs, o.durationMs, o.seed);
      long gcMs = gcMillis() - gc0;

      // 7. The summary.
      double recPerSec = scan.records / (jobSeconds + bulkSeconds);
      double ms = 1000.0;
      String[] lines = {
          "==== hbase-compare summary ====",
          kv("hbase.version", VersionInfo.getVersion() + " (artifact hbase-shaded-mapreduce " + artifactVersion() + ")"),
          kv("hadoop.version", org.apache.hadoop.util.VersionInfo.getVersion()),
          kv("java", System.getProperty("java.version") + ", " + gcNames() + ", " + cpus() + " cpus"),
          kv("heap.max.bytes", String.format("%,d", hbase.heapMax)),
          kv("input", o.input + String.format(" (%,d records, %,d bytes, %,d bad lines, mean value %.0f bytes)",
              scan.records, scan.inputBytes, scan.badLines, scan.valueBytes / (double) scan.records)),
          kv("input.scan.seconds", String.format("%.1f (keys, split points and records to verify; not in the load)",
              scan.seconds)),
          kv("hbase.start.seconds", String.format("%.1f (ZooKeeper, HMaster, RegionServer)", startSeconds)),
          kv("table", tableName + ": family f, qualifier v, 1 version, value = the record's value JSON text"),
          kv("compression", family.getCompressionType() + " (codec "
              + conf.get(Compression.SNAPPY_CODEC_CLASS_KEY, Compression.SNAPPY_CODEC_CLASS_DEFAULT) + ")"),
          kv("block.size", String.valueOf(family.getBlocksize())),
          kv("bloom", family.getBloomFilterType().toString()),
          kv("data.block.encoding", family.getDataBlockEncoding().toString()),
          kv("prefetch.on.open", String.valueOf(o.prefetch)),
          kv("regions", regions + " (pre-split at sampled key quantiles; split policy disabled), 1 RegionServer"),
          kv("store.files", String.format("%d, %,d bytes on disk, %,d uncompressed", storeFiles, storeBytes,
              storeUncompressed)),
          kv("block.cache", String.format("%s, max %,d bytes (asked %,d; hfile.block.cache.size=%s), on heap",
              cache.getClass().getSimpleName(), cache.getMaxSize(), o.cacheBytes, hbase.cacheFraction)),
          kv("memstore.fraction", String.valueOf(o.memstoreFraction)),
          kv("rpc.handlers", conf.get("hbase.regionserver.handler.count", "30")),
          kv("load.job.seconds", String.format("%.1f (local job runner, %d parallel, %d maps, %d reduces)",
              jobSeconds, o.parallelism, maps, job.getNumReduceTasks())),
          kv("load.bulkload.seconds", String.format("%.1f", bulkSeconds)),
          kv("load.records.per.second", String.format("%,.0f (job + bulk load)", recPerSec)),
          kv("verify", String.format("%,d records read back: %,d missing, %,d different", scan.verifyKeys.size(),
              vMissing, vDifferent)),
          kv("gets.threads", String.valueOf(o.threads)),
          kv("gets.keys", String.format("%,d distinct (of %,d in the input), uniform random", keys.size(), allKeys)),
          kv("gets.warmup.seconds", String.format("%.1f (%,d gets)", o.warmupMs / 1e3, g.warmupGets)),
          kv("gets.measured.seconds", String.format("%.1f", g.seconds)),
          kv("gets.count", String.format("%,d", g.gets)),
          kv("gets.per.second", String.format("%,.0f", g.gets / g.seconds)),
          kv("latency.ms", String.format("p50 %.3f  p99 %.3f  p999 %.3f  max %.3f  mean %.3f",
              g.latency.getValueAtPercentile(50) / ms, g.latency.getValueAtPercentile(99) / ms,
              g.latency.getValueAtPercentile(99.9) / ms, g.latency.getMaxValue() / ms, g.latency.getMean() / ms)),
          kv("gets.misses", String.format("%,d", g.misses)),
          kv("gets.errors", String.format("%,d", g.errors)),
          kv("block.cache.hit.ratio", String.format("%.4f%% (%,d hits / %,d requests during the measured interval,"
              + " %,d evictions)", g.cacheRequests == 0 ? 0.0 : 100.0 * g.cacheHits / g.cacheRequests, g.cacheHits,
              g.cacheRequests, g.cacheEvictions)),
          kv("block.cache.at.end", String.format("%,d bytes of data blocks (%,d blocks), %,d bytes in all"
              + " (%,d blocks) of %,d", g.cachedDataBytes, g.cachedDataBlocks, g.cachedBytes, g.cachedBlocks,
              g.cacheMax)),
          kv("gc.during.gets.ms", String.format("%,d", gcMs)),
          "==== end ===="};
      for (String line : lines) {
        OUT.println(line);
      }
      OUT.flush();
      boolean ok = g.misses == 0 && g.errors == 0 && vMissing == 0 && vDifferent == 0 && badLines == 0
          && cells == scan.records;
      if (!ok) {
        log("ERROR: some records were missing, different or failed (see above)");
      }
      return ok ? 0 : 1;
    }
  }

  /**
   * HBase's and Hadoop's logs go to a file under --work (src/main/resources/hbase-compare-log4j.properties);
   * only their errors also reach the console, where the harness prints its own progress.
   */
  private static void configureLogging(File file) throws IOException {
    System.setProperty("hbasecompare.log.file", file.getPath());
    java.util.Properties p = new java.util.Properties();
    try (java.io.InputStream in = HBaseCompare.class.getResourceAsStream("/hbase-compare-log4j.properties")) {
      if (in == null) {
        throw new IOException("hbase-compare-log4j.properties is missing from the classpath");
      }
      p.load(in);
    }
    org.apache.log4j.PropertyConfigurator.configure(p);
  }

  private static String kv(String k, String v) {
    return String.format("%-24s %s", k, v);
  }

  private static String artifactVersion() {
    Package p = HFileOutputFormat2.class.getPackage();
    String v = p == null ? null : p.getImplementationVersion();
    return v == null ? "?" : v;
  }

  private static String gcNames() {
    List<String> names = new ArrayList<>();
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      names.add(gc.getName());
    }
    return String.join("/", names);
  }

  private static int cpus() {
    return Runtime.getRuntime().availableProcessors();
  }

  private static long gcMillis() {
    long t = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      t += Math.max(0, gc.getCollectionTime());
    }
    return t;
  }

  private static List<FileStatus> listFiles(FileSystem fs, Path dir) throws IOException {
    List<FileStatus> out = new ArrayList<>();
    if (!fs.exists(dir)) {
      return out;
    }
    for (FileStatus st : fs.listStatus(dir)) {
      if (st.isDirectory()) {
        out.addAll(listFiles(fs, st.getPath()));
      } else if (!st.getPath().getName().startsWith(".") && !st.getPath().getName().startsWith("_")) {
        out.add(st);
      }
    }
    return out;
  }

  /** @return whether the directory was made here */
  private static boolean prepareWork(File work) throws IOException {
    if (work.exists()) {
      String[] entries = work.list();
      if (!work.isDirectory() || entries == null || entries.length > 0) {
        throw new IllegalArgumentException("--work " + work + " must be an empty directory or not exist");
      }
      return false;
    }
    Files.createDirectories(work.toPath());
    return true;
  }

  private static void deleteWork(File work, boolean created) throws IOException {
    if (!work.exists()) {
      return;
    }
    try (Stream<java.nio.file.Path> s = Files.walk(work.toPath())) {
      s.sorted(Comparator.reverseOrder())
          .filter(p -> created || !p.equals(work.toPath()))
          .forEach(p -> p.toFile().delete());
    }
    log("deleted %s", work);
  }

  private HBaseCompare() {}
}
