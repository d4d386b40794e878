package io.kvpod.loader;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;
import org.apache.hadoop.conf.Configured;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.util.Tool;
import org.apache.hadoop.util.ToolRunner;

/**
 * {@code kvpod bench load}: generates N records, times a load of them, and prints
 * records/s and MB/s. A benchmark, not a test: nothing is asserted about speed.
 */
public class BenchLoad extends Configured implements Tool {
  static final String CMD = "kvpod bench load";
  private final PrintStream out;

  public BenchLoad() {
    this(System.err);
  }

  public BenchLoad(PrintStream out) {
    this.out = out;
  }

  @Override
  public int run(String[] args) throws Exception {
    Options o = Cli.withHelp(new Options()
        .addOption(Cli.flag("records", "N", "records to generate and load (default: 1000000)"))
        .addOption(Cli.flag("work", "URI", "scratch directory for input and the table (default: file:///tmp/kvpod-bench-<time>)"))
        .addOption(Cli.flag("partitions", "P", "HFiles in the layer (default: 4)"))
        .addOption(Cli.flag("value-bytes", "B", "characters of field text per record (default: 100)"))
        .addOption(Cli.flag("compression", "CODEC", "none, gz or snappy (default: snappy)"))
        .addOption(Cli.flag("keep", null, "keep the scratch directory")));
    CommandLine cl = Cli.parse(CMD, "Time a bulk load of generated records.", o, LoaderConfig.DEF, args);
    if (cl == null) {
      return 0;
    }
    String records = cl.getOptionValue("records", "1000000");
    Path work = new Path(cl.getOptionValue("work", "file:///tmp/kvpod-bench-" + System.currentTimeMillis()));
    FileSystem fs = work.getFileSystem(getConf());
    try {
      String input = new Path(work, "input").toString();
      int rc = ToolRunner.run(getConf(), new GenTool(out), new String[] {"--records", records, "--out", input,
          "--value-bytes", cl.getOptionValue("value-bytes", "100")});
      if (rc != 0) {
        return rc;
      }
      List<String> loadArgs = new ArrayList<>(List.of("--input", input, "--root", new Path(work, "root").toString(),
          "--table", "bench", "--partitions", cl.getOptionValue("partitions", "4")));
      if (cl.hasOption("compression")) {
        loadArgs.addAll(List.of("--compression", cl.getOptionValue("compression")));
      }
      LoaderJob job = new LoaderJob(out);
      rc = ToolRunner.run(getConf(), job, loadArgs.toArray(new String[0]));
      if (rc != 0) {
        return rc;
      }
      LoaderJob.LoadResult r = job.result();
      System.out.printf("bench load: %,d records, %.1f MB input -> %.1f MB HFiles, %d partitions, %.1f s: "
              + "%,.0f records/s, %.1f MB/s%n", r.meta().records, r.inputBytes() / 1e6, r.meta().bytes / 1e6,
          r.meta().partitions, r.seconds(), r.meta().records / r.seconds(), r.inputBytes() / 1e6 / r.seconds());
      return 0;
    } finally {
      if (!cl.hasOption("keep")) {
        fs.delete(work, true);
      }
    }
  }
}
