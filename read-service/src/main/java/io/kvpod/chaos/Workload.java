package io.kvpod.chaos;

import io.kvpod.client.KvPodClient;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The chaos run's writers. Each writer owns its keys ({@code w<i>-k<j>}) and writes each
 * key's values in order: value {@code n+1} only after the write of {@code n} completed,
 * and, if that write failed, only after it can no longer take effect (its deadline plus
 * the clock skew: the Java client's {@code put} waits for that itself; a write sent to one
 * pod is waited out here, unless it never left because the pod refused the connection). A
 * writer mixes:
 * <ul>
 *   <li>single puts and batchPuts of 2-5 of its keys;</li>
 *   <li>calls through the Java client (routed to holders, with failover) and calls to a
 *       random pod, which forwards them (as a client in another language would);</li>
 *   <li>reads of its own keys through a random pod, checked later against its writes.</li>
 * </ul>
 * Everything goes into the {@link History}. Seeded: the same seed makes the same choices
 * (the timing, and so the outcomes, still vary).
 */
final class Workload {
  private final KvPodClient client;
  private final int writers;
  private final int keysPerWriter;
  private final History history;
  private final long seed;
  private final AtomicBoolean stop = new AtomicBoolean();
  private final List<Thread> threads = new ArrayList<>();
  private final ConcurrentLinkedQueue<String> unexpected = new ConcurrentLinkedQueue<>();

  Workload(KvPodClient client, int writers, int keysPerWriter, History history, long seed) {
    this.client = client;
    this.writers = writers;
    this.keysPerWriter = keysPerWriter;
    this.history = history;
    this.seed = seed;
  }

  void start() {
    for (int w = 0; w < writers; w++) {
      int id = w;
      Thread t = new Thread(() -> run(id), "chaos-writer-" + w);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }
  }

  /** Stops the writers after their current operation (which may wait out a failed write's deadline). */
  void stop() throws InterruptedException {
    stop.set(true);
    for (Thread t : threads) {
      t.join();
    }
  }

  /** Every key written, in a fixed order. */
  List<String> keys() {
    List<String> out = new ArrayList<>();
    for (int w = 0; w < writers; w++) {
      for (int k = 0; k < keysPerWriter; k++) {
        out.add(key(w, k));
      }
    }
    return out;
  }

  /** Errors no fault explains (INTERNAL, CORRUPTION, ...), as text. */
  List<String> unexpectedErrors() {
    return new ArrayList<>(unexpected);
  }

  private static String key(int writer, int k) {
    return "w" + writer + "-k" + k;
  }

  static Map<String, String> value(String key, long n) {
    return Map.of("n", Long.toString(n), "key", key);
  }

  /** The value number a read returned, or -1 for none. */
  static long numberOf(Map<String, String> value) {
    return value == null || value.isEmpty() ? -1 : Long.parseLong(value.get("n"));
  }

  private void run(int writer) {
    SplittableRandom r = new SplittableRandom(seed * 1_000_003L + writer);
    long[] next = new long[keysPerWriter];
    java.util.Arrays.fill(next, 1);
    while (!stop.get()) {
      try {
        if (r.nextInt(5) == 0) {
          read(writer, r, next);
        } else {
          write(writer, r, next);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private void read(int writer, SplittableRandom r, long[] next) {
    int k = r.nextInt(keysPerWriter);
    if (next[k] == 1) {
      return; // nothing written yet
    }
    String key = key(writer, k);
    int pod = anyPod(r);
    long invoked = history.now();
    try {
      long n = numberOf(client.getVia(pod, key));
      history.read(key, new History.Read(n, invoked, history.now(), "pod " + pod));
    } catch (KvPodException e) {
      note(e); // a read that fails says nothing about the data
    }
  }

  private void write(int writer, SplittableRandom r, long[] next) throws InterruptedException {
    int size = r.nextBoolean() ? 1 : 2 + r.nextInt(4);
    Map<String, Map<String, String>> batch = new LinkedHashMap<>();
    Map<String, Long> numbers = new LinkedHashMap<>();
    for (int tries = 0; batch.size() < Math.min(size, keysPerWriter) && tries < 20; tries++) {
      int k = r.nextInt(keysPerWriter);
      String key = key(writer, k);
      if (!batch.containsKey(key)) {
        numbers.put(key, next[k]);
        batch.put(key, value(key, next[k]++));
      }
    }
    boolean routed = r.nextBoolean();
    int pod = anyPod(r);
    String via = routed ? "client" : "pod " + pod;
    long deadline = client.writeDeadline();
    long invoked = history.now();
    History.Outcome outcome;
    String error = null;
    KvPodClient.Delivery delivery = new KvPodClient.Delivery();
    try {
      if (batch.size() == 1) {
        Map.Entry<String, Map<String, String>> e = batch.entrySet().iterator().next();
        if (routed) {
          client.put(e.getKey(), e.getValue());
        } else {
          client.putVia(pod, e.getKey(), e.getValue(), deadline, delivery);
        }
      } else if (routed) {
        client.batchPut(batch);
      } else {
        client.batchPutVia(pod, batch, deadline, delivery);
      }
      outcome = History.Outcome.OK;
    } catch (KvPodException e) {
      error = e.getCode() + ": " + e.getMessage();
      note(e);
      if (!routed && !delivery.sent()) {
        outcome = History.Outcome.FAILED; // it reached no pod (a refused connection): nothing to wait out
      } else {
        // a refusal says "not applied" only for a single put: a batch is split by bucket, and
        // the error of one share says nothing of the others
        outcome = batch.size() == 1 && refusedUnapplied(e) ? History.Outcome.FAILED : History.Outcome.UNKNOWN;
        if (!routed && (e.isRetriable() || batch.size() > 1)) {
          settle(deadline); // the Java client's put does this itself
        }
      }
    }
    long completed = history.now();
    for (Map.Entry<String, Long> e : numbers.entrySet()) {
      history.write(e.getKey(), new History.Write(e.getValue(), invoked, completed, outcome, via, error));
    }
  }

  /** A random pod of the table, as the client knows them now (they may join and leave). */
  private int anyPod(SplittableRandom r) {
    List<Integer> ids = client.podIds();
    return ids.get(r.nextInt(ids.size()));
  }

  private static boolean refusedUnapplied(KvPodException e) {
    return e.getCode() == ErrorCode.EXPIRED || e.getCode() == ErrorCode.INVALID_ARGUMENT
        || e.getCode() == ErrorCode.TOO_LARGE || e.getCode() == ErrorCode.BUSY;
  }

  /** Waits until a failed write sent with {@code deadline} can no longer take effect. */
  private void settle(long deadline) throws InterruptedException {
    long wait = deadline + client.maxClockSkewMs() - System.currentTimeMillis();
    if (wait > 0) {
      Thread.sleep(wait);
    }
  }

  private void note(KvPodException e) {
    if (e.getCode() == ErrorCode.INTERNAL || e.getCode() == ErrorCode.CORRUPTION
        || e.getCode() == ErrorCode.INVALID_ARGUMENT || e.getCode() == ErrorCode.TOO_LARGE) {
      unexpected.add(e.getCode() + ": " + e.getMessage());
    }
  }
}
