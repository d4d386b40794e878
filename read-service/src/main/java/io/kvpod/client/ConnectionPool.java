package io.kvpod.client;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.thrift.transport.TTransportException;

/**
 * Idle connections to each pod, reused across calls. A connection that failed is closed
 * ({@link #discard}), never returned. At most {@code maxIdle} idle connections are kept per
 * pod; more may be open while busy. {@link #abort} closes every connection to a pod, busy
 * ones included, so that calls blocked on a pod that stopped answering fail at once.
 * Thread-safe.
 */
final class ConnectionPool implements AutoCloseable {
  private final List<InetSocketAddress> pods;
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
    this.pods = List.copyOf(pods);
    this.tls = tls;
    this.maxIdle = maxIdle;
    this.connectTimeoutMs = connectTimeoutMs;
    this.callTimeoutMs = callTimeoutMs;
    this.idle = new ConcurrentLinkedDeque[pods.size()];
    this.idleCount = new AtomicInteger[pods.size()];
    this.busy = new Set[pods.size()];
    for (int i = 0; i < idle.length; i++) {
      idle[i] = new ConcurrentLinkedDeque<>();
      idleCount[i] = new AtomicInteger();
      busy[i] = ConcurrentHashMap.newKeySet();
    }
  }

  int size() {
    return pods.size();
  }

  InetSocketAddress address(int pod) {
    return pods.get(pod);
  }

  PodConnection borrow(int pod) throws TTransportException {
    if (closed) {
      throw new TTransportException(TTransportException.NOT_OPEN, "client is closed");
    }
    PodConnection c = idle[pod].pollFirst();
    if (c != null) {
      idleCount[pod].decrementAndGet();
      c.reused = true;
    } else {
      c = new PodConnection(pod, pods.get(pod), connectTimeoutMs, callTimeoutMs, tls);
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
    evict(pod);
    for (PodConnection c : busy[pod]) {
      c.aborted = true;
      c.close();
    }
  }

  /** Drops the pod's idle connections, e.g. after it failed (they are likely dead too). */
  void evict(int pod) {
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
