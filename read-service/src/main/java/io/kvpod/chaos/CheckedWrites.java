package io.kvpod.chaos;

import io.kvpod.client.KvPodClient;
import io.kvpod.thrift.KvPodException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The chaos run's ordered writers ({@link Workload}) and its checker ({@link Checker}), for
 * tests that bring their own faults, such as pods joining and leaving: {@link #start}, make
 * the faults, then {@link #stopAndCheck}. Not thread-safe; one test drives it.
 */
public final class CheckedWrites {
  private final KvPodClient client;
  private final History history = new History();
  private final Workload workload;

  /** {@code writers} threads, each writing {@code keysPerWriter} keys of its own, in order. */
  public CheckedWrites(KvPodClient client, int writers, int keysPerWriter, long seed) {
    this.client = client;
    this.workload = new Workload(client, writers, keysPerWriter, history, seed);
  }

  public void start() {
    workload.start();
  }

  /** Writes acknowledged so far. */
  public long acknowledged() {
    return history.writes(History.Outcome.OK);
  }

  /**
   * Stops the writers, reads every key back through each of {@code pods}, and checks the
   * whole history: returns the violations (stale or phantom reads, lost or diverged keys),
   * one line each, and the errors no write should meet; empty when all is well.
   */
  public List<String> stopAndCheck(List<Integer> pods) throws InterruptedException, KvPodException {
    workload.stop();
    Map<String, long[]> finals = readBack(client, workload.keys(), pods);
    List<String> out = new ArrayList<>();
    for (Checker.Violation v : Checker.check(history, finals)) {
      out.add(v.kind() + " " + v.key() + ": " + v.detail() + " (pods read back: " + pods + ")");
    }
    for (String e : workload.unexpectedErrors()) {
      out.add("unexpected error: " + e);
    }
    return out;
  }

  /**
   * Each key's value number ({@link Workload#numberOf}; -1: absent) as read through each of
   * {@code pods}: {@code result.get(key)[i]} through {@code pods.get(i)}.
   */
  static Map<String, long[]> readBack(KvPodClient client, List<String> keys, List<Integer> pods)
      throws KvPodException {
    Map<String, long[]> finals = new LinkedHashMap<>();
    for (String k : keys) {
      finals.put(k, new long[pods.size()]);
    }
    for (int i = 0; i < pods.size(); i++) {
      for (int from = 0; from < keys.size(); from += 500) {
        List<String> chunk = new ArrayList<>(keys.subList(from, Math.min(keys.size(), from + 500)));
        Map<String, Map<String, String>> got = client.multiGetVia(pods.get(i), chunk);
        for (String k : chunk) {
          finals.get(k)[i] = Workload.numberOf(got.get(k));
        }
      }
    }
    return finals;
  }
}
