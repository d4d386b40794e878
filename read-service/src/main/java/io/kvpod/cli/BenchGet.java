package io.kvpod.cli;

import io.kvpod.client.KvPodClient;
import io.kvpod.client.TlsConfig;
import io.kvpod.config.Durations;
import io.kvpod.loader.Cli;
import io.kvpod.loader.RecordGenerator;
import io.kvpod.loader.UsageException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/**
 * {@code kvpod bench get}: measures, with the same threads in the same run, a no-op
 * {@code ping} (the Thrift round-trip ceiling), then {@code get} of generated keys, and
 * optionally {@code multiGet}. Prints ops/s and p50/p99/p999, with a progress line every
 * 5 s. A benchmark: it asserts nothing. Keys are those of {@code kvpod gen} with the given
 * --records and --seed, so every get should find its record; misses are counted.
 */
public final class BenchGet {
  private BenchGet() {}

  static Options options() {
    return Cli.withHelp(ClientFlags.add(BenchPhase.withCommonOptions(new Options()))
        .addOption(KvPodCli.tlsOption())
        .addOption(Cli.flag("pod", "I", "send every call to this pod (default: each key's owner)"))
        .addOption(Cli.flag("threads", "T", "client threads (default: 16)"))
        .addOption(Cli.flag("duration", "D", "time per phase, e.g. 30s (default: 30s)"))
        .addOption(Cli.flag("records", "N", "records in the table, as generated (default: 100000)"))
        .addOption(Cli.flag("seed", "S", "generator seed (default: 1)"))
        .addOption(Cli.flag("multiget", "K", "also measure multiGet of K keys per call (default: off)"))
        .addOption(Cli.flag("encoded", null, "with --multiget: call multiGetEncoded, the records as stored "
            + "bytes and decoded on neither side"))
        .addOption(Cli.flag("no-ping", null, "skip the ping phase"))
        .addOption(Cli.flag("attackers", "N", "after the get phase, run it again while N connections send "
            + "slow frames (the largest frame announced, then a byte a second) to the pods (or to --pod), and "
            + "report the ratio (default: 0); with --tls the attackers finish a TLS handshake first, showing no "
            + "certificate"))
        .addOption(Cli.flag("attack-from", "ADDR", "the attackers' source address (default: 127.0.0.2, so that on "
            + "loopback they do not share the client's per-address connection quota)")));
  }

