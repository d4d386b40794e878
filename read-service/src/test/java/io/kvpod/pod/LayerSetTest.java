package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.LayerFormat;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.RecordCodec;
import io.kvpod.contract.TableLayout;
import io.kvpod.loader.HFileOptions;
import io.kvpod.loader.LayerFileWriter;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.io.hfile.BlockCacheFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Layers written with the loader's own writer on the local filesystem, read by the pod's readers. */
class LayerSetTest {
  @TempDir
  File tmp;
  private final Configuration conf = new Configuration();

  private TableLayout layout() {
    return new TableLayout(new Path(tmp.toURI().toString()), "t");
  }

  private LayerMeta writeLayer(String layerId, int partitions, Map<String, TestLayers.Rec> records)
      throws Exception {
    return TestLayers.write(conf, FileSystem.getLocal(conf), layout(), layerId, partitions, records);
  }

  /** A watcher over the test table with its own block cache; not started (tests call refresh). */
  private LayerWatcher watcher() throws Exception {
    return new LayerWatcher(LayerReader.Opener.of(FileSystem.getLocal(conf), layout(), conf,
        BlockCacheFactory.createBlockCache(conf), 1, true));
  }

  private static TestLayers.Rec rec(long version, String text) {
    return TestLayers.Rec.of(version, text);
  }

  private String text(Found f) throws Exception {
    return RecordCodec.decode(f.value()).get("v");
  }

  @Test
  void layersOfEitherBlockEncodingReadAlikeAndEachFileRecordsItsOwn() throws Exception {
    Map<String, TestLayers.Rec> plain = new TreeMap<>();
    Map<String, TestLayers.Rec> indexed = new TreeMap<>();
    for (int i = 0; i < 3000; i++) {
      plain.put("a" + i, rec(10, "plain" + i));
      indexed.put("b" + i, rec(10, "indexed" + i));
    }
    FileSystem fs = FileSystem.getLocal(conf);
    LayerMeta before = TestLayers.write(conf, fs, layout(), "1000000000000-load-000001", 2, plain, Map.of(),
        new HFileOptions("none", 4096, "none"));          // as loads wrote before row_index_v1
    LayerMeta after = TestLayers.write(conf, fs, layout(), "1000000000001-load-000002", 2, indexed, Map.of(),
        new HFileOptions("none", 4096));                  // the default
    assertEquals(org.apache.hadoop.hbase.io.encoding.DataBlockEncoding.NONE, encodingOf(before, fs));
    assertEquals(org.apache.hadoop.hbase.io.encoding.DataBlockEncoding.ROW_INDEX_V1, encodingOf(after, fs));
    try (LayerWatcher w = watcher()) {
      w.refresh();
      LayerSet s = w.acquire();
      try {
        for (int i = 0; i < 3000; i++) {
          assertEquals("plain" + i, text(s.get(bytes("a" + i))));
          assertEquals("indexed" + i, text(s.get(bytes("b" + i))));
          assertNull(s.get(bytes("a" + i + "~")), "a key between two of a plain block's");
          assertNull(s.get(bytes("b" + i + "~")), "a key between two of an indexed block's");
        }
        assertNull(s.get(bytes("0")), "before every key");
        assertNull(s.get(bytes("c")), "after every key");
      } finally {
        s.release();
      }
    }
  }

  /** The data block encoding that the layer's first file records. */
  private org.apache.hadoop.hbase.io.encoding.DataBlockEncoding encodingOf(LayerMeta layer, FileSystem fs)
      throws Exception {
    Path f = new Path(layout().layerDir(layer.layerId), LayerFormat.dataFileName(0, layer.layerId));
    try (org.apache.hadoop.hbase.io.hfile.HFile.Reader r = org.apache.hadoop.hbase.io.hfile.HFile.createReader(fs, f,
        org.apache.hadoop.hbase.io.hfile.CacheConfig.DISABLED, true, conf)) {
      return r.getDataBlockEncoding();
    }
  }

