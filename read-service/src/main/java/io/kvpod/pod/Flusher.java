package io.kvpod.pod;

import io.kvpod.contract.LayerId;
import io.kvpod.contract.LayerMeta;
import io.kvpod.wal.SupersededException;
import io.kvpod.wal.WriteAheadLog;
import io.micrometer.core.instrument.Timer;
import java.io.Closeable;
import java.io.IOException;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns memtables into layers. When the active memtable reaches {@code flushBytes}, or
 * holds records older than {@code flushAgeMillis}, the flusher:
 * <ol>
 *   <li>freezes it through the {@link GroupCommitter} (which also rolls the WAL segment),
 *       so it holds exactly the entries up to a known sequence number;</li>
 *   <li>writes it as a layer with {@link LayerBuilder} and publishes it, recording that
 *       sequence number as the layer's {@code walThrough} for this pod;</li>
 *   <li>refreshes this pod's layer view, so reads find the records in the layer;</li>
 *   <li>only then drops the frozen memtable and deletes the WAL segments the layer covers.</li>
 * </ol>
 * Frozen memtables are flushed strictly oldest first, and a failure stops the round (it is
 * retried at the next check): replay skips everything at or below the highest published
 * {@code walThrough}, so a newer flush must never be published before an older one.
 * Reads stay correct at every step; see {@link MemTables}. Thread-safe.
 */
final class Flusher implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(Flusher.class);

  /** What the flusher flushes (bucket {@code bucket}'s log, held by pod {@code podId}) and when. */
  record Target(int bucket, int podId, int partitions, long flushBytes, long flushAgeMillis,
                long commitTimeoutMillis) {}

  /** Writes a layer from a frozen memtable; the pod supplies where and how. */
  @FunctionalInterface
  interface LayerSink {
    LayerBuilder open(String layerId, int partitions) throws IOException;
  }

  private final Target target;
  private final GroupCommitter committer;
  private final MemTables mem;
  private final LayerWatcher layers;
  private final WriteAheadLog wal;
  private final LayerSink sink;
  private final Runnable afterPublish;
  private final MemoryBudget memory;
  /** Records each flush's duration. */
  private final Timer timed;
  private final ScheduledExecutorService timer;
  private MemTables.Frozen publishedNotDropped;
  private long flushes;
  private volatile String lastError;

  Flusher(Target target, GroupCommitter committer, MemTables mem, LayerWatcher layers, WriteAheadLog wal,
          LayerSink sink, Runnable afterPublish, MemoryBudget memory, Timer timed) {
    this.target = target;
    this.timed = timed;
    this.committer = committer;
    this.mem = mem;
    this.layers = layers;
    this.wal = wal;
    this.sink = sink;
    this.afterPublish = afterPublish;
    this.memory = memory;
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "flusher");
      t.setDaemon(true);
      return t;
    });
  }

  void start(long checkMillis) {
    timer.scheduleWithFixedDelay(this::check, checkMillis, checkMillis, TimeUnit.MILLISECONDS);
  }

  /** One round of the timer: flush if a threshold is reached. */
  private void check() {
    MemTable a = mem.active();
    boolean due = a.bytes() >= target.flushBytes()
        || memory.shouldFlush(a.bytes())
        || (!a.isEmpty() && System.currentTimeMillis() - a.createdAtMillis() >= target.flushAgeMillis())
        || !mem.frozenOldestFirst().isEmpty();
    if (!due) {
      return;
    }
    tryFlush("flush failed; the records stay in memory and in the WAL, and the flush is retried");
  }

  /** Flushes; a failure is logged with {@code onFailure} and kept for status, never thrown. */
  private void tryFlush(String onFailure) {
    try {
      flush();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException | RuntimeException e) {
      lastError = e.toString();
      if (superseded(e)) {
        LOG.info("bucket {}: not flushed, because another pod has taken it over (its new holder replays the log, "
            + "which holds every write this pod acknowledged): {}", target.bucket(), e.getMessage());
      } else {
        LOG.error(onFailure, e);
      }
    }
  }

  /** Whether {@code e} says that a later holder claimed the bucket: a normal end, not a fault. */
  private static boolean superseded(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SupersededException) {
        return true;
      }
    }
    return false;
  }

  /** Freezes the active memtable (if it holds anything) and flushes every frozen one. */
  synchronized void flush() throws IOException, InterruptedException {
    if (!mem.active().isEmpty()) {
      committer.freeze(target.commitTimeoutMillis());
    }
    for (MemTables.Frozen f : mem.frozenOldestFirst()) {
      if (f.table().isEmpty()) {
        mem.drop(f);
        continue;
      }
      if (publishedNotDropped != f) {
        publish(f);
        publishedNotDropped = f;
      }
      layers.refresh();
      mem.drop(f);
      publishedNotDropped = null;
      wal.retireThrough(f.throughSeq());
      afterPublish.run();
      lastError = null;
    }
  }

  private void publish(MemTables.Frozen f) throws IOException, InterruptedException {
    long start = System.currentTimeMillis();
    String id = LayerId.next(LayerId.FLUSH, start);
    LayerMeta meta = new LayerMeta();
    meta.kind = LayerId.FLUSH;
    meta.source = "pod-" + target.podId() + (target.bucket() == target.podId() ? "" : " for pod-" + target.bucket());
    meta.walThrough.put(target.bucket(), f.throughSeq());
    meta.maxVersion = f.table().maxVersion();
    try (LayerBuilder b = sink.open(id, target.partitions())) {
      Iterator<Map.Entry<byte[], Found>> it = f.table().iterator();
      while (it.hasNext()) {
        Map.Entry<byte[], Found> e = it.next();
        b.append(e.getKey(), e.getValue().version(), e.getValue().value());
      }
      b.publish(meta);
    }
    flushes++;
    timed.record(System.currentTimeMillis() - start, TimeUnit.MILLISECONDS);
    LOG.info("flushed {} records ({} bytes in memory) through WAL sequence {} as layer {} in {} ms",
        meta.records, f.table().bytes(), f.throughSeq(), id, System.currentTimeMillis() - start);
  }

  long flushes() {
    return flushes;
  }

  String lastError() {
    return lastError;
  }

  /** Stops the timer without flushing; a flush in progress finishes first. */
  void stop() {
    timer.shutdownNow();
    try {
      timer.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the timer, then flushes what is in memory (a clean shutdown leaves the WAL empty). */
  @Override
  public void close() {
    stop();
    if (Thread.currentThread().isInterrupted()) {
      return;
    }
    tryFlush("flush at shutdown failed; the WAL still holds the records and replays them at the next start");
  }
}
