package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.LayerFormat;
import io.kvpod.contract.LayerId;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.RecordCodec;
import io.kvpod.contract.TableLayout;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.io.hfile.BlockCache;
import org.apache.hadoop.hbase.io.hfile.BlockCacheFactory;
import org.apache.hadoop.hbase.io.hfile.BlockCacheKey;
import org.apache.hadoop.hbase.io.hfile.LruBlockCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pod opens, prefetches and caches the layer files of the buckets it holds, and opens
 * other buckets' files only when a read needs them, without caching their blocks. On the
 * local filesystem; {@code PodClusterTest} checks the same through live pods on HDFS.
 */
class LayerFilesByBucketTest {
  private static final int BUCKETS = 3;
  private static final int RECORDS = 3000;

  @TempDir
  File tmp;
  private final Configuration conf = new Configuration();
  private final BlockCache cache = BlockCacheFactory.createBlockCache(conf);

  private TableLayout layout() {
    return new TableLayout(new Path(tmp.toURI().toString()), "t");
  }

  private LayerWatcher watcher(boolean prefetch) throws Exception {
    return new LayerWatcher(LayerReader.Opener.of(FileSystem.getLocal(conf), layout(), conf, cache, BUCKETS,
        prefetch));
  }

  /** {@code RECORDS} records k0..k(n-1), value "v" + i, in a loaded layer of {@code partitions} files. */
  private void load(String layerId, int partitions) throws Exception {
    Map<String, TestLayers.Rec> records = new TreeMap<>();
    for (int i = 0; i < RECORDS; i++) {
      records.put("k" + i, TestLayers.Rec.of(1, "v" + i));
    }
    TestLayers.write(conf, FileSystem.getLocal(conf), layout(), layerId, partitions, records);
  }

  /** The first key k<i> of {@code bucket}. */
  private static String keyOf(int bucket) {
    for (int i = 0; ; i++) {
      if (KeyPartitioner.bucket("k" + i, BUCKETS) == bucket) {
        return "k" + i;
      }
    }
  }

  private static String read(LayerWatcher w, String key) throws Exception {
    LayerSet s = w.acquire();
    try {
      Found f = s.get(key.getBytes(StandardCharsets.UTF_8));
      return f == null ? null : RecordCodec.decode(f.value()).get("v");
    } finally {
      s.release();
    }
  }

  @Test
  void aLayerAlignedWithTheBucketsOpensOnlyTheHeldBucketsFiles() throws Exception {
    load("1000000000000-load-000001", 6); // files 1 and 4 hold bucket 1
    try (LayerWatcher w = watcher(false)) {
      Object shard = new Object();
      w.warm(1, shard);
      w.refresh();
      assertEquals(2, w.openFiles(), "bucket 1's two files, no others");
      String k1 = keyOf(1);
      assertEquals("v" + k1.substring(1), read(w, k1));
      assertEquals(2, w.openFiles());

      String k0 = keyOf(0); // a bucket held elsewhere, read for a holder that does not answer
      assertEquals("v" + k0.substring(1), read(w, k0));
      assertEquals(3, w.openFiles(), "the one file that key needed opened on the read");

      w.cool(1, new Object());
      assertEquals(3, w.openFiles(), "another shard's token lets nothing go");
      w.cool(1, shard);
      assertEquals(1, w.openFiles(), "bucket 1's files set aside");
      assertEquals("v" + k1.substring(1), read(w, k1), "and opened again when read");
    }
  }

