package io.kvpod.contract;

import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a published layer directory holds, and how a record is stored in its HFiles.
 *
 * <pre>
 *   layers/&lt;layerId&gt;/
 *     _layer.json                          LayerMeta: partitions, counts, checksums
 *     part-&lt;NNNNN&gt;-&lt;layerId&gt;.hfile        one per partition, NNNNN = 5-digit partition
 * </pre>
 *
 * Each HFile holds the records of one partition ({@link KeyPartitioner}), one cell per key,
 * keys strictly ascending in unsigned byte order:
 * <pre>
 *   cell := row = utf8(key), family = "d", qualifier = "v",
 *           timestamp = version, type = Put, value = RecordCodec(value)
 * </pre>
 * with a ROW bloom filter and a block index, plus these file-info entries:
 * {@code kvpod.layer}, {@code kvpod.partition}, {@code kvpod.partitions},
 * {@code kvpod.records} (decimal), {@code kvpod.checksum} (see {@link ContentChecksum}).
 */
public final class LayerFormat {
  public static final byte[] FAMILY = bytes("d");
  public static final byte[] QUALIFIER = bytes("v");
  public static final String META_FILE = "_layer.json";

  public static final byte[] INFO_LAYER = bytes("kvpod.layer");
  public static final byte[] INFO_PARTITION = bytes("kvpod.partition");
  public static final byte[] INFO_PARTITIONS = bytes("kvpod.partitions");
  public static final byte[] INFO_RECORDS = bytes("kvpod.records");
  public static final byte[] INFO_CHECKSUM = bytes("kvpod.checksum");

  private static final Pattern DATA_FILE =
      Pattern.compile("part-(\\d{5})-(" + "\\d{13}-(?:load|flush|compact)-[0-9a-f]{6}" + ")\\.hfile");

  private LayerFormat() {}

  public static String dataFileName(int partition, String layerId) {
    if (partition < 0 || partition > 99999) {
      throw new IllegalArgumentException("partition out of range: " + partition);
    }
    return String.format("part-%05d-%s.hfile", partition, LayerId.check(layerId));
  }

  /** The partition of a data file name, or -1 if the name is not a data file's. */
  public static int partitionOf(String fileName) {
    Matcher m = DATA_FILE.matcher(fileName);
    return m.matches() ? Integer.parseInt(m.group(1)) : -1;
  }

  public static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
