package io.kvpod.loader;

import io.kvpod.contract.ContentChecksum;
import io.kvpod.contract.LayerFormat;
import io.kvpod.contract.LayerMeta;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.KeyValue;
import org.apache.hadoop.hbase.io.hfile.CacheConfig;
import org.apache.hadoop.hbase.regionserver.BloomType;
import org.apache.hadoop.hbase.regionserver.StoreFileWriter;

/**
 * Writes one data file of a layer in {@link LayerFormat}: HBase's StoreFileWriter with a
 * ROW bloom filter, one cell per key, plus the kvpod file-info entries. Used by the bulk
 * loader's reducers and by pods flushing their memtables, so both produce the same files.
 *
 * <p>Preconditions: keys are appended strictly ascending in unsigned byte order (checked
 * here, and again by HBase's writer). Owned by one thread.
 */
public final class LayerFileWriter implements Closeable {
  private final StoreFileWriter writer;
  private final Path path;
  private final FileSystem fs;
  private final String layerId;
  private final int partition;
  private final int partitions;
  private final ContentChecksum checksum = new ContentChecksum();
  private byte[] lastKey = new byte[0];
  private int lastKeyLength = -1;
  private LayerMeta.FileMeta result;

  public LayerFileWriter(Configuration conf, FileSystem fs, Path path, HFileOptions options,
                         String layerId, int partition, int partitions) throws IOException {
    this.fs = fs;
    this.path = path;
    this.layerId = layerId;
    this.partition = partition;
    this.partitions = partitions;
    this.writer = new StoreFileWriter.Builder(conf, CacheConfig.DISABLED, fs)
        .withFilePath(path)
        .withBloomType(BloomType.ROW)
        .withFileContext(options.context())
        .build();
  }

  public void append(byte[] key, int keyOff, int keyLen, long version,
                     byte[] value, int valueOff, int valueLen) throws IOException {
    if (lastKeyLength >= 0
        && Arrays.compareUnsigned(lastKey, 0, lastKeyLength, key, keyOff, keyOff + keyLen) >= 0) {
      throw new IOException("keys out of order in " + path + ": '"
          + new String(key, keyOff, keyLen, StandardCharsets.UTF_8) + "' after '"
          + new String(lastKey, 0, lastKeyLength, StandardCharsets.UTF_8) + "'");
    }
    writer.append(new KeyValue(key, keyOff, keyLen, LayerFormat.FAMILY, 0, LayerFormat.FAMILY.length,
        LayerFormat.QUALIFIER, 0, LayerFormat.QUALIFIER.length, version, KeyValue.Type.Put,
        value, valueOff, valueLen));
    checksum.update(key, keyOff, keyLen, version, value, valueOff, valueLen);
    if (lastKey.length < keyLen) {
      lastKey = new byte[Math.max(keyLen, lastKey.length * 2)];
    }
    System.arraycopy(key, keyOff, lastKey, 0, keyLen);
    lastKeyLength = keyLen;
  }

  public long records() {
    return checksum.records();
  }

  /** Finishes the file and returns its entry for the layer metadata. Idempotent. */
  @Override
  public void close() throws IOException {
    if (result != null) {
      return;
    }
    writer.appendFileInfo(LayerFormat.INFO_LAYER, LayerFormat.bytes(layerId));
    writer.appendFileInfo(LayerFormat.INFO_PARTITION, LayerFormat.bytes(Integer.toString(partition)));
    writer.appendFileInfo(LayerFormat.INFO_PARTITIONS, LayerFormat.bytes(Integer.toString(partitions)));
    writer.appendFileInfo(LayerFormat.INFO_RECORDS, LayerFormat.bytes(Long.toString(checksum.records())));
    writer.appendFileInfo(LayerFormat.INFO_CHECKSUM, LayerFormat.bytes(checksum.hex()));
    writer.appendMetadata(0, false);
    writer.close();
    result = new LayerMeta.FileMeta(path.getName(), partition, checksum.records(),
        fs.getFileStatus(path).getLen(), checksum.hex());
  }

  public LayerMeta.FileMeta fileMeta() {
    if (result == null) {
      throw new IllegalStateException("file not closed yet");
    }
    return result;
  }
}
