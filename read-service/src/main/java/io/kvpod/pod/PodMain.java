package io.kvpod.pod;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.apache.commons.cli.ParseException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.util.ShutdownHookManager;

/**
 * Runs one pod in the foreground: {@code kvpod pod run [--config FILE] [-D key=value ...]}.
 * Prints {@code READY <host:port>} on stdout once it serves; stops cleanly on SIGTERM.
 */
public final class PodMain {
  private PodMain() {}

  static Options options() {
    return new Options()
        .addOption(Option.builder().longOpt("config").hasArg().argName("FILE")
            .desc("properties file with kvpod.* (and fs.*, dfs.*) keys").get())
        .addOption(Option.builder("D").hasArgs().valueSeparator('=').argName("key=value")
            .desc("set a key, overriding the file").get())
        .addOption(Option.builder("h").longOpt("help").desc("print this help").get());
  }

  static void usage() {
    PrintWriter out = new PrintWriter(System.out, true);
    HelpFormatter.builder().get().printHelp(out, 100, "kvpod pod run [--config FILE] [-D key=value ...]",
        "Run one kvpod pod in the foreground.\n\nOptions:", options(), 2, 4,
        "\nConfiguration keys:\n", false);
    out.print(PodConfig.DEF.usage());
    out.flush();
  }

  public static void main(String[] args) {
    CommandLine cl;
    try {
      cl = new DefaultParser().parse(options(), args);
    } catch (ParseException e) {
      System.err.println("kvpod pod: " + e.getMessage() + " (see --help)");
      System.exit(2);
      return;
    }
    if (cl.hasOption("help")) {
      usage();
      return;
    }
    PodConfig config;
    try {
      Map<String, String> overrides = new HashMap<>();
      Properties d = cl.getOptionProperties("D");
      d.stringPropertyNames().forEach(k -> overrides.put(k, d.getProperty(k)));
      config = PodConfig.load(cl.hasOption("config") ? Path.of(cl.getOptionValue("config")) : null, overrides);
    } catch (Exception e) {
      System.err.println("kvpod pod: bad configuration: " + e.getMessage());
      System.exit(2);
      return;
    }
    PodServer server = new PodServer(config);
    // Before Hadoop's own hook closes the cached FileSystems: the shutdown flush still needs HDFS.
    ShutdownHookManager.get().addShutdownHook(server::close, FileSystem.SHUTDOWN_HOOK_PRIORITY + 10);
    try {
      server.start();
      System.out.println("READY " + config.self().getHostString() + ":" + config.self().getPort());
      System.out.flush();
      server.awaitStop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      System.err.println("kvpod pod " + config.podId() + ": failed to start: " + e);
      server.close();
      System.exit(1);
    }
  }
}
