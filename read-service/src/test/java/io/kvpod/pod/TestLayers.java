package io.kvpod.pod;

import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.LayerFormat;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.RecordCodec;
import io.kvpod.contract.TableLayout;
import io.kvpod.loader.HFileOptions;
import io.kvpod.loader.LayerFileWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Writes published layers directly with the loader's file writer, for tests that need no MapReduce. */
final class TestLayers {
  private TestLayers() {}

  /** A record for {@link #write}: its version and its value (null: a removal, stored as a tombstone). */
  record Rec(long version, Map<String, String> value) {
    static Rec of(long version, String v) {
      return new Rec(version, Map.of("v", v));
    }

    static Rec removed(long version) {
      return new Rec(version, null);
    }

    byte[] stored() {
      return value == null ? RecordCodec.tombstone() : RecordCodec.encode(value);
    }
  }

  static LayerMeta write(Configuration conf, FileSystem fs, TableLayout layout, String layerId, int partitions,
                         Map<String, Rec> records) throws Exception {
    return write(conf, fs, layout, layerId, partitions, records, Map.of());
  }

  /**
   * {@link #write}, for a flush: the layer holds bucket b's log through {@code walThrough.get(b)}.
   * A layer with a {@code walThrough} records its lowest version, as flushes do; one without
   * does not, as bulk loads do not.
   */
  static LayerMeta write(Configuration conf, FileSystem fs, TableLayout layout, String layerId, int partitions,
                         Map<String, Rec> records, Map<Integer, Long> walThrough) throws Exception {
    return write(conf, fs, layout, layerId, partitions, records, walThrough, new HFileOptions("none", 4096));
  }

  /** {@link #write}, with the files written as {@code format} says. */
  static LayerMeta write(Configuration conf, FileSystem fs, TableLayout layout, String layerId, int partitions,
                         Map<String, Rec> records, Map<Integer, Long> walThrough, HFileOptions format)
      throws Exception {
    Path dir = layout.layerDir(layerId);
    fs.mkdirs(dir);
    List<TreeMap<String, Rec>> byPart = new ArrayList<>();
    for (int p = 0; p < partitions; p++) {
      byPart.add(new TreeMap<>((a, b) -> java.util.Arrays.compareUnsigned(
          a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8))));
    }
    records.forEach((k, v) -> byPart.get(KeyPartitioner.bucket(k, partitions)).put(k, v));
    LayerMeta meta = new LayerMeta();
    meta.layerId = layerId;
    meta.table = layout.table();
    meta.kind = "load";
    meta.partitions = partitions;
    for (int p = 0; p < partitions; p++) {
      Path f = new Path(dir, LayerFormat.dataFileName(p, layerId));
      try (LayerFileWriter w = new LayerFileWriter(conf, fs, f, format, layerId, p,
          partitions)) {
        for (var e : byPart.get(p).entrySet()) {
          byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
          byte[] v = e.getValue().stored();
          w.append(k, 0, k.length, e.getValue().version(), v, 0, v.length);
        }
        w.close();
        meta.files.add(w.fileMeta());
      }
      meta.records += byPart.get(p).size();
    }
    meta.walThrough.putAll(walThrough);
    if (!walThrough.isEmpty() && !records.isEmpty()) {
      meta.minVersion = records.values().stream().mapToLong(Rec::version).min().getAsLong();
    }
    meta.write(fs, dir);
    return meta;
  }

  /**
   * A {@code file://} root under {@code dir} whose table {@code table} has one loaded layer
   * holding {@code user:1 -> {name=choke}}: for tests of a single pod process.
   */
  static String rootWithOneRecord(java.io.File dir, String table) throws Exception {
    return rootWithOneRecord(dir, table, 1);
  }

  /**
   * {@link #rootWithOneRecord(java.io.File, String)} in a layer of {@code partitions} files; a
   * multiple of the table's bucket count makes the layer's files open by bucket (and prefetched).
   */
  static String rootWithOneRecord(java.io.File dir, String table, int partitions) throws Exception {
    Configuration conf = new Configuration();
    String root = new Path(new java.io.File(dir, "root").toURI().toString()).toString();
    write(conf, FileSystem.getLocal(conf), new TableLayout(root, table), "1000000000000-load-0000aa", partitions,
        Map.of("user:1", new Rec(1, Map.of("name", "choke"))));
    return root;
  }
}