  @Test
  void aHeldBucketsFilesArePrefetchedAndOtherBucketsReadsCacheNoData() throws Exception {
    load("1000000000000-load-000001", 3);
    try (LayerWatcher w = watcher(true)) {
      w.refresh();
      assertEquals(0, w.openFiles(), "no bucket held yet");
      for (int i = 0; i < RECORDS; i += 7) {
        assertEquals("v" + i, read(w, "k" + i));
      }
      assertEquals(0, cache.getDataBlockCount(), "reads of buckets not held cache no data blocks");

      w.warm(2, new Object()); // a takeover: the layer is live already
      assertEquals(3, w.openFiles(), "bucket 2's file reopened warm; the two cold ones stay open");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (cache.getDataBlockCount() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(50); // HBase's prefetch starts about a second after the file opens
      }
      assertTrue(cache.getDataBlockCount() > 0, "bucket 2's file was prefetched into the block cache");
      while (!w.prefetched(2) && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertTrue(w.prefetched(2), "bucket 2's prefetch ended");
      assertFalse(w.prefetched(0), "bucket 0's file was opened cold: a get of it may read the disk");
      String k2 = keyOf(2);
      assertEquals("v" + k2.substring(1), read(w, k2));
    }
  }

  @Test
  void aFileThatLostABlockToEvictionIsNoLongerPrefetchedUntilItIsWarmedAgain() throws Exception {
    load("1000000000000-load-000001", 3);
    try (LayerWatcher w = watcher(true)) {
      w.refresh();
      Object shard2 = new Object();
      w.warm(1, new Object());
      w.warm(2, shard2);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!(w.prefetched(1) && w.prefetched(2)) && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertTrue(w.prefetched(1) && w.prefetched(2), "both held buckets' files prefetched");

      String file2 = LayerFormat.dataFileName(2, "1000000000000-load-000001");
      // what the cache does with a block it evicts for room (EvictedFilesTest shows it does)
      EvictedFiles.of(cache).cacheBlock(new BlockCacheKey(file2, 0), null);
      assertFalse(w.prefetched(2), "bucket 2's file lost a block: a get of it may read the disk");
      assertTrue(w.prefetched(1), "bucket 1's file lost nothing: its gets stay answerable from the cache");

      w.cool(2, shard2); // the bucket leaves and comes back: its file is opened and prefetched anew
      w.warm(2, new Object());
      while (!w.prefetched(2) && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertTrue(w.prefetched(2), "prefetched whole again");
    }
  }

  @Test
  void aLayerPrefetchesNoMoreThanItsShareOfTheCacheAndCachesTheRestAsRead() throws Exception {
    Map<String, TestLayers.Rec> records = new TreeMap<>();
    for (int i = 0; i < RECORDS; i++) {
      records.put("k" + i, TestLayers.Rec.of(1, "v" + i));
    }
    LayerMeta meta = TestLayers.write(conf, FileSystem.getLocal(conf), layout(), "1000000000000-load-000001", 3,
        records);
    long[] bytes = new long[3];
    meta.files.forEach(f -> bytes[f.partition] = f.bytes); // file p holds bucket p
    // a budget of 1% of the cache that holds bucket 1's file and then bucket 0's (files of a
    // third of the records each), but not bucket 1's and 2's together
    LruBlockCache sized = new LruBlockCache(100 * (bytes[1] + bytes[2] / 2) + 100, 64 * 1024);
    try (LayerWatcher w = new LayerWatcher(LayerReader.Opener.of(FileSystem.getLocal(conf), layout(), conf, sized,
        BUCKETS, true, 1))) {
      w.refresh();
      Object shard1 = new Object();
      w.warm(1, shard1);
      w.warm(2, new Object());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!w.prefetched(1) && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertTrue(w.prefetched(1), "the first held bucket's file fit the budget and was prefetched");
      assertFalse(w.prefetched(2), "the second would pass it: not prefetched, so not answerable inline");
      long before = sized.getDataBlockCount();
      String k2 = keyOf(2);
      assertEquals("v" + k2.substring(1), read(w, k2));
      assertTrue(sized.getDataBlockCount() > before, "a held bucket's file not prefetched caches what gets read");

      w.cool(1, shard1); // bucket 1 leaves: its bytes return to the budget
      w.warm(0, new Object());
      while (!w.prefetched(0) && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertTrue(w.prefetched(0), "a bucket arriving later is prefetched within the budget freed");
    } finally {
      sized.shutdown();
    }
  }

  @Test
  void aLayerNotAlignedWithTheBucketsOpensEveryFileAsBefore() throws Exception {
    load("1000000000000-load-000001", 4); // 4 is no multiple of 3: every file holds every bucket
    try (LayerWatcher w = watcher(false)) {
      w.refresh();
      assertEquals(4, w.openFiles());
      for (int i = 0; i < RECORDS; i += 11) {
        assertEquals("v" + i, read(w, "k" + i));
      }
    }
  }

  @Test
  void aFlushIsSkippedForKeysOfOtherBuckets() throws Exception {
    String id = "1000000000000-flush-000001";
    Map<String, TestLayers.Rec> records = new TreeMap<>();
    for (int i = 0; i < RECORDS; i++) {
      if (KeyPartitioner.bucket("k" + i, BUCKETS) == 2) {
        records.put("k" + i, TestLayers.Rec.of(1, "v" + i));
      }
    }
    FileSystem fs = FileSystem.getLocal(conf);
    LayerMeta meta = TestLayers.write(conf, fs, layout(), id, 1, records, Map.of(2, 9L));
    meta.kind = LayerId.FLUSH; // as the Flusher writes it: one bucket's log, in one file
    fs.delete(new Path(layout().layerDir(id), LayerFormat.META_FILE), false);
    meta.write(fs, layout().layerDir(id));
    try (LayerWatcher w = watcher(false)) {
      w.refresh();
      LayerSet s = w.acquire();
      try {
        LayerReader flush = s.layers().get(0);
        assertTrue(flush.mayHold(2));
        assertFalse(flush.mayHold(0));
        assertEquals(2, flush.bucketOfPartition(0));
      } finally {
        s.release();
      }
      assertNull(read(w, keyOf(0)));
      assertEquals(0, w.openFiles(), "a key of bucket 0 never opens bucket 2's flush");
      String k2 = keyOf(2);
      assertEquals("v" + k2.substring(1), read(w, k2));
      assertEquals(1, w.openFiles());
    }
  }
}
