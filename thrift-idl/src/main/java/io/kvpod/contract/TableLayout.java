package io.kvpod.contract;

import java.util.regex.Pattern;
import org.apache.hadoop.fs.Path;

/**
 * Where a table's files live under the kvpod root. One instance per (root, table);
 * immutable and thread-safe.
 *
 * <pre>
 *   &lt;root&gt;/tables/&lt;table&gt;/layers/&lt;layerId&gt;/    published, immutable layers (see {@link LayerFormat})
 *   &lt;root&gt;/tables/&lt;table&gt;/staging/&lt;layerId&gt;/   loads and flushes in progress; invisible to readers
 *   &lt;root&gt;/tables/&lt;table&gt;/retired/&lt;layerId&gt;/   rolled back or compacted away; deleted by gc after a grace period
 *   &lt;root&gt;/tables/&lt;table&gt;/_table.json              the bucket count, fixed at creation ({@link TableMeta})
 *   &lt;root&gt;/tables/&lt;table&gt;/wal/pod-&lt;b&gt;/           the write-ahead log of bucket b
 *   &lt;root&gt;/tables/&lt;table&gt;/owners/pod-&lt;b&gt;.epoch-&lt;n&gt;  who holds bucket b from epoch n on (takeovers)
 * </pre>
 *
 * A layer becomes visible by one atomic rename of {@code staging/<id>} to {@code layers/<id>},
 * and stops being visible by one atomic rename to {@code retired/<id>}. The {@code pod-}
 * prefix of the log and holder-record names is historical: it names a bucket, which was one
 * per pod before the bucket count became a table setting.
 */
public final class TableLayout {
  private static final Pattern TABLE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

  private final Path root;
  private final String table;
  private final Path tableDir;

  public TableLayout(Path root, String table) {
    checkTableName(table);
    this.root = root;
    this.table = table;
    this.tableDir = new Path(new Path(root, "tables"), table);
  }

  public TableLayout(String rootUri, String table) {
    this(new Path(rootUri), table);
  }

  /** Table names are 1..128 of [A-Za-z0-9_.-], starting with a letter or digit. */
  public static void checkTableName(String table) {
    if (table == null || !TABLE_NAME.matcher(table).matches()) {
      throw new IllegalArgumentException("bad table name '" + table
          + "': use 1..128 of [A-Za-z0-9_.-], starting with a letter or digit");
    }
  }

  public Path root() {
    return root;
  }

  public String table() {
    return table;
  }

  public Path tableDir() {
    return tableDir;
  }

  public Path layersDir() {
    return new Path(tableDir, "layers");
  }

  public Path stagingDir() {
    return new Path(tableDir, "staging");
  }

  public Path retiredDir() {
    return new Path(tableDir, "retired");
  }

  public Path walRoot() {
    return new Path(tableDir, "wal");
  }

  public Path layerDir(String layerId) {
    return new Path(layersDir(), LayerId.check(layerId));
  }

  public Path stagingDir(String layerId) {
    return new Path(stagingDir(), LayerId.check(layerId));
  }

  public Path retiredDir(String layerId) {
    return new Path(retiredDir(), LayerId.check(layerId));
  }

  /** The table's metadata file ({@link TableMeta}). */
  public Path metaFile() {
    return new Path(tableDir, "_table.json");
  }

  /** The write-ahead log of {@code bucket}. */
  public Path walDir(int bucket) {
    if (bucket < 0) {
      throw new IllegalArgumentException("bucket must be >= 0, got " + bucket);
    }
    return new Path(walRoot(), "pod-" + bucket);
  }

  /** Where the holders of the buckets are recorded, one file per (bucket, epoch). */
  public Path ownersDir() {
    return new Path(tableDir, "owners");
  }

  @Override
  public String toString() {
    return tableDir.toString();
  }
}
