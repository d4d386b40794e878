package io.kvpod.loader;

import io.kvpod.config.ConfigDef;
import java.io.PrintWriter;
import java.util.Map;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.apache.commons.cli.ParseException;
import org.apache.hadoop.conf.Configuration;

/** Command-line plumbing shared by the kvpod tools: parse, map flags onto config keys, print help. */
public final class Cli {
  private Cli() {}

  public static Option flag(String longOpt, String argName, String description) {
    Option.Builder b = Option.builder().longOpt(longOpt).desc(description);
    if (argName != null) {
      b.hasArg().argName(argName);
    }
    return b.get();
  }

  public static Options withHelp(Options o) {
    return o.addOption(Option.builder("h").longOpt("help").desc("print this help").get());
  }

  /** Parses args; returns null if --help was given (help already printed). */
  public static CommandLine parse(String cmd, String summary, Options opts, ConfigDef def, String[] args)
      throws UsageException {
    CommandLine cl;
    try {
      cl = new DefaultParser().parse(opts, args);
    } catch (ParseException e) {
      throw new UsageException(cmd + ": " + e.getMessage() + " (see " + cmd + " --help)");
    }
    if (cl.hasOption("help")) {
      printHelp(cmd, summary, opts, def);
      return null;
    }
    if (!cl.getArgList().isEmpty()) {
      throw new UsageException(cmd + ": unexpected argument '" + cl.getArgList().get(0)
          + "' (see " + cmd + " --help)");
    }
    return cl;
  }

  /** Copies each given flag's value into its config key, so flags win over -D. */
  public static void applyFlags(CommandLine cl, Configuration conf, Map<String, String> flagToKey) {
    flagToKey.forEach((flag, key) -> {
      if (cl.hasOption(flag)) {
        conf.set(key, cl.getOptionValue(flag));
      }
    });
  }

  public static void printHelp(String cmd, String summary, Options opts, ConfigDef def) {
    PrintWriter out = new PrintWriter(System.out, true);
    HelpFormatter f = HelpFormatter.builder().get();
    f.printHelp(out, 100, cmd + " [options]", summary + "\n\nOptions:", opts, 2, 4,
        def == null ? "" : "\nConfiguration keys (set with -D key=value; a flag wins):\n", false);
    if (def != null) {
      out.print(def.usage());
    }
    out.flush();
  }
}
