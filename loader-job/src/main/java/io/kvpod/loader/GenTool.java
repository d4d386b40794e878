package io.kvpod.loader;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;
import org.apache.hadoop.conf.Configured;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.util.Tool;

/**
 * {@code kvpod gen}: writes N deterministic records ({@link RecordGenerator}) as JSON Lines
 * or TSV into {@code --out}, split over several files written by parallel threads.
 * Record i always lands in file {@code i mod files}; the output is the same for the same
 * seed whatever the thread count.
 */
public class GenTool extends Configured implements Tool {
  static final String CMD = "kvpod gen";
  private final PrintStream out;

  public GenTool() {
    this(System.err);
  }

  public GenTool(PrintStream out) {
    this.out = out;
  }

  static Options options() {
    return Cli.withHelp(new Options()
        .addOption(Cli.flag("records", "N", "records to generate (required)"))
        .addOption(Cli.flag("out", "PATH", "output directory, local or HDFS URI (required; must not exist)"))
        .addOption(Cli.flag("format", "jsonl|tsv", "line format (default: jsonl)"))
        .addOption(Cli.flag("fields", "F", "fields per value (default: 4)"))
        .addOption(Cli.flag("value-bytes", "B", "characters of field text per value (default: 100)"))
        .addOption(Cli.flag("seed", "S", "seed; the same seed gives the same records (default: 1)"))
        .addOption(Cli.flag("start", "I", "index of the first record (default: 0)"))
        .addOption(Cli.flag("files", "K", "output files (default: threads)"))
        .addOption(Cli.flag("threads", "T", "writer threads (default: cores)")));
  }

  @Override
  public int run(String[] args) throws Exception {
    CommandLine cl = Cli.parse(CMD, "Generate deterministic test records.", options(), null, args);
    if (cl == null) {
      return 0;
    }
    long n = longOpt(cl, "records", -1);
    if (n < 0 || !cl.hasOption("out")) {
      throw new UsageException(CMD + ": --records N and --out PATH are required (see " + CMD + " --help)");
    }
    String format = cl.getOptionValue("format", "jsonl");
    if (!format.equals("jsonl") && !format.equals("tsv")) {
      throw new UsageException(CMD + ": --format must be jsonl or tsv");
    }
    int threads = (int) longOpt(cl, "threads", Runtime.getRuntime().availableProcessors());
    int files = (int) longOpt(cl, "files", threads);
    if (threads < 1 || files < 1) {
      throw new UsageException(CMD + ": --threads and --files must be >= 1");
    }
    RecordGenerator gen = new RecordGenerator(longOpt(cl, "seed", 1),
        (int) longOpt(cl, "fields", 4), (int) longOpt(cl, "value-bytes", 100));
    long first = longOpt(cl, "start", 0);
    Path dir = new Path(cl.getOptionValue("out"));
    FileSystem fs = dir.getFileSystem(getConf());
    if (fs.exists(dir)) {
      throw new IOException("output " + dir + " already exists; remove it or choose another --out");
    }
    fs.mkdirs(dir);

    long start = System.nanoTime();
    AtomicLong done = new AtomicLong();
    AtomicLong bytes = new AtomicLong();
    boolean json = format.equals("jsonl");
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, files));
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int f = 0; f < files; f++) {
        Path file = new Path(dir, String.format("part-%05d.%s", f, format));
        int fileNo = f;
        futures.add(pool.submit(() -> {
          writeFile(fs, file, gen, json, first, n, fileNo, files, done, bytes);
          return null;
        }));
      }
      waitWithProgress(futures, done, n, start);
    } finally {
      pool.shutdownNow();
    }
    double secs = (System.nanoTime() - start) / 1e9;
    out.printf("[gen] done: %,d records, %.1f MB in %d files under %s in %.1f s (%,.0f records/s)%n",
        n, bytes.get() / 1e6, files, dir, secs, n / Math.max(secs, 1e-9));
    return 0;
  }

  private static void writeFile(FileSystem fs, Path file, RecordGenerator gen, boolean json, long first,
      long n, int fileNo, int files, AtomicLong done, AtomicLong bytes) throws IOException {
    byte[] buf = new byte[1 << 20];
    int max = gen.maxLineBytes();
    int at = 0;
    long mine = 0;
    try (OutputStream os = fs.create(file, false)) {
      for (long i = fileNo; i < n; i += files) {
        if (at + max > buf.length) {
          os.write(buf, 0, at);
          bytes.addAndGet(at);
          at = 0;
        }
        at = gen.writeLine(first + i, json, buf, at);
        if (++mine == 10_000) {
          done.addAndGet(mine);
          mine = 0;
          if (Thread.currentThread().isInterrupted()) {
            throw new java.io.InterruptedIOException("generation interrupted");
          }
        }
      }
      os.write(buf, 0, at);
      bytes.addAndGet(at);
      done.addAndGet(mine);
    }
  }

  private void waitWithProgress(List<Future<?>> futures, AtomicLong done, long n, long start)
      throws InterruptedException, IOException {
    long lastPrint = System.nanoTime();
    for (Future<?> f : futures) {
      while (true) {
        try {
          f.get(1, java.util.concurrent.TimeUnit.SECONDS);
          break;
        } catch (java.util.concurrent.TimeoutException e) {
          if (System.nanoTime() - lastPrint > 5e9) {
            lastPrint = System.nanoTime();
            out.printf("[gen] %,d of %,d records (%.0f%%) | %.1f s%n", done.get(), n,
                100.0 * done.get() / Math.max(1, n), (lastPrint - start) / 1e9);
          }
        } catch (ExecutionException e) {
          throw new IOException("generation failed: " + e.getCause(), e.getCause());
        }
      }
    }
  }

  private static long longOpt(CommandLine cl, String name, long dflt) throws UsageException {
    if (!cl.hasOption(name)) {
      return dflt;
    }
    try {
      return Long.parseLong(cl.getOptionValue(name).replace("_", ""));
    } catch (NumberFormatException e) {
      throw new UsageException(CMD + ": --" + name + " must be a whole number, got '"
          + cl.getOptionValue(name) + "'");
    }
  }
}
