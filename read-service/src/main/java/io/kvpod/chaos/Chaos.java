package io.kvpod.chaos;

import io.kvpod.client.KvPodClient;
import io.kvpod.config.Durations;
import io.kvpod.loader.Cli;
import io.kvpod.loader.UsageException;
import io.kvpod.pod.PodConfig;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.FaultRequest;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/**
 * {@code bin/kvpod chaos}: a Jepsen-style run against a real local cluster. It starts HDFS
 * and pod processes, drives writers whose values per key are totally ordered
 * ({@link Workload}) and a probe that puts a new key into each bucket every 100 ms
 * ({@link WriteProbe}), injects seeded random faults for the given time ({@link Nemesis}),
 * then heals everything, restarts every pod, reads every key through every pod, and checks
 * the history ({@link Checker}). It prints the faults by kind, the operations, write
 * unavailability per fault, and every violation with its key's history
 * ({@link ChaosReport}), and exits 1 if there was any violation.
 *
 * <p>The recipe, as {@link #run} reads: start the cluster; start the writers; run the
 * nemesis; heal; stop the writers; restart every pod; read back; check; report.
 */
public final class Chaos {
  /** What a run found. */
  public record Outcome(List<Nemesis.Fault> faults, List<Checker.Violation> violations, long acked, long failed,
                        long unknown, long reads, List<String> unexpectedErrors,
                        List<ChaosReport.Outage> outages) {}

  /** How often {@link WriteProbe} puts a new key into each bucket, and how many may wait per bucket. */
  private static final long PROBE_INTERVAL_MILLIS = 100;
  private static final int PROBES_IN_FLIGHT = 64;

  private final ChaosCluster cluster;
  private final PrintStream out;
  private final long seed;
  private final int writers;
  private final int keysPerWriter;
  private final long meanIntervalMillis;
  private final Set<Nemesis.Kind> kinds;

  Chaos(ChaosCluster cluster, PrintStream out, long seed, int writers, int keysPerWriter, long meanIntervalMillis,
        Set<Nemesis.Kind> kinds) {
    this.cluster = cluster;
    this.out = out;
    this.seed = seed;
    this.writers = writers;
    this.keysPerWriter = keysPerWriter;
    this.meanIntervalMillis = meanIntervalMillis;
    this.kinds = kinds;
  }

  static Options options() {
    return Cli.withHelp(new Options()
        .addOption(Cli.flag("duration", "TIME", "how long to inject faults, e.g. 3m, 30m (default: 3m)"))
        .addOption(Cli.flag("seed", "N", "seed of the faults and the workload (default: 1)"))
        .addOption(Cli.flag("pods", "N", "pod processes (default: 3)"))
        .addOption(Cli.flag("writers", "N", "writer threads, each with its own keys (default: 8)"))
        .addOption(Cli.flag("keys", "N", "keys per writer (default: 50)"))
        .addOption(Cli.flag("interval", "TIME", "mean time between faults (default: 6s)"))
        .addOption(Cli.flag("faults", "KINDS", "which faults, comma-separated, of kill, restart, freeze, cut, "
            + "flaky, hdfs-freeze (default: all)"))
        .addOption(Cli.flag("pod-heap", "SIZE", "heap of each pod (default: 512m)"))
        .addOption(Cli.flag("work", "DIR", "where HDFS, the logs and history.txt go; emptied first (default: run/chaos)"))
        .addOption(Cli.flag("json", "FILE", "also write the report as JSON to FILE"))
        .addOption(Cli.defines("a pod setting for every pod, e.g. -D kvpod.takeover.after=3s")));
  }

  /** The command line: exit status 0 if nothing was violated, 1 if something was, 2 on a usage error. */
  public static int run(String[] args) throws Exception {
    CommandLine cl;
    try {
      cl = Cli.parse("kvpod chaos", "Inject seeded random faults into a local HDFS and pod processes while "
          + "writers run, then check that no acknowledged write was lost and no read was wrong. Exit status: 0 no "
          + "violation, 1 violations found, 2 usage error.", options(), null, args);
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      return 2;
    }
    if (cl == null) {
      return 0;
    }
    Set<Nemesis.Kind> kinds;
    long duration;
    long interval;
    int pods;
    int writers;
    int keys;
    long seed;
    try {
      kinds = kinds(cl.getOptionValue("faults", "kill,restart,freeze,cut,flaky,hdfs-freeze"));
      duration = Durations.parseMillis(cl.getOptionValue("duration", "3m"));
      interval = Durations.parseMillis(cl.getOptionValue("interval", "6s"));
      pods = positive("pods", cl.getOptionValue("pods", "3"));
      writers = positive("writers", cl.getOptionValue("writers", "8"));
      keys = positive("keys", cl.getOptionValue("keys", "50"));
      seed = Long.parseLong(cl.getOptionValue("seed", "1"));
      checkSettings(settingsOf(cl));
    } catch (IllegalArgumentException e) {
      System.err.println("kvpod chaos: " + e.getMessage());
      return 2;
    }
    if (pods < 3) {
      System.err.println("kvpod chaos: needs at least 3 pods (with 2, takeovers cannot tell a dead pod from a cut link)");
      return 2;
    }
    File work = new File(cl.getOptionValue("work", "run/chaos")).getAbsoluteFile();
    try (ChaosCluster cluster = new ChaosCluster(work, pods, cl.getOptionValue("pod-heap", "512m"), settingsOf(cl),
        System.out)) {
      Outcome o = new Chaos(cluster, System.out, seed, writers, keys, interval, kinds).run(duration);
      if (cl.hasOption("json")) {
        ChaosReport.writeJson(new File(cl.getOptionValue("json")), o, duration);
      }
      return o.violations().isEmpty() ? 0 : 1;
    }
  }

