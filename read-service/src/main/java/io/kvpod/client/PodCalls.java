package io.kvpod.client;

import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPod;
import io.kvpod.thrift.KvPodException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import java.util.function.IntPredicate;
import org.apache.thrift.TException;
import org.apache.thrift.transport.TTransportException;

/**
 * How {@link KvPodClient} calls pods: one attempt on one pod ({@link #attempt}), the retry
 * loop over pods ({@link #call}; {@link #writeCall} for writes, one copy at a time), and
 * hedged gets ({@link #hedged}).
 *
 * <p>Retries are decided by the exception: a transport failure comes back as a retriable
 * {@code UNAVAILABLE} and moves on to the next pod; a {@code KvPodException} not marked
 * retriable is thrown at once. A call waits ({@link Backoff}) only when it comes back round
 * to a pod it already tried, and stops at {@code maxAttempts} attempts or its deadline,
 * whichever comes first. The class comment of {@link KvPodClient} says why a write never has
 * two copies in flight.
 *
 * <p>Thread-safe. Owned by one client, which owns the pool and closes this with it.
 */
final class PodCalls {
  /** A call of one pod's Thrift client. */
  @FunctionalInterface
  interface PodCall<T> {
    T call(KvPod.Client c) throws TException;
  }

  private final ConnectionPool pool;
  private final PodHealth health;
  private final SilentPods silent;
  /** False for a pod that must not be called (with ZooKeeper: not registered). */
  private final IntPredicate registered;
  /** Told of a bucket holder's pod that failed a call sent first to it: the holder may have moved. */
  private final IntConsumer relearn;
  private final int callTimeoutMs;
  private final long deadlineMs;
  private final int maxAttempts;
  private final Backoff backoff;
  private final long maxClockSkewMs;
  private final long hedgeAfterMs;
  /** Null unless gets are hedged. */
  private final ExecutorService hedgePool;
  private final AtomicInteger hedges = new AtomicInteger();

