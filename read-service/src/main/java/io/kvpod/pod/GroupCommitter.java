package io.kvpod.pod;

import io.kvpod.thrift.ErrorCode;
import io.kvpod.wal.WalFormat;
import io.kvpod.wal.WriteAheadLog;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread that writes the WAL. Callers hand it writes and wait; it takes every write
 * waiting in the queue, appends one entry per write, makes them all durable with a single
 * sync (group commit), applies them to the active memtable in sequence order, and only then
 * releases the callers. Freezing the memtable goes through the same thread, between
 * entries, so a frozen memtable holds exactly the entries up to a known sequence number.
 *
 * <p>Versions: every entry gets {@code max(now in ms, previous version)}, so versions never
 * go backwards on this pod even if its clock does; equal versions are ordered by sequence
 * number, and the memtable keeps the later one.
 *
 * <p>Deadlines: a write whose deadline (wall clock, ms) has passed when its group is about
 * to be appended is refused with {@code EXPIRED} and never logged. So a write is logged
 * before its deadline or not at all, and a write its caller sends after that deadline is
 * logged after it, with a higher version: a late or retried write can never overtake a
 * newer one of the same key (see {@code docs/failover.md}).
 *
 * <p>If the WAL fails, every waiting and later write fails with a retriable
 * {@code UNAVAILABLE}; the pod refuses writes until it restarts. Thread-safe.
 */