  /** Every -D key must be a pod setting (or an fs.*, dfs.* one, which pods pass to HDFS), with a valid value. */
  private static void checkSettings(Map<String, String> settings) {
    for (String k : settings.keySet()) {
      if (k.startsWith("kvpod.") && PodConfig.DEF.keys().stream().noneMatch(d -> d.name().equals(k))) {
        throw new IllegalArgumentException("unknown setting " + k + " (see kvpod pod --help)");
      }
    }
    PodConfig.DEF.values(settings::get).validateAll();
  }

  private static Map<String, String> settingsOf(CommandLine cl) {
    Map<String, String> settings = new HashMap<>();
    cl.getOptionProperties("D").forEach((k, v) -> settings.put((String) k, (String) v));
    return settings;
  }

  private static int positive(String what, String value) {
    int n;
    try {
      n = Integer.parseInt(value.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + what + " must be a number, not '" + value + "'");
    }
    if (n <= 0) {
      throw new IllegalArgumentException("--" + what + " must be at least 1, not " + value);
    }
    return n;
  }

  static Set<Nemesis.Kind> kinds(String csv) {
    Set<Nemesis.Kind> out = EnumSet.noneOf(Nemesis.Kind.class);
    for (String s : csv.split(",")) {
      String name = s.trim().toUpperCase().replace('-', '_');
      try {
        out.add(Nemesis.Kind.valueOf(name));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("no fault '" + s.trim() + "'; faults are kill, restart, freeze, cut, "
            + "flaky, hdfs-freeze");
      }
    }
    return out;
  }

  /** The whole run: see the class comment. */
  Outcome run(long durationMillis) throws Exception {
    out.printf("[chaos] seed %d: %d pods, %d writers x %d keys, faults %s every %d ms on average, for %d s%n", seed,
        cluster.size(), writers, keysPerWriter, kinds, meanIntervalMillis, durationMillis / 1000);
    cluster.start();
    File historyFile = new File(cluster.work(), "history.txt");
    try (History history = new History(new java.io.FileWriter(historyFile, java.nio.charset.StandardCharsets.UTF_8));
         KvPodClient client = KvPodClient.builder(cluster.podList()).build()) {
      Workload workload = new Workload(client, writers, keysPerWriter, history, seed);
      workload.start();
      int buckets = client.buckets();
      out.printf("[chaos] the table has %d buckets; the probe writes to %d of them%n", buckets,
          Math.min(buckets, WriteProbe.PROBED_PER_POD * cluster.size()));
      WriteProbe probe = new WriteProbe(client, cluster.size(), buckets, history, PROBES_IN_FLIGHT);
      probe.start(PROBE_INTERVAL_MILLIS);
      Nemesis nemesis = new Nemesis(cluster, history, seed, meanIntervalMillis, kinds, out);
      nemesis.run(durationMillis);
      heal();
      out.println("[chaos] faults over; stopping the writers and the probe");
      workload.stop();
      probe.close();
      out.println("[chaos] restarting every pod");
      cluster.restartAll();
      List<String> keys = new ArrayList<>(workload.keys());
      keys.addAll(probe.keys());
      Map<String, long[]> finals = readBack(client, keys);
      List<Checker.Violation> violations = Checker.check(history, finals);
      List<Nemesis.Fault> faults = nemesis.faults();
      Outcome o = new Outcome(faults, violations, history.writes(History.Outcome.OK),
          history.writes(History.Outcome.FAILED), history.writes(History.Outcome.UNKNOWN), history.reads(),
          workload.unexpectedErrors(), ChaosReport.outages(faults, probe.acks()));
      ChaosReport.print(out, o, history, durationMillis);
      out.printf("[chaos] every operation is in %s; the pods' logs are in %s%n", historyFile,
          new File(cluster.work(), "logs"));
      return o;
    }
  }

  /** Ends every fault that might still hold: resumes frozen processes, clears injected faults, starts dead pods. */
  private void heal() throws IOException, InterruptedException {
    cluster.signalHdfs("CONT");
    for (int p = 0; p < cluster.size(); p++) {
      if (cluster.alive(p)) {
        cluster.signal(p, "CONT");
        cluster.fault(p, new FaultRequest().setClear(true));
      } else {
        cluster.relaunch(p, 0);
      }
    }
  }

  /** Every key's value number through every pod (-1: absent). */
  private Map<String, long[]> readBack(KvPodClient client, List<String> keys) throws KvPodException {
    Map<String, long[]> finals = CheckedWrites.readBack(client, keys,
        java.util.stream.IntStream.range(0, cluster.size()).boxed().toList());
    out.printf("[chaos] read back %d keys through each of %d pods%n", keys.size(), cluster.size());
    return finals;
  }
}
