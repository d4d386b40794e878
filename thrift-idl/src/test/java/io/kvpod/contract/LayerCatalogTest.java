package io.kvpod.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerCatalogTest {
  @TempDir
  File tmp;

  private static LayerMeta publish(FileSystem fs, TableLayout layout, String id, String... replaces) throws IOException {
    LayerMeta m = new LayerMeta();
    m.layerId = id;
    m.kind = LayerId.kind(id);
    m.partitions = 1;
    m.replaces.addAll(List.of(replaces));
    fs.mkdirs(layout.layerDir(id));
    m.write(fs, layout.layerDir(id));
    return m;
  }

  /** Overwrites a layer's metadata with bytes that do not parse: reading it again fails. */
  private static void spoil(FileSystem fs, TableLayout layout, String id) throws IOException {
    try (OutputStream out = fs.create(new Path(layout.layerDir(id), LayerFormat.META_FILE), true)) {
      out.write("not json".getBytes(StandardCharsets.UTF_8));
    }
  }

  @Test
  void aWatcherReadsEachLayersMetadataOnceAndForgetsLayersThatAreGone() throws Exception {
    FileSystem fs = FileSystem.getLocal(new Configuration()).getRawFileSystem();
    TableLayout layout = new TableLayout(new Path(tmp.toURI()), "t");
    String a = "1763889600100-load-00000a";
    String b = "1763889600200-flush-00000b";
    publish(fs, layout, a);
    publish(fs, layout, b);
    Map<String, LayerMeta> known = new HashMap<>();
    assertEquals(List.of(b, a), ids(LayerCatalog.liveLayers(fs, layout, known)));
    assertEquals(2, known.size());

    // a listed layer's metadata is not read again: spoiled on disk, it is still served from memory
    spoil(fs, layout, a);
    String c = "1763889600300-compact-00000c";
    publish(fs, layout, c, b); // new layers are read, and what they replace is still left out
    assertEquals(List.of(c, a), ids(LayerCatalog.liveLayers(fs, layout, known)));
    assertThrows(CorruptionException.class, () -> LayerCatalog.liveLayers(fs, layout),
        "without the known metadata, the spoiled file is read and refused");

    // a layer no longer listed is forgotten: were it published again, it would be read anew
    fs.delete(layout.layerDir(a), true);
    assertEquals(List.of(c), ids(LayerCatalog.liveLayers(fs, layout, known)));
    assertEquals(Map.of(b, "flush", c, "compact"), kinds(known));
  }

  private static List<String> ids(List<LayerMeta> layers) {
    return layers.stream().map(m -> m.layerId).toList();
  }

  private static Map<String, String> kinds(Map<String, LayerMeta> known) {
    Map<String, String> k = new HashMap<>();
    known.forEach((id, m) -> k.put(id, m.kind));
    return k;
  }
}
