package io.kvpod.loader;

import io.kvpod.contract.LayerId;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.TableLayout;
import io.kvpod.contract.TableMeta;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.conf.Configured;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.BytesWritable;
import org.apache.hadoop.mapred.Master;
import org.apache.hadoop.mapreduce.Counters;
import org.apache.hadoop.mapreduce.Job;
import org.apache.hadoop.mapreduce.MRConfig;
import org.apache.hadoop.mapreduce.lib.input.FileInputFormat;
import org.apache.hadoop.mapreduce.lib.input.TextInputFormat;
import org.apache.hadoop.mapreduce.lib.output.FileOutputFormat;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.util.NativeCodeLoader;
import org.apache.hadoop.util.Tool;

/**
 * {@code kvpod load}: bulk-loads input files into a new layer of a table.
 *
 * <p>The recipe ({@link #run}): check the arguments and the codec; run one MapReduce job
 * that parses, partitions by {@link io.kvpod.contract.KeyPartitioner}, sorts and writes one
 * HFile per partition into {@code staging/<layerId>}; check its counters; validate every
 * file with HBase's reader; write the layer metadata; publish by one atomic rename into
 * {@code layers/<layerId>}. Any failure, or a stop, deletes the staging directory.
 *
 * <p>Runs unchanged under {@code hadoop jar} on a cluster and under the local job runner.
 */
public class LoaderJob extends Configured implements Tool {
  static final String CMD = "kvpod load";
  private static final Map<String, String> FLAGS = Map.ofEntries(
      Map.entry("root", LoaderConfig.ROOT), Map.entry("table", LoaderConfig.TABLE),
      Map.entry("input", LoaderConfig.INPUT), Map.entry("format", LoaderConfig.FORMAT),
      Map.entry("partitions", LoaderConfig.PARTITIONS), Map.entry("compression", LoaderConfig.COMPRESSION),
      Map.entry("block-size", LoaderConfig.BLOCK_SIZE), Map.entry("block-encoding", LoaderConfig.BLOCK_ENCODING),
      Map.entry("max-bad-records", LoaderConfig.MAX_BAD_RECORDS), Map.entry("version", LoaderConfig.DEFAULT_VERSION),
      Map.entry("notify", LoaderConfig.NOTIFY_PODS));

  private final PrintStream out;
  private LoadResult result;

  public LoaderJob() {
    this(System.err);
  }

  /** {@code out} receives progress and the summary line. */
  public LoaderJob(PrintStream out) {
    this.out = out;
  }

  /** What a successful load published. */
  public record LoadResult(String layerId, Path layerDir, LayerMeta meta, double seconds, long inputBytes) {}

  public LoadResult result() {
    return result;
  }

  static Options options() {
    Options o = new Options()
        .addOption(Cli.flag("input", "PATHS", "input files or directories, comma-separated (required)"))
        .addOption(Cli.flag("root", "URI", "kvpod root, e.g. hdfs://nn:8020/kvpod or file:///tmp/kvpod (required)"))
        .addOption(Cli.flag("table", "NAME", "table to load into (default: default)"))
        .addOption(Cli.flag("format", "jsonl|tsv", "input format (default: jsonl)"))
        .addOption(Cli.flag("partitions", "P", "HFiles in the layer (default: one per bucket of the table)"))
        .addOption(Cli.flag("compression", "CODEC", "none, gz or snappy (default: snappy)"))
        .addOption(Cli.flag("block-size", "BYTES", "HFile block size (default: 16384)"))
        .addOption(Cli.flag("block-encoding", "ENC", "row_index_v1 or none (default: row_index_v1)"))
        .addOption(Cli.flag("max-bad-records", "N", "bad lines tolerated (default: 0)"))
        .addOption(Cli.flag("version", "V", "version of records that carry none (default: now, in ms)"))
        .addOption(Cli.flag("notify", "PODS", "host:port,... of pods to tell about the new layer at once"));
    return Cli.withHelp(o);
  }

