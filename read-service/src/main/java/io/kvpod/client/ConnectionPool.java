package io.kvpod.client;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.thrift.transport.TTransportException;

/**
 * Idle connections to each pod, reused across calls. A connection that failed is closed,
 * never returned. At most {@code maxIdle} idle connections are kept per pod; more may be
 * open while busy. Thread-safe.
 */
final class ConnectionPool implements AutoCloseable {
  private final List<InetSocketAddress> pods;
  private final ConcurrentLinkedDeque<PodConnection>[] idle;
  private final AtomicInteger[] idleCount;
  private final int maxIdle;
  private final int connectTimeoutMs;
  private final int callTimeoutMs;
  private volatile boolean closed;

  @SuppressWarnings("unchecked")
  ConnectionPool(List<InetSocketAddress> pods, int maxIdle, int connectTimeoutMs, int callTimeoutMs) {
    this.pods = List.copyOf(pods);
    this.maxIdle = maxIdle;
    this.connectTimeoutMs = connectTimeoutMs;
    this.callTimeoutMs = callTimeoutMs;
    this.idle = new ConcurrentLinkedDeque[pods.size()];
    this.idleCount = new AtomicInteger[pods.size()];
    for (int i = 0; i < idle.length; i++) {
      idle[i] = new ConcurrentLinkedDeque<>();
      idleCount[i] = new AtomicInteger();
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
      return c;
    }
    return new PodConnection(pod, pods.get(pod), connectTimeoutMs, callTimeoutMs);
  }

  /** Returns a healthy connection for reuse. */
  void giveBack(PodConnection c) {
    if (!closed && idleCount[c.pod].incrementAndGet() <= maxIdle) {
      idle[c.pod].offerFirst(c);
    } else {
      idleCount[c.pod].decrementAndGet();
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
