package io.kvpod.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.LayerFormat;
import io.kvpod.contract.LayerMeta;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LayerValidator#checkWritten}: files a process wrote itself are checked from their
 * metadata against what the writer counted, and every mismatch is refused with a message.
 */
class LayerValidatorTest {
  private static final String LAYER = "1796000000000-flush-00c0de";
  private static final int PARTITIONS = 4;

  @TempDir Path dir;
  private final Configuration conf = new Configuration();
  private FileSystem fs;

  @BeforeEach
  void localFs() throws IOException {
    fs = FileSystem.getLocal(conf);
  }

  /** Sorted keys k0..k199 that fall in partition {@code p} (or, if {@code other}, in p + 1). */
  private static List<byte[]> keysOf(int p, boolean other) {
    int want = other ? (p + 1) % PARTITIONS : p;
    List<byte[]> keys = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      byte[] k = ("k" + i).getBytes(StandardCharsets.UTF_8);
      if (KeyPartitioner.bucket(k, PARTITIONS) == want) {
        keys.add(k);
      }
    }
    keys.sort(Arrays::compareUnsigned);
    return keys;
  }

  private LayerMeta.FileMeta write(int partition, List<byte[]> keys) throws IOException {
    var path = new org.apache.hadoop.fs.Path(dir.toUri().toString(), LayerFormat.dataFileName(partition, LAYER));
    try (LayerFileWriter w = new LayerFileWriter(conf, fs, path, new HFileOptions("none", 4096), LAYER, partition,
        PARTITIONS)) {
      for (byte[] k : keys) {
        byte[] v = ("value of " + new String(k, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
        w.append(k, 0, k.length, 7, v, 0, v.length);
      }
      w.close();
      return w.fileMeta();
    }
  }

  private List<LayerMeta.FileMeta> check(LayerMeta.FileMeta... written) throws IOException {
    return LayerValidator.checkWritten(conf, fs, new org.apache.hadoop.fs.Path(dir.toUri().toString()), LAYER,
        PARTITIONS, List.of(written));
  }

  @Test
  void filesAsWrittenPassAndKeepTheWritersCounts() throws IOException {
    LayerMeta.FileMeta a = write(0, keysOf(0, false));
    LayerMeta.FileMeta empty = write(1, List.of());

    List<LayerMeta.FileMeta> checked = check(a, empty);

    assertEquals(2, checked.size());
    assertEquals(keysOf(0, false).size(), checked.get(0).records);
    assertEquals(0, checked.get(1).records);
  }

  @Test
  void aFileCutShortIsRefused() throws IOException {
    LayerMeta.FileMeta a = write(0, keysOf(0, false));
    try (RandomAccessFile f = new RandomAccessFile(dir.resolve(a.name).toFile(), "rw")) {
      f.setLength(f.length() - 10);
    }

    IOException e = assertThrows(LayerValidator.ValidationException.class, () -> check(a));
    assertTrue(e.getMessage().contains("the writer closed it at " + a.bytes), e.getMessage());
  }

  @Test
  void countsOrChecksumsOtherThanTheWritersAreRefused() throws IOException {
    LayerMeta.FileMeta a = write(0, keysOf(0, false));
    LayerMeta.FileMeta wrongCount = new LayerMeta.FileMeta(a.name, a.partition, a.records + 1, a.bytes, a.checksum);
    LayerMeta.FileMeta wrongSum = new LayerMeta.FileMeta(a.name, a.partition, a.records, a.bytes, "0badc0de");

    IOException count = assertThrows(LayerValidator.ValidationException.class, () -> check(wrongCount));
    IOException sum = assertThrows(LayerValidator.ValidationException.class, () -> check(wrongSum));

    assertTrue(count.getMessage().contains("records is " + a.records + ", the writer wrote " + (a.records + 1)),
        count.getMessage());
    assertTrue(sum.getMessage().contains("checksum is " + a.checksum), sum.getMessage());
  }

  @Test
  void keysOutsideTheFilesPartitionAreRefused() throws IOException {
    LayerMeta.FileMeta a = write(2, keysOf(2, true)); // the writer does not route keys; its caller does

    IOException e = assertThrows(LayerValidator.ValidationException.class, () -> check(a));
    assertTrue(e.getMessage().contains("belongs to partition " + 3), e.getMessage());
  }

  @Test
  void aFileOfAnotherPartitionIsRefused() throws IOException {
    LayerMeta.FileMeta a = write(0, keysOf(0, false));
    LayerMeta.FileMeta claimed = new LayerMeta.FileMeta(a.name, 1, a.records, a.bytes, a.checksum);

    IOException e = assertThrows(LayerValidator.ValidationException.class, () -> check(claimed));
    assertTrue(e.getMessage().contains("partition is 0, the writer wrote 1"), e.getMessage());
  }
}
