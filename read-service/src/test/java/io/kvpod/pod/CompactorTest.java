package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.RecordCodec;
import io.kvpod.contract.TableLayout;
import io.kvpod.loader.HFileOptions;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.io.hfile.BlockCacheFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compactions of layers written on the local filesystem, read back through the pod's own
 * readers: what a merge keeps of removals (tombstones). A tombstone is dropped only when
 * nothing it could hide is left outside the merge.
 */
class CompactorTest {
  /** The table's bucket count: a merged layer has one partition per bucket, whatever its inputs had. */
  private static final int BUCKETS = 3;
  private static final String OLDEST = "1000000000000-load-000001";
  private static final String REMOVAL = "1000000000001-flush-000002";
  private static final String NEWER = "1000000000002-flush-000003";

  @TempDir
  File tmp;
  private final Configuration conf = new Configuration();

  private TableLayout layout() {
    return new TableLayout(new Path(tmp.toURI().toString()), "t");
  }

  private FileSystem fs() throws Exception {
    return FileSystem.getLocal(conf);
  }

  private void load(String id, Map<String, TestLayers.Rec> records) throws Exception {
    TestLayers.write(conf, fs(), layout(), id, 2, records);
  }

  private void flush(String id, Map<String, TestLayers.Rec> records) throws Exception {
    TestLayers.write(conf, fs(), layout(), id, 2, records, Map.of(0, 1L));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Merges once with at most {@code maxLayers} live layers; returns the live layers' metadata after it, newest first. */
  private List<LayerMeta> compact(LayerWatcher w, int maxLayers) throws Exception {
    w.refresh();
    FileSystem fs = fs();
    Flusher.LayerSink sink = (id, partitions) -> new LayerBuilder(fs, layout(), conf, new HFileOptions("none", 4096),
        id, partitions, false);
    try (Compactor c = new Compactor(fs, layout(), w, sink, BUCKETS, maxLayers, 1_000_000)) {
      assertNotNull(c.maybeCompact(), "a merge happened");
    }
    LayerSet s = w.acquire();
    try {
      return s.layers().stream().map(LayerReader::meta).toList();
    } finally {
      s.release();
    }
  }

  private LayerWatcher watcher() throws Exception {
    return new LayerWatcher(LayerReader.Opener.of(fs(), layout(), conf, BlockCacheFactory.createBlockCache(conf), BUCKETS,
        true));
  }

  /** What a read of {@code key} sees: null for no record, "(removed)" for a tombstone, else field v. */
  private static String read(LayerWatcher w, String key) throws Exception {
    LayerSet s = w.acquire();
    try {
      Found f = s.get(bytes(key));
      return f == null ? null : RecordCodec.isTombstone(f.value()) ? "(removed)" : RecordCodec.decode(f.value()).get("v");
    } finally {
      s.release();
    }
  }

  @Test
  void aTombstoneMergedWithEveryLayerIsDroppedWithTheRecordItHid() throws Exception {
    load(OLDEST, Map.of("gone", TestLayers.Rec.of(1, "old"), "kept", TestLayers.Rec.of(1, "k")));
    flush(REMOVAL, Map.of("gone", TestLayers.Rec.removed(5)));
    try (LayerWatcher w = watcher()) {
      w.refresh();
      assertEquals("(removed)", read(w, "gone"), "before: the tombstone hides the loaded record");
      List<LayerMeta> live = compact(w, 1);
      assertEquals(1, live.size());
      assertEquals(BUCKETS, live.get(0).partitions, "one partition per bucket (its inputs had 2)");
      assertEquals(1, live.get(0).records, "only 'kept' is left: " + live.get(0).records);
      assertEquals(0, live.get(0).tombstones);
      assertNull(read(w, "gone"), "after: no record at all, and nothing to hide");
      assertEquals("k", read(w, "kept"));
    }
  }

  @Test
  void aTombstoneIsKeptWhileAnOlderLayerOutsideTheMergeHoldsItsKey() throws Exception {
    Map<String, TestLayers.Rec> big = new HashMap<>();
    for (int i = 0; i < 500; i++) {
      big.put("k" + i, TestLayers.Rec.of(1, "old" + i));
    }
    load(OLDEST, big); // the largest layer: a merge of two leaves it out
    flush(REMOVAL, Map.of("k7", TestLayers.Rec.removed(5)));
    flush(NEWER, Map.of("x", TestLayers.Rec.of(6, "x")));
    try (LayerWatcher w = watcher()) {
      List<LayerMeta> live = compact(w, 2);
      assertEquals(2, live.size());
      assertEquals(1, live.get(0).tombstones, "the merged layer keeps the tombstone");
      assertEquals("(removed)", read(w, "k7"), "so the loaded k7 stays hidden");
      assertEquals("old8", read(w, "k8"));
      assertEquals("x", read(w, "x"));
    }
  }

  @Test
  void aTombstoneIsKeptWhileANewerLayerMayHoldALowerVersionOfItsKey() throws Exception {
    load(OLDEST, Map.of("gone", TestLayers.Rec.of(1, "old")));
    flush(REMOVAL, Map.of("gone", TestLayers.Rec.removed(5)));
    // a bulk load published later, with an explicit older version of the key: the tombstone
    // still wins over it, and a bulk load's lowest version is not recorded
    Map<String, TestLayers.Rec> late = new HashMap<>();
    late.put("gone", TestLayers.Rec.of(3, "stale"));
    for (int i = 0; i < 500; i++) {
      late.put("l" + i, TestLayers.Rec.of(3, "l" + i)); // large, so the merge takes the two older layers
    }
    load("1000000000002-load-000003", late);
    try (LayerWatcher w = watcher()) {
      w.refresh();
      assertEquals("(removed)", read(w, "gone"));
      List<LayerMeta> live = compact(w, 2);
      assertEquals(2, live.size());
      assertTrue(live.stream().anyMatch(m -> m.tombstones == 1), "the tombstone was kept");
      assertEquals("(removed)", read(w, "gone"), "and still hides the late load's older version");
    }
  }

  @Test
  void aTombstoneIsDroppedWhenEveryNewerLayerHoldsOnlyHigherVersions() throws Exception {
    load(OLDEST, Map.of("gone", TestLayers.Rec.of(1, "old")));
    flush(REMOVAL, Map.of("gone", TestLayers.Rec.removed(5)));
    Map<String, TestLayers.Rec> newer = new HashMap<>();
    for (int i = 0; i < 500; i++) {
      newer.put("n" + i, TestLayers.Rec.of(9, "n" + i)); // a flush: its lowest version (9) is recorded
    }
    flush(NEWER, newer);
    try (LayerWatcher w = watcher()) {
      List<LayerMeta> live = compact(w, 2);
      assertEquals(2, live.size());
      assertEquals(0, live.get(1).tombstones, "the merged (older) layer dropped it");
      assertEquals(0, live.get(1).records, "along with the record it hid");
      assertNull(read(w, "gone"));
      assertEquals("n3", read(w, "n3"));
    }
  }
}
