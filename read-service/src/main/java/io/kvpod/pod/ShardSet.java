package io.kvpod.pod;

import io.kvpod.thrift.ErrorCode;
import io.kvpod.wal.WriteAheadLog;
import java.io.Closeable;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
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
 *       ({@link Ownership#claim}); of all pods that try, exactly one wins.</li>
 *   <li><em>Fence</em>: recover the HDFS lease on {@code b}'s last log segment. {@code h}'s
 *       next {@code hflush} fails, so it acknowledges nothing more; a segment {@code h}
 *       starts after the claim finds the claim in its {@link WriteAheadLog.SegmentGuard} and
 *       is refused.</li>
 *   <li><em>Replay</em> the log above what the layers cover, and open a new segment
 *       ({@link Shard#open}).</li>
 *   <li><em>Wait out the lease</em>: a holder serves a bucket only while its view of the
 *       records was confirmed less than half a lease ago, so after one lease {@code h} serves
 *       nothing of {@code b} from memory any more, and no read can miss a write acknowledged
 *       here.</li>
 *   <li>Serve.</li>
 * </ol>
 * A pod takes a bucket over when no pod could reach its holder for
 * {@code kvpod.takeover.after} ({@link OwnerRouter}), when its own log failed (to recover it
 * without a restart), and at start for its home bucket (<em>reclaim</em>, after asking the
 * interim holder to flush) and for any bucket still recorded to it.
 *
 * <p>A poller re-reads the records every {@code kvpod.ownership.poll.interval} and abandons
 * shards whose bucket was claimed by a later epoch. Thread-safe; takeovers run one at a time.
 */
final class ShardSet implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(ShardSet.class);

  /** Opens a bucket's shard; the pod supplies how. */
  @FunctionalInterface
  interface Opener {
    Shard open(int bucket, long epoch, WriteAheadLog.SegmentGuard guard) throws IOException;
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
  private final Map<Integer, Shard> held = new ConcurrentHashMap<>();
  private final Object takeoverLock = new Object();
  private final Object refreshLock = new Object();
  private final AtomicLong takeovers = new AtomicLong();
  private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "ownership-poller");
    t.setDaemon(true);
    return t;
  });

  ShardSet(int self, Ownership ownership, long leaseMillis, Opener opener) {
    this.self = self;
    this.ownership = ownership;
    this.leaseNanos = TimeUnit.MILLISECONDS.toNanos(leaseMillis);
    this.opener = opener;
  }

  /**
   * Takes back this pod's home bucket (asking its interim holder to flush first) and every
   * bucket still recorded to this pod; then starts the poller. Call once, before serving.
   */
  void start(long pollMillis, FlushAsk flushAsk) throws IOException, InterruptedException {
    Ownership.View v = ownership.refresh();
    for (int b = 0; b < v.holdings().length; b++) {
      Ownership.Holding h = v.of(b);
      if (b != self && h.holder() != self) {
        continue;
      }
      if (h.holder() != self && h.holder() >= 0) {
        LOG.info("bucket {} is held by pod {} (epoch {}); asking it to flush before taking the bucket back",
            b, h.holder(), h.epoch());
        flushAsk.ask(h.holder(), b);
      }
      for (int attempt = 1; !takeOver(b, ownership.refresh().of(b)); attempt++) {
        if (attempt >= 10) {
          throw new IOException("could not take bucket " + b + " at start: another pod claimed it each time");
        }
      }
    }
    poller.scheduleWithFixedDelay(this::poll, pollMillis, pollMillis, TimeUnit.MILLISECONDS);
  }

  /**
   * The shard of {@code bucket} if this pod holds it and may serve it now, else null. Throws
   * {@link PodUnavailable} if the records cannot be read to confirm the holding.
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
   * claimed it first (route by the new record).
   */
  boolean takeOver(int bucket, Ownership.Holding seen) throws IOException, InterruptedException {
    synchronized (takeoverLock) {
      Ownership.Holding now = ownership.refresh().of(bucket);
      if (!now.equals(seen)) {
        return now.holder() == self && held.containsKey(bucket);
      }
      long epoch = seen.epoch() + 1;
      if (!ownership.claim(bucket, epoch, self)) {
        LOG.info("bucket {}: another pod claimed epoch {} first", bucket, epoch);
        refresh();
        return false;
      }
      long claimed = System.nanoTime();
      LOG.info("bucket {}: claimed epoch {} (was pod {} in epoch {}); fencing and replaying its log",
          bucket, epoch, seen.holder(), seen.epoch());
      Shard old = held.remove(bucket);
      if (old != null) {
        old.abandon();
      }
      Shard s = opener.open(bucket, epoch, segment -> {
        Ownership.Holding h = ownership.refresh().of(bucket);
        if (h.holder() != self || h.epoch() != epoch) {
          throw new PodUnavailable(ErrorCode.NOT_OWNER, "bucket " + bucket + " is held by pod " + h.holder()
              + " since epoch " + h.epoch() + ", not by this pod (epoch " + epoch + "); segment " + segment
              + " is refused");
        }
      });
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
    }
  }

  private void poll() {
    try {
      refresh();
      for (Shard s : held.values()) {
        if (s.walFailure() != null) {
          LOG.warn("bucket {}: its log failed ({}); taking the bucket over again to recover it", s.bucket,
              s.walFailure().getMessage());
          takeOver(s.bucket, new Ownership.Holding(self, s.epoch));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException | RuntimeException e) {
      LOG.warn("reading the bucket holders failed; will retry: {}", e.toString());
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
      LOG.warn("bucket {}: pod {} holds it since epoch {} (this pod held epoch {}); dropping this pod's shard, "
          + "whose log the new holder replays", s.bucket, now.holder(), now.epoch(), s.epoch);
      Thread t = new Thread(s::abandon, "abandon-bucket-" + s.bucket); // may wait for a flush; not under a lock
      t.setDaemon(true);
      t.start();
    }
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

  /** Stops the poller and closes every shard cleanly (each flushes first). */
  @Override
  public void close() {
    poller.shutdownNow();
    try {
      poller.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Shard s : held.values()) {
      s.close();
    }
    held.clear();
  }
}
