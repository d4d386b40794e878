package io.kvpod.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvpod.client.KvPodClient;
import io.kvpod.client.TlsConfig;
import io.kvpod.contract.PeerSigner;
import io.kvpod.contract.ThriftJson;
import io.kvpod.loader.Cli;
import io.kvpod.loader.RecordGenerator;
import io.kvpod.loader.UsageException;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.Lookup;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.internal.FaultRequest;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.RefreshRequest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * Client-side commands against running pods:
 * {@code get KEY}, {@code put KEY field=value...}, {@code remove KEY}, {@code status}, {@code ping},
 * {@code refresh}, {@code sample}. Pods come from {@code --pods} or {@code KVPOD_PODS};
 * the cluster secret (for refresh) from {@code --secret} or {@code KVPOD_SECRET}.
 */
public final class KvPodCli {
  private KvPodCli() {}

  static Options options() {
    return Cli.withHelp(ClientFlags.add(new Options())
        .addOption(Cli.flag("pod", "I", "status/ping/refresh: only this pod (default: all)"))
        .addOption(tlsOption())
        .addOption(Cli.flag("secret", "S", "cluster secret for refresh (default: $KVPOD_SECRET)"))
        .addOption(Cli.flag("json", null, "get: print one JSON object "
            + "({\"key\", \"found\", \"version\", \"value\"}) and nothing else; status: one JSON object "
            + "per pod, one per line (PodStatus's fields, or podId, error and message)"))
        .addOption(Cli.flag("count", "N", "sample: keys to read (default: 10)"))
        .addOption(Cli.flag("records", "N", "sample: records the generator made (default: 100000)"))
        .addOption(Cli.flag("seed", "S", "sample: generator seed (default: 1)")));
  }

  /** {@code --tls FILE}: the client's TLS settings; every client command takes it. */
  static Option tlsOption() {
    return Cli.flag("tls", "FILE", "talk TLS with the settings (kvpod.tls.*) in this properties file, e.g. "
        + "the client-tls.properties of 'kvpod tls init' (default: $KVPOD_TLS_CONFIG; unset: plain TCP)");
  }

  /** The TLS settings that {@code --tls} or {@code $KVPOD_TLS_CONFIG} names, or null for plain TCP. */
  static TlsConfig tls(CommandLine cl) throws IOException {
    String file = cl.getOptionValue("tls", System.getenv("KVPOD_TLS_CONFIG"));
    return file == null || file.isBlank() ? null : TlsConfig.load(Path.of(file));
  }

  /** Exit codes, for scripts: also listed by {@code --help}. */
  static final int OK = 0;
  /** get: the key has no record. */
  static final int NOT_FOUND = 1;
  /** The command line is wrong; nothing was sent. */
  static final int USAGE_ERROR = 2;
  /** A pod could not be reached or answered a retriable error (UNAVAILABLE, BUSY, ...): try again. */
  static final int UNAVAILABLE = 3;
  /** A pod refused the request for good (INVALID_ARGUMENT, TOO_LARGE, UNAUTHENTICATED, ...). */
  static final int REFUSED = 4;
  static final String EXIT_CODES = "Exit codes: 0 ok; 1 not found (get), or a key read wrong (sample); 2 usage error; 3 a pod could not be "
      + "reached or answered a retriable error (try again); 4 a pod refused the request for good.";

  /** The exit code for a call that failed with {@code e}. */
  static int exitCode(KvPodException e) {
    return e.isRetriable() ? UNAVAILABLE : REFUSED;
  }

  static final String USAGE = "kvpod (get KEY | put KEY field=value... | remove KEY | status | ping | refresh | sample"
      + " | fault (block I J | unblock I J | clear)) [options]";

  private static final ObjectMapper JSON = new ObjectMapper();

  /** {@code {"key": k, "found": true, "version": v, "value": {...}}}, or {@code {"key": k, "found": false}}. */
  static String lookupJson(String key, Lookup l) throws JsonProcessingException {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("key", key);
    out.put("found", l.isFound());
    if (l.isFound()) {
      out.put("version", l.getRecord().getVersion());
      out.put("value", new java.util.TreeMap<>(l.getRecord().getValue()));
    }
    return JSON.writeValueAsString(out);
  }

