package io.kvpod.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;

class LayerNamingTest {

  @Test
  void layerIdsSortByCreationTimeAndParseBack() {
    String a = LayerId.next(LayerId.LOAD, 1_000L);
    String b = LayerId.next(LayerId.FLUSH, 1_763_889_600_123L);
    assertTrue(a.compareTo(b) < 0);
    assertEquals(1_000L, LayerId.createdAtMillis(a));
    assertEquals("flush", LayerId.kind(b));
    assertTrue(b.matches("1763889600123-flush-[0-9a-f]{6}"), b);
  }

  @Test
  void malformedLayerIdsAreRejected() {
    assertFalse(LayerId.isValid("123-load-abcdef"));
    assertFalse(LayerId.isValid("1763889600123-other-abcdef"));
    assertFalse(LayerId.isValid("../1763889600123-load-abcdef"));
    assertThrows(IllegalArgumentException.class, () -> LayerId.next("bogus", 1));
  }

  @Test
  void dataFileNamesAreUniquePerLayerAndCarryThePartition() {
    String l1 = "1763889600123-load-9f3a1c";
    String l2 = "1763889600999-load-000001";
    String f = LayerFormat.dataFileName(3, l1);
    assertEquals("part-00003-1763889600123-load-9f3a1c.hfile", f);
    assertNotEquals(f, LayerFormat.dataFileName(3, l2));
    assertEquals(3, LayerFormat.partitionOf(f));
    assertEquals(-1, LayerFormat.partitionOf("_layer.json"));
  }

  @Test
  void tableLayoutPlacesEverythingUnderTheTable() {
    TableLayout t = new TableLayout("hdfs://nn:8020/kvpod", "users");
    String id = "1763889600123-load-9f3a1c";
    assertEquals(new Path("hdfs://nn:8020/kvpod/tables/users/layers/" + id), t.layerDir(id));
    assertEquals(new Path("hdfs://nn:8020/kvpod/tables/users/staging/" + id), t.stagingDir(id));
    assertEquals(new Path("hdfs://nn:8020/kvpod/tables/users/retired/" + id), t.retiredDir(id));
    assertEquals(new Path("hdfs://nn:8020/kvpod/tables/users/wal/pod-2"), t.walDir(2));
  }

  @Test
  void badTableNamesAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> new TableLayout("file:///r", ""));
    assertThrows(IllegalArgumentException.class, () -> new TableLayout("file:///r", "../x"));
    assertThrows(IllegalArgumentException.class, () -> new TableLayout("file:///r", "a/b"));
    assertThrows(IllegalArgumentException.class, () -> new TableLayout("file:///r", "_hidden"));
  }

  @Test
  void layerMetaRoundTripsAndRejectsGarbage() throws Exception {
    LayerMeta m = new LayerMeta();
    m.layerId = "1763889600123-load-9f3a1c";
    m.table = "users";
    m.kind = LayerId.LOAD;
    m.partitions = 2;
    m.records = 5;
    m.files.add(new LayerMeta.FileMeta(LayerFormat.dataFileName(0, m.layerId), 0, 3, 100, "0000abcd"));
    m.files.add(new LayerMeta.FileMeta(LayerFormat.dataFileName(1, m.layerId), 1, 2, 90, "0000abce"));
    LayerMeta back = LayerMeta.fromJson(m.toJson().getBytes(StandardCharsets.UTF_8));
    assertEquals(m.toJson(), back.toJson());

    assertThrows(CorruptionException.class,
        () -> LayerMeta.fromJson("{not json".getBytes(StandardCharsets.UTF_8)));
    assertThrows(CorruptionException.class,
        () -> LayerMeta.fromJson("{\"layerId\":\"x\",\"partitions\":1}".getBytes(StandardCharsets.UTF_8)));
    String badPartition = m.toJson().replace("\"partition\" : 1", "\"partition\" : 7");
    assertThrows(CorruptionException.class,
        () -> LayerMeta.fromJson(badPartition.getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void contentChecksumDependsOnEveryPart() {
    byte[] k = {'k'};
    byte[] v = {1, 1, 'a', 1, 'b'};
    ContentChecksum a = new ContentChecksum();
    a.update(k, 0, 1, 5L, v, 0, v.length);
    ContentChecksum b = new ContentChecksum();
    b.update(k, 0, 1, 6L, v, 0, v.length);
    assertNotEquals(a.hex(), b.hex());
    assertEquals(1, a.records());
    assertEquals(8, a.hex().length());
  }
}
