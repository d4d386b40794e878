package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.LayerCatalog;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.TableLayout;
import io.kvpod.loader.LayerTool;
import io.kvpod.loader.UsageException;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.util.ToolRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rolling back a layer that holds online writes would lose them: refused unless forced. */
class LayerRollbackTest {
  @TempDir
  File tmp;

  @Test
  void aFlushedLayerIsNotRolledBackWithoutForce() throws Exception {
    Configuration conf = new Configuration();
    FileSystem fs = FileSystem.getLocal(conf);
    String root = tmp.toURI().toString();
    TableLayout layout = new TableLayout(root, "t");
    LayerMeta flushed = TestLayers.write(conf, fs, layout, "1763889600123-flush-000001", 1,
        Map.of("k", TestLayers.Rec.of(5, "online")));
    flushed.kind = "flush";
    flushed.walThrough.put(0, 42L);
    fs.delete(new org.apache.hadoop.fs.Path(layout.layerDir(flushed.layerId), io.kvpod.contract.LayerFormat.META_FILE),
        false);
    flushed.write(fs, layout.layerDir(flushed.layerId));

    String[] args = {"--root", root, "--table", "t"};
    UsageException refused = assertThrows(UsageException.class,
        () -> ToolRunner.run(conf, new LayerTool(LayerTool.Mode.ROLLBACK, new PrintStream(new ByteArrayOutputStream())), args));
    assertTrue(refused.getMessage().contains("acknowledged online writes"), refused.getMessage());
    assertEquals(1, LayerCatalog.liveLayers(fs, layout).size(), "the layer is still live");

    assertEquals(0, ToolRunner.run(conf, new LayerTool(LayerTool.Mode.ROLLBACK,
        new PrintStream(new ByteArrayOutputStream())), new String[] {"--root", root, "--table", "t", "--force"}));
    assertEquals(0, LayerCatalog.liveLayers(fs, layout).size());
  }
}
