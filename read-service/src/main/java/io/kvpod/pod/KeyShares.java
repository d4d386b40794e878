package io.kvpod.pod;

import io.kvpod.contract.KeyPartitioner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The scatter-gather of a request over many keys: its keys are split into shares (by bucket,
 * or by holder), each share runs on its own, in parallel, and the answers come back by share,
 * with the failure that matters most when some shares fail. The first share runs on the
 * calling thread, the others on a fan-out pool that grows with the load and whose threads
 * die after a minute idle.
 *
 * <p>Thread-safe. {@link #close} ends the pool; shares still running are interrupted.
 */
final class KeyShares implements Closeable {
  private final ExecutorService fanOut = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "owner-fan-out");
    t.setDaemon(true);
    return t;
  });

  /** The indexes of {@code keys}, by bucket ({@code murmur3(key) mod buckets}). */
  static List<List<Integer>> groupByBucket(byte[][] keys, int buckets) {
    List<List<Integer>> byBucket = new ArrayList<>(buckets);
    for (int i = 0; i < buckets; i++) {
      byBucket.add(new ArrayList<>());
    }
    for (int i = 0; i < keys.length; i++) {
      byBucket.get(KeyPartitioner.bucket(keys[i], buckets)).add(i);
    }
    return byBucket;
  }

  /** One share of a request (a bucket's keys, or a holder's): the indexes of its keys. */
  @FunctionalInterface
  interface Share {
    Object run(int share, List<Integer> idx) throws Exception;
  }

  /**
   * Runs {@code share} for every share (a bucket, or a holder) that has keys and returns the
   * results by share. The first runs on the calling thread, the others in parallel on the
   * fan-out pool. Waits for all, then throws the first failure.
   */
  Object[] eachShare(List<List<Integer>> byBucket, Share share)
      throws IOException, KvPodException, InterruptedException {
    int shares = 0;
    int inline = -1;
    for (int b = 0; b < byBucket.size(); b++) {
      if (!byBucket.get(b).isEmpty()) {
        shares++;
        inline = inline < 0 ? b : inline;
      }
    }
    Object[] results = new Object[byBucket.size()];
    List<Future<Object>> futures = new ArrayList<>();
    List<Integer> futureBuckets = new ArrayList<>();
    for (int b = 0; b < byBucket.size(); b++) {
      List<Integer> idx = byBucket.get(b);
      if (!idx.isEmpty() && b != inline) {
        int bucket = b;
        futures.add(fanOut.submit(() -> share.run(bucket, idx)));
        futureBuckets.add(b);
      }
    }
    Exception first = null;
    int refusedUnapplied = 0;
    if (inline >= 0) {
      try {
        results[inline] = share.run(inline, byBucket.get(inline));
      } catch (Exception e) {
        first = e;
        refusedUnapplied += refusedUnapplied(e) ? 1 : 0;
      }
    }
    for (int i = 0; i < futures.size(); i++) {
      try {
        results[futureBuckets.get(i)] = await(futures.get(i));
      } catch (IOException | KvPodException | RuntimeException e) {
        first = first == null || (retriable(e) && !retriable(first)) ? e : first;
        refusedUnapplied += refusedUnapplied(e) ? 1 : 0;
      }
    }
    if (first != null && refusedUnapplied(first) && refusedUnapplied < shares) {
      // BUSY and EXPIRED say "not stored", which holds for this share only
      KvPodException k = Errors.from(first);
      first = new PodUnavailable(ErrorCode.UNAVAILABLE, "part of the request was refused and not applied ("
          + k.getCode() + ": " + k.getMessage() + "); its other parts were applied, or may have been");
    }
    if (first instanceof InterruptedException ie) {
      throw ie;
    }
    if (first instanceof IOException io) {
      throw io;
    }
    if (first instanceof KvPodException k) {
      throw k;
    }
    if (first instanceof RuntimeException re) {
      throw re;
    }
    if (first != null) {
      throw new IOException(first);
    }
    return results;
  }

  /** A refusal that says its share was not applied and never will be. */
  private static boolean refusedUnapplied(Exception e) {
    if (e instanceof InterruptedException) {
      return false;
    }
    ErrorCode code = Errors.from(e).getCode();
    return code == ErrorCode.BUSY || code == ErrorCode.EXPIRED;
  }

  /**
   * Whether a share's failure leaves it perhaps applied: such an error is reported before a
   * definite refusal of another share, so that the caller waits for the write's deadline.
   */
  private static boolean retriable(Exception e) {
    return !(e instanceof InterruptedException) && Errors.from(e).isRetriable();
  }

  private static <T> T await(Future<T> f) throws IOException, KvPodException, InterruptedException {
    try {
      return f.get();
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof KvPodException k) {
        throw k;
      }
      if (c instanceof InterruptedException ie) {
        throw new InterruptedIOException(ie.getMessage());
      }
      if (c instanceof IOException io) {
        throw io;
      }
      if (c instanceof RuntimeException re) {
        throw re;
      }
      throw new IOException(c);
    }
  }

  /** The elements of {@code all} at {@code idx}, in that order. */
  static byte[][] pick(byte[][] all, List<Integer> idx) {
    byte[][] out = new byte[idx.size()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = all[idx.get(i)];
    }
    return out;
  }

  @Override
  public void close() {
    fanOut.shutdownNow();
  }
}