  public static int run(String[] args) throws Exception {
    CommandLine cl;
    Cli.Command usage = new Cli.Command(USAGE, "Talk to running pods.", null, EXIT_CODES);
    try {
      cl = Cli.parse(usage, options(), args, false);
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      return USAGE_ERROR;
    }
    if (cl == null) {
      return OK;
    }
    if (cl.getArgList().isEmpty()) {
      Cli.printHelp(usage, options(), System.err);
      return USAGE_ERROR;
    }
    String cmd = cl.getArgList().get(0);
    String[] rest = cl.getArgList().subList(1, cl.getArgList().size()).toArray(new String[0]);
    KvPodClient.Builder builder;
    try {
      builder = ClientFlags.builder(cl, "kvpod " + cmd);
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      return USAGE_ERROR;
    }
    KvPodClient built = ClientFlags.build(builder.tls(tls(cl)), "kvpod " + cmd);
    if (built == null) {
      return UNAVAILABLE;
    }
    try (KvPodClient client = built) {
      switch (cmd) {
        case "get" -> {
          if (rest.length != 1) {
            System.err.println("usage: kvpod get KEY");
            return USAGE_ERROR;
          }
          long t0 = System.nanoTime();
          Lookup l = client.getRecord(rest[0]);
          double ms = (System.nanoTime() - t0) / 1e6;
          if (cl.hasOption("json")) {
            System.out.println(lookupJson(rest[0], l));
          } else if (!l.isFound()) {
            System.out.printf("%s (not found)   (%.2f ms, owner pod %d)%n", rest[0], ms, client.ownerOf(rest[0]));
          } else {
            System.out.printf("%s %s   (%.2f ms, owner pod %d, version %d)%n", rest[0],
                JSON.writeValueAsString(l.getRecord().getValue()), ms, client.ownerOf(rest[0]),
                l.getRecord().getVersion());
          }
          return l.isFound() ? OK : NOT_FOUND;
        }
        case "remove" -> {
          if (rest.length != 1) {
            System.err.println("usage: kvpod remove KEY");
            return USAGE_ERROR;
          }
          client.remove(rest[0]);
          System.out.println("ok");
          return OK;
        }
        case "put" -> {
          if (rest.length < 1) {
            System.err.println("usage: kvpod put KEY field=value...");
            return USAGE_ERROR;
          }
          Map<String, String> v = new LinkedHashMap<>();
          for (String fv : Arrays.copyOfRange(rest, 1, rest.length)) {
            int eq = fv.indexOf('=');
            if (eq <= 0) {
              System.err.println("kvpod put: '" + fv + "' is not field=value");
              return USAGE_ERROR;
            }
            v.put(fv.substring(0, eq), fv.substring(eq + 1));
          }
          client.put(rest[0], v);
          System.out.println("ok");
          return OK;
        }
        case "status", "ping", "refresh" -> {
          return perPod(cmd, client, cl);
        }
        case "sample" -> {
          return sample(client, cl);
        }
        case "fault" -> {
          return fault(client, cl, rest);
        }
        default -> {
          System.err.println("kvpod: unknown command '" + cmd + "'; " + USAGE);
          return USAGE_ERROR;
        }
      }
    } catch (KvPodException e) {
      System.err.println("kvpod " + cmd + ": " + e.getCode() + ": " + e.getMessage());
      return exitCode(e);
    }
  }

