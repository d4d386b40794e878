package io.kvpod.pod;

import io.kvpod.config.Durations;
import io.kvpod.contract.Membership;
import io.kvpod.contract.TableLayout;
import io.kvpod.loader.Cli;
import io.kvpod.loader.UsageException;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * {@code kvpod members show|join|settle|leave}: reads and changes a table's pods on HDFS
 * ({@link Membership}, {@link TableMembers}). The pods follow a change within an ownership
 * poll; the buckets move through the pods' own hand-back, one at a time per receiving pod,
 * and these commands watch the holder records until the move is done:
 * <ul>
 *   <li>{@code join --address host:port} records a new, joining pod and prints its id; start
 *       the pod with that id, then {@code settle};</li>
 *   <li>{@code settle --id I} waits until pod I holds all its home buckets, then records it
 *       active (a joining pod takes its buckets one at a time; an active one takes them all at
 *       start);</li>
 *   <li>{@code leave --id I} records pod I as leaving (its buckets get other homes), waits
 *       until it holds none, then removes it. The pod stops by itself once it holds none.</li>
 * </ul>
 */
public final class MembersCommand {
  private static final long POLL_MILLIS = 250;
  /** Exit codes. */
  static final int OK = 0;
  /** The buckets did not move within the timeout (nothing is undone: run the command again to keep waiting). */
  static final int NOT_DONE = 1;
  /** The command line is wrong, or the change is refused (said why); nothing was changed. */
  static final int USAGE_ERROR = 2;

  private MembersCommand() {}

  private static Options options() {
    return Cli.withHelp(new Options())
        .addOption(Cli.flag("root", "URI", "the tables' root (hdfs://... or file://...)"))
        .addOption(Cli.flag("table", "T", "the table (default: default)"))
        .addOption(Cli.flag("address", "HOST:PORT", "join: where the new pod will listen"))
        .addOption(Cli.flag("id", "I", "settle, leave: the pod"))
        .addOption(Cli.flag("timeout", "DURATION", "settle, leave: how long to wait for the buckets to move "
            + "(default 10m; e.g. 90s)"))
        .addOption(Cli.flag("no-wait", null, "leave: record the change and return; the pods move the buckets"))
        .addOption(Cli.defines("a Hadoop setting for reaching the root (fs.*, dfs.*)"));
  }

  /** Runs {@code args} (the subcommand first); returns the exit code. */
  public static int run(String[] args, PrintStream out) throws IOException, InterruptedException {
    Cli.Command usage = new Cli.Command("kvpod members [show|join|settle|leave] --root URI [--table T] [options]",
        "Show or change the pods of a table: join a pod, wait for it to take its buckets, or decommission one.",
        null, "Exit codes: 0 done; 1 the buckets did not move within --timeout (run again to keep waiting); "
            + "2 usage error or a refused change (nothing changed).");
    CommandLine cl;
    try {
      cl = Cli.parse(usage, options(), args, false);
      if (cl == null) {
        return OK;
      }
      if (cl.getArgList().size() != 1 || !cl.hasOption("root")) {
        throw new UsageException("kvpod members: say what and where: show|join|settle|leave --root URI (see --help)");
      }
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      return USAGE_ERROR;
    }
    Configuration conf = new Configuration();
    Properties d = cl.getOptionProperties("D");
    d.stringPropertyNames().forEach(k -> conf.set(k, d.getProperty(k)));
    try {
      io.kvpod.config.KerberosLogin.login(conf);
    } catch (IllegalArgumentException e) {
      System.err.println("kvpod members: " + e.getMessage());
      return USAGE_ERROR;
    }
    TableLayout layout = new TableLayout(cl.getOptionValue("root"), cl.getOptionValue("table", "default"));
    FileSystem fs = Ownership.recordFileSystem(layout.tableDir().getFileSystem(conf));
    long timeoutMillis;
    try {
      timeoutMillis = Durations.parseMillis(cl.getOptionValue("timeout", "10m"));
    } catch (IllegalArgumentException e) {
      System.err.println("kvpod members: --timeout: " + e.getMessage());
      return USAGE_ERROR;
    }
    try {
      return switch (cl.getArgList().get(0)) {
        case "show" -> show(fs, layout, out);
        case "join" -> {
          Membership m = TableMembers.change(fs, layout, now -> now.join(required(cl, "address")));
          int id = m.slots() - 1;
          out.println("id=" + id);
          out.println("recorded pod " + id + " at " + m.member(id).address() + " as joining (membership version "
              + m.version() + "); start it with kvpod.pod.id=" + id + ", then: kvpod members settle --id " + id);
          yield OK;
        }
        case "settle" -> settle(fs, layout, Integer.parseInt(required(cl, "id")), timeoutMillis, out);
        case "leave" -> leave(fs, layout, Integer.parseInt(required(cl, "id")), timeoutMillis,
            cl.hasOption("no-wait"), out);
        default -> {
          System.err.println("kvpod members: unknown subcommand '" + cl.getArgList().get(0)
              + "'; use show, join, settle or leave");
          yield USAGE_ERROR;
        }
      };
    } catch (IllegalArgumentException | IllegalStateException e) {
      System.err.println("kvpod members: " + e.getMessage());
      return USAGE_ERROR;
    }
  }

