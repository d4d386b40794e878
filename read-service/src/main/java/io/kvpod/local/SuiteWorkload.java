package io.kvpod.local;

import io.kvpod.client.KvPodClient;
import io.kvpod.loader.RecordGenerator;
import io.kvpod.thrift.KvPodException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The suite's client side: writes generated records through random pods and reads them back,
 * on {@code threads} threads, in chunks of {@link #BATCH}, printing progress. A write is
 * retried on other pods until it is acknowledged or 2 minutes pass (then its chunk counts as
 * unacknowledged); a read is retried on a retriable error. Thread-safe once built; one per
 * cluster, which owns the client.
 */
final class SuiteWorkload {
  /** Records per chunk: one batchPut, one multiGet, or (every tenth chunk) as many single puts. */
  static final int BATCH = 500;
  private final KvPodClient client;
  private final int pods;
  private final int threads;
  private final PrintStream out;

  SuiteWorkload(KvPodClient client, int pods, int threads, PrintStream out) {
    this.client = client;
    this.pods = pods;
    this.threads = threads;
    this.out = out;
  }

  /** One chunk of the work: records [first, first + count). */
  @FunctionalInterface
  interface Chunk {
    void run(long first, long count) throws Exception;
  }

  /**
   * Runs {@code chunk} over [0, n) in chunks of {@link #BATCH} on {@code threads} threads,
   * printing progress every 5 s; runs {@code atThird} once a third is done.
   */
  void parallel(String what, int kase, long n, Chunk chunk, Runnable atThird) throws Exception {
    AtomicLong next = new AtomicLong();
    AtomicLong done = new AtomicLong();
    List<Exception> failures = new CopyOnWriteArrayList<>();
    AtomicBoolean thirdDone = new AtomicBoolean();
    List<Thread> ts = new ArrayList<>();
    long start = System.nanoTime();
    for (int t = 0; t < threads; t++) {
      Thread th = new Thread(() -> {
        long first;
        while (failures.isEmpty() && (first = next.getAndAdd(BATCH)) < n) {
          long count = Math.min(BATCH, n - first);
          try {
            chunk.run(first, count);
          } catch (Exception e) {
            failures.add(e);
            return;
          }
          if (done.addAndGet(count) >= n / 3 && thirdDone.compareAndSet(false, true)) {
            atThird.run();
          }
        }
      }, "suite-" + what + "-" + t);
      th.start();
      ts.add(th);
    }
    long lastReport = System.nanoTime();
    for (Thread th : ts) {
      while (th.isAlive()) {
        th.join(1000);
        if (System.nanoTime() - lastReport > 5e9) {
          lastReport = System.nanoTime();
          double secs = (lastReport - start) / 1e9;
          out.printf("[case %d] %s %,d of %,d (%.0f%%), %,.0f records/s%n", kase, what, done.get(), n,
              100.0 * done.get() / n, done.get() / secs);
        }
      }
    }
    if (!failures.isEmpty()) {
      throw failures.get(0);
    }
    out.printf("[case %d] %s %,d records in %.1f s%n", kase, what, n, (System.nanoTime() - start) / 1e9);
  }

  /**
   * Writes records [first, first+count) through random pods; every tenth chunk as single puts.
   * After a failed call it sends the rest of the chunk through the other pods: a client that
   * has just been refused by a pod does not pick it again at random (without this, a chunk of
   * single puts met the dead pod of case 3 at every third put, and slept 100 ms each time).
   */
  void write(RecordGenerator gen, long first, long count, Map<Long, Boolean> unacked)
      throws KvPodException, InterruptedException {
    Map<String, Map<String, String>> batch = new LinkedHashMap<>();
    for (long i = first; i < first + count; i++) {
      batch.put(gen.key(i), gen.value(i));
    }
    boolean singles = (first / BATCH) % 10 == 0;
    long deadline = System.currentTimeMillis() + 120_000;
    int avoid = -1;
    while (true) {
      int pod = pick(avoid);
      try {
        if (singles) {
          for (Map.Entry<String, Map<String, String>> e : new ArrayList<>(batch.entrySet())) {
            pod = pick(avoid);
            client.putVia(pod, e.getKey(), e.getValue());
            batch.remove(e.getKey());
          }
        } else {
          client.batchPutVia(pod, batch);
        }
        return;
      } catch (KvPodException e) {
        if (!e.isRetriable()) {
          throw e;
        }
        if (System.currentTimeMillis() > deadline) {
          unacked.put(first, true);
          return;
        }
        avoid = pod;
        Thread.sleep(100); // a pod is down or a takeover is under way: try another pod
      }
    }
  }

  /** A random pod; not {@code avoid} (a pod whose call just failed, or -1) when there is another. */
  private int pick(int avoid) {
    if (avoid < 0 || pods < 2) {
      return ThreadLocalRandom.current().nextInt(pods);
    }
    int p = ThreadLocalRandom.current().nextInt(pods - 1);
    return p >= avoid ? p + 1 : p;
  }

  /** Reads the records at {@code indexes} through random pods and counts the wrong and the missing. */
  void check(RecordGenerator gen, long[] indexes, AtomicLong wrong, AtomicLong missing)
      throws KvPodException, InterruptedException {
    List<String> keys = new ArrayList<>(indexes.length);
    for (long i : indexes) {
      keys.add(gen.key(i));
    }
    Map<String, Map<String, String>> got = null;
    for (int attempt = 0; got == null; attempt++) {
      try {
        got = client.multiGetVia(ThreadLocalRandom.current().nextInt(pods), keys);
      } catch (KvPodException e) {
        if (!e.isRetriable() || attempt >= 20) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
    for (int i = 0; i < indexes.length; i++) {
      Map<String, String> v = got.get(keys.get(i));
      if (v == null) {
        missing.incrementAndGet();
      } else if (!v.equals(gen.value(indexes[i]))) {
        wrong.incrementAndGet();
      }
    }
  }

  static long[] range(long first, long count) {
    long[] r = new long[(int) count];
    for (int i = 0; i < r.length; i++) {
      r[i] = first + i;
    }
    return r;
  }

  /** {@code count} record indexes in [0, n), random but the same for the same {@code first}. */
  static long[] sampleOf(long n, long first, long count) {
    SplittableRandom rnd = new SplittableRandom(first * 0x9E3779B97F4A7C15L + 55);
    long[] r = new long[(int) count];
    for (int i = 0; i < r.length; i++) {
      r[i] = rnd.nextLong(n);
    }
    return r;
  }
}
