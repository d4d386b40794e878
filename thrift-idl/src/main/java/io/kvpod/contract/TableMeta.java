package io.kvpod.contract;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * What is fixed about a table when it is created: its bucket count. Stored as
 * {@code <table>/_table.json} ({@link TableLayout#metaFile()}), written once and never
 * changed:
 *
 * <pre>
 *   {"formatVersion": 1, "table": "users", "buckets": 64, "createdAtMillis": 1764547200000}
 * </pre>
 *
 * A key's bucket is {@link KeyPartitioner#bucket}{@code (key, buckets)}; each bucket has one
 * write-ahead log and one line of holder records, and its home pod is
 * {@link BucketHomes#home}. The bucket count does not depend on the number of pods, so pods
 * can come and go without moving a key to another bucket. Unknown fields are ignored when
 * reading, so newer writers can add some. Immutable and thread-safe.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class TableMeta {
  public static final int FORMAT_VERSION = 1;
  /** The most buckets a table may have (each is a log and a line of holder records on HDFS). */
  public static final int MAX_BUCKETS = 65_536;
  /** The bucket count of a table made without one given ({@code kvpod.table.buckets}). */
  public static final int DEFAULT_BUCKETS = 64;

  public int formatVersion = FORMAT_VERSION;
  public String table;
  public int buckets;
  public long createdAtMillis;

  public TableMeta() {}

  public TableMeta(String table, int buckets, long createdAtMillis) {
    this.table = table;
    this.buckets = buckets;
    this.createdAtMillis = createdAtMillis;
  }

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** Throws IllegalArgumentException unless {@code buckets} is a valid bucket count. */
  public static void checkBuckets(int buckets) {
    if (buckets < 1 || buckets > MAX_BUCKETS) {
      throw new IllegalArgumentException("a table has 1.." + MAX_BUCKETS + " buckets, got " + buckets);
    }
  }

  /** The table's metadata, or null if it has none yet (a new table, or one made before it had any). */
  public static TableMeta read(FileSystem fs, TableLayout layout) throws IOException {
    Path p = layout.metaFile();
    byte[] json;
    try (InputStream in = fs.open(p)) {
      json = in.readAllBytes();
    } catch (FileNotFoundException e) {
      return null;
    }
    try {
      TableMeta m = JSON.readValue(json, TableMeta.class);
      if (m.formatVersion != FORMAT_VERSION) {
        throw new CorruptionException(p + ": unsupported table format version " + m.formatVersion);
      }
      checkBuckets(m.buckets);
      if (!layout.table().equals(m.table)) {
        throw new CorruptionException(p + " describes table '" + m.table + "', not '" + layout.table() + "'");
      }
      return m;
    } catch (IllegalArgumentException | IOException e) {
      throw e instanceof CorruptionException c ? c : new CorruptionException(p + ": " + e.getMessage(), e);
    }
  }

  /**
   * Creates the table's metadata as {@code wanted} unless it exists, and returns what is in
   * force: {@code wanted}, or what another process created first. The file is written aside
   * and renamed into place, so no reader ever sees a half-written file; on HDFS, whose rename
   * never replaces a file, of several creators exactly one wins. (A local filesystem's rename
   * may replace one: pods of a {@code file://} root, a single-machine trial, should not all
   * start on a new table at the same instant.)
   */
  public static TableMeta createIfAbsent(FileSystem fs, TableLayout layout, TableMeta wanted) throws IOException {
    checkBuckets(wanted.buckets);
    TableMeta existing = read(fs, layout);
    if (existing != null) {
      return existing;
    }
    fs.mkdirs(layout.tableDir());
    Path aside = new Path(layout.tableDir(), "_table.json." + UUID.randomUUID() + ".tmp");
    try {
      try (OutputStream out = fs.create(aside, false)) {
        out.write(JSON.writeValueAsString(wanted).getBytes(StandardCharsets.UTF_8));
      }
      if (!fs.exists(layout.metaFile())) {
        fs.rename(aside, layout.metaFile()); // false on HDFS if another creator won: read theirs
      }
    } finally {
      fs.delete(aside, false);
    }
    TableMeta inForce = read(fs, layout);
    if (inForce == null) {
      throw new IOException("could not create " + layout.metaFile());
    }
    return inForce;
  }
}
