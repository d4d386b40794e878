package io.kvpod.loader;

import io.kvpod.contract.ContentChecksum;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.LayerFormat;
import io.kvpod.contract.LayerMeta;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.Cell;
import org.apache.hadoop.hbase.CellUtil;
import org.apache.hadoop.hbase.io.hfile.CacheConfig;
import org.apache.hadoop.hbase.io.hfile.HFile;
import org.apache.hadoop.hbase.io.hfile.HFileScanner;

/**
 * Checks a staged layer before it is published. {@link #validate} reads every data file
 * back with HBase's own HFile reader:
 * <ul>
 *   <li>exactly one file per partition, and nothing else that looks like data;</li>
 *   <li>keys strictly ascending, each in its file's partition, in family d / qualifier v;</li>
 *   <li>a ROW bloom filter is present (in every file that holds a record);</li>
 *   <li>records and {@link ContentChecksum} match the writer's file info;</li>
 *   <li>the total matches what the job says it wrote.</li>
 * </ul>
 * Files are checked in parallel. {@link #checkWritten} checks files this process wrote
 * from their metadata alone. Stateless; thread-safe.
 */
public final class LayerValidator {

  /** The layer failed validation; the message lists every problem found. */
  public static final class ValidationException extends IOException {
    private static final long serialVersionUID = 1L;

    ValidationException(String message) {
      super(message);
    }
  }

  private LayerValidator() {}

