package io.kvpod.pod;

import io.kvpod.loader.Cli;
import io.kvpod.loader.UsageException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.util.ShutdownHookManager;

/**
 * Runs one pod in the foreground: {@code kvpod pod run [--config FILE] [-D key=value ...]}.
 * Prints {@code READY <host:port>} on stdout once it serves; stops cleanly on SIGTERM.
 */
public final class PodMain {
  private PodMain() {}

  static Options options() {
    return Cli.withHelp(new Options()
        .addOption(Cli.flag("config", "FILE", "properties file with kvpod.* (and fs.*, dfs.*) keys"))
        .addOption(Cli.defines("set a key, overriding the file")));
  }

  static final Cli.Command USAGE = new Cli.Command("kvpod pod run [--config FILE] [-D key=value ...]",
      "Run one kvpod pod in the foreground.", PodConfig.DEF, null);

  public static void main(String[] args) {
    CommandLine cl;
    try {
      cl = Cli.parse(USAGE, options(), args, false);
      if (cl != null && !cl.getArgList().isEmpty()) {
        throw new UsageException("kvpod pod run: unexpected argument '" + cl.getArgList().get(0) + "' (see --help)");
      }
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    if (cl == null) {
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
      if (server.left()) {
        server.close(); // waits for the close the decommission started
        System.out.println("LEFT: pod " + config.podId() + " was decommissioned and handed all its buckets over");
        System.exit(0);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      System.err.println("kvpod pod " + config.podId() + ": failed to start: " + e);
      server.close();
      System.exit(1);
    }
  }
}
