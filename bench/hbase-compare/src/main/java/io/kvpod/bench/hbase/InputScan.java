package io.kvpod.bench.hbase;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.util.Bytes;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.util.LineReader;

/**
 * One pass over the input before the load: the keys the readers will draw from, a uniform
 * sample of keys for the region split points, and a few whole records whose values are
 * read back byte for byte after the load.
 */
final class InputScan {
  private static final int SPLIT_SAMPLE = 100_000;

  final List<Path> files = new ArrayList<>();
  long records;
  long badLines;
  long inputBytes;
  long valueBytes;
  double seconds;
  /** Every key of the input (then cut down to --sample). */
  KeyStore keys = new KeyStore();
  final List<byte[]> splitSample = new ArrayList<>();
  final List<byte[]> verifyKeys = new ArrayList<>();
  final List<byte[]> verifyValues = new ArrayList<>();

  static InputScan run(Configuration conf, Path input, int verifyCount, long seed) throws IOException {
    InputScan s = new InputScan();
    long start = System.nanoTime();
    FileSystem fs = input.getFileSystem(conf);
    FileStatus st = fs.getFileStatus(input);
    if (st.isDirectory()) {
      for (FileStatus f : fs.listStatus(input)) {
        String name = f.getPath().getName();
        if (f.isFile() && !name.startsWith("_") && !name.startsWith(".")) {
          s.files.add(f.getPath());
        }
      }
    } else {
      s.files.add(st.getPath());
    }
    s.files.sort(null);
    if (s.files.isEmpty()) {
      throw new IOException("no input files under " + input);
    }
    Random splitRnd = new Random(seed);
    Random verifyRnd = new Random(seed + 1);
    JsonRecordParser parser = new JsonRecordParser();
    Text line = new Text();
    long nextReport = System.nanoTime() + 10_000_000_000L;
    for (Path file : s.files) {
      s.inputBytes += fs.getFileStatus(file).getLen();
      try (InputStream in = fs.open(file); LineReader reader = new LineReader(in, 1 << 20)) {
        while (reader.readLine(line) > 0) {
          if (line.getLength() == 0) {
            continue;
          }
          if (parser.parse(line.getBytes(), line.getLength()) != null) {
            s.badLines++;
            continue;
          }
          byte[] key = parser.key;
          long n = s.records++;
          s.valueBytes += parser.valueEnd - parser.valueStart;
          s.keys.add(key);
          // reservoir samples (Algorithm R)
          if (n < SPLIT_SAMPLE) {
            s.splitSample.add(key);
          } else {
            long j = (long) (splitRnd.nextDouble() * (n + 1));
            if (j < SPLIT_SAMPLE) {
              s.splitSample.set((int) j, key);
            }
          }
          if (n < verifyCount) {
            s.verifyKeys.add(key);
            s.verifyValues.add(parser.value(line.getBytes()));
          } else if (verifyCount > 0) {
            long j = (long) (verifyRnd.nextDouble() * (n + 1));
            if (j < verifyCount) {
              s.verifyKeys.set((int) j, key);
              s.verifyValues.set((int) j, parser.value(line.getBytes()));
            }
          }
          if ((n & 0xffff) == 0 && System.nanoTime() > nextReport) {
            nextReport = System.nanoTime() + 10_000_000_000L;
            HBaseCompare.log("scan: %,d records so far", s.records);
          }
        }
      }
    }
    s.seconds = (System.nanoTime() - start) / 1e9;
    return s;
  }

  /**
   * {@code regions - 1} split keys at the quantiles of the key sample (fewer when the sample
   * has fewer distinct keys), so that each region gets about the same number of records.
   */
  byte[][] splitKeys(int regions) {
    byte[][] sorted = splitSample.toArray(new byte[0][]);
    Arrays.sort(sorted, Bytes.BYTES_COMPARATOR);
    List<byte[]> out = new ArrayList<>();
    for (int i = 1; i < regions && sorted.length > 0; i++) {
      byte[] k = sorted[(int) ((long) i * sorted.length / regions)];
      if (out.isEmpty() || Bytes.compareTo(out.get(out.size() - 1), k) < 0) {
        out.add(k);
      }
    }
    return out.toArray(new byte[0][]);
  }
}