  @Override
  public int run(String[] args) throws Exception {
    Configuration conf = getConf();
    CommandLine cl = Cli.parse(CMD, "Bulk-load JSON Lines or TSV records into a new layer of a kvpod table.",
        options(), LoaderConfig.DEF, args);
    if (cl == null) {
      return 0;
    }
    Cli.applyFlags(cl, conf, FLAGS);
    var cfg = LoaderConfig.DEF.values(conf::get);
    cfg.validateAll();
    requireSet(conf, LoaderConfig.ROOT, "--root");
    requireSet(conf, LoaderConfig.INPUT, "--input");
    requireTokenRenewer(conf);
    requireSecureShuffle(conf);

    TableLayout layout = new TableLayout(cfg.getString(LoaderConfig.ROOT), cfg.getString(LoaderConfig.TABLE));
    HFileOptions hfile = HFileOptions.from(conf);
    hfile.checkCodecWorks(conf);
    List<Path> inputs = existingInputs(conf, cfg.getString(LoaderConfig.INPUT));
    int partitions = partitions(cfg.getInt(LoaderConfig.PARTITIONS), layout, conf);

    long start = System.currentTimeMillis();
    String layerId = LayerId.next(LayerId.LOAD, start);
    conf.set(LoaderConfig.LAYER_ID, layerId);
    if (conf.get(LoaderConfig.DEFAULT_VERSION) == null) {
      conf.setLong(LoaderConfig.DEFAULT_VERSION, start);
    }
    Path stage = layout.stagingDir(layerId);
    FileSystem fs = stage.getFileSystem(conf);

    try (StagingGuard guard = new StagingGuard(fs, stage)) {
      Job job = newJob(conf, inputs, stage, partitions, layerId);
      runWithProgress(job, start, fs, stage);
      Counters counters = job.getCounters();
      checkBadRecords(fs, stage, counters, cfg.getLong(LoaderConfig.MAX_BAD_RECORDS));
      long written = counters.findCounter(LoadCounters.RECORDS_WRITTEN).getValue();
      out.printf("[load] validating %d files of layer %s%n", partitions, layerId);
      List<LayerMeta.FileMeta> files = LayerValidator.validate(conf, fs, stage, layerId, partitions,
          written, conf.getInt(LoaderConfig.LOCAL_PARALLELISM, 2));
      LayerMeta meta = describe(layout, layerId, start, partitions, hfile, conf, counters, files, inputs);
      meta.write(fs, stage);
      Path target = layout.layerDir(layerId);
      guard.publish(target);
      double secs = (System.currentTimeMillis() - start) / 1000.0;
      long inBytes = inputBytes(conf, inputs);
      result = new LoadResult(layerId, target, meta, secs, inBytes);
      printSummary(result, layout);
      notifyPods(conf, layout);
      return 0;
    }
  }

  /**
   * On a Kerberos-secured cluster the job's delegation tokens name a renewer, the YARN
   * ResourceManager's principal, even under the local job runner: say so before Hadoop's
   * "Can't get Master Kerberos principal" does.
   */
  private static void requireTokenRenewer(Configuration conf) throws IOException, UsageException {
    if (!UserGroupInformation.isSecurityEnabled()) {
      return;
    }
    String renewer = Master.getMasterPrincipal(conf);
    if (renewer == null || renewer.isEmpty()) {
      throw new UsageException(CMD + ": Hadoop security is kerberos, and the job's delegation tokens need a renewer: "
          + "set yarn.resourcemanager.principal (yarn-site.xml on the classpath, or -D yarn.resourcemanager.principal="
          + "rm/_HOST@REALM)");
    }
  }

  /**
   * Under Kerberos, MapReduce's shuffle checks who owns each map output file before it reads
   * it, with Hadoop's native library; without libhadoop every reduce fails mid-job. On YARN
   * the NodeManagers have it; the local job runner needs it in this process.
   */
  private static void requireSecureShuffle(Configuration conf) throws UsageException {
    if (UserGroupInformation.isSecurityEnabled() && !NativeCodeLoader.isNativeCodeLoaded()
        && MRConfig.LOCAL_FRAMEWORK_NAME.equals(conf.get(MRConfig.FRAMEWORK_NAME, MRConfig.LOCAL_FRAMEWORK_NAME))) {
      throw new UsageException(CMD + ": Hadoop security is kerberos and the job would run in this process "
          + "(mapreduce.framework.name=local), whose shuffle then needs Hadoop's native library, libhadoop, which "
          + "is not loaded: run the load on YARN (hadoop jar with the cluster's configuration, or "
          + "-D mapreduce.framework.name=yarn), or add libhadoop's directory to java.library.path");
    }
  }

  /**
   * The layer's partition count: {@code asked} if set (above 0); else the table's bucket
   * count, so that partition p holds exactly bucket p's keys (both are murmur3(key) mod the
   * same number) and a pod reads only the files of the buckets it holds; else, for a table
   * that records none yet, the default bucket count.
   */
  private int partitions(int asked, TableLayout layout, Configuration conf) throws IOException {
    if (asked > 0) {
      return asked;
    }
    TableMeta table = TableMeta.read(layout.metaFile().getFileSystem(conf), layout);
    if (table != null) {
      out.printf("[load] %d partitions: one per bucket of table %s%n", table.buckets, layout.table());
      return table.buckets;
    }
    out.printf("[load] %d partitions: table %s records no bucket count yet, and %d is the default%n",
        TableMeta.DEFAULT_BUCKETS, layout.table(), TableMeta.DEFAULT_BUCKETS);
    return TableMeta.DEFAULT_BUCKETS;
  }

