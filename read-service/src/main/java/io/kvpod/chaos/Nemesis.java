package io.kvpod.chaos;

import io.kvpod.thrift.internal.FaultRequest;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Injects seeded random faults into a {@link ChaosCluster}, like HBase's ChaosMonkey:
 * {@code kill -9} and restart (a third of them slow on purpose: every bucket recovery held
 * up 2-8 s), a clean restart, SIGSTOP of a pod for longer than the takeover window, a cut
 * link between two pods, dropped and delayed peer calls, and SIGSTOP of the HDFS process.
 * Each fault heals itself after a random time.
 *
 * <p>At most two faults run at once, at most one pod is down (killed, frozen or not yet
 * listening again), and at most one link fault runs. When a recovery is under way (a pod
 * restarting, or a bucket being recovered), the next fault comes quickly, so that many
 * faults land during a recovery: those are the interleavings that lose writes when the
 * takeover protocol is wrong. Thread-safe; one run per instance.
 */
final class Nemesis {
  enum Kind { KILL, RESTART, FREEZE, CUT, FLAKY, HDFS_FREEZE }

  /**
   * One injected fault: {@code startNanos} is when it took effect (the pod had died, or
   * stopped), {@code buckets} those its target pod held just before (for unavailability).
   */
  record Fault(int id, Kind kind, String target, long startNanos, long endNanos, boolean duringRecovery,
               List<Integer> buckets, long heldUpMillis, String note) {}

  private static final int MAX_CONCURRENT = 2;

