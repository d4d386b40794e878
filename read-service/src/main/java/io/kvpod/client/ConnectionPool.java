package io.kvpod.client;

import io.kvpod.contract.Membership;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.apache.thrift.transport.TTransportException;

/**
 * Idle connections to each pod, reused across calls. A connection that failed is closed
 * ({@link #discard}), never returned. At most {@code maxIdle} idle connections are kept per
 * pod; more may be open while busy. {@link #abort} closes every connection to a pod, busy
 * ones included, so that calls blocked on a pod that stopped answering fail at once.
 * Thread-safe.
 */
final class ConnectionPool implements AutoCloseable {
  /** By pod id; null where there is no pod. Ids are below {@link Membership#MAX_PODS}. */
  private final AtomicReferenceArray<InetSocketAddress> pods = new AtomicReferenceArray<>(Membership.MAX_PODS);
  /** One more than the highest id with an address. */
  private volatile int size;
  private final ConcurrentLinkedDeque<PodConnection>[] idle;
  private final AtomicInteger[] idleCount;
  private final Set<PodConnection>[] busy;
  private final int maxIdle;
  private final int connectTimeoutMs;
  private final int callTimeoutMs;
  /** How connections are made secure, or null for plain TCP. */
  private final TlsConfig tls;
  private volatile boolean closed;

  @SuppressWarnings("unchecked")
  ConnectionPool(List<InetSocketAddress> pods, int maxIdle, int connectTimeoutMs, int callTimeoutMs, TlsConfig tls) {
    this.tls = tls;
    this.maxIdle = maxIdle;
    this.connectTimeoutMs = connectTimeoutMs;
    this.callTimeoutMs = callTimeoutMs;
    this.idle = new ConcurrentLinkedDeque[Membership.MAX_PODS];
    this.idleCount = new AtomicInteger[Membership.MAX_PODS];
    this.busy = new Set[Membership.MAX_PODS];
    addresses(pods);
  }

  /**
   * The pods are now {@code byId} (null where there is none). Connections to a pod whose
   * address changed, or that is gone, are closed.
   */
  synchronized void addresses(List<InetSocketAddress> byId) {
    if (byId.size() > Membership.MAX_PODS) {
      throw new IllegalArgumentException(byId.size() + " pod ids; at most " + Membership.MAX_PODS);
    }
    for (int i = 0; i < Math.max(byId.size(), size); i++) {
      InetSocketAddress next = i < byId.size() ? byId.get(i) : null;
      InetSocketAddress before = pods.getAndSet(i, next);
      if (next != null && idle[i] == null) {
        idle[i] = new ConcurrentLinkedDeque<>();
        idleCount[i] = new AtomicInteger();
        busy[i] = ConcurrentHashMap.newKeySet();
      }
      if (before != null && !before.equals(next)) {
        abort(i);
      }
    }
    size = byId.size();
  }

  /** One more than the highest pod id. */
  int size() {
    return size;
  }

  /** The address of pod {@code pod}, or null if there is no such pod. */
  InetSocketAddress address(int pod) {
    return pod >= 0 && pod < Membership.MAX_PODS ? pods.get(pod) : null;
  }

  PodConnection borrow(int pod) throws TTransportException {
    if (closed) {
      throw new TTransportException(TTransportException.NOT_OPEN, "client is closed");
    }
    InetSocketAddress at = address(pod);
    if (at == null) {
      throw new TTransportException(TTransportException.NOT_OPEN, "there is no pod " + pod + " (pods: 0.."
          + (size - 1) + ", some may have left)");
    }
    PodConnection c = idle[pod].pollFirst();
    if (c != null) {
      idleCount[pod].decrementAndGet();
      c.reused = true;
    } else {
      c = new PodConnection(pod, at, connectTimeoutMs, callTimeoutMs, tls);
    }
    busy[pod].add(c);
    return c;
  }

  /** Returns a healthy connection for reuse. */
  void giveBack(PodConnection c) {
    busy[c.pod].remove(c);
    if (!closed && !c.aborted && idleCount[c.pod].incrementAndGet() <= maxIdle) {
      idle[c.pod].offerFirst(c);
    } else {
      if (!c.aborted) {
        idleCount[c.pod].decrementAndGet();
      }
      c.close();
    }
  }

  /** Closes a connection that failed; it is not reused. */
  void discard(PodConnection c) {
    busy[c.pod].remove(c);
    c.close();
  }

  /**
   * Closes every connection to {@code pod}, idle and busy: calls in progress on it fail at
   * once (their callers see {@link PodConnection#aborted}). New calls open new connections.
   */
  void abort(int pod) {
    if (busy[pod] == null) {
      return;
    }
    evict(pod);
    for (PodConnection c : busy[pod]) {
      c.aborted = true;
      c.close();
    }
  }

  /** Drops the pod's idle connections, e.g. after it failed (they are likely dead too). */
  void evict(int pod) {
    if (idle[pod] == null) {
      return;
    }
    PodConnection c;
    while ((c = idle[pod].pollFirst()) != null) {
      idleCount[pod].decrementAndGet();
      c.close();
    }
  }

  @Override
  public void close() {
    closed = true;
    for (int i = 0; i < idle.length; i++) {
      evict(i);
    }
  }
}
