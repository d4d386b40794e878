package io.kvpod.pod;

import java.net.InetAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds a pod's open client connections: at most {@code kvpod.server.max.connections} in
 * all, and at most {@code kvpod.server.max.connections.per.address} from one address. A
 * connection over either bound is closed as soon as it is accepted, before a byte of it is
 * read; the client sees the connection close (a retriable failure), and the connections
 * already open are untouched. So one client, or a crowd of idle sockets, cannot use up the
 * pod's file descriptors or its selector.
 *
 * <p>The accepting thread calls {@link #admit}; whoever closes an admitted connection calls
 * {@link #release} once. Refusals are logged at most every 10 s, with a count. Thread-safe.
 */
final class ConnectionLimits {
  private static final Logger LOG = LoggerFactory.getLogger(ConnectionLimits.class);
  private static final long LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

  private final int max;
  private final int maxPerAddress;
  private final AtomicInteger open = new AtomicInteger();
  private final Map<InetAddress, AtomicInteger> byAddress = new ConcurrentHashMap<>();
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong lastLogNanos = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);

  ConnectionLimits(int max, int maxPerAddress) {
    this.max = max;
    this.maxPerAddress = maxPerAddress;
  }

  /**
   * Counts a connection just accepted from {@code from} and returns true, or returns false
   * (counting nothing) if it would pass a bound: close it then.
   */
  boolean admit(InetAddress from) {
    AtomicInteger mine = byAddress.computeIfAbsent(from, a -> new AtomicInteger());
    int all = open.incrementAndGet();
    int fromThere = mine.incrementAndGet();
    if (all <= max && fromThere <= maxPerAddress) {
      return true;
    }
    release(from);
    long n = refused.incrementAndGet();
    long now = System.nanoTime();
    long last = lastLogNanos.get();
    if (now - last >= LOG_EVERY_NANOS && lastLogNanos.compareAndSet(last, now)) {
      LOG.warn("refused a connection from {}: {} open from there (kvpod.server.max.connections.per.address={}), "
          + "{} in all (kvpod.server.max.connections={}); {} refused since start", from, fromThere - 1,
          maxPerAddress, all - 1, max, n);
    }
    return false;
  }

  /** Uncounts a connection from {@code from} that {@link #admit} counted. */
  void release(InetAddress from) {
    open.decrementAndGet();
    AtomicInteger mine = byAddress.get(from);
    if (mine != null) {
      mine.decrementAndGet();
    }
  }

  int open() {
    return open.get();
  }

  long refused() {
    return refused.get();
  }
}