  public static List<LayerMeta.FileMeta> validate(Configuration conf, FileSystem fs, Path dir,
      String layerId, int partitions, long expectedRecords, int threads)
      throws IOException, InterruptedException {
    List<String> problems = new ArrayList<>();
    Set<Integer> seen = new HashSet<>();
    List<Path> files = new ArrayList<>();
    for (FileStatus st : fs.listStatus(dir)) {
      String name = st.getPath().getName();
      if (name.startsWith("_") || name.startsWith(".")) {
        continue;
      }
      int p = LayerFormat.partitionOf(name);
      if (p < 0 || p >= partitions || !name.equals(LayerFormat.dataFileName(p, layerId))) {
        problems.add("unexpected file " + name);
      } else {
        seen.add(p);
        files.add(st.getPath());
      }
    }
    for (int p = 0; p < partitions; p++) {
      if (!seen.contains(p)) {
        problems.add("no file for partition " + p);
      }
    }
    files.sort(null);
    List<LayerMeta.FileMeta> metas = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(threads, files.size())));
    try {
      List<Future<LayerMeta.FileMeta>> futures = new ArrayList<>();
      for (Path f : files) {
        futures.add(pool.submit(() -> checkFile(conf, fs, f, partitions, problems)));
      }
      for (Future<LayerMeta.FileMeta> fu : futures) {
        try {
          LayerMeta.FileMeta m = fu.get();
          if (m != null) {
            metas.add(m);
          }
        } catch (ExecutionException e) {
          synchronized (problems) {
            problems.add(String.valueOf(e.getCause()));
          }
        }
      }
    } finally {
      pool.shutdownNow();
    }
    long total = metas.stream().mapToLong(m -> m.records).sum();
    if (problems.isEmpty() && total != expectedRecords) {
      problems.add("files hold " + total + " records but the job wrote " + expectedRecords);
    }
    if (!problems.isEmpty()) {
      throw new ValidationException("layer " + layerId + " failed validation:\n  - "
          + String.join("\n  - ", problems));
    }
    return metas;
  }

  /**
   * Checks files that this process has just written and closed, against what their writers
   * counted ({@link LayerFileWriter#fileMeta}), without reading their data blocks back: each
   * file is opened with HBase's reader, which reads its trailer, file info, block indexes and
   * bloom metadata (as HBase does to validate a flushed store file), and then
   * <ul>
   *   <li>its length on the filesystem is the length the writer saw when it closed it;</li>
   *   <li>the file info's layer, partition, record count and {@link ContentChecksum} are the
   *       writer's, and HBase's own entry count agrees;</li>
   *   <li>a ROW bloom filter is present if the file holds a record;</li>
   *   <li>its first and last keys belong to its partition, in order, in column d:v.</li>
   * </ul>
   * What it does not check, the writer enforced as it wrote: ascending keys (checked on every
   * append) and each key's partition (the caller routes keys with the same partitioner). A
   * bulk load's files come from other processes, so the loader reads them back with
   * {@link #validate} instead.
   *
   * @return the files' metadata entries, in the order given
   */
  public static List<LayerMeta.FileMeta> checkWritten(Configuration conf, FileSystem fs, Path dir, String layerId,
      int partitions, List<LayerMeta.FileMeta> written) throws IOException {
    List<String> problems = new ArrayList<>();
    for (LayerMeta.FileMeta w : written) {
      Path path = new Path(dir, w.name);
      String name = w.name;
      long length = fs.getFileStatus(path).getLen();
      if (length != w.bytes) {
        problems.add(name + ": " + length + " bytes on the filesystem, the writer closed it at " + w.bytes);
        continue;
      }
      try (HFile.Reader r = HFile.createReader(fs, path, CacheConfig.DISABLED, true, conf)) {
        var info = r.getHFileInfo();
        expect(problems, name, "layer", layerId, text(info.get(LayerFormat.INFO_LAYER)));
        expect(problems, name, "partition", Integer.toString(w.partition), text(info.get(LayerFormat.INFO_PARTITION)));
        expect(problems, name, "records", Long.toString(w.records), text(info.get(LayerFormat.INFO_RECORDS)));
        expect(problems, name, "records (HBase's count)", Long.toString(w.records), Long.toString(r.getEntries()));
        expect(problems, name, "checksum", w.checksum, text(info.get(LayerFormat.INFO_CHECKSUM)));
        if (r.getEntries() > 0 && r.getGeneralBloomFilterMetadata() == null) {
          problems.add(name + ": no bloom filter");
        }
        byte[] first = r.getFirstKey().map(CellUtil::cloneRow).orElse(null);
        byte[] last = r.getLastKey().map(CellUtil::cloneRow).orElse(null);
        if (r.getEntries() > 0 && (first == null || last == null)) {
          problems.add(name + ": holds records but has no first or last key");
        } else if (first != null && last != null) {
          if (Arrays.compareUnsigned(first, last) > 0) {
            problems.add(name + ": first key '" + text(first) + "' is after last key '" + text(last) + "'");
          }
          for (byte[] k : new byte[][] {first, last}) {
            int p = KeyPartitioner.bucket(k, partitions);
            if (p != w.partition) {
              problems.add(name + ": key '" + text(k) + "' belongs to partition " + p);
            }
          }
          if (!r.getFirstKey().map(c -> CellUtil.matchingColumn(c, LayerFormat.FAMILY, LayerFormat.QUALIFIER))
              .orElse(true)) {
            problems.add(name + ": its first key is not in column d:v");
          }
        }
      }
    }
    if (!problems.isEmpty()) {
      throw new ValidationException("layer " + layerId + " failed validation:\n  - "
          + String.join("\n  - ", problems));
    }
    return written;
  }

  private static void expect(List<String> problems, String file, String what, String want, String got) {
    if (!want.equals(got)) {
      problems.add(file + ": " + what + " is " + got + ", the writer wrote " + want);
    }
  }

  private static LayerMeta.FileMeta checkFile(Configuration conf, FileSystem fs, Path path,
      int partitions, List<String> problems) throws IOException {
    String name = path.getName();
    int partition = LayerFormat.partitionOf(name);
    List<String> mine = new ArrayList<>();
    ContentChecksum sum = new ContentChecksum();
    try (HFile.Reader r = HFile.createReader(fs, path, CacheConfig.DISABLED, true, conf)) {
      // HBase writes no bloom for a file without keys; every other file must have one.
      if (r.getEntries() > 0 && r.getGeneralBloomFilterMetadata() == null) {
        mine.add(name + ": no bloom filter");
      }
      byte[] prev = null;
      HFileScanner s = r.getScanner(conf, false, false);
      if (s.seekTo()) {
        do {
          Cell c = s.getCell();
          byte[] row = CellUtil.cloneRow(c);
          byte[] value = CellUtil.cloneValue(c);
          if (prev != null && Arrays.compareUnsigned(prev, row) >= 0) {
            mine.add(name + ": key '" + text(row) + "' is not after '" + text(prev) + "'");
            break;
          }
          int p = KeyPartitioner.bucket(row, partitions);
          if (p != partition) {
            mine.add(name + ": key '" + text(row) + "' belongs to partition " + p);
            break;
          }
          if (!CellUtil.matchingColumn(c, LayerFormat.FAMILY, LayerFormat.QUALIFIER)) {
            mine.add(name + ": key '" + text(row) + "' is not in column d:v");
            break;
          }
          sum.update(row, 0, row.length, c.getTimestamp(), value, 0, value.length);
          prev = row;
        } while (s.next());
      }
      var info = r.getHFileInfo();
      String wantRecords = text(info.get(LayerFormat.INFO_RECORDS));
      String wantSum = text(info.get(LayerFormat.INFO_CHECKSUM));
      if (mine.isEmpty() && !Long.toString(sum.records()).equals(wantRecords)) {
        mine.add(name + ": holds " + sum.records() + " records, file info says " + wantRecords);
      }
      if (mine.isEmpty() && !sum.hex().equals(wantSum)) {
        mine.add(name + ": content checksum " + sum.hex() + " != file info " + wantSum);
      }
    }
    if (!mine.isEmpty()) {
      synchronized (problems) {
        problems.addAll(mine);
      }
      return null;
    }
    return new LayerMeta.FileMeta(name, partition, sum.records(), fs.getFileStatus(path).getLen(), sum.hex());
  }

  private static String text(byte[] b) {
    return b == null ? "(missing)" : new String(b, StandardCharsets.UTF_8);
  }
}