  @Test
  void newestVersionWinsAcrossLayersWhateverTheirOrder() throws Exception {
    Map<String, TestLayers.Rec> older = new TreeMap<>();
    Map<String, TestLayers.Rec> newer = new TreeMap<>();
    for (int i = 0; i < 2000; i++) {
      older.put("k" + i, rec(10, "old" + i));
    }
    newer.put("k1", rec(20, "new1"));     // newer layer, newer version: wins
    newer.put("k2", rec(5, "stale2"));    // newer layer, older explicit version: loses
    newer.put("k3", rec(10, "tie3"));     // same version: the newer layer wins
    newer.put("only-new", rec(1, "x"));
    writeLayer("1000000000000-load-000001", 3, older);
    writeLayer("1000000000001-load-000002", 2, newer);

    try (LayerWatcher w = watcher()) {
      assertEquals(List.of("1000000000001-load-000002", "1000000000000-load-000001"), w.refresh());
      LayerSet s = w.acquire();
      try {
        assertEquals("new1", text(s.get(bytes("k1"))));
        assertEquals("old2", text(s.get(bytes("k2"))));
        assertEquals("tie3", text(s.get(bytes("k3"))));
        assertEquals("x", text(s.get(bytes("only-new"))));
        assertEquals(10, s.get(bytes("k1999")).version());
        assertNull(s.get(bytes("absent")));
        for (int i = 4; i < 2000; i++) {
          assertEquals("old" + i, text(s.get(bytes("k" + i))), "k" + i);
        }
      } finally {
        s.release();
      }
    }
  }

  @Test
  void retiredLayerClosesOnlyAfterItsLastReaderReleases() throws Exception {
    writeLayer("1000000000000-load-000001", 1, Map.of("a", rec(1, "first")));
    FileSystem fs = FileSystem.getLocal(conf);
    try (LayerWatcher w = watcher()) {
      w.refresh();
      LayerSet inFlight = w.acquire();                   // a get in progress on the old set
      LayerReader first = inFlight.layers().get(0);
      writeLayer("1000000000001-load-000002", 1, Map.of("a", rec(2, "second")));
      w.refresh();                                       // swap: the new set has both layers
      assertTrue(first.retain(), "shared layer stays open");
      first.release();
      // retire the first layer
      assertTrue(fs.rename(layout().layerDir("1000000000000-load-000001"),
          new Path(layout().retiredDir(), "1000000000000-load-000001")));
      w.refresh();
      assertEquals("first", text(inFlight.get(bytes("a"))), "the old snapshot still reads");
      assertTrue(first.retain(), "still open while a get holds the old set");
      first.release();
      inFlight.release();
      assertFalse(first.retain(), "closed after the last holder released it");
      LayerSet now = w.acquire();
      try {
        assertEquals(1, now.layers().size());
        assertEquals("second", text(now.get(bytes("a"))));
      } finally {
        now.release();
      }
    }
  }

  @Test
  void aCorruptLayerFailsTheRefreshAndKeepsTheCurrentSet() throws Exception {
    writeLayer("1000000000000-load-000001", 1, Map.of("a", rec(1, "ok")));
    FileSystem fs = FileSystem.getLocal(conf);
    try (LayerWatcher w = watcher()) {
      w.refresh();
      Path bad = layout().layerDir("1000000000001-load-000002");
      fs.mkdirs(bad);
      try (var o = fs.create(new Path(bad, LayerFormat.META_FILE))) {
        o.write("{garbage".getBytes(StandardCharsets.UTF_8));
      }
      assertThrows(io.kvpod.contract.CorruptionException.class, w::refresh);
      assertTrue(w.lastError().contains("not valid JSON"), w.lastError());
      LayerSet s = w.acquire();
      try {
        assertEquals("ok", text(s.get(bytes("a"))));
      } finally {
        s.release();
      }
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void foundNewerPrefersTheFirstOnTies() {
    Found a = new Found(5, new byte[] {1});
    Found b = new Found(5, new byte[] {2});
    assertArrayEquals(new byte[] {1}, Found.newer(a, b).value());
    assertEquals(6, Found.newer(a, new Found(6, new byte[0])).version());
  }
}
