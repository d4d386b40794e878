package io.kvpod.pod;

import io.kvpod.client.Backoff;
import io.kvpod.contract.CorruptionException;
import io.kvpod.contract.Membership;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.wal.SupersededException;
import io.kvpod.wal.WriteAheadLog;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The buckets this pod holds, and the protocol that moves a bucket from one pod to another.
 *
 * <p><b>Takeover</b> of bucket {@code b}, recorded as held by pod {@code h} in epoch
 * {@code n}, by this pod:
 * <ol>
 *   <li><em>Claim</em>: create the record ({@code b}, {@code n+1}) exclusively
 *       ({@link Ownership#claim}); of all pods that try, exactly one wins. From here until
 *       it serves, the bucket is <em>recovering</em> here: calls for it get a retriable
 *       {@code RECOVERING}, which no pod takes for a reason to take the bucket away.</li>
 *   <li><em>Fence</em>: end every earlier writer's HDFS lease on each of {@code b}'s log
 *       segments. {@code h}'s next {@code hflush} fails, so it acknowledges nothing more; a
 *       segment {@code h} starts after the claim finds the claim in its
 *       {@link WriteAheadLog.SegmentGuard} and is refused. If the log already holds a
 *       segment of a later epoch, a later claim has won: stop, touching nothing.</li>
 *   <li><em>Replay</em> the log above what the layers cover, and open a new segment named
 *       with epoch {@code n+1} ({@link Shard#open}). Before each retry of the replay, and
 *       before the new segment takes any entry, the claim is confirmed again.</li>
 *   <li><em>Wait out the lease</em>: a holder serves a read from memory only if its view of
 *       the records was confirmed less than a lease before the read ended (it checks again
 *       after reading), so after one lease from the claim {@code h} serves nothing of
 *       {@code b} any more, and no read can miss a write acknowledged here.</li>
 *   <li>Serve.</li>
 * </ol>
 * A pod takes a bucket over when its {@link TakeoverPolicy} says so (its holder is down for
 * every pod, or the records give it to this pod but it has no shard), when its own log
 * failed (to recover it without a restart), and at start for its home buckets (<em>reclaim</em>,
 * after asking the interim holder to flush) and for any bucket still recorded to it.
 *
 * <p>A poller re-reads the records every {@code kvpod.ownership.poll.interval}, abandons
 * shards whose bucket was claimed by a later epoch, and runs the policy; between re-reads
 * it asks the policy every {@link #CHECK_MILLIS}, so a takeover starts as soon as the
 * holder's silence passes the window. Thread-safe; takeovers of one bucket run one at a
 * time, of different buckets in parallel (up to {@link #TAKEOVER_THREADS}, which suits 64
 * buckets: a pod's home buckets, or its share of a dead pod's, are taken in one round).
 */
final class ShardSet implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(ShardSet.class);
  /** Reads re-confirmed this many times in a row (each paused for a lease) give up. */
  private static final int MAX_READ_CONFIRMS = 8;

  /** Opens a bucket's shard; the pod supplies how. */
  @FunctionalInterface
  interface Opener {
    Shard open(int bucket, long epoch, Shard.ClaimCheck claim) throws IOException;
  }

  /** Asks pod {@code holder} to flush bucket {@code bucket}; best effort. */
  @FunctionalInterface
  interface FlushAsk {
    void ask(int holder, int bucket);
  }

  private final int self;
  private final Ownership ownership;
  private final long leaseNanos;
  private final Opener opener;
  private final RecentEvents events;
  private final Map<Integer, Shard> held = new ConcurrentHashMap<>();
  private final Set<Integer> recovering = ConcurrentHashMap.newKeySet();
  /** Held while a bucket is taken over: takeovers of one bucket run one at a time. */
  private final Map<Integer, Object> takeoverLocks = new ConcurrentHashMap<>();
  /** Buckets with a takeover started by the poller and not yet finished. */
  private final Set<Integer> underway = ConcurrentHashMap.newKeySet();
  /**
   * Runs takeovers of different buckets in parallel: most of one is waiting (on the
   * NameNode, on lease recovery, out the lease), so a pod taking a dead pod's many buckets,
   * or its own at start, takes them in a few rounds rather than one after another.
   */
  private static final int TAKEOVER_THREADS = 32;
  private final ExecutorService takeoverPool = Executors.newFixedThreadPool(TAKEOVER_THREADS, r -> {
    Thread t = new Thread(r, "takeover");
    t.setDaemon(true);
    return t;
  });
  private final Object refreshLock = new Object();
  private final AtomicLong takeovers = new AtomicLong();
  /** Backoff between failed takeovers of one bucket (a corrupt log, HDFS trouble): 1 s doubling to 1 min. */
  private static final Backoff TAKEOVER_RETRY = new Backoff(1000, 60_000);
  private final Map<Integer, Integer> failures = new ConcurrentHashMap<>();
  private final Map<Integer, Long> retryAfterNanos = new ConcurrentHashMap<>();
  private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "ownership-poller");
    t.setDaemon(true);
    return t;
  });
  private volatile TakeoverPolicy policy;
  private volatile FlushAsk flushAsk;
  /**
   * How often the poller asks the policy, between its re-reads of the records: a holder
   * found down is claimed within this, not within a poll interval. Asking is cheap (it reads
   * this pod's failure detector and last view); only a "yes" re-reads the records.
   */
  private static final long CHECK_MILLIS = 50;
  private long pollNanos;
  private long lastPollNanos = System.nanoTime();

  ShardSet(int self, Ownership ownership, long leaseMillis, Opener opener, RecentEvents events) {
    this.self = self;
    this.events = events;
    this.ownership = ownership;
    this.leaseNanos = TimeUnit.MILLISECONDS.toNanos(leaseMillis);
    this.opener = opener;
  }

  /**
   * The buckets this pod takes at start: its home buckets, and every bucket still recorded
   * to it. A joining pod takes only the latter: its home buckets come to it one at a time,
   * through hand-back, so that writes to them pause one bucket at a time. Marks them
   * recovering, so that once the pod listens, calls for them wait for
   * {@link #start} instead of finding no holder. Call before the pod listens.
   */
  List<Integer> plan() throws IOException {
    Ownership.View v = ownership.refresh();
    Membership.Member me = ownership.members().member(self);
    boolean reclaim = me != null && me.state() == Membership.State.ACTIVE;
    List<Integer> planned = new ArrayList<>();
    for (int b = 0; b < v.holdings().length; b++) {
      if ((reclaim && ownership.home(b) == self) || v.of(b).holder() == self) {
        planned.add(b);
        recovering.add(b);
      }
    }
    return planned;
  }

  /**
   * Takes the planned buckets (asking an interim holder to flush first), then starts the
   * poller, which runs {@code policy} from then on. A bucket whose log is corrupt stops the
   * start: an operator must look, and guessing could lose acknowledged writes. A bucket
   * that cannot be taken for another reason is logged and left to the policy, which takes
   * a bucket recorded to this pod but not held. The poller also takes home buckets back from
   * live holders ({@link TakeoverPolicy#toHandBack}), one at a time, through {@code flushAsk}.
   */
  void start(List<Integer> planned, long pollMillis, FlushAsk flushAsk, TakeoverPolicy policy)
      throws CorruptionException, InterruptedException {
    List<Callable<Void>> takes = new ArrayList<>();
    for (int b : planned) {
      takes.add(() -> {
        takeAtStart(b, flushAsk);
        return null;
      });
    }
    CorruptionException corrupt = null;
    for (Throwable failure : runAll(takes)) {
      if (failure instanceof CorruptionException c) {
        corrupt = c;
      } else {
        LOG.error("taking a bucket at start failed unexpectedly", failure);
      }
    }
    if (corrupt != null) {
      throw corrupt;
    }
    this.policy = policy;
    this.flushAsk = flushAsk;
    this.pollNanos = TimeUnit.MILLISECONDS.toNanos(pollMillis);
    long check = Math.min(CHECK_MILLIS, pollMillis);
    poller.scheduleWithFixedDelay(this::tick, check, check, TimeUnit.MILLISECONDS);
  }

  /** One planned bucket of {@link #start}: asks its interim holder to flush, then takes it. */
  private void takeAtStart(int b, FlushAsk flushAsk) throws CorruptionException, InterruptedException {
    try {
      Ownership.Holding h = ownership.refresh().of(b);
      if (h.holder() != self && h.holder() >= 0) {
        LOG.info("bucket {} is held by pod {} (epoch {}); asking it to flush before taking the bucket back",
            b, h.holder(), h.epoch());
        flushAsk.ask(h.holder(), b);
      }
      for (int attempt = 1; !takeOver(b, ownership.refresh().of(b)); attempt++) {
        if (attempt >= 10) {
          LOG.warn("bucket {}: another pod claimed it each time this pod tried to take it at start; leaving it", b);
          break;
        }
      }
    } catch (CorruptionException e) {
      throw e;
    } catch (IOException e) {
      LOG.error("bucket {}: could not take it at start; the poller tries again if it is recorded to this pod", b, e);
    } finally {
      recovering.remove(b);
    }
  }

  /**
   * Runs {@code tasks} on the takeover pool and waits for all of them; returns what they
   * threw. If this thread is interrupted, cancels those still running and rethrows.
   */
  private List<Throwable> runAll(List<Callable<Void>> tasks) throws InterruptedException {
    List<Future<Void>> running = new ArrayList<>();
    for (Callable<Void> t : tasks) {
      running.add(takeoverPool.submit(t));
    }
    List<Throwable> failures = new ArrayList<>();
    try {
      for (Future<Void> f : running) {
        try {
          f.get();
        } catch (ExecutionException e) {
          failures.add(e.getCause());
        }
      }
    } catch (InterruptedException e) {
      for (Future<Void> f : running) {
        f.cancel(true);
      }
      throw e;
    }
    return failures;
  }

  /**
   * The shard of {@code bucket} if this pod holds it and may take writes for it now, else
   * null. Throws {@link PodUnavailable} if the records cannot be read to confirm the holding.
   */
  Shard serving(int bucket) throws IOException {
    Shard s = held.get(bucket);
    if (s == null) {
      return null;
    }
    Ownership.Holding h = confirmed().of(bucket);
    if (h.holder() == self && h.epoch() == s.epoch) {
      return s;
    }
    abandon(s, h);
    return null;
  }

  /**
   * Reads {@code keys} of {@code bucket} from this pod's shard, or returns null if this pod
   * does not serve the bucket. The read is checked <em>after</em> it is done: the view that
   * confirmed the holding must still be younger than a lease, so a pod paused between its
   * check and its read (a long GC, SIGSTOP) reads again rather than answer from a memtable
   * that a new holder may have overtaken.
   */
  Found[] read(int bucket, byte[][] keys) throws IOException {
    for (int i = 0; i < MAX_READ_CONFIRMS; i++) {
      Shard s = held.get(bucket);
      if (s == null) {
        return null;
      }
      Ownership.View v = confirmed();
      Ownership.Holding h = v.of(bucket);
      if (h.holder() != self || h.epoch() != s.epoch) {
        abandon(s, h);
        return null;
      }
      Found[] out = s.get(keys);
      if (System.nanoTime() - v.confirmedNanos() < leaseNanos) {
        return out;
      }
    }
    throw new PodUnavailable(ErrorCode.UNAVAILABLE, "could not confirm holding bucket " + bucket
        + " within a lease of reading it; retry shortly");
  }

  /**
   * True if a read of {@code bucket} would be answered here without waiting: this pod serves
   * the bucket in the epoch of a view confirmed within half a lease, so {@link #read} need
   * not read the holder records again.
   */
  boolean servesNow(int bucket) {
    Shard s = held.get(bucket);
    if (s == null) {
      return false;
    }
    Ownership.View v = ownership.view();
    Ownership.Holding h = v.of(bucket);
    return System.nanoTime() - v.confirmedNanos() < leaseNanos / 2 && h.holder() == self && h.epoch() == s.epoch;
  }

  /** True while this pod is taking {@code bucket} (claimed or about to, replaying its log). */
  boolean isRecovering(int bucket) {
    return recovering.contains(bucket);
  }

  /** The buckets being taken now. */
  Set<Integer> recovering() {
    return new TreeSet<>(recovering);
  }

  /** The holding of {@code bucket} in a view confirmed within half a lease. */
  Ownership.Holding holding(int bucket) throws IOException {
    return confirmed().of(bucket);
  }

  /** Reads the records again now (after a pod answered that it does not hold a bucket). */
  void refresh() throws IOException {
    synchronized (refreshLock) {
      afterRefresh(ownership.refresh());
    }
  }

  private Ownership.View confirmed() throws IOException {
    Ownership.View v = ownership.view();
    if (System.nanoTime() - v.confirmedNanos() < leaseNanos / 2) {
      return v;
    }
    synchronized (refreshLock) {
      v = ownership.view();
      if (System.nanoTime() - v.confirmedNanos() < leaseNanos / 2) {
        return v;
      }
      try {
        v = ownership.refresh();
      } catch (IOException e) {
        throw new PodUnavailable(ErrorCode.UNAVAILABLE, "cannot confirm who holds the buckets (reading "
            + "the holder records on HDFS failed: " + e + "); retry shortly");
      }
      afterRefresh(v);
      return v;
    }
  }

  /**
   * Takes {@code bucket} over if its recorded holding is still {@code seen} (see the class
   * comment). Returns true if this pod holds the bucket afterwards, false if another pod
   * claimed it first, or claimed a later epoch while this pod recovered (route by the new
   * record).
   */
  boolean takeOver(int bucket, Ownership.Holding seen) throws IOException, InterruptedException {
    synchronized (takeoverLocks.computeIfAbsent(bucket, b -> new Object())) {
      Ownership.Holding now = ownership.refresh().of(bucket);
      if (!now.equals(seen)) {
        return now.holder() == self && held.containsKey(bucket);
      }
      long epoch = seen.epoch() + 1;
      recovering.add(bucket);
      try {
        if (!ownership.claim(bucket, epoch, self)) {
          LOG.info("bucket {}: another pod claimed epoch {} first", bucket, epoch);
          refresh();
          return false;
        }
        long claimed = System.nanoTime();
        LOG.info("bucket {}: claimed epoch {} (was pod {} in epoch {}); fencing and replaying its log",
            bucket, epoch, seen.holder(), seen.epoch());
        events.add(RecentEvents.TAKEOVER, "bucket " + bucket + ": claimed epoch " + epoch + " (was pod "
            + seen.holder() + " in epoch " + seen.epoch() + ")");
        Shard old = held.remove(bucket);
        if (old != null) {
          old.abandon();
        }
        Shard s;
        try {
          s = opener.open(bucket, epoch, () -> confirmClaim(bucket, epoch));
        } catch (SupersededException e) {
          LOG.info("bucket {}: a later claim won while this pod recovered epoch {}; it wrote nothing: {}", bucket,
              epoch, e.getMessage());
          refresh();
          return false;
        }
        long waitNanos = claimed + leaseNanos - System.nanoTime();
        if (waitNanos > 0) {
          TimeUnit.NANOSECONDS.sleep(waitNanos); // the previous holder stops serving within one lease
        }
        held.put(bucket, s);
        takeovers.incrementAndGet();
        LOG.info("bucket {}: serving as holder of epoch {}, {} ms after the claim", bucket, epoch,
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - claimed));
        try {
          ownership.prune(bucket, epoch);
        } catch (IOException e) {
          LOG.debug("pruning old holder records of bucket {}: {}", bucket, e.toString());
        }
        return true;
      } finally {
        recovering.remove(bucket);
      }
    }
  }

  /** Throws unless the records still give {@code bucket} to this pod in {@code epoch}. */
  private void confirmClaim(int bucket, long epoch) throws IOException {
    Ownership.Holding h = ownership.refresh().of(bucket);
    if (h.holder() != self || h.epoch() != epoch) {
      throw new SupersededException("bucket " + bucket + " is held by pod " + h.holder() + " since epoch "
          + h.epoch() + ", not by this pod (epoch " + epoch + ")");
    }
  }

  /** Every {@link #CHECK_MILLIS}: polls when the poll interval has passed or the policy has a bucket to take. */
  private void tick() {
    long now = System.nanoTime();
    if (now - lastPollNanos >= pollNanos || !due(ownership.view()).isEmpty()) {
      lastPollNanos = now;
      poll();
    }
  }

  /** The buckets the policy would take over given {@code v}, less those waiting out a failed try. */
  private List<Integer> due(Ownership.View v) {
    List<Integer> out = new ArrayList<>();
    for (int b : policy.toTakeOver(v, held.keySet())) {
      if (underway.contains(b)) {
        continue;
      }
      if (System.nanoTime() - retryAfterNanos.getOrDefault(b, Long.MIN_VALUE / 2) >= 0) {
        out.add(b); // else it failed a moment ago: wait before trying again
      }
    }
    return out;
  }

  /**
   * Re-reads the records, then starts a takeover of each bucket whose log failed here and
   * each bucket the policy says is due, unless one is under way. Does not wait for them, so
   * the next check comes on time: a successor that is still recovering some of a dead pod's
   * buckets claims the rest of its share at once, before other pods stand in for it.
   */
  private void poll() {
    try {
      refresh();
      for (Shard s : held.values()) {
        if (s.walFailure() != null) {
          startTakeover(s.bucket, () -> {
            LOG.warn("bucket {}: its log failed ({}); taking the bucket over again to recover it", s.bucket,
                s.walFailure().getMessage());
            takeOver(s.bucket, new Ownership.Holding(self, s.epoch));
          });
        }
      }
      Ownership.View v = ownership.view();
      for (int b : due(v)) {
        startTakeover(b, () -> takeDue(b, v.of(b)));
      }
      if (underway.isEmpty()) {
        handBack(v);
      }
    } catch (IOException | RuntimeException e) {
      LOG.warn("reading the bucket holders failed; will retry: {}", e.toString());
    }
  }

  /**
   * Takes back the home bucket the policy names ({@link TakeoverPolicy#toHandBack}), if any and
   * not waiting out a failed try: asks its holder to flush, then takes it as a takeover does.
   */
  private void handBack(Ownership.View v) {
    int b = policy.toHandBack(v, held.keySet());
    if (b < 0 || System.nanoTime() - retryAfterNanos.getOrDefault(b, Long.MIN_VALUE / 2) < 0) {
      return;
    }
    Ownership.Holding h = v.of(b);
    startTakeover(b, () -> {
      LOG.info("bucket {}: its home is this pod and pod {} has held it since epoch {}; asking pod {} to flush, "
          + "then taking the bucket back", b, h.holder(), h.epoch(), h.holder());
      flushAsk.ask(h.holder(), b);
      takeDue(b, h);
    });
  }

  /** A takeover to run in the background. */
  @FunctionalInterface
  private interface Takeover {
    void run() throws IOException, InterruptedException;
  }

  /** Runs {@code takeover} of {@code bucket} on the takeover pool unless one of that bucket is under way. */
  private void startTakeover(int bucket, Takeover takeover) {
    if (!underway.add(bucket)) {
      return;
    }
    try {
      takeoverPool.execute(() -> {
        try {
          takeover.run();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } catch (IOException | RuntimeException e) {
          LOG.warn("bucket {}: taking it over failed; will retry: {}", bucket, e.toString());
        } finally {
          underway.remove(bucket);
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      underway.remove(bucket); // closing
    }
  }

  /** Takes over a bucket the policy says is due; a failure waits out a backoff before the next try. */
  private void takeDue(int b, Ownership.Holding seen) throws InterruptedException {
    try {
      takeOver(b, seen);
      failures.remove(b);
      retryAfterNanos.remove(b);
    } catch (IOException e) {
      int n = failures.merge(b, 1, Integer::sum);
      long wait = TAKEOVER_RETRY.ceilingMillis(n);
      retryAfterNanos.put(b, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(wait));
      LOG.error("bucket {}: taking it over failed ({} times in a row); trying again in {} ms", b, n, wait, e);
    }
  }

  private void afterRefresh(Ownership.View v) {
    for (Shard s : held.values()) {
      Ownership.Holding h = v.of(s.bucket);
      if (h.holder() != self || h.epoch() != s.epoch) {
        abandon(s, h);
      }
    }
  }

  private void abandon(Shard s, Ownership.Holding now) {
    if (held.remove(s.bucket, s)) {
      LOG.info("bucket {}: pod {} holds it since epoch {} (this pod held epoch {}); dropping this pod's shard, "
          + "whose log the new holder replays", s.bucket, now.holder(), now.epoch(), s.epoch);
      events.add(RecentEvents.DROPPED, "bucket " + s.bucket + ": pod " + now.holder() + " holds it since epoch "
          + now.epoch() + " (this pod held epoch " + s.epoch + ")");
      Thread t = new Thread(s::abandon, "abandon-bucket-" + s.bucket); // may wait for a flush; not under a lock
      t.setDaemon(true);
      t.start();
    }
  }

  /** The table's bucket count. */
  int buckets() {
    return ownership.buckets();
  }

  /** The shards held now, by bucket. */
  Map<Integer, Shard> held() {
    return new TreeMap<>(held);
  }

  /** The last view of the records, confirmed or not (for status). */
  Ownership.View lastView() {
    return ownership.view();
  }

  long takeovers() {
    return takeovers.get();
  }

  /**
   * The first half of a clean stop, while the pod still answers its peers (so none of them
   * takes a bucket from it meanwhile): lets the takeovers under way finish, takes no more,
   * and flushes every held shard, in parallel ({@link Shard#flushBeforeStop}). Whoever takes
   * a bucket next then has nothing to replay. Writes must be refused already. Each shard
   * waits {@code delayMillis} first (0 but in fault tests). {@link #close} follows.
   */
  void flushBeforeStop(long delayMillis) throws InterruptedException {
    poller.shutdown();
    takeoverPool.shutdown();
    poller.awaitTermination(10, TimeUnit.SECONDS);
    takeoverPool.awaitTermination(30, TimeUnit.SECONDS);
    eachHeld("flush-shard", s -> {
      Thread.sleep(delayMillis);
      s.flushBeforeStop();
    });
  }

  /** Stops the poller and closes every shard cleanly (each flushes first), in parallel. */
  @Override
  public void close() {
    poller.shutdownNow();
    takeoverPool.shutdownNow();
    try {
      poller.awaitTermination(10, TimeUnit.SECONDS);
      takeoverPool.awaitTermination(10, TimeUnit.SECONDS);
      eachHeld("close-shard", Shard::close);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    held.clear();
  }

  /** What a stop does to one shard. */
  @FunctionalInterface
  private interface ShardStep {
    void run(Shard s) throws InterruptedException;
  }

  /** Runs {@code step} on every held shard, in parallel (a pod holding many buckets flushes them all at once). */
  private void eachHeld(String threadName, ShardStep step) throws InterruptedException {
    ExecutorService pool = Executors.newFixedThreadPool(TAKEOVER_THREADS, r -> {
      Thread t = new Thread(r, threadName);
      t.setDaemon(true);
      return t;
    });
    try {
      List<Callable<Void>> steps = new ArrayList<>();
      for (Shard s : held.values()) {
        steps.add(() -> {
          step.run(s);
          return null;
        });
      }
      pool.invokeAll(steps);
    } finally {
      pool.shutdownNow();
    }
  }
}
