package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.CorruptionException;
import io.kvpod.contract.TableLayout;
import io.kvpod.contract.TableMeta;
import io.kvpod.loader.MiniHdfs;
import java.io.File;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A table's bucket count: recorded once by the first pod (of many at once, on a real HDFS),
 * kept for the table's life, one per pod for a table made before counts were recorded, and
 * refused when its record is damaged (on a local filesystem).
 */
class TableBucketsTest {
  @TempDir
  File tmp;

  private FileSystem fs() throws Exception {
    return FileSystem.getLocal(new Configuration());
  }

  private TableLayout layout() {
    return new TableLayout(new Path(tmp.toURI()), "t");
  }

  @Test
  void theFirstPodRecordsTheSettingAndLaterPodsKeepItWhateverTheySet() throws Exception {
    assertEquals(64, TableBuckets.resolve(fs(), layout(), 3, 64, false));
    assertEquals(64, TableBuckets.resolve(fs(), layout(), 3, 8, true), "the recorded count wins");
    assertEquals(64, TableMeta.read(fs(), layout()).buckets);
  }

  @Test
  void aTableWithLogsButNoRecordKeepsOneBucketPerPod() throws Exception {
    fs().mkdirs(layout().walDir(2));
    assertEquals(3, TableBuckets.resolve(fs(), layout(), 3, 64, false));
    assertEquals(3, TableMeta.read(fs(), layout()).buckets, "and records it");
  }

  /** On HDFS, whose rename never replaces an existing file (a local filesystem's may). */
  @Test
  void ofManyPodsCreatingTheRecordAtOnceOnHdfsAllGetTheSameCount() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try (MiniHdfs hdfs = new MiniHdfs(new File(tmp, "dfs"), 1)) {
      TableLayout layout = new TableLayout(hdfs.uri() + "/kvpod", "t");
      List<Future<Integer>> got = new ArrayList<>();
      for (int i = 1; i <= 8; i++) {
        int wanted = i * 4;
        Callable<Integer> create = () -> TableMeta.createIfAbsent(FileSystem.newInstance(hdfs.conf()), layout,
            new TableMeta("t", wanted, 0)).buckets;
        got.add(pool.submit(create));
      }
      Set<Integer> counts = new HashSet<>();
      for (Future<Integer> f : got) {
        counts.add(f.get());
      }
      assertEquals(1, counts.size(), "one count in force: " + counts);
      FileSystem fs = hdfs.fs();
      assertEquals(counts.iterator().next(), TableMeta.read(fs, layout).buckets);
      assertEquals(1, fs.listStatus(layout.tableDir()).length, "no aside file is left behind");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aDamagedRecordIsCorruptionNamingTheFile() throws Exception {
    try (OutputStream out = fs().create(layout().metaFile())) {
      out.write("{\"formatVersion\": 1, \"table\": \"t\", \"buck".getBytes(StandardCharsets.UTF_8));
    }
    CorruptionException e = assertThrows(CorruptionException.class,
        () -> TableBuckets.resolve(fs(), layout(), 3, 64, false));
    assertTrue(e.getMessage().contains("_table.json"), e.getMessage());
  }

  @Test
  void aRecordOfAnotherTableOrWithoutBucketsIsRefused() throws Exception {
    try (OutputStream out = fs().create(layout().metaFile())) {
      out.write("{\"formatVersion\": 1, \"table\": \"other\", \"buckets\": 4}".getBytes(StandardCharsets.UTF_8));
    }
    assertTrue(assertThrows(CorruptionException.class, () -> TableMeta.read(fs(), layout())).getMessage()
        .contains("describes table 'other'"));
    try (OutputStream out = fs().create(layout().metaFile(), true)) {
      out.write("{\"formatVersion\": 1, \"table\": \"t\"}".getBytes(StandardCharsets.UTF_8));
    }
    assertTrue(assertThrows(CorruptionException.class, () -> TableMeta.read(fs(), layout())).getMessage()
        .contains("1..65536 buckets"));
  }
}
