package io.kvpod.loader;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.io.compress.Compression;
import org.apache.hadoop.hbase.io.encoding.DataBlockEncoding;
import org.apache.hadoop.hbase.io.hfile.HFileContext;
import org.apache.hadoop.hbase.io.hfile.HFileContextBuilder;
import org.apache.hadoop.hbase.util.ChecksumType;
import org.apache.hadoop.io.compress.Compressor;

/**
 * How a layer's HFiles are written: block size, compression and data block encoding.
 * Readers need none of it: each HFile records its own. Immutable.
 */
public record HFileOptions(String compression, int blockSize, String encoding) {
  /**
   * The default encoding: HBase's ROW_INDEX_V1 ends each data block with the offsets of its
   * cells, so a get binary-searches its block instead of comparing its key with each cell in
   * turn (which took 29% of a pod's CPU on cached multiGets with plain blocks).
   */
  public static final String DEFAULT_ENCODING = "row_index_v1";

  /** The options with the default encoding. */
  public HFileOptions(String compression, int blockSize) {
    this(compression, blockSize, DEFAULT_ENCODING);
  }

  public static HFileOptions from(Configuration conf) {
    var cfg = LoaderConfig.DEF.values(conf::get);
    return new HFileOptions(cfg.getString(LoaderConfig.COMPRESSION).toLowerCase(Locale.ROOT),
        cfg.getInt(LoaderConfig.BLOCK_SIZE), cfg.getString(LoaderConfig.BLOCK_ENCODING).toLowerCase(Locale.ROOT));
  }

  /** HBase's encoding of that name. */
  public DataBlockEncoding dataBlockEncoding() {
    try {
      return DataBlockEncoding.valueOf(encoding.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown HFile data block encoding '" + encoding
          + "': use row_index_v1 or none", e);
    }
  }

  public Compression.Algorithm algorithm() {
    try {
      return Compression.getCompressionAlgorithmByName(compression.toLowerCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown HFile compression '" + compression
          + "': use none, gz or snappy", e);
    }
  }

  public HFileContext context() {
    return new HFileContextBuilder()
        .withBlockSize(blockSize)
        .withCompression(algorithm())
        .withDataBlockEncoding(dataBlockEncoding())
        .withChecksumType(ChecksumType.CRC32C)
        .withIncludesMvcc(false)
        .withIncludesTags(false)
        .build();
  }

  /**
   * Compresses a few bytes with the codec, so that a codec this machine cannot run fails
   * before the job starts rather than leaving empty files behind mid-way.
   */
  public void checkCodecWorks(Configuration conf) throws IOException {
    Compression.Algorithm algo = algorithm();
    if (algo == Compression.Algorithm.NONE) {
      return;
    }
    Compressor c = null;
    try {
      c = algo.getCompressor();
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      try (OutputStream out = algo.createCompressionStream(buf, c, 4096)) {
        out.write("kvpod codec check".getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
    } catch (IOException | RuntimeException | LinkageError e) {
      String others = String.join(" or ", java.util.List.of("none", "gz", "snappy").stream()
          .filter(name -> !name.equals(compression)).toList());
      throw new IOException("HFile compression '" + compression + "' does not work here (" + e
          + "); choose " + others + " with --compression", e);
    } finally {
      if (c != null) {
        algo.returnCompressor(c);
      }
    }
  }
}
