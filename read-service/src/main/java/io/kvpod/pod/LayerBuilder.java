package io.kvpod.pod;

import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.LayerFormat;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.RecordCodec;
import io.kvpod.contract.TableLayout;
import io.kvpod.loader.HFileOptions;
import io.kvpod.loader.LayerFileWriter;
import io.kvpod.loader.LayerValidator;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Writes one layer inside a pod (a flush or a compaction) in the loader's format: records
 * arrive in ascending key order, each goes to partition {@code murmur3(key) mod partitions}
 * with the shared {@link KeyPartitioner}, and {@link LayerFileWriter} writes the files.
 * {@link #publish} checks every file with the loader's {@link LayerValidator} (from the files'
 * metadata against the writers' counts and checksums, or by reading every record back:
 * {@code kvpod.flush.verify}), writes the metadata and publishes by one atomic rename, as a
 * bulk load does; on failure it deletes the staging directory and nothing becomes visible.
 * Owned by one thread.
 */
final class LayerBuilder implements AutoCloseable {
  private final FileSystem fs;
  private final TableLayout layout;
  private final Configuration conf;
  private final HFileOptions options;
  private final String layerId;
  private final Path stage;
  private final LayerFileWriter[] writers;
  private final boolean readBack;
  private long minVersion = Long.MAX_VALUE;
  private long tombstones;
  private boolean published;

  /**
   * @param readBack check the files by reading every record back ({@link LayerValidator#validate})
   *     rather than from their metadata ({@link LayerValidator#checkWritten})
   */
  LayerBuilder(FileSystem fs, TableLayout layout, Configuration conf, HFileOptions options, String layerId,
               int partitions, boolean readBack) throws IOException {
    this.readBack = readBack;
    this.fs = fs;
    this.layout = layout;
    this.conf = conf;
    this.options = options;
    this.layerId = layerId;
    this.stage = layout.stagingDir(layerId);
    this.writers = new LayerFileWriter[partitions];
    fs.mkdirs(stage);
    try {
      for (int p = 0; p < partitions; p++) {
        writers[p] = new LayerFileWriter(conf, fs, new Path(stage, LayerFormat.dataFileName(p, layerId)),
            options, layerId, p, partitions);
      }
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
  }

  /** Adds a record; keys must be strictly ascending in unsigned byte order. */
  void append(byte[] key, long version, byte[] value) throws IOException {
    minVersion = Math.min(minVersion, version);
    if (RecordCodec.isTombstone(value)) {
      tombstones++;
    }
    writers[KeyPartitioner.bucket(key, writers.length)].append(key, 0, key.length, version, value, 0, value.length);
  }

  /**
   * Closes the files, validates them, and publishes the layer described by {@code meta}
   * (whose kind, source, walThrough, maxVersion and replaces the caller has set; this sets
   * the counts, files and lowest version).
   */
  LayerMeta publish(LayerMeta meta) throws IOException, InterruptedException {
    long records = 0;
    List<LayerMeta.FileMeta> written = new ArrayList<>();
    for (LayerFileWriter w : writers) {
      w.close();
      records += w.records();
      written.add(w.fileMeta());
    }
    List<LayerMeta.FileMeta> files = new ArrayList<>(readBack
        ? LayerValidator.validate(conf, fs, stage, layerId, writers.length, records, 1)
        : LayerValidator.checkWritten(conf, fs, stage, layerId, writers.length, written));
    meta.layerId = layerId;
    meta.table = layout.table();
    meta.createdAtMillis = System.currentTimeMillis();
    meta.partitions = writers.length;
    meta.records = records;
    meta.tombstones = tombstones;
    meta.minVersion = records > 0 ? minVersion : null;
    meta.files = files;
    meta.bytes = files.stream().mapToLong(f -> f.bytes).sum();
    meta.compression = options.compression();
    meta.blockSize = options.blockSize();
    meta.write(fs, stage);
    fs.mkdirs(layout.layersDir());
    if (!fs.rename(stage, layout.layerDir(layerId))) {
      throw new IOException("could not publish " + stage + " as " + layout.layerDir(layerId));
    }
    published = true;
    return meta;
  }

  /** Deletes the staging directory unless the layer was published. */
  @Override
  public void close() throws IOException {
    if (published) {
      return;
    }
    for (LayerFileWriter w : writers) {
      if (w != null) {
        try {
          w.close();
        } catch (IOException | RuntimeException e) {
          // the staging directory goes anyway
        }
      }
    }
    fs.delete(stage, true);
  }
}
