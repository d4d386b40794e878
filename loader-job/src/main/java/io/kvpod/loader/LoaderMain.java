package io.kvpod.loader;

import io.kvpod.config.KerberosLogin;
import java.util.Arrays;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.conf.Configured;
import org.apache.hadoop.util.Tool;
import org.apache.hadoop.util.ToolRunner;

/**
 * Entry point of the job jar: {@code hadoop jar kvpod-loader-job-*-job.jar <command> ...}
 * and of {@code bin/kvpod} for the same commands.
 */
public final class LoaderMain {
  private LoaderMain() {}

  static final String USAGE = String.join("\n",
      "usage: <command> [generic Hadoop options, e.g. -D key=value] [options]",
      "",
      "commands:",
      "  load       bulk-load JSON Lines or TSV into a new layer of a table",
      "  gen        generate deterministic test records",
      "  layers     list a table's live layers",
      "  rollback   retire the newest (or a given) layer",
      "  gc         delete retired layers and abandoned staging older than a grace period",
      "  table create|list|describe|drop",
      "             make, list, describe or drop the tables under a root",
      "  bench-load generate N records and time a load of them",
      "",
      "'<command> --help' describes each one.");

  public static Tool tool(String command) {
    return switch (command) {
      case "load" -> new LoaderJob();
      case "gen" -> new GenTool();
      case "layers" -> new LayerTool(LayerTool.Mode.LIST);
      case "rollback" -> new LayerTool(LayerTool.Mode.ROLLBACK);
      case "gc" -> new LayerTool(LayerTool.Mode.GC);
      case "bench-load" -> new BenchLoad();
      case "table-create" -> new TableTool(TableTool.Mode.CREATE);
      case "table-list" -> new TableTool(TableTool.Mode.LIST);
      case "table-describe" -> new TableTool(TableTool.Mode.DESCRIBE);
      case "table-drop" -> new TableTool(TableTool.Mode.DROP);
      default -> null;
    };
  }

  /**
   * Runs a command; returns the exit status. Errors are printed, never thrown. The process
   * logs in to a Kerberos-secured Hadoop first ({@link KerberosLogin}), once Hadoop's generic
   * options ({@code -D}, {@code -conf}) are applied.
   */
  public static int run(Tool tool, String[] args) {
    try {
      return ToolRunner.run(new Configuration(), new LoggedIn(tool), args);
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      return 2;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      System.err.println("error: interrupted");
      return 130;
    } catch (Exception e) {
      System.err.println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
      if (System.getenv("KVPOD_DEBUG") != null) {
        e.printStackTrace();
      }
      return 1;
    }
  }

  /** {@code tool}, run after {@link KerberosLogin#login} with the configuration ToolRunner built. */
  private static final class LoggedIn extends Configured implements Tool {
    private final Tool tool;

    LoggedIn(Tool tool) {
      this.tool = tool;
    }

    @Override
    public void setConf(Configuration conf) {
      super.setConf(conf);
      if (tool != null) { // Configured's constructor calls this before the field is set
        tool.setConf(conf);
      }
    }

    @Override
    public int run(String[] args) throws Exception {
      String user = KerberosLogin.login(getConf());
      if (user != null) {
        System.err.println("[kerberos] logged in as " + user);
      }
      return tool.run(args);
    }
  }

  public static void main(String[] args) {
    if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
      System.out.println(USAGE);
      System.exit(args.length == 0 ? 2 : 0);
    }
    if (args[0].equals("table")) { // two words: table create|list|describe|drop
      if (args.length < 2 || tool("table-" + args[1]) == null) {
        System.err.println("usage: table create|list|describe|drop --root URI [--table T] ...  ('table create --help')");
        System.exit(2);
      }
      args = join("table-" + args[1], Arrays.copyOfRange(args, 2, args.length));
    }
    Tool tool = tool(args[0]);
    if (tool == null) {
      System.err.println("unknown command '" + args[0] + "'\n\n" + USAGE);
      System.exit(2);
    }
    System.exit(run(tool, Arrays.copyOfRange(args, 1, args.length)));
  }

  private static String[] join(String first, String[] rest) {
    String[] all = new String[rest.length + 1];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }
}
