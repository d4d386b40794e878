package io.kvpod.contract;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The metadata of one layer, stored as {@code _layer.json} in the layer directory
 * ({@link LayerFormat#META_FILE}). Written once into the staging directory before the
 * publishing rename, and never changed after. A plain mutable holder; not thread-safe
 * while being filled in, and treated as immutable once read or written.
 *
 * <p>Unknown fields are ignored when reading, so newer writers can add fields.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class LayerMeta {
  public static final int FORMAT_VERSION = 1;

  public int formatVersion = FORMAT_VERSION;
  public String layerId;
  public String table;
  /** {@link LayerId#LOAD}, {@link LayerId#FLUSH} or {@link LayerId#COMPACT}. */
  public String kind;
  public long createdAtMillis;
  public int partitions;
  /** Records in all files, after duplicates were resolved. */
  public long records;
  /** Bytes of all data files. */
  public long bytes;
  /** Input records that lost to another record of the same key in this layer. */
  public long duplicates;
  /** Input lines that could not be parsed (each was reported). */
  public long badRecords;
  public String compression;
  public int blockSize;
  public String bloom = "ROW";
  /** The version given to input records that carry none. */
  public Long defaultVersion;
  /** What the layer was made from: input paths, a pod id, ... */
  public String source;
  /**
   * For layers made from pods' write-ahead logs (flushes, and compactions of them): per pod
   * id, the highest WAL sequence number whose records this layer holds. A pod replaying
   * its log skips entries at or below the highest such number among the live layers.
   */
  public Map<Integer, Long> walThrough = new TreeMap<>();
  /** The highest record version in the layer, when known (flushes and compactions). */
  public Long maxVersion;
  /**
   * The lowest record version in the layer, when known (flushes and compactions; unset in
   * layers written before removals existed, and in bulk loads). A compaction drops a
   * tombstone only if every newer live layer's lowest version is at least the tombstone's.
   */
  public Long minVersion;
  /** Records that are removals (tombstones, see RecordCodec); counted in {@link #records}. */
  public long tombstones;
  /** Layers this one supersedes (compaction); readers ignore those once this is live. */
  public List<String> replaces = new ArrayList<>();
  public List<FileMeta> files = new ArrayList<>();

  /** One data file of the layer. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static final class FileMeta {
    public String name;
    public int partition;
    public long records;
    public long bytes;
    /** {@link ContentChecksum} of the file's records. */
    public String checksum;

    public FileMeta() {}

    public FileMeta(String name, int partition, long records, long bytes, String checksum) {
      this.name = name;
      this.partition = partition;
      this.records = records;
      this.bytes = bytes;
      this.checksum = checksum;
    }
  }

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (IOException e) {
      throw new IllegalStateException("cannot serialise layer metadata", e);
    }
  }

  public static LayerMeta fromJson(byte[] json) throws CorruptionException {
    try {
      LayerMeta m = JSON.readValue(json, LayerMeta.class);
      m.check();
      return m;
    } catch (CorruptionException e) {
      throw e;
    } catch (IOException e) {
      throw new CorruptionException("layer metadata is not valid JSON: " + e.getMessage(), e);
    }
  }

  /** Reads {@code dir/_layer.json}; a missing or malformed file is corruption. */
  public static LayerMeta read(FileSystem fs, Path layerDir) throws IOException {
    Path p = new Path(layerDir, LayerFormat.META_FILE);
    try (InputStream in = fs.open(p)) {
      return fromJson(in.readAllBytes());
    } catch (java.io.FileNotFoundException e) {
      throw new CorruptionException("layer " + layerDir + " has no " + LayerFormat.META_FILE, e);
    } catch (CorruptionException e) {
      throw new CorruptionException(p + ": " + e.getMessage(), e);
    }
  }

  /** Writes {@code dir/_layer.json}; fails if it already exists. */
  public void write(FileSystem fs, Path dir) throws IOException {
    check();
    try (OutputStream out = fs.create(new Path(dir, LayerFormat.META_FILE), false)) {
      out.write(toJson().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
  }

  private void check() throws CorruptionException {
    if (formatVersion != FORMAT_VERSION) {
      throw new CorruptionException("unsupported layer format version " + formatVersion);
    }
    if (!LayerId.isValid(layerId) || partitions <= 0 || files == null) {
      throw new CorruptionException("layer metadata lacks a valid layerId, partitions or files");
    }
    for (FileMeta f : files) {
      if (f.name == null || f.partition < 0 || f.partition >= partitions) {
        throw new CorruptionException("layer " + layerId + " lists a bad file entry " + f.name);
      }
    }
  }
}