  private void notifyPods(Configuration conf, TableLayout layout) {
    String pods = conf.get(LoaderConfig.NOTIFY_PODS);
    if (pods == null || pods.isBlank()) {
      return;
    }
    String secret = conf.get(LoaderConfig.SECRET, System.getenv("KVPOD_SECRET"));
    if (secret == null) {
      out.println("[notify] no kvpod.secret or KVPOD_SECRET set; pods will find the layer at their next poll");
      return;
    }
    PodNotifier.refresh(pods, secret, layout.table(), 5000, out);
  }

  private static void requireSet(Configuration conf, String key, String flag) throws UsageException {
    if (conf.get(key) == null || conf.get(key).isBlank()) {
      throw new UsageException(CMD + ": " + flag + " is required (see " + CMD + " --help)");
    }
  }

  private static List<Path> existingInputs(Configuration conf, String csv) throws IOException {
    List<Path> paths = new ArrayList<>();
    for (String s : csv.split(",")) {
      if (s.isBlank()) {
        continue;
      }
      Path p = new Path(s.trim());
      FileSystem fs = p.getFileSystem(conf);
      if (fs.globStatus(p) == null || fs.globStatus(p).length == 0) {
        throw new IOException("input path does not exist: " + p);
      }
      paths.add(p);
    }
    if (paths.isEmpty()) {
      throw new IOException("no input paths given");
    }
    return paths;
  }

  private static long inputBytes(Configuration conf, List<Path> inputs) throws IOException {
    long n = 0;
    for (Path p : inputs) {
      n += p.getFileSystem(conf).getContentSummary(p).getLength();
    }
    return n;
  }

  private static Job newJob(Configuration base, List<Path> inputs, Path stage, int partitions, String layerId)
      throws IOException {
    Configuration conf = new Configuration(base);
    tune(conf);
    Job job = Job.getInstance(conf, "kvpod load " + layerId);
    job.setJarByClass(LoaderJob.class);
    job.setInputFormatClass(TextInputFormat.class);
    FileInputFormat.setInputPaths(job, inputs.toArray(new Path[0]));
    FileInputFormat.setInputDirRecursive(job, true);
    job.setMapperClass(LoadMapper.class);
    job.setMapOutputKeyClass(LoadKey.class);
    job.setMapOutputValueClass(BytesWritable.class);
    job.setPartitionerClass(LoadPartitioner.class);
    job.setSortComparatorClass(LoadKey.SortComparator.class);
    job.setGroupingComparatorClass(LoadKey.GroupComparator.class);
    job.setReducerClass(LoadReducer.class);
    job.setNumReduceTasks(partitions);
    job.setOutputKeyClass(LoadKey.class);
    job.setOutputValueClass(BytesWritable.class);
    job.setOutputFormatClass(HFileLayerOutputFormat.class);
    FileOutputFormat.setOutputPath(job, stage);
    return job;
  }

  /**
   * Settings that matter for speed and safety. Each is a default: a value the user set
   * (-D, a site file) wins. Hadoop's own *-default.xml values do not count as set, which
   * is why this does not use {@link Configuration#setIfUnset}.
   */
  static void tune(Configuration conf) {
    conf.setBoolean("mapreduce.map.speculative", false);
    conf.setBoolean("mapreduce.reduce.speculative", false);
    conf.setBoolean("mapreduce.fileoutputcommitter.marksuccessfuljobs", false);
    if (conf.get(LoaderConfig.SORT_MB) != null) {
      conf.set("mapreduce.task.io.sort.mb", conf.get(LoaderConfig.SORT_MB));
    }
    setDefault(conf, "mapreduce.map.sort.spill.percent", "0.90");
    setDefault(conf, "mapreduce.task.io.sort.factor", "100");
    if ("local".equals(conf.get("mapreduce.framework.name", "local"))) {
      int par = LoaderConfig.DEF.values(conf::get).getInt(LoaderConfig.LOCAL_PARALLELISM);
      setDefault(conf, "mapreduce.local.map.tasks.maximum", Integer.toString(par));
      setDefault(conf, "mapreduce.local.reduce.tasks.maximum", Integer.toString(par));
      // The local runner's reducers share this one heap, and by default each claims 70% of
      // it for its in-memory shuffle, which ran 1.5-4 GB heaps out of memory from 30M
      // records up. 10% each keeps the in-memory shuffle, so map outputs are not copied
      // to disk a second time.
      setDefault(conf, "mapreduce.reduce.shuffle.input.buffer.percent", "0.10");
    }
  }

  /** Sets {@code key} unless a user set it; values from Hadoop's *-default.xml files do not count. */
  static void setDefault(Configuration conf, String key, String value) {
    String[] sources = conf.getPropertySources(key);
    boolean userSet = sources != null
        && java.util.Arrays.stream(sources).anyMatch(src -> !src.endsWith("-default.xml"));
    if (!userSet) {
      conf.set(key, value);
    }
  }