  private static int perPod(String cmd, KvPodClient client, CommandLine cl) throws Exception {
    List<Integer> pods = cl.hasOption("pod") ? List.of(Integer.parseInt(cl.getOptionValue("pod")))
        : client.podIds();
    int worst = OK;
    for (int p : pods) {
      try {
        switch (cmd) {
          case "status" -> {
            PodStatus s = client.status(p);
            if (cl.hasOption("json")) {
              System.out.println(ThriftJson.of(s)); // one object per pod, one per line
              continue;
            }
            System.out.printf("pod %d: %s, table %s (%d buckets%s), %d layers (%d files open), %d records, %d gets, "
                + "cache hit %.1f%% (%.1f MB cached), up %.0f s%n", p, s.getState(), s.getTable(), s.getHoldersSize(),
                s.getTablesSize() > 1 ? "; serves " + String.join(",", s.getTables()) : "",
                s.getLayersSize(), s.getLayerFilesOpen(), s.getLayerRecords(), s.getGets(),
                100 * s.getBlockCacheHitRatio(), s.getBlockCacheBytes() / 1e6, s.getUptimeMillis() / 1000.0);
            System.out.printf("       writes: %d puts, %d records in memtables, WAL of its first home bucket at "
                + "sequence %d, %d segments, "
                + "%d flushes, %d compactions; %d of at most %d waiting on other pods, %d refused as BUSY, "
                + "%d refused as EXPIRED%n", s.getPuts(), s.getMemtableRecords(), s.getWalDurableSeq(),
                s.getWalSegments(), s.getFlushes(), s.getCompactions(), s.getWaitingWrites(), s.getWaitingWritesMax(),
                s.getBusyWrites(), s.getExpiredWrites());
            if (s.isSetHttpPort()) {
              String host = s.getMembers().get(p);
              System.out.printf("       status page: http://%s:%d/ (metrics: /metrics)%n",
                  host.substring(0, host.lastIndexOf(':')), s.getHttpPort());
            }
          }
          case "ping" -> {
            long t0 = System.nanoTime();
            client.ping(p);
            System.out.printf("pod %d: ok (%.2f ms)%n", p, (System.nanoTime() - t0) / 1e6);
          }
          default -> {
            String secret = cl.getOptionValue("secret", System.getenv("KVPOD_SECRET"));
            PeerResponse r = client.process(p, PeerSigner.tool(secret), PeerRequest.refresh(new RefreshRequest()));
            System.out.printf("pod %d: serving %s%n", p, r.getRefresh().getLayerIds());
          }
        }
      } catch (KvPodException e) {
        worst = Math.max(worst, exitCode(e));
        if (cl.hasOption("json") && "status".equals(cmd)) {
          System.out.println(JSON.writeValueAsString(java.util.Map.of("podId", p, "error", String.valueOf(e.getCode()),
              "message", String.valueOf(e.getMessage()))));
        } else {
          System.out.printf("pod %d: %s: %s%n", p, e.getCode(), e.getMessage());
        }
      }
    }
    return worst;
  }

  /**
   * {@code fault block I J} and {@code fault unblock I J} cut or restore the link between
   * pods I and J (both ends are told); {@code fault clear} removes every injected fault.
   */
  private static int fault(KvPodClient client, CommandLine cl, String[] rest) throws Exception {
    PeerSigner signer = PeerSigner.tool(cl.getOptionValue("secret", System.getenv("KVPOD_SECRET")));
    java.util.Map<Integer, FaultRequest> sends = new java.util.TreeMap<>();
    if (rest.length == 3 && ("block".equals(rest[0]) || "unblock".equals(rest[0]))) {
      int i = Integer.parseInt(rest[1]);
      int j = Integer.parseInt(rest[2]);
      boolean block = "block".equals(rest[0]);
      sends.put(i, block ? new FaultRequest().setBlock(List.of(j)) : new FaultRequest().setUnblock(List.of(j)));
      sends.put(j, block ? new FaultRequest().setBlock(List.of(i)) : new FaultRequest().setUnblock(List.of(i)));
    } else if (rest.length == 1 && "clear".equals(rest[0])) {
      for (int p : client.podIds()) {
        sends.put(p, new FaultRequest().setClear(true));
      }
    } else {
      System.err.println("usage: kvpod fault (block I J | unblock I J | clear)");
      return USAGE_ERROR;
    }
    for (var e : sends.entrySet()) {
      PeerResponse r = client.process(e.getKey(), signer, PeerRequest.fault(e.getValue()));
      System.out.printf("pod %d: links cut to %s%n", e.getKey(), r.getFault().getBlocked());
    }
    return OK;
  }

  /** Reads generated keys, each through a random pod, and prints them with timings. */
  private static int sample(KvPodClient client, CommandLine cl) throws KvPodException {
    int count = Integer.parseInt(cl.getOptionValue("count", "10"));
    long records = Long.parseLong(cl.getOptionValue("records", "100000"));
    RecordGenerator gen = new RecordGenerator(Long.parseLong(cl.getOptionValue("seed", "1")), 4, 100);
    Random rnd = new Random();
    List<Integer> pods = client.podIds();
    int wrong = 0;
    for (int i = 0; i < count; i++) {
      long idx = Math.floorMod(rnd.nextLong(), records);
      String key = gen.key(idx);
      int pod = pods.get(rnd.nextInt(pods.size()));
      long t0 = System.nanoTime();
      Map<String, String> v = client.getVia(pod, key);
      double ms = (System.nanoTime() - t0) / 1e6;
      boolean ok = v.equals(gen.value(idx));
      wrong += ok ? 0 : 1;
      String shown = v.toString();
      System.out.printf("  pod %d: %s -> %s  %.2f ms%s%n", pod, key,
          shown.length() > 60 ? shown.substring(0, 57) + "..." : shown, ms, ok ? "" : "  WRONG");
    }
    System.out.printf("read %d sampled keys, %d wrong%n", count, wrong);
    return wrong == 0 ? 0 : 1;
  }
}