  public static int run(String[] args) throws Exception {
    CommandLine cl;
    try {
      cl = Cli.parse("kvpod bench get", "Measure get throughput and latency.", options(), null, args);
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      return 2;
    }
    if (cl == null) {
      return 0;
    }
    KvPodClient.Builder builder;
    try {
      builder = ClientFlags.builder(cl, "kvpod bench get");
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      return 2;
    }
    int threads = Integer.parseInt(cl.getOptionValue("threads", "16"));
    long millis = Durations.parseMillis(cl.getOptionValue("duration", "30s"));
    long records = Long.parseLong(cl.getOptionValue("records", "100000"));
    RecordGenerator gen = new RecordGenerator(Long.parseLong(cl.getOptionValue("seed", "1")), 4, 100);
    int fixedPod = cl.hasOption("pod") ? Integer.parseInt(cl.getOptionValue("pod")) : -1;
    AtomicLong misses = new AtomicLong();
    List<BenchPhase.Result> phases = new ArrayList<>();
    BenchPhase.Settings settings = BenchPhase.Settings.orUsageError(cl, threads, millis, "kvpod bench get");
    if (settings == null) {
      return 2;
    }
    KvPodClient built = ClientFlags.build(builder.tls(KvPodCli.tls(cl)).maxIdlePerPod(threads * 2), "kvpod bench get");
    if (built == null) {
      settings.close();
      return KvPodCli.UNAVAILABLE;
    }
    try (settings; KvPodClient client = built) {
      java.io.PrintStream out = settings.out();
      double pingRate = 0;
      if (!cl.hasOption("no-ping")) {
        java.util.List<Integer> ids = client.podIds();
        BenchPhase.Result ping = settings.phase("ping").run(r ->
            client.ping(fixedPod >= 0 ? fixedPod : ids.get(r.nextInt(ids.size()))));
        phases.add(ping);
        pingRate = ping.callsPerSecond();
      }
      BenchPhase.Op getOp = r -> {
        String k = gen.key(r.nextLong(records));
        var v = fixedPod >= 0 ? client.getVia(fixedPod, k) : client.get(k);
        if (v.isEmpty()) {
          misses.incrementAndGet();
        }
      };
      BenchPhase.Result get = settings.phase("get").run(getOp);
      phases.add(get);
      double getRate = get.callsPerSecond();
      int attackers = Integer.parseInt(cl.getOptionValue("attackers", "0"));
      if (attackers > 0) {
        List<java.net.InetSocketAddress> targets = new ArrayList<>();
        for (int p : fixedPod >= 0 ? List.of(fixedPod) : client.podIds()) {
          java.net.InetSocketAddress a = client.address(p);
          targets.add(new java.net.InetSocketAddress(a.getHostString(), a.getPort())); // resolved
        }
        phases.add(underAttack(settings, attackers,
            targets,
            java.net.InetAddress.getByName(cl.getOptionValue("attack-from", "127.0.0.2")), attackerTls(cl), getOp,
            getRate));
      }
      if (pingRate > 0) {
        out.printf("bench get: get throughput is %.0f%% of ping (%.0f vs %.0f calls/s)%n",
            100 * getRate / pingRate, getRate, pingRate);
      }
      if (cl.hasOption("multiget")) {
        int k = Integer.parseInt(cl.getOptionValue("multiget"));
        boolean encoded = cl.hasOption("encoded");
        String call = encoded ? "multiGetEncoded" : "multiGet";
        BenchPhase.Result multi = settings.phase(call + " x" + k).run(r -> {
          List<String> keys = new ArrayList<>(k);
          for (int i = 0; i < k; i++) {
            keys.add(gen.key(r.nextLong(records)));
          }
          int found = encoded ? client.multiGetEncoded(keys).size() : client.multiGet(keys).size();
          int distinct = new java.util.HashSet<>(keys).size(); // a key drawn twice is answered once
          if (found < distinct) {
            misses.addAndGet(distinct - found);
          }
        });
        phases.add(multi);
        out.printf("bench %s: %.0f keys/s%n", call, multi.callsPerSecond() * k);
      }
      out.printf("bench get: %d misses%n", misses.get());
    }
    if (cl.hasOption(BenchPhase.JSON.getLongOpt())) {
      BenchPhase.printJson(java.util.Map.of("phases", phases, "misses", misses.get()));
    }
    return 0;
  }

  /**
   * With {@code --tls}, the attackers speak TLS too, as outsiders: they trust the pods but show
   * no certificate (their frames are never finished, so they are never told UNAUTHENTICATED).
   */
  private static TlsConfig attackerTls(CommandLine cl) throws java.io.IOException {
    TlsConfig client = KvPodCli.tls(cl);
    return client == null ? null : client.withoutCertificate();
  }

  /**
   * The get phase again, while {@code attackers} connections from {@code from} send slow frames
   * to {@code targets} ({@link SlowFrameAttack}); prints the rate as a share of {@code normalRate}
   * (run a warm-up first: the first get phase after a pod starts is slow).
   */
  private static BenchPhase.Result underAttack(BenchPhase.Settings settings, int attackers,
      List<java.net.InetSocketAddress> targets, java.net.InetAddress from, TlsConfig tls, BenchPhase.Op getOp,
      double normalRate) throws InterruptedException {
    try (SlowFrameAttack attack = new SlowFrameAttack(targets, attackers, from, tls)) {
      attack.start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (attack.opened() < attackers && System.nanoTime() < deadline) {
        Thread.sleep(100); // the attack is at strength once every connection has announced its frame
      }
      settings.out().printf("bench get: %d attack connections open, sending slow frames%n", attack.opened());
      BenchPhase.Result p = settings.phase("get under attack").run(getOp);
      settings.out().printf("bench get: under attack, %.0f%% of the normal get rate (%.0f vs %.0f calls/s); the pods ended "
          + "or refused %d attack connections, %d were opened in all%n", 100 * p.callsPerSecond() / normalRate,
          p.callsPerSecond(), normalRate, attack.endedByPod(), attack.opened());
      return p;
    }
  }
}