  /** The settings are the builder's ({@link KvPodClient.Builder}); {@code hedgeAfterMs <= 0}: no hedging. */
  PodCalls(ConnectionPool pool, PodHealth health, SilentPods silent, IntPredicate registered, IntConsumer relearn,
           int callTimeoutMs, long deadlineMs, int maxAttempts, Backoff backoff, long maxClockSkewMs,
           long hedgeAfterMs) {
    this.pool = pool;
    this.health = health;
    this.silent = silent;
    this.registered = registered;
    this.relearn = relearn;
    this.callTimeoutMs = callTimeoutMs;
    this.deadlineMs = deadlineMs;
    this.maxAttempts = maxAttempts;
    this.backoff = backoff;
    this.maxClockSkewMs = maxClockSkewMs;
    this.hedgeAfterMs = hedgeAfterMs;
    this.hedgePool = hedgeAfterMs > 0 ? Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "kvpod-client-hedge");
      t.setDaemon(true);
      return t;
    }) : null;
  }

  /** Whether gets are hedged. */
  boolean hedging() {
    return hedgePool != null;
  }

  /** How many gets were hedged so far. */
  int hedgedCalls() {
    return hedges.get();
  }

  /** What a call run on another thread failed with: its KvPodException, or INTERNAL for anything else. */
  static KvPodException failure(Throwable cause) {
    return cause instanceof KvPodException k ? k : error(ErrorCode.INTERNAL, String.valueOf(cause), false);
  }

  static KvPodException error(ErrorCode code, String msg, boolean retriable) {
    KvPodException e = new KvPodException(code, msg);
    e.setRetriable(retriable);
    return e;
  }

  /**
   * One attempt on one pod; transport failures come back as retriable UNAVAILABLE. A pooled
   * connection that fails is replaced once by a new one within the same attempt: after a
   * pod restarts, every idle connection to it is dead, and that is no reason to fail a call.
   */
  <T> T attempt(int pod, PodCall<T> op, int timeoutMs) throws KvPodException {
    return attempt(pod, op, timeoutMs, new KvPodClient.Delivery());
  }

  /** {@link #attempt(int, PodCall, int)}, noting in {@code delivery} whether the request may have left and was answered. */
  <T> T attempt(int pod, PodCall<T> op, int timeoutMs, KvPodClient.Delivery delivery) throws KvPodException {
    if (!registered.test(pod)) {
      throw error(ErrorCode.UNAVAILABLE, "pod " + pod + " is not registered in ZooKeeper (it stopped, or its session "
          + "ended): not called", true);
    }
    for (int round = 0; ; round++) {
      PodConnection c;
      try {
        c = pool.borrow(pod);
      } catch (TTransportException e) {
        pool.evict(pod);
        throw error(ErrorCode.UNAVAILABLE, "pod " + pod + " (" + pool.address(pod) + ") unreachable: "
            + e.getMessage(), true);
      }
      boolean answered = false;
      silent.began(pod);
      try {
        c.setTimeout(Math.max(1, timeoutMs));
        delivery.markSent();
        T r = op.call(c.client);
        answered = true;
        delivery.markAnswered();
        pool.giveBack(c);
        return r;
      } catch (KvPodException e) {
        answered = true;
        delivery.markAnswered();
        pool.giveBack(c); // the pod answered; the connection is fine
        throw e;
      } catch (TTransportException e) {
        pool.discard(c);
        if (c.aborted) {
          throw givenUp(pod);
        }
        pool.evict(pod);
        if (c.reused && round == 0 && e.getType() != TTransportException.TIMED_OUT) {
          continue; // an idle connection to a pod that restarted: the request reached no live process
        }
        throw error(ErrorCode.UNAVAILABLE, "pod " + pod + " (" + pool.address(pod) + ") failed: "
            + e.getMessage(), true);
      } catch (TException e) {
        pool.discard(c);
        throw error(ErrorCode.INTERNAL, "pod " + pod + " answered with a protocol error: " + e, false);
      } catch (RuntimeException e) {
        if (!c.aborted) {
          throw e;
        }
        pool.discard(c); // abort() closed it between the borrow and the call (libthrift then throws an NPE)
        throw givenUp(pod);
      } finally {
        silent.ended(pod, answered);
      }
    }
  }

  private KvPodException givenUp(int pod) {
    return error(ErrorCode.UNAVAILABLE, "the call to pod " + pod + " (" + pool.address(pod)
        + ") was given up: the pod stopped answering", true);
  }

  /**
   * Tries pods in order from {@code firstPod}, skipping pods that recently failed to answer
   * (unless every pod has); moves to the next pod at once after a retriable failure, and
   * waits {@link Backoff} only when a call comes back round to a pod it already tried.
   */
  <T> T call(String what, int firstPod, PodCall<T> op) throws KvPodException {
    return call(what, firstPod, System.currentTimeMillis() + deadlineMs, op);
  }

  <T> T call(String what, int firstPod, long deadline, PodCall<T> op) throws KvPodException {
    return retrying(what, "", firstPod, deadline,
        (pod, now) -> attempt(pod, op, (int) Math.min(callTimeoutMs, deadline - now)));
  }

  /** One attempt on {@code pod}, made at {@code now} (wall ms). */
  @FunctionalInterface
  private interface Attempt<T> {
    T run(int pod, long now) throws KvPodException;
  }

  /**
   * The retry loop of {@link #call} and {@link #writeCall}: tries pods in order from
   * {@code firstPod}, skipping pods that recently failed, until an attempt succeeds, one
   * fails for good, {@code maxAttempts} are spent, or {@code deadline} passes.
   */
  private <T> T retrying(String what, String outcome, int firstPod, long deadline, Attempt<T> attempt)
      throws KvPodException {
    KvPodException last = null;
    int n = pool.size();
    int next = firstPod;
    int rounds = 0;
    boolean[] tried = untried(n);
    for (int i = 0; i < maxAttempts; i++) {
      int pod = health.pick(next, tried);
      if (tried[pod]) {
        tried = untried(n);
        if (!sleep(backoff.delayMillis(rounds++), deadline)) {
          break;
        }
        pod = health.pick(next, tried);
        if (tried[pod]) { // no pod can be called now (none registered): wait, within the deadline
          last = error(ErrorCode.UNAVAILABLE, "no pod of the table is registered in ZooKeeper", true);
          continue;
        }
      }
      long now = System.currentTimeMillis();
      if (deadline <= now) {
        break;
      }
      tried[pod] = true;
      try {
        T r = attempt.run(pod, now);
        health.succeeded(pod);
        return r;
      } catch (KvPodException e) {
        if (!e.isRetriable()) {
          throw e;
        }
        health.failed(pod);
        if (pod == firstPod) {
          relearn.accept(pod); // the holder may have moved
        }
        last = e;
      }
      next = (pod + 1) % n;
    }
    throw error(ErrorCode.UNAVAILABLE, what + " failed on every pod tried (within its deadline, at most "
        + maxAttempts + " attempts)" + outcome + "; last error: " + (last == null ? "deadline passed"
        : last.getMessage()), true);
  }

  /**
   * None of the {@code n} ids tried yet, except those with no pod (it left), and, with
   * ZooKeeper, those with no registration (dead or stopped), which count as tried.
   */
  private boolean[] untried(int n) {
    boolean[] tried = new boolean[n];
    for (int p = 0; p < n; p++) {
      tried[p] = pool.address(p) == null || !registered.test(p);
    }
    return tried;
  }

  /** One attempt of a write, given the deadline of this attempt's copy. */
  @FunctionalInterface
  interface WriteOp {
    Boolean call(KvPod.Client c, long copyDeadlineMillis) throws TException;
  }

  /**
   * {@link #call} for a write: each attempt sends a copy with its own deadline, and no
   * attempt starts while an earlier copy may still take effect (see the class comment). A
   * copy that timed out is past its deadline when the timeout fires; one that failed
   * otherwise without an answer is waited out. A copy refused as {@code EXPIRED} before the
   * write's own deadline is settled (never applied), so another attempt follows. Throws once
   * every copy is settled.
   */
  boolean writeCall(String what, int firstPod, long deadline, WriteOp op) throws KvPodException {
    return retrying(what, "; it did not take effect, or took effect before this error", firstPod,
        deadline - maxClockSkewMs, (pod, now) -> {
          long copyDeadline = Math.min(deadline - maxClockSkewMs, now + Math.max(1, callTimeoutMs - maxClockSkewMs));
          KvPodClient.Delivery d = new KvPodClient.Delivery();
          try {
            return attempt(pod, c -> op.call(c, copyDeadline), (int) (copyDeadline + maxClockSkewMs - now), d);
          } catch (KvPodException e) {
            if (e.getCode() == ErrorCode.EXPIRED && copyDeadline < deadline - maxClockSkewMs) {
              // Only this copy's own, shorter deadline passed: it was not applied and never
              // will be, and the write's deadline leaves time for another copy.
              throw error(ErrorCode.EXPIRED, "this attempt's copy expired at pod " + pod + " (not applied): "
                  + e.getMessage(), true);
            }
            if (e.isRetriable() && d.uncertain()) {
              waitUntil(copyDeadline + maxClockSkewMs, e); // that copy may still take effect until then
            }
            throw e;
          }
        });
  }

  private static void waitUntil(long wallMillis, KvPodException cause) throws KvPodException {
    long ms = wallMillis - System.currentTimeMillis();
    if (ms <= 0) {
      return;
    }
    try {
      Thread.sleep(ms);
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw error(ErrorCode.UNAVAILABLE, "interrupted while waiting out a write that may still take effect until "
          + wallMillis + ": " + cause.getMessage(), true);
    }
  }

  /** Sleeps up to the deadline; false if the deadline has passed. */
  private static boolean sleep(long millis, long deadline) throws KvPodException {
    long ms = Math.min(millis, deadline - System.currentTimeMillis());
    if (ms < 0) {
      return false;
    }
    try {
      Thread.sleep(ms);
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw error(ErrorCode.UNAVAILABLE, "call interrupted", true);
    }
    return System.currentTimeMillis() < deadline;
  }

  <T> T hedged(int owner, PodCall<T> op) throws KvPodException {
    CompletableFuture<T> primary = async(owner, op);
    try {
      return primary.get(hedgeAfterMs, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      hedges.incrementAndGet();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw error(ErrorCode.UNAVAILABLE, "get interrupted", true);
    } catch (ExecutionException e) {
      throw failure(e.getCause());
    }
    CompletableFuture<T> hedge = async((owner + 1) % pool.size(), op);
    CompletableFuture<T> first = new CompletableFuture<>();
    AtomicInteger failed = new AtomicInteger();
    for (CompletableFuture<T> f : List.of(primary, hedge)) {
      f.whenComplete((v, err) -> {
        if (err == null) {
          first.complete(v);
        } else if (failed.incrementAndGet() == 2) {
          first.completeExceptionally(err);
        }
      });
    }
    try {
      return first.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw error(ErrorCode.UNAVAILABLE, "get interrupted", true);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() instanceof CompletionException ce ? ce.getCause() : e.getCause();
      throw failure(cause);
    }
  }

  private <T> CompletableFuture<T> async(int pod, PodCall<T> op) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return call("get", pod, op);
      } catch (KvPodException e) {
        throw new CompletionException(e);
      }
    }, hedgePool);
  }

  void close() {
    if (hedgePool != null) {
      hedgePool.shutdownNow();
    }
  }
}