  private void runWithProgress(Job job, long start, FileSystem fs, Path stage)
      throws IOException, InterruptedException {
    try {
      job.submit();
    } catch (ClassNotFoundException e) {
      throw new IOException("cannot submit the load job: " + e, e);
    }
    out.printf("[load] job %s started%n", job.getJobID());
    String last = "";
    long lastPrint = 0;
    try {
      while (!job.isComplete()) {
        Thread.sleep(500);
        long now = System.currentTimeMillis();
        String line = String.format("map %5.1f%% reduce %5.1f%%", 100 * job.mapProgress(),
            100 * job.reduceProgress());
        if (!line.equals(last) && now - lastPrint >= 2000 || now - lastPrint >= 10_000) {
          long recs = job.getCounters() == null ? 0
              : job.getCounters().findCounter(LoadCounters.INPUT_RECORDS).getValue();
          out.printf("[load] %s | %,d records parsed | %.1f s%n", line, recs, (now - start) / 1000.0);
          last = line;
          lastPrint = now;
        }
      }
    } finally {
      if (!job.isComplete()) {
        job.killJob();
      }
    }
    if (!job.isSuccessful()) {
      String why = job.getStatus().getFailureInfo();
      StringBuilder msg = new StringBuilder("load job " + job.getJobID() + " failed: "
          + (why == null || why.isBlank() || why.equals("NA") ? job.getStatus().getState() : firstLines(why, 6)));
      // The local runner keeps no task diagnostics; the bad-record reports say what went wrong.
      List<String> bad = BadRecordLog.firstEntries(fs, stage, 10);
      if (!bad.isEmpty()) {
        msg.append("\nbad records (kvpod.load.max.bad.records=")
            .append(job.getConfiguration().get(LoaderConfig.MAX_BAD_RECORDS, "0")).append("):\n  ")
            .append(String.join("\n  ", bad));
      }
      throw new IOException(msg.toString());
    }
  }

  private static String firstLines(String s, int n) {
    String[] lines = s.split("\n");
    return String.join("\n", java.util.Arrays.copyOf(lines, Math.min(n, lines.length)));
  }

  private void checkBadRecords(FileSystem fs, Path stage, Counters c, long maxBad) throws IOException {
    long bad = c.findCounter(LoadCounters.BAD_RECORDS).getValue();
    if (bad == 0) {
      return;
    }
    List<String> samples = BadRecordLog.firstEntries(fs, stage, 10);
    String shown = samples.isEmpty() ? "" : "\n  " + String.join("\n  ", samples);
    if (bad > maxBad) {
      throw new IOException(bad + " bad records, more than kvpod.load.max.bad.records=" + maxBad
          + "; first ones:" + shown);
    }
    out.printf("[load] warning: %d bad records skipped (allowed: %d); reports in %s/_bad/:%s%n",
        bad, maxBad, "the layer directory", shown);
  }

  private static LayerMeta describe(TableLayout layout, String layerId, long start, int partitions,
      HFileOptions hfile, Configuration conf, Counters c, List<LayerMeta.FileMeta> files, List<Path> inputs) {
    LayerMeta m = new LayerMeta();
    m.layerId = layerId;
    m.table = layout.table();
    m.kind = LayerId.LOAD;
    m.createdAtMillis = start;
    m.partitions = partitions;
    m.compression = hfile.compression();
    m.blockSize = hfile.blockSize();
    m.defaultVersion = conf.getLong(LoaderConfig.DEFAULT_VERSION, start);
    m.records = c.findCounter(LoadCounters.RECORDS_WRITTEN).getValue();
    m.duplicates = c.findCounter(LoadCounters.DUPLICATES).getValue();
    m.badRecords = c.findCounter(LoadCounters.BAD_RECORDS).getValue();
    m.source = inputs.toString();
    m.files.addAll(files);
    m.files.sort(java.util.Comparator.comparingInt(f -> f.partition));
    m.bytes = files.stream().mapToLong(f -> f.bytes).sum();
    return m;
  }

  private void printSummary(LoadResult r, TableLayout layout) {
    LayerMeta m = r.meta();
    double mb = r.inputBytes() / 1e6;
    out.printf("[load] done: %,d records (%.1f MB input, %.1f MB in %d HFiles) in %.1f s: "
            + "%,.0f records/s, %.1f MB/s; layer %s of table %s (%d duplicates, %d bad records)%n",
        m.records, mb, m.bytes / 1e6, m.files.size(), r.seconds(), m.records / r.seconds(),
        mb / r.seconds(), r.layerId(), layout.table(), m.duplicates, m.badRecords);
  }
}
