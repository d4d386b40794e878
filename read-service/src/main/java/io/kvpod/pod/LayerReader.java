package io.kvpod.pod;

import io.kvpod.contract.CorruptionException;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.LayerFormat;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.TableLayout;
import java.nio.charset.StandardCharsets;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.Cell;
import org.apache.hadoop.hbase.CellUtil;
import org.apache.hadoop.hbase.HConstants;
import org.apache.hadoop.hbase.KeyValueUtil;
import org.apache.hadoop.hbase.io.hfile.CacheConfig;
import org.apache.hadoop.hbase.io.FSDataInputStreamWrapper;
import org.apache.hadoop.hbase.io.FileLink;
import org.apache.hadoop.hbase.io.hfile.HFile;
import org.apache.hadoop.hbase.io.hfile.HFileInfo;
import org.apache.hadoop.hbase.io.hfile.ReaderContext;
import org.apache.hadoop.hbase.io.hfile.ReaderContextBuilder;
import org.apache.hadoop.hbase.io.hfile.HFileScanner;
import org.apache.hadoop.hbase.util.BloomFilter;
import org.apache.hadoop.hbase.util.BloomFilterFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One open layer: an HFile reader and bloom filter per partition. A lookup hashes the key
 * to its partition, asks the bloom filter, and only then seeks the block index.
 *
 * <p>Thread-safe: readers are shared, each lookup uses its own scanner. Reference counted:
 * every {@link LayerSet} holding this layer retains it, and the files close when the last
 * set that holds it is released, i.e. after the gets in flight on it have finished.
 */
final class LayerReader {
  private static final Logger LOG = LoggerFactory.getLogger(LayerReader.class);

  private final LayerMeta meta;
  private final Configuration conf;
  private final HFile.Reader[] readers;
  private final BloomFilter[] blooms;
  private final RefCount refs = new RefCount();

  private LayerReader(LayerMeta meta, Configuration conf, HFile.Reader[] readers, BloomFilter[] blooms) {
    this.meta = meta;
    this.conf = conf;
    this.readers = readers;
    this.blooms = blooms;
  }

  /**
   * Opens every data file of the layer; checks each file's partition against the metadata.
   *
   * <p>Each file is opened through an HBase {@link FileLink} over its two possible homes,
   * {@code layers/<id>/} and {@code retired/<id>/}: a rollback renames the layer while gets
   * may still be reading it, and a plain stream would fail once the filesystem looks the
   * path up again. The link re-opens the file where it now lives.
   */
  static LayerReader open(FileSystem fs, TableLayout layout, LayerMeta meta, CacheConfig cache,
                          Configuration conf) throws IOException {
    HFile.Reader[] readers = new HFile.Reader[meta.partitions];
    BloomFilter[] blooms = new BloomFilter[meta.partitions];
    try {
      for (LayerMeta.FileMeta f : meta.files) {
        HFile.Reader r = openLinked(fs, new Path(layout.layerDir(meta.layerId), f.name),
            new Path(layout.retiredDir(meta.layerId), f.name), cache, conf);
        readers[f.partition] = r;
        byte[] p = r.getHFileInfo().get(LayerFormat.INFO_PARTITION);
        if (p == null || !Integer.toString(f.partition).equals(new String(p, StandardCharsets.UTF_8))) {
          throw new CorruptionException(f.name + " does not hold partition " + f.partition);
        }
        var bloomMeta = r.getGeneralBloomFilterMetadata();
        blooms[f.partition] = bloomMeta == null ? null : BloomFilterFactory.createFromMeta(bloomMeta, r);
      }
      for (int i = 0; i < readers.length; i++) {
        if (readers[i] == null) {
          throw new CorruptionException("layer " + meta.layerId + " has no file for partition " + i);
        }
      }
    } catch (IOException | RuntimeException e) {
      closeAll(readers);
      throw e;
    }
    return new LayerReader(meta, conf, readers, blooms);
  }

  private static HFile.Reader openLinked(FileSystem fs, Path live, Path retired, CacheConfig cache,
                                         Configuration conf) throws IOException {
    FileLink link = new FileLink(live, retired);
    FSDataInputStreamWrapper in = new FSDataInputStreamWrapper(fs, link, false, -1L);
    try {
      ReaderContext ctx = new ReaderContextBuilder()
          .withFilePath(live)
          .withInputStreamWrapper(in)
          .withFileSize(link.getFileStatus(fs).getLen())
          .withFileSystem(fs)
          .withPrimaryReplicaReader(true)
          .withReaderType(ReaderContext.ReaderType.PREAD)
          .build();
      HFileInfo info = new HFileInfo(ctx, conf);
      HFile.Reader r = HFile.createReader(ctx, info, cache, conf);
      info.initMetaAndIndex(r);
      return r;
    } catch (IOException | RuntimeException e) {
      in.close();
      throw e;
    }
  }

  LayerMeta meta() {
    return meta;
  }

  String id() {
    return meta.layerId;
  }

  /** The record stored for {@code key}, or null. Requires a retained reader. */
  Found get(byte[] key) throws IOException {
    int p = KeyPartitioner.bucket(key, readers.length);
    HFile.Reader r = readers[p];
    if (r.getEntries() == 0) {
      return null;
    }
    BloomFilter bloom = blooms[p];
    if (bloom != null && !bloom.contains(key, 0, key.length, null)) {
      return null;
    }
    try (HFileScanner s = r.getScanner(conf, true, true)) {
      Cell probe = KeyValueUtil.createFirstOnRow(key, LayerFormat.FAMILY, LayerFormat.QUALIFIER);
      if (!seekAtOrAfter(s, probe)) {
        return null;
      }
      Cell c = s.getCell();
      if (!CellUtil.matchingRows(c, key)) {
        return null;
      }
      return new Found(c.getTimestamp(), CellUtil.cloneValue(c));
    }
  }

  /**
   * Positions {@code s} at the first cell at or after {@code probe}; false if there is none.
   * {@code seekTo(cell)} answers -1 when the probe is before the file's first cell,
   * {@link HConstants#INDEX_KEY_MAGIC} when it is before the first cell of the block the
   * (shortened) index chose, already positioned on that cell, 0 on an exact match, and 1
   * when positioned on the last cell before the probe.
   */
  static boolean seekAtOrAfter(HFileScanner s, Cell probe) throws IOException {
    int at = s.seekTo(probe);
    if (at == HConstants.INDEX_KEY_MAGIC) {
      return true;
    }
    if (at < 0) {
      return s.seekTo();
    }
    return at == 0 || s.next();
  }

  int partitions() {
    return readers.length;
  }

  /**
   * A scanner for one pass over a partition's file in key order (compaction). It does not
   * fill the block cache, so a pass does not evict the blocks gets need. Requires a retained
   * reader; the caller closes the scanner.
   */
  HFileScanner scan(int partition) {
    return readers[partition].getScanner(conf, false, false);
  }

  boolean retain() {
    return refs.tryRetain();
  }

  void release() {
    if (refs.release()) {
      LOG.info("closing layer {}", meta.layerId);
      closeAll(readers);
    }
  }


  private static void closeAll(HFile.Reader[] readers) {
    for (HFile.Reader r : readers) {
      if (r != null) {
        try {
          r.close(true);
        } catch (IOException e) {
          LOG.warn("error closing {}: {}", r.getPath(), e.toString());
        }
      }
    }
  }

  @Override
  public String toString() {
    return "LayerReader[" + meta.layerId + ", " + meta.partitions + " partitions]";
  }
}