  private static String required(CommandLine cl, String flag) {
    if (!cl.hasOption(flag)) {
      throw new IllegalArgumentException(cl.getArgList().get(0) + " needs --" + flag);
    }
    return cl.getOptionValue(flag);
  }

  private static Membership newest(FileSystem fs, TableLayout layout) throws IOException {
    Membership m = TableMembers.newest(fs, layout);
    if (m == null) {
      throw new IllegalStateException("table " + layout.table() + " under " + layout.tableDir()
          + " has no membership yet: start its pods once first");
    }
    return m;
  }

  /** Who holds each bucket, as recorded now. */
  private static Ownership.View holdings(FileSystem fs, TableLayout layout, Membership m) throws IOException {
    return new Ownership(fs, layout, m).refresh();
  }

  private static int show(FileSystem fs, TableLayout layout, PrintStream out) throws IOException {
    Membership m = newest(fs, layout);
    Ownership.View v = holdings(fs, layout, m);
    out.printf("table %s: membership version %d, %d buckets, %d first pods%n", layout.table(), m.version(),
        m.buckets(), m.seed());
    for (Membership.Member p : m.members()) {
      out.printf("pod %d  %-22s %-8s home to %3d buckets, holds %3d%n", p.id(), p.address(),
          p.state().name().toLowerCase(Locale.ROOT), m.homesOf(p.id()).size(), held(v, p.id()));
    }
    return OK;
  }

  private static int held(Ownership.View v, int pod) {
    return (int) Arrays.stream(v.holdings()).filter(h -> h.holder() == pod).count();
  }

  private static int settle(FileSystem fs, TableLayout layout, int id, long timeoutMillis, PrintStream out)
      throws IOException, InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    int lastHeld = -1;
    while (true) {
      Membership m = newest(fs, layout);
      if (m.member(id) == null) {
        throw new IllegalArgumentException("there is no pod " + id + " in table " + layout.table());
      }
      List<Integer> homes = m.homesOf(id);
      Ownership.View v = holdings(fs, layout, m);
      int held = (int) homes.stream().filter(b -> v.of(b).holder() == id).count();
      if (held != lastHeld) {
        out.printf("pod %d holds %d of its %d home buckets%n", id, held, homes.size());
        lastHeld = held;
      }
      if (held == homes.size()) {
        if (m.member(id).state() == Membership.State.JOINING) {
          TableMembers.change(fs, layout, now -> now.withState(id, Membership.State.ACTIVE));
          out.println("pod " + id + " is active");
        }
        return OK;
      }
      if (System.currentTimeMillis() > deadline) {
        out.println("pod " + id + " still lacks " + (homes.size() - held) + " home buckets after "
            + timeoutMillis + " ms; is it running, and do the pods hear each other? (kvpod status)");
        return NOT_DONE;
      }
      Thread.sleep(POLL_MILLIS);
    }
  }

  private static int leave(FileSystem fs, TableLayout layout, int id, long timeoutMillis, boolean noWait,
                           PrintStream out) throws IOException, InterruptedException {
    Membership m = newest(fs, layout);
    if (m.member(id) == null) {
      throw new IllegalArgumentException("there is no pod " + id + " in table " + layout.table());
    }
    if (m.member(id).state() != Membership.State.LEAVING) {
      int homes = m.homesOf(id).size();
      m = TableMembers.change(fs, layout, now -> now.leave(id));
      out.println("recorded pod " + id + " as leaving (membership version " + m.version() + "); the homes of its "
          + homes + " home buckets are now other pods");
    }
    if (noWait) {
      return OK;
    }
    long deadline = System.currentTimeMillis() + timeoutMillis;
    int lastHeld = -1;
    while (true) {
      int held = held(holdings(fs, layout, m), id);
      if (held != lastHeld) {
        out.printf("pod %d holds %d buckets%n", id, held);
        lastHeld = held;
      }
      if (held == 0) {
        break;
      }
      if (System.currentTimeMillis() > deadline) {
        out.println("pod " + id + " still holds " + held + " buckets after " + timeoutMillis + " ms; the other "
            + "pods take them back one at a time while they hear it (kvpod status); run leave again to keep waiting");
        return NOT_DONE;
      }
      Thread.sleep(POLL_MILLIS);
    }
    if (newest(fs, layout).member(id) != null) {
      m = TableMembers.change(fs, layout, now -> now.without(id));
    }
    out.println("pod " + id + " left table " + layout.table() + " (membership version " + m.version()
        + "); its process stops by itself");
    return OK;
  }
}
