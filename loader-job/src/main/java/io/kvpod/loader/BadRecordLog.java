package io.kvpod.loader;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The bad-record report of one map task: a text file in {@code <output>/_bad/}, one line
 * per bad input line, at most {@code samples} of them:
 *
 * <pre>
 *   entry := file ':' lineNumber ': ' reason ' | ' first 200 chars of the line
 * </pre>
 *
 * Line numbers are found only on this error path, by counting newlines from the start
 * of the input file up to the bad line's byte offset (incrementally, so each task reads
 * a prefix of its file at most once). A compressed input is read whole by one task and its
 * offsets are positions in the compressed stream, so there the line number is the count
 * of lines the task has read. Owned by one map task; not thread-safe.
 */
final class BadRecordLog implements Closeable {
  static final String DIR = "_bad";

  private final FileSystem fs;
  private final Path reportFile;
  private final Path input;
  private final int samples;
  private final boolean compressed;
  private OutputStream out;
  private int written;

  private InputStream scan;
  private long scanOffset;
  private long scanLine = 1;

  BadRecordLog(FileSystem fs, Path outputDir, String taskName, Path input, int samples, boolean compressed) {
    this.fs = fs;
    this.compressed = compressed;
    this.reportFile = new Path(new Path(outputDir, DIR), taskName + ".txt");
    this.input = input;
    this.samples = samples;
  }

  /**
   * Records one bad line and returns its location, {@code file:line}. {@code linesRead}
   * counts the lines this task has read, this one included.
   */
  String report(long offset, long linesRead, byte[] line, int length, String reason) throws IOException {
    String where = input + ":" + (compressed ? linesRead : lineNumber(offset));
    if (written < samples) {
      if (out == null) {
        out = fs.create(reportFile, true);
      }
      String shown = new String(line, 0, Math.min(length, 200), StandardCharsets.UTF_8)
          .replace('\n', ' ').replace('\r', ' ');
      out.write((where + ": " + reason + " | " + shown + "\n").getBytes(StandardCharsets.UTF_8));
      written++;
    }
    return where;
  }

  private long lineNumber(long offset) throws IOException {
    if (offset < scanOffset) {
      closeScan();
    }
    if (scan == null) {
      scan = fs.open(input);
      scanOffset = 0;
      scanLine = 1;
    }
    byte[] buf = new byte[64 * 1024];
    while (scanOffset < offset) {
      int n = scan.read(buf, 0, (int) Math.min(buf.length, offset - scanOffset));
      if (n < 0) {
        break;
      }
      for (int i = 0; i < n; i++) {
        if (buf[i] == '\n') {
          scanLine++;
        }
      }
      scanOffset += n;
    }
    return scanLine;
  }

  private void closeScan() throws IOException {
    if (scan != null) {
      scan.close();
      scan = null;
    }
  }

  @Override
  public void close() throws IOException {
    closeScan();
    if (out != null) {
      out.close();
      out = null;
    }
  }

  /** The first {@code max} entries of all reports under {@code outputDir}, for the driver. */
  static List<String> firstEntries(FileSystem fs, Path outputDir, int max) throws IOException {
    List<String> result = new ArrayList<>();
    Path dir = new Path(outputDir, DIR);
    if (!fs.exists(dir)) {
      return result;
    }
    FileStatus[] files = fs.listStatus(dir);
    Arrays.sort(files);
    for (FileStatus f : files) {
      try (BufferedReader r = new BufferedReader(
          new InputStreamReader(fs.open(f.getPath()), StandardCharsets.UTF_8))) {
        String l;
        while (result.size() < max && (l = r.readLine()) != null) {
          result.add(l);
        }
      }
    }
    return result;
  }
}
