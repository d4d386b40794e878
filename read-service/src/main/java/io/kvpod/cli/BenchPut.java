package io.kvpod.cli;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.RecordCodec;
import io.kvpod.config.Durations;
import io.kvpod.loader.Cli;
import io.kvpod.loader.UsageException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/**
 * {@code kvpod bench put}: writes new records for a while, with {@code put} (--batch 1) or
 * {@code batchPut} of --batch records, and prints records/s and the latency of each call,
 * with a progress line every 5 s. Keys are {@code bench-<run>-<n>}, so runs never overwrite
 * each other. The Java client sends each record to its owner; {@code --random-pod} sends
 * each call to a random pod instead, which forwards, as a harness without a smart client
 * would. A benchmark: it asserts nothing.
 */
public final class BenchPut {
  private BenchPut() {}

  static Options options() {
    return Cli.withHelp(ClientFlags.add(BenchPhase.withCommonOptions(new Options()))
        .addOption(KvPodCli.tlsOption())
        .addOption(Cli.flag("threads", "T", "client threads (default: 8)"))
        .addOption(Cli.flag("duration", "D", "time to write, e.g. 30s (default: 20s)"))
        .addOption(Cli.flag("batch", "B", "records per call; 1 uses put (default: 1000)"))
        .addOption(Cli.flag("value-bytes", "N", "bytes of text per value (default: 100)"))
        .addOption(Cli.flag("encoded", null, "with --batch > 1: call batchPutEncoded, each value encoded "
            + "(RecordCodec) by the client and stored as it is"))
        .addOption(Cli.flag("random-pod", null, "send each call to a random pod, which forwards to the owners")));
  }

  public static int run(String[] args) throws Exception {
    CommandLine cl;
    try {
      cl = Cli.parse("kvpod bench put", "Measure put and batchPut throughput and latency.", options(), null, args);
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      return 2;
    }
    if (cl == null) {
      return 0;
    }
    KvPodClient.Builder builder;
    try {
      builder = ClientFlags.builder(cl, "kvpod bench put");
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      return 2;
    }
    int threads = Integer.parseInt(cl.getOptionValue("threads", "8"));
    long millis = Durations.parseMillis(cl.getOptionValue("duration", "20s"));
    int batch = Integer.parseInt(cl.getOptionValue("batch", "1000"));
    int valueBytes = Integer.parseInt(cl.getOptionValue("value-bytes", "100"));
    boolean randomPod = cl.hasOption("random-pod");
    boolean encoded = cl.hasOption("encoded");
    if (encoded && (batch == 1 || randomPod)) {
      System.err.println("kvpod bench put: --encoded needs --batch > 1 and no --random-pod (batchPutEncoded is "
          + "routed by the client)");
      return 2;
    }
    if (batch < 1 || threads < 1 || valueBytes < 0) {
      System.err.println("kvpod bench put: --batch and --threads must be >= 1, --value-bytes >= 0");
      return 2;
    }
    String run = Long.toString(System.currentTimeMillis(), 36);
    Map<String, String> value = Map.of("payload", "x".repeat(valueBytes));
    AtomicLong next = new AtomicLong();
    BenchPhase.Settings settings = BenchPhase.Settings.orUsageError(cl, threads, millis, "kvpod bench put");
    if (settings == null) {
      return 2;
    }
    KvPodClient built = ClientFlags.build(builder.tls(KvPodCli.tls(cl)).maxIdlePerPod(threads * 2), "kvpod bench put");
    if (built == null) {
      settings.close();
      return KvPodCli.UNAVAILABLE;
    }
    try (settings; KvPodClient c = built) {
      java.util.List<Integer> ids = c.podIds();
      String call = batch == 1 ? "put" : encoded ? "batchPutEncoded x" + batch : "batchPut x" + batch;
      BenchPhase.Result phase = settings.phase(call).run(r -> {
        long first = next.getAndAdd(batch);
        if (batch == 1) {
          String k = "bench-" + run + "-" + first;
          if (randomPod) {
            c.putVia(ids.get(r.nextInt(ids.size())), k, value);
          } else {
            c.put(k, value);
          }
          return;
        }
        if (encoded) {
          Map<String, byte[]> records = new HashMap<>(batch * 2);
          for (int i = 0; i < batch; i++) {
            records.put("bench-" + run + "-" + (first + i), RecordCodec.encode(value)); // encoded per record, as a caller would
          }
          c.batchPutEncoded(records);
          return;
        }
        Map<String, Map<String, String>> records = new HashMap<>(batch * 2);
        for (int i = 0; i < batch; i++) {
          records.put("bench-" + run + "-" + (first + i), value);
        }
        if (randomPod) {
          c.batchPutVia(ids.get(r.nextInt(ids.size())), records);
        } else {
          c.batchPut(records);
        }
      });
      settings.out().printf("bench put: %,.0f records/s (%d records per call, %d threads, %d-byte values)%n",
          phase.callsPerSecond() * batch, batch, threads, valueBytes);
      if (cl.hasOption(BenchPhase.JSON.getLongOpt())) {
        BenchPhase.printJson(Map.of("phases", List.of(phase), "recordsPerSecond", phase.callsPerSecond() * batch,
            "batch", batch, "valueBytes", valueBytes));
      }
    }
    return 0;
  }
}
