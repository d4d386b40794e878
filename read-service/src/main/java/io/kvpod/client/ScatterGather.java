package io.kvpod.client;

import java.io.Closeable;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The scatter-gather of a request over many keys, shared by the Java client (its keys split
 * by holder) and the pods (split by bucket, or by holder): each share runs on its own, in
 * parallel, and the results come back by share, with every share's failure, for the caller
 * to decide which one matters.
 *
 * <p>The first share runs on the calling thread, the others on a pool of at most
 * {@code maxThreads} threads that die after a minute idle. When every thread is busy, a share
 * runs on the calling thread instead of queueing, so a share never waits for another request's
 * and the threads stay bounded.
 *
 * <p>Thread-safe. {@link #close} ends the pool; shares still running are interrupted.
 */
public final class ScatterGather implements Closeable {
  private final ThreadPoolExecutor pool;

  /** A pool of at most {@code maxThreads} threads named {@code threadName}. */
  public ScatterGather(String threadName, int maxThreads) {
    this.pool = new ThreadPoolExecutor(0, maxThreads, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
      Thread t = new Thread(r, threadName);
      t.setDaemon(true);
      return t;
    }, new ThreadPoolExecutor.CallerRunsPolicy());
  }

  /** One share of a request: share {@code id}'s part of it. */
  @FunctionalInterface
  public interface Share<R> {
    R run(int id) throws Exception;
  }

  /**
   * What the shares gave: {@code results[i]} is share {@code ids[i]}'s result (null if it
   * failed), and {@code failures} every failure, the calling thread's share's first.
   */
  public record Outcome<R>(List<R> results, List<Exception> failures) {
    /** Whether any share failed. */
    public boolean failed() {
      return !failures.isEmpty();
    }
  }

  /**
   * Runs {@code share} for each of {@code ids}: the first on the calling thread, the others in
   * parallel. Waits for all of them, whatever fails. An interrupt while waiting interrupts the
   * shares still running and is thrown.
   */
  public <R> Outcome<R> run(List<Integer> ids, Share<R> share) throws InterruptedException {
    List<Future<R>> futures = new ArrayList<>(ids.size());
    for (int i = 1; i < ids.size(); i++) {
      int id = ids.get(i);
      futures.add(pool.submit(() -> share.run(id)));
    }
    List<R> results = new ArrayList<>(ids.size());
    List<Exception> failures = new ArrayList<>();
    if (!ids.isEmpty()) {
      try {
        results.add(share.run(ids.get(0)));
      } catch (InterruptedException e) {
        futures.forEach(f -> f.cancel(true));
        throw e;
      } catch (Exception e) {
        results.add(null);
        failures.add(e);
      }
    }
    for (int i = 0; i < futures.size(); i++) {
      try {
        results.add(futures.get(i).get());
      } catch (InterruptedException e) {
        futures.forEach(f -> f.cancel(true));
        throw e;
      } catch (ExecutionException e) {
        if (e.getCause() instanceof Error err) {
          throw err;
        }
        results.add(null);
        failures.add((Exception) e.getCause());
      }
    }
    return new Outcome<>(results, failures);
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }
}
