package io.kvpod.chaos;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.thrift.KvPodException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Measures when buckets take writes. Every {@code intervalMillis} it puts a new key into
 * each probed bucket (the first {@code min(B, PROBED_PER_POD x pods)}, which spreads the
 * probes evenly over the pods' home buckets) through the Java client (routed to the holder, with its defaults), each
 * key written once, so no put ever waits for an earlier one. Its acknowledgements are what
 * write unavailability is measured on: the {@link Workload}'s writers may all be stuck on
 * calls of an earlier fault, or waiting out a failed write, and then invoke nothing.
 *
 * <p>At most {@code maxInFlight} puts per bucket wait at once; a tick finding a bucket's
 * puts all waiting skips it (so while a bucket is down for longer than {@code maxInFlight}
 * intervals the measure's resolution drops to the client's timeouts). Every probe write goes
 * into the {@link History} like any other, and is read back and checked at the end.
 * Thread-safe.
 */
final class WriteProbe implements AutoCloseable {
  /** A probe put into {@code bucket}, invoked and acknowledged at these times ({@link History#now}). */
  record Ack(int bucket, long invokeNanos, long completeNanos) {}

  /** Buckets probed per pod: enough to see each stopped pod's buckets, few enough to keep the probe light. */
  static final int PROBED_PER_POD = 4;

  private final KvPodClient client;
  private final int buckets;
  private final int probed;
  private final History history;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "chaos-probe-timer");
    t.setDaemon(true);
    return t;
  });
  private final ThreadPoolExecutor[] perBucket;
  private final AtomicLong next = new AtomicLong();
  private final ConcurrentLinkedQueue<String> keys = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Ack> acks = new ConcurrentLinkedQueue<>();

  /** Probes a table of {@code buckets} buckets served by {@code pods} pods. */
  WriteProbe(KvPodClient client, int pods, int buckets, History history, int maxInFlight) {
    this.client = client;
    this.buckets = buckets;
    this.probed = Math.min(buckets, PROBED_PER_POD * pods);
    this.history = history;
    this.perBucket = new ThreadPoolExecutor[probed];
    for (int b = 0; b < probed; b++) {
      int bucket = b;
      perBucket[b] = new ThreadPoolExecutor(0, maxInFlight, 10, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
        Thread t = new Thread(r, "chaos-probe-" + bucket);
        t.setDaemon(true);
        return t;
      }, new ThreadPoolExecutor.DiscardPolicy());
    }
  }

  void start(long intervalMillis) {
    timer.scheduleAtFixedRate(this::tick, 0, intervalMillis, TimeUnit.MILLISECONDS);
  }

  private void tick() {
    for (int b = 0; b < probed; b++) {
      String key = keyIn(b);
      perBucket[b].execute(() -> put(key));
    }
  }

  /** A key never used before whose bucket is {@code bucket}. */
  private String keyIn(int bucket) {
    while (true) {
      String k = "probe-" + next.getAndIncrement();
      if (KeyPartitioner.bucket(k, buckets) == bucket) {
        return k;
      }
    }
  }

  private void put(String key) {
    keys.add(key);
    long invoked = history.now();
    History.Outcome outcome = History.Outcome.OK;
    String error = null;
    try {
      client.put(key, Workload.value(key, 1));
    } catch (KvPodException e) {
      outcome = History.Outcome.UNKNOWN; // the client waited it out: it may or may not be stored
      error = e.getCode() + ": " + e.getMessage();
    }
    long completed = history.now();
    history.write(key, new History.Write(1, invoked, completed, outcome, "probe", error));
    if (outcome == History.Outcome.OK) {
      acks.add(new Ack(KeyPartitioner.bucket(key, buckets), invoked, completed));
    }
  }

  /** Every key a probe wrote, or tried to. */
  List<String> keys() {
    return new ArrayList<>(keys);
  }

  /** The acknowledged probe writes: what write unavailability is measured on. */
  List<Ack> acks() {
    return new ArrayList<>(acks);
  }

  /** Stops probing and waits for the puts in flight (each ends by the client's deadline). */
  @Override
  public void close() throws InterruptedException {
    timer.shutdownNow();
    timer.awaitTermination(10, TimeUnit.SECONDS);
    for (ThreadPoolExecutor e : perBucket) {
      e.shutdown();
    }
    for (ThreadPoolExecutor e : perBucket) {
      if (!e.awaitTermination(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException("probe puts still running 60 s after the probe stopped");
      }
    }
  }
}
