package io.kvpod.client;

import io.kvpod.contract.BucketHomes;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.IntSupplier;

/**
 * A client's view of which pod holds each bucket of the table, learned from the pods'
 * {@code status()} ({@code holders}, {@code holderEpochs}). Per bucket it keeps the holding of
 * the highest epoch it has heard of, so an answer from a pod that has not yet seen a takeover
 * never undoes what a newer answer said.
 *
 * <p>Learning: the first lookup asks the pods in turn, synchronously and briefly, and the
 * lookups made meanwhile wait for it; after a failure at a holder, {@link #relearn} asks
 * again in the background, at most every half second. Until some pod has answered, a key
 * goes to its bucket's home pod.
 *
 * <p>Thread-safe: the table is an immutable array, replaced under this object's lock.
 */
final class HolderTable {
  /** Asks one pod for its status, within a short timeout. */
  @FunctionalInterface
  interface StatusSource {
    PodStatus status(int pod) throws KvPodException;
  }

  private static final long RELEARN_EVERY_MILLIS = 500;

  /** One more than the highest pod id the client knows (it grows as pods join). */
  private final IntSupplier pods;
  private final StatusSource source;
  /** Told of each newer membership a status carries: the pods' addresses by id ("" for none). */
  private final Consumer<List<String>> onMembers;
  private long membersVersion = -1;
  private final Executor background;
  /**
   * Per bucket: the holding's epoch in the high 32 bits, the holder in the low 32; null until
   * learned. Replaced, never changed in place.
   */
  private volatile long[] holdings;
  /** Whether the first, synchronous learning is over; also its lock. */
  private final AtomicBoolean firstLearnTried = new AtomicBoolean();
  private final AtomicLong lastLearnedMillis = new AtomicLong();

  /**
   * @param pods       one more than the highest pod id the client knows now
   * @param background runs the relearning after failures
   * @param onMembers  told of each newer membership learned, before the holders it routes to
   */
  HolderTable(IntSupplier pods, StatusSource source, Executor background, Consumer<List<String>> onMembers) {
    this.pods = pods;
    this.source = source;
    this.background = background;
    this.onMembers = onMembers;
  }

  /** The pod that holds {@code key}'s bucket, as far as this table knows (its home pod, if it knows none). */
  int ownerOf(byte[] key) {
    long[] h = holdings();
    return h == null ? KeyPartitioner.bucket(key, pods.getAsInt()) : (int) h[KeyPartitioner.bucket(key, h.length)];
  }

  /** The table's bucket count, asking the pods now if none has said yet; 0 if none answers. */
  int buckets() {
    long[] h = holdings();
    if (h == null) {
      askPods();
      h = holdings;
    }
    return h == null ? 0 : h.length;
  }

  /**
   * The holdings. The first call asks the pods for them before it answers, and calls made
   * meanwhile wait for it; after that, null until a pod has answered.
   */
  private long[] holdings() {
    long[] h = holdings;
    if (h != null || firstLearnTried.get()) {
      return h;
    }
    synchronized (firstLearnTried) {
      if (!firstLearnTried.get()) {
        askPods();
        firstLearnTried.set(true);
        if (holdings == null) {
          relearn(0); // keep trying in the background, at most every half second
        }
      }
    }
    return holdings;
  }

  /** Asks the pods in turn for their status until one answers, and learns the holders from it. */
  private void askPods() {
    for (int pod = 0; pod < pods.getAsInt() && holdings == null; pod++) {
      try {
        learn(source.status(pod));
      } catch (KvPodException e) {
        // try the next pod
      }
    }
  }

  /** After a failure at {@code failedPod}: asks the pods after it for the holders, at most every half second. */
  void relearn(int failedPod) {
    long now = System.currentTimeMillis();
    long last = lastLearnedMillis.get();
    if (now - last < RELEARN_EVERY_MILLIS || !lastLearnedMillis.compareAndSet(last, now)) {
      return;
    }
    background.execute(() -> {
      int n = pods.getAsInt();
      for (int i = 1; i <= n; i++) {
        try {
          learn(source.status((failedPod + i) % n));
          return;
        } catch (KvPodException e) {
          // try the next pod
        }
      }
    });
  }

  /**
   * Asks a pod for the holders in the background if nothing was learned for
   * {@code everyMillis}: pods forward calls sent to a bucket's old holder, so a client whose
   * calls never fail would otherwise not notice that buckets moved or pods joined.
   */
  void refreshIfOlderThan(long everyMillis) {
    if (System.currentTimeMillis() - lastLearnedMillis.get() >= everyMillis) {
      int n = pods.getAsInt();
      relearn(n == 0 ? 0 : (int) (System.nanoTime() % n)); // any pod; the ones after it if it fails
    }
  }

  /**
   * Learns the holders from {@code status}, keeping per bucket the holding with the higher
   * epoch, and the pods, if it carries a newer membership than any before. A status with
   * another bucket count than the one known replaces it (the client was pointed at another
   * table, which has no business happening, but the newest answer is the best guess). A
   * status without holders changes nothing.
   */
  void learn(PodStatus status) {
    if (!status.isSetHolders() || !status.isSetHolderEpochs() || status.getHolders().isEmpty()
        || status.getHolders().size() != status.getHolderEpochs().size()) {
      return;
    }
    int buckets = status.getHolders().size();
    synchronized (this) {
      if (status.isSetMembers() && status.isSetMembersVersion() && status.getMembersVersion() > membersVersion) {
        membersVersion = status.getMembersVersion();
        onMembers.accept(status.getMembers());
      }
      int n = pods.getAsInt();
      boolean fresh = holdings == null || holdings.length != buckets;
      long[] next = fresh ? new long[buckets] : holdings.clone();
      for (int b = 0; b < next.length; b++) {
        long epoch = status.getHolderEpochs().get(b);
        int holder = status.getHolders().get(b);
        if (holder >= 0 && holder < n && (fresh || epoch > (next[b] >>> 32))) {
          next[b] = (epoch << 32) | holder; // a fresh table takes epoch 0 (no record) from the pod too
        } else if (fresh) {
          next[b] = BucketHomes.home(b, n); // unknown here: a guess until a pod says
        }
      }
      holdings = next;
    }
  }
}
