package io.kvpod.loader;

import io.kvpod.config.ConfigDef;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.Map;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.apache.commons.cli.ParseException;
import org.apache.commons.cli.help.HelpFormatter;
import org.apache.commons.cli.help.TextHelpAppendable;
import org.apache.hadoop.conf.Configuration;

/**
 * The one way every kvpod command declares, parses and documents its options: the loader's
 * tools, the pod, the client commands, the benchmarks, {@code suite}, {@code chaos} and
 * {@code hdfs run}. Options are declared with {@link #flag}, {@link #defines} and
 * {@link #withHelp}; {@link #parse} turns a bad command line into a {@link UsageException}
 * (exit 2) and answers {@code --help} itself, printing the summary, every option and, where
 * the command has them, every configuration key with its type, default and doc.
 *
 * <p>Stateless and thread-safe.
 */
public final class Cli {
  private static final int WIDTH = 100;

  private Cli() {}

  /** What {@code --help} prints about one command. */
  public record Command(String syntax, String summary, ConfigDef config, String footer) {
    /** A command with no configuration keys and nothing after its options. */
    public Command(String syntax, String summary) {
      this(syntax, summary, null, null);
    }
  }

  /** {@code --longOpt ARG} if {@code argName} is given, else the switch {@code --longOpt}. */
  public static Option flag(String longOpt, String argName, String description) {
    Option.Builder b = Option.builder().longOpt(longOpt).desc(description);
    if (argName != null) {
      b.hasArg().argName(argName);
    }
    return b.get();
  }

  /** {@code -D key=value}, repeatable; read them with {@code getOptionProperties("D")}. */
  public static Option defines(String description) {
    return Option.builder("D").hasArgs().valueSeparator('=').argName("key=value").desc(description).get();
  }

  /** Adds {@code -h/--help}. */
  public static Options withHelp(Options o) {
    return o.addOption(Option.builder("h").longOpt("help").desc("print this help").get());
  }

  /**
   * Parses {@code args}, which must hold options only; returns null if {@code --help} was
   * given (help already printed to stdout).
   */
  public static CommandLine parse(String cmd, String summary, Options opts, ConfigDef def, String[] args)
      throws UsageException {
    CommandLine cl = parse(new Command(cmd + " [options]", summary, def, null), opts, args, false);
    if (cl != null && !cl.getArgList().isEmpty()) {
      throw new UsageException(cmd + ": unexpected argument '" + cl.getArgList().get(0)
          + "' (see " + cmd + " --help)");
    }
    return cl;
  }

  /**
   * Parses {@code args}, keeping arguments that are not options in {@code getArgList()}.
   * Returns null if {@code --help} was given (help already printed to stdout).
   *
   * @param stopAtNonOption whether the first argument that is not an option ends the options
   */
  public static CommandLine parse(Command cmd, Options opts, String[] args, boolean stopAtNonOption)
      throws UsageException {
    CommandLine cl;
    try {
      cl = DefaultParser.builder().get().parse(opts, args, stopAtNonOption);
    } catch (ParseException e) {
      throw new UsageException(name(cmd) + ": " + e.getMessage() + " (see " + name(cmd) + " --help)");
    }
    if (cl.hasOption("help")) {
      printHelp(cmd, opts, System.out);
      return null;
    }
    return cl;
  }

  /** The kvpod root: {@code --root}, else {@link LoaderConfig#ROOT} in {@code conf}; a usage error without either. */
  public static String root(CommandLine cl, Configuration conf, String cmd) throws UsageException {
    String root = cl.getOptionValue("root", conf.get(LoaderConfig.ROOT));
    if (root == null) {
      throw new UsageException(cmd + ": --root is required (see " + cmd + " --help)");
    }
    return root;
  }

  /** Copies each given flag's value into its config key, so flags win over -D. */
  public static void applyFlags(CommandLine cl, Configuration conf, Map<String, String> flagToKey) {
    flagToKey.forEach((flag, key) -> {
      if (cl.hasOption(flag)) {
        conf.set(key, cl.getOptionValue(flag));
      }
    });
  }

  /** Prints {@code usage: syntax}, the summary, the options, the config keys and the footer. */
  public static void printHelp(Command cmd, Options opts, PrintStream out) {
    TextHelpAppendable text = new TextHelpAppendable(out);
    text.setMaxWidth(WIDTH);
    try {
      HelpFormatter.builder().setShowSince(false).setHelpAppendable(text).get().printHelp(cmd.syntax(), cmd.summary(), opts,
          cmd.footer() == null ? "" : cmd.footer(), false);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (cmd.config() != null) {
      out.println();
      out.println("Configuration keys (set with -D key=value; where a flag sets the same key, the flag wins):");
      out.print(cmd.config().usage());
    }
    out.flush();
  }

  private static String name(Command cmd) {
    String s = cmd.syntax();
    int i = s.indexOf(" [");
    int j = s.indexOf(" (");
    int end = Math.min(i < 0 ? s.length() : i, j < 0 ? s.length() : j);
    return s.substring(0, end);
  }
}