final class GroupCommitter implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(GroupCommitter.class);

  /** Where a write landed. */
  record Committed(long seq, long version) {}

  private static final class Pending {
    final byte[][] keys;
    final byte[][] values;
    final byte[] body;
    final long deadlineMillis;
    final CompletableFuture<Object> done = new CompletableFuture<>();

    Pending(byte[][] keys, byte[][] values, byte[] body, long deadlineMillis) {
      this.keys = keys;
      this.values = values;
      this.body = body;
      this.deadlineMillis = deadlineMillis;
    }

    boolean isFreeze() {
      return keys == null;
    }
  }

  private final WriteAheadLog wal;
  private final PodMetrics metrics;
  private final MemTables mem;
  private final long rollBytes;
  private final long maxGroupBytes;
  private final long maxMemBytes;
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final Thread thread;
  private volatile boolean running = true;
  private long lastVersion;
  private long syncs;
  private long entries;
  private final java.util.concurrent.atomic.AtomicLong expired = new java.util.concurrent.atomic.AtomicLong();

  GroupCommitter(WriteAheadLog wal, MemTables mem, long lastVersion, long rollBytes, long maxGroupBytes,
                 long maxMemBytes, PodMetrics metrics) {
    this.metrics = metrics;
    this.wal = wal;
    this.mem = mem;
    this.lastVersion = lastVersion;
    this.rollBytes = rollBytes;
    this.maxGroupBytes = maxGroupBytes;
    this.maxMemBytes = maxMemBytes;
    this.thread = new Thread(this::run, "wal-group-commit");
    this.thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /**
   * Logs and applies one write of records (keys and values pair up by index) unless its
   * deadline ({@code deadlineMillis}, wall clock) passes first; returns once it is durable
   * and visible to reads. Throws {@link PodUnavailable}: {@code EXPIRED} if the deadline
   * passed before it was logged (it never will be), {@code UNAVAILABLE} when memory is full
   * or the pod is stopping, {@code TIMEOUT} when it was not durable within
   * {@code timeoutMillis} (it may still be); another IOException when the WAL failed.
   */
  Committed write(byte[][] keys, byte[][] values, long deadlineMillis, long timeoutMillis)
      throws IOException, InterruptedException {
    awaitMemory(timeoutMillis);
    WalFormat.BodyBuilder b = new WalFormat.BodyBuilder();
    for (int i = 0; i < keys.length; i++) {
      b.add(keys[i], values[i]);
    }
    Pending p = new Pending(keys, values, b.build(), deadlineMillis);
    return (Committed) submit(p, timeoutMillis);
  }

  /** Freezes the active memtable between two WAL entries and rolls the WAL segment. */
  MemTables.Frozen freeze(long timeoutMillis) throws IOException, InterruptedException {
    return (MemTables.Frozen) submit(new Pending(null, null, null, Long.MAX_VALUE), timeoutMillis);
  }

  /** Writes refused so far because their deadline had passed. */
  long expiredWrites() {
    return expired.get();
  }

  private Object submit(Pending p, long timeoutMillis) throws IOException, InterruptedException {
    if (!running) {
      throw new PodUnavailable(ErrorCode.UNAVAILABLE, "the pod is shutting down");
    }
    queue.add(p);
    try {
      return p.done.get(timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new PodUnavailable(ErrorCode.TIMEOUT, "the write was not durable within " + timeoutMillis
          + " ms; it may still be applied (never after its deadline), and retrying it is safe");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw new IOException(e.getCause());
    }
  }

  private void awaitMemory(long timeoutMillis) throws InterruptedException, PodUnavailable {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    while (mem.bytes() > maxMemBytes) {
      if (System.currentTimeMillis() > deadline) {
        throw new PodUnavailable(ErrorCode.UNAVAILABLE, "memtables hold " + mem.bytes()
            + " bytes, over the limit of " + maxMemBytes + "; flushes are behind, retry shortly");
      }
      Thread.sleep(5);
    }
  }

  private void run() {
    List<Pending> group = new ArrayList<>();
    while (running || !queue.isEmpty()) {
      try {
        Pending first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        group.clear();
        group.add(first);
        long bytes = first.isFreeze() ? 0 : first.body.length;
        while (bytes < maxGroupBytes && !first.isFreeze()) {
          Pending next = queue.peek();
          if (next == null || next.isFreeze()) {
            break;
          }
          group.add(queue.poll());
          bytes += next.body.length;
        }
        if (first.isFreeze()) {
          freezeNow(first);
        } else {
          commit(group);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    failAll(new PodUnavailable(ErrorCode.UNAVAILABLE, "the pod is shutting down"));
  }

  private void commit(List<Pending> group) {
    long now = System.currentTimeMillis();
    group.removeIf(p -> {
      if (now <= p.deadlineMillis) {
        return false;
      }
      expired.incrementAndGet();
      p.done.completeExceptionally(new PodUnavailable(ErrorCode.EXPIRED, "the write's deadline passed "
          + (now - p.deadlineMillis) + " ms before its holder could log it: it was not applied, and never will be"));
      return true;
    });
    if (group.isEmpty()) {
      return;
    }
    long version = Math.max(now, lastVersion);
    lastVersion = version;
    long[] seqs = new long[group.size()];
    long started = System.nanoTime();
    long bytes = 0;
    try {
      for (int i = 0; i < group.size(); i++) {
        seqs[i] = wal.append(version, group.get(i).body);
        bytes += group.get(i).body.length;
      }
      wal.sync();
      metrics.walSync().record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
      metrics.walAppended(bytes);
      syncs++;
      entries += group.size();
    } catch (IOException e) {
      group.forEach(p -> p.done.completeExceptionally(e));
      return;
    }
    MemTable active = mem.active();
    for (int i = 0; i < group.size(); i++) {
      Pending p = group.get(i);
      for (int r = 0; r < p.keys.length; r++) {
        active.put(p.keys[r], version, p.values[r], seqs[i]);
      }
      p.done.complete(new Committed(seqs[i], version));
    }
    if (wal.activeBytes() >= rollBytes) {
      try {
        wal.roll();
      } catch (IOException e) {
        LOG.error("cannot roll the WAL segment", e); // the log is now failed; later writes say so
      }
    }
  }

  private void freezeNow(Pending p) {
    try {
      long through = wal.roll();
      p.done.complete(mem.freeze(through));
    } catch (IOException e) {
      p.done.completeExceptionally(e);
    }
  }

  private void failAll(IOException e) {
    Pending p;
    while ((p = queue.poll()) != null) {
      p.done.completeExceptionally(e);
    }
  }

  /** Entries written per sync, so far (group commit at work when above 1). */
  double entriesPerSync() {
    return syncs == 0 ? 0 : (double) entries / syncs;
  }

  /** Stops taking writes, finishes those queued, and stops the thread. */
  @Override
  public void close() {
    running = false;
    try {
      thread.join(30_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
