package io.kvpod.pod;

import io.kvpod.client.ScatterGather;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A pod's scatter-gather of a request over many keys: its keys are split into shares (by
 * bucket, or by holder), the shares run in parallel on {@link ScatterGather} (the one the Java
 * client uses), and the answers come back by share, with the failure that matters most when
 * some shares fail. At most {@link #MAX_THREADS} threads; past that a share runs on the
 * request's own thread.
 *
 * <p>Thread-safe. {@link #close} ends the pool; shares still running are interrupted.
 */
final class KeyShares implements Closeable {
  /** The most fan-out threads a pod runs shares on (a multiGet splits into up to a share per bucket). */
  static final int MAX_THREADS = 256;
  private final ScatterGather gather = new ScatterGather("owner-fan-out", MAX_THREADS);

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
    List<Integer> ids = new ArrayList<>();
    for (int b = 0; b < byBucket.size(); b++) {
      if (!byBucket.get(b).isEmpty()) {
        ids.add(b);
      }
    }
    ScatterGather.Outcome<Object> got = gather.run(ids, id -> share.run(id, byBucket.get(id)));
    Object[] results = new Object[byBucket.size()];
    for (int i = 0; i < ids.size(); i++) {
      results[ids.get(i)] = got.results().get(i);
    }
    if (!got.failed()) {
      return results;
    }
    Exception first = null;
    int refusedUnapplied = 0;
    for (Exception e : got.failures()) {
      // a share interrupted on the pool (the pod stopping) failed as an I/O would
      Exception x = e instanceof InterruptedException ie ? new InterruptedIOException(ie.getMessage()) : e;
      first = first == null || (retriable(x) && !retriable(first)) ? x : first;
      refusedUnapplied += refusedUnapplied(x) ? 1 : 0;
    }
    if (refusedUnapplied(first) && refusedUnapplied < ids.size()) {
      // BUSY and EXPIRED say "not stored", which holds for this share only
      KvPodException k = Errors.from(first);
      first = new PodUnavailable(ErrorCode.UNAVAILABLE, "part of the request was refused and not applied ("
          + k.getCode() + ": " + k.getMessage() + "); its other parts were applied, or may have been");
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
    throw new IOException(first);
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
    gather.close();
  }
}
