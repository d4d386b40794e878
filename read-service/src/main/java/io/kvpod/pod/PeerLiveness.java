package io.kvpod.pod;

import io.kvpod.thrift.KvPodException;
import java.io.Closeable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.IntConsumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A failure detector: how long since this pod last heard from each other pod, and what
 * each other pod last said about everyone. Every pod pings every other pod each interval
 * (its own thread per peer, so a peer that does not answer delays no other); any answer,
 * to a ping or to any other call, counts as hearing from it (a request from it does not: a
 * stopping pod still sends, but answers nothing). A ping's answer carries the
 * answering pod's own view, so each pod also knows whether the others still hear from a
 * pod that it cannot reach.
 *
 * <p>This tells the cases a takeover must tell apart:
 * <ul>
 *   <li><em>the pod is down</em> (killed, frozen, cut off from everyone): no pod has heard
 *       from it for {@code afterMillis} ({@link #downForEveryone});</li>
 *   <li><em>only my link to it is cut</em>: another pod still hears from it, so calls go
 *       through that pod instead;</li>
 *   <li><em>I am the one cut off</em>: I hear from no other pod, so I take nothing over.</li>
 * </ul>
 * A pod never heard from counts as silent since this detector started. Silence is measured
 * on this pod's monotonic clock; another pod's report is aged by the time since it came.
 * A mistaken "down" costs a takeover, never data: fencing is HDFS's (see {@link ShardSet}).
 * Thread-safe.
 */
final class PeerLiveness implements AutoCloseable, Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(PeerLiveness.class);
  private static final long NEVER = Long.MIN_VALUE;

  /** Pings a pod; returns its view ({@link #view()} of that pod), or null if it sent none. */
  @FunctionalInterface
  interface Pinger {
    List<Long> ping(int pod) throws KvPodException;
  }

  /** What a pod said about the others, and when (this pod's clock) it said it. */
  private record Report(long[] silentMillis, long atNanos) {}

  private final int self;
  /** Ids are below this: the arrays' size ({@code kvpod.pods.max}). */
  private final int capacity;
  /** The pods now, by id (the table's membership); this pod pings the others. */
  private volatile int[] members;
  private final LongSupplier nanoClock;
  private final long startedNanos;
  private final AtomicLongArray lastHeardNanos;
  private final AtomicReferenceArray<Report> reports;
  /** 1 while the current silence of a pod has been announced (to abort calls to it once). */
  private final AtomicIntegerArray announced;
  private ScheduledThreadPoolExecutor pinger;
  private final Map<Integer, ScheduledFuture<?>> pinging = new HashMap<>();
  private Pinger ping;
  private long intervalMillis;
  private long suspectAfterMillis;
  private IntConsumer onSilent;

  /** A detector for pods {@code 0 .. pods - 1}, which may grow to {@code capacity} pods ({@link #members}). */
  PeerLiveness(int self, int pods, int capacity) {
    this(self, pods, capacity, System::nanoTime);
  }

  /** {@code nanoClock}: a monotonic clock in nanoseconds (tests step their own). */
  PeerLiveness(int self, int pods, int capacity, LongSupplier nanoClock) {
    if (pods > capacity) {
      throw new IllegalArgumentException(pods + " pods is more than the capacity, " + capacity);
    }
    this.self = self;
    this.capacity = capacity;
    this.members = java.util.stream.IntStream.range(0, pods).toArray();
    this.nanoClock = nanoClock;
    this.startedNanos = nanoClock.getAsLong();
    this.lastHeardNanos = new AtomicLongArray(capacity);
    this.reports = new AtomicReferenceArray<>(capacity);
    this.announced = new AtomicIntegerArray(capacity);
    for (int p = 0; p < capacity; p++) {
      lastHeardNanos.set(p, NEVER);
    }
  }

  /** A detector for pods {@code 0 .. pods - 1} that never grows. */
  PeerLiveness(int self, int pods, LongSupplier nanoClock) {
    this(self, pods, pods, nanoClock);
  }

  /**
   * The pods are now {@code ids} (each below the capacity): pings start for new ones and stop
   * for those gone. A new pod never heard from counts as silent since this detector started,
   * as any pod does; it holds nothing until it has been heard (see {@link #everHeard}).
   */
  synchronized void members(int[] ids) {
    for (int id : ids) {
      if (id < 0 || id >= capacity) {
        throw new IllegalArgumentException("pod id " + id + " is not below kvpod.pods.max (" + capacity + ")");
      }
    }
    Set<Integer> now = new HashSet<>();
    for (int id : ids) {
      now.add(id);
    }
    for (int id : members) {
      if (!now.contains(id)) {
        var f = pinging.remove(id);
        if (f != null) {
          f.cancel(false);
        }
      }
    }
    members = ids.clone();
    schedulePings();
  }

  /**
   * Starts pinging every other pod every {@code intervalMillis}. When a pod has been silent
   * for {@code suspectAfterMillis}, {@code onSilent} is told once (until it is heard again):
   * calls in flight to it can then be given up instead of waiting out their timeouts.
   */
  synchronized void start(Pinger ping, long intervalMillis, long suspectAfterMillis, IntConsumer onSilent) {
    if (pinger != null) {
      return;
    }
    this.ping = ping;
    this.intervalMillis = intervalMillis;
    this.suspectAfterMillis = suspectAfterMillis;
    this.onSilent = onSilent;
    pinger = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "peer-liveness");
      t.setDaemon(true);
      return t;
    });
    schedulePings();
  }

  /** Starts pinging each other pod not pinged yet (once started). */
  private synchronized void schedulePings() {
    if (pinger == null) {
      return;
    }
    pinger.setCorePoolSize(Math.max(1, members.length - 1)); // a thread per peer: a silent one delays no other
    for (int p : members) {
      if (p == self || pinging.containsKey(p)) {
        continue;
      }
      int pod = p;
      pinging.put(p, pinger.scheduleWithFixedDelay(() -> pingOnce(ping, pod, suspectAfterMillis, onSilent), 0,
          intervalMillis, TimeUnit.MILLISECONDS));
    }
  }

  private void pingOnce(Pinger ping, int pod, long suspectAfterMillis, IntConsumer onSilent) {
    try {
      reported(pod, ping.ping(pod));
    } catch (KvPodException e) {
      if (silentMillis(pod) >= suspectAfterMillis && announced.compareAndSet(pod, 0, 1)) {
        if (lastHeardNanos.get(pod) == NEVER) {
          LOG.info("pod {} has not answered since this pod started ({} ms): {}", pod, silentMillis(pod), e.getMessage());
        } else {
          LOG.warn("pod {} has not answered for {} ms: {}", pod, silentMillis(pod), e.getMessage());
        }
        onSilent.accept(pod);
      }
    } catch (RuntimeException e) {
      LOG.error("pinging pod {} failed unexpectedly", pod, e);
    }
  }

  /** Records a ping's answer from {@code pod}, with its view ({@link #view()}; null if it sent none). */
  void reported(int pod, List<Long> view) {
    if (view != null && view.size() <= capacity) {
      long[] v = new long[view.size()];
      for (int i = 0; i < v.length; i++) {
        v[i] = view.get(i);
      }
      reports.set(pod, new Report(v, nanoClock.getAsLong()));
    }
    heard(pod);
  }

  /** Records an answer from {@code pod} (to a ping or to any other call). */
  void heard(int pod) {
    lastHeardNanos.set(pod, nanoClock.getAsLong());
    if (announced.get(pod) == 1 && announced.compareAndSet(pod, 1, 0)) {
      LOG.info("pod {} answers again", pod);
    }
  }

  /** Milliseconds since this pod last heard from {@code pod} (or since this detector started); 0 for itself. */
  long silentMillis(int pod) {
    if (pod == self) {
      return 0;
    }
    long heard = lastHeardNanos.get(pod);
    return TimeUnit.NANOSECONDS.toMillis(nanoClock.getAsLong() - (heard == NEVER ? startedNanos : heard));
  }

  /**
   * This pod's view, as a ping answer carries it: silent milliseconds per pod id up to the
   * highest member, -1 for never heard (or not a pod).
   */
  List<Long> view() {
    int[] ids = members;
    int slots = ids.length == 0 ? 0 : Arrays.stream(ids).max().getAsInt() + 1;
    List<Long> v = new ArrayList<>(slots);
    for (int p = 0; p < slots; p++) {
      v.add(p != self && lastHeardNanos.get(p) == NEVER ? -1L : silentMillis(p));
    }
    return v;
  }

  /**
   * Whether {@code pod} has been silent for at least {@code afterMillis} to this pod and to
   * every other pod this pod still hears from (as they last reported), and this pod hears
   * from at least one other pod. With two pods there is no one else to ask: silence to this
   * pod is enough. A report older than half of {@code afterMillis} says nothing (the pod may
   * have heard from it since), so it counts as "still hears from it".
   */
  boolean downForEveryone(int pod, long afterMillis) {
    if (pod == self || silentMillis(pod) < afterMillis) {
      return false;
    }
    boolean heardAnother = false;
    int[] ids = members;
    for (int x : ids) {
      if (x == self || x == pod || silentMillis(x) >= afterMillis) {
        continue;
      }
      heardAnother = true;
      if (reportedSilentMillis(x, pod, afterMillis / 2) < afterMillis) {
        return false; // x still hears from it (or may): only this pod's link is cut
      }
    }
    return heardAnother || ids.length < 3;
  }

  /** Whether any pod (this one, or one that reported) has ever heard from {@code pod}. */
  boolean everHeard(int pod) {
    if (pod == self || lastHeardNanos.get(pod) != NEVER) {
      return true;
    }
    for (int x = 0; x < capacity; x++) {
      Report r = reports.get(x);
      if (r != null && pod < r.silentMillis().length && r.silentMillis()[pod] >= 0) {
        return true;
      }
    }
    return false;
  }

  /**
   * How long {@code reporter} had not heard from {@code pod}, as of now: its last report,
   * aged by the time since it came; {@code Long.MAX_VALUE} if it never heard from it (or its
   * report does not reach as far as {@code pod}: a pod newer than the report). 0 (as
   * if it still hears from it) without a report younger than {@code freshMillis}.
   */
  long reportedSilentMillis(int reporter, int pod, long freshMillis) {
    Report r = reports.get(reporter);
    if (r == null) {
      return 0;
    }
    long age = TimeUnit.NANOSECONDS.toMillis(nanoClock.getAsLong() - r.atNanos());
    if (age > freshMillis) {
      return 0;
    }
    if (pod >= r.silentMillis().length) {
      return Long.MAX_VALUE;
    }
    long s = r.silentMillis()[pod];
    return s < 0 ? Long.MAX_VALUE : s + age;
  }

  @Override
  public synchronized void close() {
    if (pinger != null) {
      pinger.shutdownNow();
    }
  }
}
