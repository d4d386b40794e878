package io.kvpod.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.LayerCatalog;
import io.kvpod.contract.LayerFormat;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.RecordCodec;
import io.kvpod.contract.TableLayout;
import io.kvpod.contract.TableMeta;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.Cell;
import org.apache.hadoop.hbase.CellUtil;
import org.apache.hadoop.hbase.io.hfile.CacheConfig;
import org.apache.hadoop.hbase.io.hfile.HFile;
import org.apache.hadoop.hbase.io.hfile.HFilePrettyPrinter;
import org.apache.hadoop.hbase.io.hfile.HFileScanner;
import org.apache.hadoop.util.ToolRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The bulk loader against real HDFS (MiniDFSCluster) with the local job runner. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LoaderOnHdfsTest {
  private static final int RECORDS = 100_000;
  private static final long SEED = 11;

  @TempDir
  static File tmp; // static: injected before @BeforeAll (an instance field was still null there)
  private MiniHdfs hdfs;
  private FileSystem fs;
  private String root;
  private final ByteArrayOutputStream log = new ByteArrayOutputStream();

  @BeforeAll
  void startHdfs() throws Exception {
    hdfs = new MiniHdfs(new File(tmp, "dfs"), 1);
    fs = hdfs.fs();
    root = hdfs.uri() + "/kvpod";
    int rc = ToolRunner.run(hdfs.conf(), new GenTool(new PrintStream(log, true)), new String[] {
        "--records", Integer.toString(RECORDS), "--out", hdfs.uri() + "/in/gen", "--seed", Long.toString(SEED),
        "--fields", "3", "--value-bytes", "60", "--files", "3"});
    assertEquals(0, rc);
  }

  @AfterAll
  void stopHdfs() {
    if (hdfs != null) {
      hdfs.close();
    }
  }

  private Configuration jobConf() {
    Configuration c = hdfs.conf();
    c.set("mapreduce.framework.name", "local");
    c.set(LoaderConfig.SORT_MB, "32");
    return c;
  }

  private LoaderJob.LoadResult load(String table, String input, String... extra) throws Exception {
    return load(jobConf(), table, input, extra);
  }

  private LoaderJob.LoadResult load(Configuration conf, String table, String input, String... extra)
      throws Exception {
    List<String> args = new ArrayList<>(List.of("--root", root, "--table", table, "--input", input));
    args.addAll(List.of(extra));
    LoaderJob job = new LoaderJob(new PrintStream(log, true));
    assertEquals(0, ToolRunner.run(conf, job, args.toArray(new String[0])));
    return job.result();
  }

  private void write(String path, String text) throws IOException {
    try (OutputStream o = fs.create(new Path(path), true)) {
      o.write(text.getBytes(StandardCharsets.UTF_8));
    }
  }

  @Test
  void everyGeneratedRecordReadsBackFromItsPartitionFile() throws Exception {
    LoaderJob.LoadResult r = load("gen", hdfs.uri() + "/in/gen", "--partitions", "4");
    TableLayout layout = new TableLayout(root, "gen");
    List<LayerMeta> live = LayerCatalog.liveLayers(fs, layout);
    assertEquals(1, live.size());
    LayerMeta meta = live.get(0);
    assertEquals(r.layerId(), meta.layerId);
    assertEquals(RECORDS, meta.records);
    assertEquals(4, meta.files.size());

    RecordGenerator gen = new RecordGenerator(SEED, 3, 60);
    Map<String, Long> indexOf = new HashMap<>();
    for (long i = 0; i < RECORDS; i++) {
      indexOf.put(gen.key(i), i);
    }
    long seen = 0;
    Configuration conf = hdfs.conf();
    for (LayerMeta.FileMeta f : meta.files) {
      Path p = new Path(layout.layerDir(meta.layerId), f.name);
      try (HFile.Reader reader = HFile.createReader(fs, p, CacheConfig.DISABLED, true, conf)) {
        assertNotNull(reader.getGeneralBloomFilterMetadata(), "bloom filter in " + f.name);
        assertEquals("ROW", new String(reader.getHFileInfo().get(
            org.apache.hadoop.hbase.util.Bytes.toBytes("BLOOM_FILTER_TYPE")), StandardCharsets.UTF_8));
        HFileScanner s = reader.getScanner(conf, false, false);
        long inFile = 0;
        if (s.seekTo()) {
          do {
            Cell c = s.getCell();
            String key = new String(CellUtil.cloneRow(c), StandardCharsets.UTF_8);
            Long i = indexOf.remove(key);
            assertNotNull(i, "unexpected or repeated key " + key);
            assertEquals(f.partition, KeyPartitioner.bucket(key, 4), key);
            assertEquals(gen.value(i), RecordCodec.decode(CellUtil.cloneValue(c)), key);
            assertEquals(meta.defaultVersion.longValue(), c.getTimestamp());
            inFile++;
          } while (s.next());
        }
        assertEquals(f.records, inFile);
        seen += inFile;
      }
    }
    assertEquals(RECORDS, seen);
    assertTrue(indexOf.isEmpty(), indexOf.size() + " records missing");

    // HBase's own pretty-printer reads the files.
    Path first = new Path(layout.layerDir(meta.layerId), meta.files.get(0).name);
    ByteArrayOutputStream pp = new ByteArrayOutputStream();
    conf.set("hbase.rootdir", root);
    HFilePrettyPrinter printer = new HFilePrettyPrinter(conf);
    printer.setPrintStreams(new PrintStream(pp, true), new PrintStream(pp, true));
    assertEquals(0, printer.run(new String[] {"-f", first.toString(), "-m", "-k"}));
    String printed = pp.toString(StandardCharsets.UTF_8);
    assertTrue(printed.contains("entries=" + meta.files.get(0).records), printed);
    assertTrue(printed.contains("BLOOM_FILTER_TYPE"), printed);
  }

  @Test
  void duplicateKeysKeepTheHighestVersionDeterministically() throws Exception {
    write(hdfs.uri() + "/in/dups/a.jsonl", String.join("\n",
        "{\"key\":\"a\",\"value\":{\"v\":\"old\"},\"version\":1}",
        "{\"key\":\"a\",\"value\":{\"v\":\"new\"},\"version\":5}",
        "{\"key\":\"b\",\"value\":{\"v\":\"x\"},\"version\":3}",
        "{\"key\":\"c\",\"value\":{\"v\":\"only\"}}", ""));
    write(hdfs.uri() + "/in/dups/b.jsonl", String.join("\n",
        "{\"key\":\"a\",\"value\":{\"v\":\"mid\"},\"version\":4}",
        "{\"key\":\"b\",\"value\":{\"v\":\"y\"},\"version\":3}", ""));
    LoaderJob.LoadResult r = load("dups", hdfs.uri() + "/in/dups", "--partitions", "2", "--version", "2");
    assertEquals(3, r.meta().records);
    assertEquals(3, r.meta().duplicates);
    Map<String, Map<String, String>> got = readAll(r);
    assertEquals(Map.of("v", "new"), got.get("a"));
    assertEquals(Map.of("v", "y"), got.get("b"), "equal versions: the greater encoded value wins");
    assertEquals(Map.of("v", "only"), got.get("c"));
  }

  @Test
  void partitionsDefaultToOnePerBucketOfTheTable() throws Exception {
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 200; i++) {
      lines.append("k").append(i).append("\tv=").append(i).append('\n');
    }
    write(hdfs.uri() + "/in/buckets/x.tsv", lines.toString());
    LoaderJob.LoadResult fresh = load("no-count-yet", hdfs.uri() + "/in/buckets", "--format", "tsv");
    assertEquals(TableMeta.DEFAULT_BUCKETS, fresh.meta().partitions, "a table with no bucket count: the default");
    assertEquals(200, readAll(fresh).size());

    TableLayout eight = new TableLayout(root, "eight-buckets");
    TableMeta.createIfAbsent(fs, eight, new TableMeta("eight-buckets", 8, System.currentTimeMillis()));
    LoaderJob.LoadResult aligned = load("eight-buckets", hdfs.uri() + "/in/buckets", "--format", "tsv");
    assertEquals(8, aligned.meta().partitions, "one partition per bucket");
    for (LayerMeta.FileMeta f : aligned.meta().files) {
      assertTrue(f.records > 0, "each bucket's file holds its keys: " + f.name);
    }
    assertTrue(log.toString().contains("8 partitions: one per bucket of table eight-buckets"), "the loader says why");
    LoaderJob.LoadResult asked = load("eight-buckets", hdfs.uri() + "/in/buckets", "--format", "tsv",
        "--partitions", "3");
    assertEquals(3, asked.meta().partitions, "--partitions still wins");
  }

  @Test
  void tsvInputLoads() throws Exception {
    write(hdfs.uri() + "/in/tsv/x.tsv", "k1\t@3\tname=choke\tage=18\nk2\tname=x\n");
    LoaderJob.LoadResult r = load("tsv", hdfs.uri() + "/in/tsv", "--format", "tsv", "--partitions", "1");
    assertEquals(Map.of("name", "choke", "age", "18"), readAll(r).get("k1"));
    assertEquals(2, r.meta().records);
  }

  @Test
  void secondLoadAddsALayerAndRollbackRetiresTheNewest() throws Exception {
    write(hdfs.uri() + "/in/two/1.jsonl", "{\"key\":\"k\",\"value\":{\"n\":\"1\"}}\n");
    write(hdfs.uri() + "/in/two/2.jsonl", "{\"key\":\"k\",\"value\":{\"n\":\"2\"}}\n");
    TableLayout layout = new TableLayout(root, "two");
    LoaderJob.LoadResult first = load("two", hdfs.uri() + "/in/two/1.jsonl", "--partitions", "2");
    LoaderJob.LoadResult second = load("two", hdfs.uri() + "/in/two/2.jsonl", "--partitions", "3");
    List<LayerMeta> live = LayerCatalog.liveLayers(fs, layout);
    assertEquals(List.of(second.layerId(), first.layerId()), live.stream().map(m -> m.layerId).toList());
    assertEquals(3, live.get(0).partitions, "each layer records its own partition count");

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(0, ToolRunner.run(hdfs.conf(), new LayerTool(LayerTool.Mode.ROLLBACK, new PrintStream(out, true)),
        new String[] {"--root", root, "--table", "two"}));
    live = LayerCatalog.liveLayers(fs, layout);
    assertEquals(List.of(first.layerId()), live.stream().map(m -> m.layerId).toList());
    assertTrue(fs.exists(layout.retiredDir(second.layerId())));

    // gc with a long grace keeps it; with none, deletes it.
    ToolRunner.run(hdfs.conf(), new LayerTool(LayerTool.Mode.GC, new PrintStream(out, true)),
        new String[] {"--root", root, "--table", "two", "--grace", "1h"});
    assertTrue(fs.exists(layout.retiredDir(second.layerId())));
    ToolRunner.run(hdfs.conf(), new LayerTool(LayerTool.Mode.GC, new PrintStream(out, true)),
        new String[] {"--root", root, "--table", "two", "--grace", "0s"});
    assertFalse(fs.exists(layout.retiredDir(second.layerId())));
    assertEquals(1, LayerCatalog.liveLayers(fs, layout).size());

    ByteArrayOutputStream listing = new ByteArrayOutputStream();
    ToolRunner.run(hdfs.conf(), new LayerTool(LayerTool.Mode.LIST, new PrintStream(listing, true)),
        new String[] {"--root", root, "--table", "two", "--json"});
    assertTrue(listing.toString(StandardCharsets.UTF_8).contains("\"layerId\" : \"" + first.layerId() + "\""));
  }

  /** Runs {@code table <mode>} with {@code args}; returns what it printed, after checking its exit status. */
  private String table(TableTool.Mode mode, int wantStatus, String... args) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(wantStatus, ToolRunner.run(hdfs.conf(), new TableTool(mode, new PrintStream(out, true)), args));
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void tablesAreCreatedListedDescribedAndDroppedByTheTableCommands() throws Exception {
    TableLayout orders = new TableLayout(root, "orders");
    assertTrue(table(TableTool.Mode.CREATE, 0, "--root", root, "--table", "orders", "--buckets", "12")
        .contains("created table orders with 12 buckets"));
    assertEquals(12, TableMeta.read(fs, orders).buckets);
    assertTrue(table(TableTool.Mode.CREATE, 1, "--root", root, "--table", "orders", "--buckets", "5")
        .contains("already exists (12 buckets"), "an existing table is not changed");
    assertEquals(12, TableMeta.read(fs, orders).buckets);
    assertThrows(UsageException.class, () -> table(TableTool.Mode.CREATE, 2, "--root", root, "--table", "x",
        "--buckets", "0"));
    assertThrows(UsageException.class, () -> table(TableTool.Mode.CREATE, 2, "--root", root, "--table", "a,b"));

    write(hdfs.uri() + "/in/orders/1.jsonl", "{\"key\":\"o1\",\"value\":{\"n\":\"1\"}}\n");
    load("orders", hdfs.uri() + "/in/orders/1.jsonl", "--partitions", "12");
    String list = table(TableTool.Mode.LIST, 0, "--root", root, "--json");
    assertTrue(list.contains("\"table\" : \"orders\",\n    \"buckets\" : 12,"), list);
    String described = table(TableTool.Mode.DESCRIBE, 0, "--root", root, "--table", "orders");
    assertTrue(described.contains("layers       1") && described.contains("records      1"), described);

    // a log segment holding an entry (longer than its 37-byte header): writes no layer has
    try (OutputStream o = fs.create(new Path(orders.walDir(3), "00000000000000000001-000000000001.wal"))) {
      o.write(new byte[64]);
    }
    UsageException refused = assertThrows(UsageException.class,
        () -> table(TableTool.Mode.DROP, 1, "--root", root, "--table", "orders"));
    assertTrue(refused.getMessage().contains("1 write-ahead log segments"), refused.getMessage());
    assertTrue(fs.exists(orders.tableDir()), "nothing moved");
    String dropped = table(TableTool.Mode.DROP, 0, "--root", root, "--table", "orders", "--force");
    assertFalse(fs.exists(orders.tableDir()));
    Path aside = new Path(dropped.replaceAll("(?s).*its directory is now (\\S+) .*", "$1"));
    assertTrue(fs.exists(new Path(aside, "_table.json")), "the table's files moved together: " + dropped);
    assertFalse(table(TableTool.Mode.LIST, 0, "--root", root).contains("orders"));
  }

  @Test
  void malformedInputFailsNamingFileAndLineAndPublishesNothing() throws Exception {
    write(hdfs.uri() + "/in/bad/x.jsonl", String.join("\n",
        "{\"key\":\"a\",\"value\":{}}",
        "{\"key\":\"b\",\"value\":{}}",
        "{\"key\":\"c\",\"value\":{\"f\":null}}",
        "{\"key\":\"d\",\"value\":{}}", ""));
    LoaderJob job = new LoaderJob(new PrintStream(log, true));
    IOException e = assertThrows(IOException.class, () -> ToolRunner.run(jobConf(), job, new String[] {
        "--root", root, "--table", "bad", "--input", hdfs.uri() + "/in/bad"}));
    assertTrue(e.getMessage().contains("/in/bad/x.jsonl:3"), e.getMessage());
    assertTrue(e.getMessage().contains("must be a string, number or boolean, got null"), e.getMessage());
    TableLayout layout = new TableLayout(root, "bad");
    assertTrue(LayerCatalog.liveLayers(fs, layout).isEmpty());
    assertNoStaging(layout);
  }

  @Test
  void badLineInACompressedInputIsReportedWithItsLineNumber() throws Exception {
    String text = "{\"key\":\"a\",\"value\":{}}\n{\"key\":\"b\",\"value\":{}}\n{\"key\":\"c\",\"value\":{\"f\":[]}}\n";
    try (OutputStream o = new java.util.zip.GZIPOutputStream(fs.create(new Path(hdfs.uri() + "/in/gz/x.jsonl.gz")))) {
      o.write(text.getBytes(StandardCharsets.UTF_8));
    }
    LoaderJob job = new LoaderJob(new PrintStream(log, true));
    IOException e = assertThrows(IOException.class, () -> ToolRunner.run(jobConf(), job, new String[] {
        "--root", root, "--table", "gz", "--input", hdfs.uri() + "/in/gz"}));
    assertTrue(e.getMessage().contains("/in/gz/x.jsonl.gz:3: value field \"f\" must be a string"), e.getMessage());
  }

  @Test
  void badRecordsWithinTheLimitAreSkippedCountedAndReported() throws Exception {
    write(hdfs.uri() + "/in/some-bad/x.jsonl", String.join("\n",
        "{\"key\":\"a\",\"value\":{}}", "garbage", "", "{\"key\":\"b\",\"value\":{}}", "{\"key\":\"\",\"value\":{}}", ""));
    LoaderJob.LoadResult r = load("somebad", hdfs.uri() + "/in/some-bad", "--max-bad-records", "2",
        "--partitions", "1");
    assertEquals(2, r.meta().records);
    assertEquals(2, r.meta().badRecords);
    String printed = log.toString(StandardCharsets.UTF_8);
    assertTrue(printed.contains("x.jsonl:2: malformed JSON"), printed);
    assertTrue(printed.contains("x.jsonl:5: key is empty"), printed);
  }

  @Test
  void jobFailingMidWayLeavesNoLayerAndNoStaging() throws Exception {
    Configuration conf = jobConf();
    conf.setLong(LoaderConfig.FAULT_REDUCE_AFTER, 1000);
    LoaderJob job = new LoaderJob(new PrintStream(log, true));
    IOException e = assertThrows(IOException.class, () -> ToolRunner.run(conf, job, new String[] {
        "--root", root, "--table", "failing", "--input", hdfs.uri() + "/in/gen", "--partitions", "2"}));
    assertTrue(e.getMessage().contains("failed"), e.getMessage());
    TableLayout layout = new TableLayout(root, "failing");
    assertTrue(LayerCatalog.liveLayers(fs, layout).isEmpty());
    assertNoStaging(layout);
  }

  @Test
  void missingInputAndMissingRootGetClearErrors() throws Exception {
    LoaderJob job = new LoaderJob(new PrintStream(log, true));
    IOException e = assertThrows(IOException.class, () -> ToolRunner.run(jobConf(), job,
        new String[] {"--root", root, "--input", hdfs.uri() + "/no/such/dir"}));
    assertTrue(e.getMessage().contains("input path does not exist"), e.getMessage());
    UsageException u = assertThrows(UsageException.class, () -> ToolRunner.run(jobConf(),
        new LoaderJob(new PrintStream(log, true)), new String[] {"--input", hdfs.uri() + "/in/gen"}));
    assertTrue(u.getMessage().contains("--root is required"), u.getMessage());
  }

  private void assertNoStaging(TableLayout layout) throws IOException {
    if (fs.exists(layout.stagingDir())) {
      FileStatus[] left = fs.listStatus(layout.stagingDir());
      assertEquals(0, left.length, "staging left behind: " + java.util.Arrays.toString(left));
    }
  }

  private Map<String, Map<String, String>> readAll(LoaderJob.LoadResult r) throws Exception {
    Map<String, Map<String, String>> out = new HashMap<>();
    Configuration conf = hdfs.conf();
    for (LayerMeta.FileMeta f : r.meta().files) {
      try (HFile.Reader reader = HFile.createReader(fs, new Path(r.layerDir(), f.name), CacheConfig.DISABLED,
          true, conf)) {
        HFileScanner s = reader.getScanner(conf, false, false);
        if (s.seekTo()) {
          do {
            Cell c = s.getCell();
            out.put(new String(CellUtil.cloneRow(c), StandardCharsets.UTF_8),
                RecordCodec.decode(CellUtil.cloneValue(c)));
          } while (s.next());
        }
      }
    }
    assertEquals(LayerFormat.META_FILE, "_layer.json");
    return out;
  }
}