  private final ChaosCluster cluster;
  private final History clock;
  private final long seed;
  private final long meanIntervalMillis;
  private final Set<Kind> kinds;
  private final PrintStream log;
  private final ExecutorService running = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "chaos-fault");
    t.setDaemon(true);
    return t;
  });
  private final List<Fault> done = new ArrayList<>();
  private final Set<Integer> busy = new HashSet<>();
  private final Set<Integer> down = new HashSet<>();
  private final Set<Integer> restarting = new HashSet<>();
  private boolean linkFault;
  private boolean hdfsFrozen;
  private int active;
  private int nextId;

  Nemesis(ChaosCluster cluster, History clock, long seed, long meanIntervalMillis, Set<Kind> kinds, PrintStream log) {
    this.cluster = cluster;
    this.clock = clock;
    this.seed = seed;
    this.meanIntervalMillis = meanIntervalMillis;
    this.kinds = EnumSet.copyOf(kinds);
    this.log = log;
  }

  /**
   * Injects faults for {@code durationMillis}, then waits until every fault has healed.
   * Faults come every {@code meanIntervalMillis} on average (0.5 to 1.5 times it); in two
   * intervals of three the next fault comes early instead, as soon as a recovery is seen
   * under way.
   */
  void run(long durationMillis) throws InterruptedException {
    Random r = new Random(seed);
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(durationMillis);
    long next = System.nanoTime() + gapNanos(r);
    boolean aim = r.nextInt(3) != 0;
    while (System.nanoTime() < end) {
      Thread.sleep(200);
      long now = System.nanoTime();
      if (now >= end) {
        break;
      }
      if (now >= next || (aim && recoveryUnderWay())) {
        inject(r);
        next = System.nanoTime() + gapNanos(r);
        aim = r.nextInt(3) != 0;
      }
    }
    running.shutdown();
    if (!running.awaitTermination(10, TimeUnit.MINUTES)) {
      log.println("[chaos] some faults did not heal within 10 minutes");
    }
  }

  /** How often a kind is picked, relative to the others: stopping pods is what takeovers are about. */
  private static int weight(Kind k) {
    return k == Kind.KILL || k == Kind.FREEZE ? 3 : k == Kind.RESTART ? 2 : 1;
  }

  private long gapNanos(Random r) {
    return TimeUnit.MILLISECONDS.toNanos((long) (meanIntervalMillis * (0.5 + r.nextDouble())));
  }

  /** The faults injected so far (those that ended), in the order they began. */
  synchronized List<Fault> faults() {
    List<Fault> out = new ArrayList<>(done);
    out.sort((a, b) -> Integer.compare(a.id(), b.id()));
    return out;
  }

  /** Whether a pod is restarting or any pod is recovering a bucket, as far as the pods that answer say. */
  private boolean recoveryUnderWay() {
    synchronized (this) {
      if (!restarting.isEmpty()) {
        return true;
      }
    }
    for (int p = 0; p < cluster.size(); p++) {
      if (!isDown(p)) {
        var st = cluster.status(p);
        if (st != null && st.isSetRecovering() && !st.getRecovering().isEmpty()) {
          return true;
        }
      }
    }
    return false;
  }

  private synchronized boolean isDown(int pod) {
    return down.contains(pod);
  }

  private void inject(Random r) {
    List<Kind> possible = new ArrayList<>();
    synchronized (this) {
      if (active >= MAX_CONCURRENT) {
        return;
      }
      for (Kind k : kinds) {
        boolean ok = switch (k) {
          case KILL, RESTART, FREEZE -> down.isEmpty() && busy.size() < cluster.size();
          case CUT -> !linkFault && cluster.size() - busy.size() >= 2;
          case FLAKY -> !linkFault && busy.size() < cluster.size();
          case HDFS_FREEZE -> !hdfsFrozen;
        };
        for (int w = 0; ok && w < weight(k); w++) {
          possible.add(k);
        }
      }
    }
    if (possible.isEmpty()) {
      return;
    }
    Kind kind = possible.get(r.nextInt(possible.size()));
    boolean during = recoveryUnderWay();
    int pod;
    int other = -1;
    List<Integer> holders = kind == Kind.KILL || kind == Kind.RESTART || kind == Kind.FREEZE ? holders() : List.of();
    synchronized (this) {
      pod = freePod(r, -1, holders);
      if (kind == Kind.CUT) {
        other = freePod(r, pod, List.of());
      }
      if ((kind != Kind.HDFS_FREEZE && pod < 0) || (kind == Kind.CUT && other < 0)) {
        return;
      }
      active++;
      switch (kind) {
        case KILL, RESTART, FREEZE -> {
          busy.add(pod);
          down.add(pod);
        }
        case CUT -> {
          busy.add(pod);
          busy.add(other);
          linkFault = true;
        }
        case FLAKY -> {
          busy.add(pod);
          linkFault = true;
        }
        case HDFS_FREEZE -> hdfsFrozen = true;
      }
    }
    int id;
    synchronized (this) {
      id = nextId++;
    }
    List<Integer> buckets = kind == Kind.KILL || kind == Kind.RESTART || kind == Kind.FREEZE
        ? cluster.bucketsHeldBy(pod) : List.of();
    long delay = r.nextInt(3) == 0 ? 2000 + r.nextInt(6000) : 0;
    long hold = switch (kind) {
      case KILL -> 500 + r.nextInt(2500);
      case RESTART -> 0;
      case FREEZE -> 3500 + r.nextInt(5500);
      case CUT -> 3000 + r.nextInt(7000);
      case FLAKY -> 5000 + r.nextInt(5000);
      case HDFS_FREEZE -> 1000 + r.nextInt(3000);
    };
    int delayMillis = 100 + r.nextInt(1400);
    int target = pod;
    int peer = other;
    String what = switch (kind) {
      case KILL -> "pod " + pod;
      case RESTART -> "pod " + pod;
      case FREEZE -> "pod " + pod;
      case CUT -> "pods " + pod + " and " + other;
      case FLAKY -> "pod " + pod;
      case HDFS_FREEZE -> "hdfs";
    };
    long start = clock.now();
    log.printf("[chaos] %7.1f s  fault %d: %s %s%s%s%n", start / 1e9, id, kind, what,
        during ? " (during a recovery)" : "", delay > 0 && (kind == Kind.KILL || kind == Kind.RESTART)
            ? ", its start's recoveries held up " + delay + " ms" : "");
    long[] began = {start}; // when the fault took effect: unavailability is measured from then
    running.execute(() -> {
      String note = "";
      try {
        note = switch (kind) {
          case KILL -> {
            cluster.kill9(target);
            began[0] = clock.now();
            Thread.sleep(hold);
            yield restart(target, delay);
          }
          case RESTART -> {
            cluster.stop(target);
            began[0] = clock.now();
            yield restart(target, delay);
          }
          case FREEZE -> {
            cluster.signal(target, "STOP");
            began[0] = clock.now();
            try {
              Thread.sleep(hold);
            } finally {
              cluster.signal(target, "CONT");
            }
            yield "";
          }
          case CUT -> {
            cluster.fault(target, new FaultRequest().setBlock(List.of(peer)));
            cluster.fault(peer, new FaultRequest().setBlock(List.of(target)));
            Thread.sleep(hold);
            cluster.fault(target, new FaultRequest().setUnblock(List.of(peer)));
            cluster.fault(peer, new FaultRequest().setUnblock(List.of(target)));
            yield "";
          }
          case FLAKY -> {
            cluster.fault(target, new FaultRequest().setDropProbability(0.3).setDelayProbability(0.3)
                .setDelayMillis(delayMillis));
            Thread.sleep(hold);
            cluster.fault(target, new FaultRequest().setClear(true));
            yield "drop 30%, delay 30% by " + delayMillis + " ms";
          }
          case HDFS_FREEZE -> {
            cluster.signalHdfs("STOP");
            try {
              Thread.sleep(hold);
            } finally {
              cluster.signalHdfs("CONT");
            }
            yield "";
          }
        };
      } catch (Exception e) {
        note = "the fault itself failed: " + e;
        log.printf("[chaos] fault %d (%s %s) failed: %s%n", id, kind, what, e);
      } finally {
        synchronized (this) {
          long heldUp = kind == Kind.KILL || kind == Kind.RESTART ? delay : 0;
          done.add(new Fault(id, kind, what, began[0], clock.now(), during, buckets, heldUp, note));
          active--;
          busy.remove(target);
          busy.remove(peer);
          down.remove(target);
          if (kind == Kind.CUT || kind == Kind.FLAKY) {
            linkFault = false;
          }
          if (kind == Kind.HDFS_FREEZE) {
            hdfsFrozen = false;
          }
        }
      }
    });
  }

  /**
   * Starts a stopped pod; it counts as down until it listens (it then answers RECOVERING
   * while it replays), and the fault lasts until it serves. A start that fails is tried
   * once more without the hold-up.
   */
  private String restart(int pod, long delay) throws Exception {
    synchronized (this) {
      restarting.add(pod);
    }
    try {
      CompletableFuture<Void> launch = CompletableFuture.runAsync(() -> {
        try {
          cluster.relaunch(pod, delay);
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      while (!launch.isDone() && !cluster.answers(pod)) {
        Thread.sleep(100);
      }
      synchronized (this) {
        down.remove(pod);
      }
      try {
        launch.get(5, TimeUnit.MINUTES);
        return "";
      } catch (Exception e) {
        log.printf("[chaos] pod %d did not start (%s); starting it again%n", pod, e.getCause());
        cluster.relaunch(pod, 0);
        return "the first restart failed: " + e.getCause();
      }
    } finally {
      synchronized (this) {
        restarting.remove(pod);
      }
    }
  }

  /**
   * A pod under no fault, other than {@code not}, chosen at random, preferring those of
   * {@code preferred} (stopping a pod that holds no bucket tests little); -1 if there is none.
   */
  private int freePod(Random r, int not, List<Integer> preferred) {
    List<Integer> free = new ArrayList<>();
    for (int p = 0; p < cluster.size(); p++) {
      if (p != not && !busy.contains(p)) {
        free.add(p);
      }
    }
    List<Integer> better = new ArrayList<>(free);
    better.retainAll(preferred);
    List<Integer> pick = better.isEmpty() ? free : better;
    return pick.isEmpty() ? -1 : pick.get(r.nextInt(pick.size()));
  }

  /** The pods that hold at least one bucket, as the records say. */
  private List<Integer> holders() {
    List<Integer> out = new ArrayList<>();
    for (int h : new HashSet<>(cluster.holders(0))) {
      out.add(h);
    }
    return out;
  }
}
