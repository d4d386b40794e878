package io.kvpod.pod;

import io.kvpod.contract.LayerId;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.RecordCodec;
import io.kvpod.contract.TableLayout;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hbase.Cell;
import org.apache.hadoop.hbase.CellUtil;
import org.apache.hadoop.hbase.io.hfile.HFileScanner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Merges layers so that reads check few bloom filters. When the table has more than
 * {@code maxLayers} live layers, it picks the run of adjacent layers (in age order) that
 * brings the count back to {@code maxLayers} with the fewest records, merges them into one
 * layer, and publishes it with {@code replaces} naming its inputs: one atomic rename makes
 * the merged layer live and its inputs dead for every reader at once. The inputs then move
 * to {@code retired/}, like rolled-back layers; gets still running on them finish through
 * their file links.
 *
 * <p>Merge rule, the same as reads: per key the highest version wins, and on equal versions
 * the newer layer. A winning removal (a tombstone, see {@code RecordCodec}) is kept, since it
 * must go on hiding lower versions of its key in layers outside the run, unless nothing it
 * could hide is left: the run reaches the oldest live layer, and every live layer newer than
 * the run has a known lowest version at least the tombstone's ({@link #tombstoneBound}). The merged layer's id carries the time of its newest input, so it keeps
 * its inputs' place among the other layers. Runs over more than {@code maxRecords} records
 * are left alone (a bulk-load-sized merge belongs in a MapReduce job).
 *
 * <p>The merged layer has one partition per bucket of the table, as the loader's layers have
 * by default, whatever its inputs had (a flush writes one bucket's records in one file): so a
 * pod reads and caches only the merged files of the buckets it holds.
 *
 * <p>One pod per table compacts (configured), so two merges of the same layers never race.
 * Runs on its own thread, so a long merge never holds up flushes. Thread-safe in that
 * {@link #maybeCompact} runs on one thread at a time.
 */
final class Compactor implements java.io.Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(Compactor.class);

  private final java.util.concurrent.ScheduledExecutorService timer =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "compactor");
        t.setDaemon(true);
        return t;
      });

  /** Set by {@link #close}: a merge under way gives up at its next check. */
  private volatile boolean closed;
  private final FileSystem fs;
  private final TableLayout layout;
  private final LayerWatcher layers;
  private final Flusher.LayerSink sink;
  private final int buckets;
  private final int maxLayers;
  private final long maxRecords;
  private long compactions;

  /** {@code buckets}: the table's bucket count, the merged layer's partition count (see class comment). */
  Compactor(FileSystem fs, TableLayout layout, LayerWatcher layers, Flusher.LayerSink sink, int buckets,
            int maxLayers, long maxRecords) {
    this.fs = fs;
    this.layout = layout;
    this.layers = layers;
    this.sink = sink;
    this.buckets = buckets;
    this.maxLayers = maxLayers;
    this.maxRecords = maxRecords;
  }

  /**
   * Checks every {@code checkMillis}; records each merge's duration in {@code timed}, then
   * runs {@code afterPublish} (telling the other pods).
   */
  void start(long checkMillis, Runnable afterPublish, Timer timed) {
    timer.scheduleWithFixedDelay(() -> {
      try {
        long started = System.nanoTime();
        if (maybeCompact() != null) {
          timed.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
          afterPublish.run();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt(); // close(): the pod is stopping
        LOG.info("compaction stopped, as the pod is stopping; the input layers stay live");
      } catch (IOException | RuntimeException e) {
        // closed: the pod's stop broke the merge's HDFS calls. Otherwise a real failure, even
        // an InterruptedIOException: a socket timeout is one
        if (closed) {
          LOG.info("compaction stopped, as the pod is stopping; the input layers stay live ({})", e.toString());
        } else {
          LOG.error("compaction failed; the input layers stay live, and it is retried", e);
        }
      }
    }, checkMillis, checkMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /** Stops the timer; a merge in progress is interrupted and leaves only a staging directory. */
  @Override
  public void close() {
    closed = true;
    timer.shutdownNow();
    try {
      // HDFS's client swallows interrupts in its waits, so a merge may not see one: it checks
      // closed between records, and one still creating its files is not waited for long (it
      // fails when the pod's filesystem closes, leaving a staging directory)
      timer.awaitTermination(2, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Merges once if there are too many layers; returns the merged layer's id, or null. */
  synchronized String maybeCompact() throws IOException, InterruptedException {
    LayerSet set = layers.acquire(); // the pod's current view; polling and refreshes keep it fresh
    try {
      List<LayerReader> live = set.layers(); // newest first
      if (live.size() <= maxLayers) {
        return null;
      }
      int k = live.size() - maxLayers + 1;
      int best = -1;
      long bestRecords = Long.MAX_VALUE;
      for (int i = 0; i + k <= live.size(); i++) {
        long r = 0;
        for (int j = i; j < i + k; j++) {
          r += live.get(j).meta().records;
        }
        if (r < bestRecords) {
          best = i;
          bestRecords = r;
        }
      }
      if (bestRecords > maxRecords) {
        LOG.info("{} live layers, but merging {} of them would rewrite {} records (limit {}); left alone",
            live.size(), k, bestRecords, maxRecords);
        return null;
      }
      return merge(live.subList(best, best + k), tombstoneBound(live, best, k));
    } finally {
      set.release();
    }
  }

  /**
   * The highest tombstone version a merge of {@code live[best, best+k)} (newest first) may
   * drop: none ({@code Long.MIN_VALUE}) unless the run ends with the oldest live layer, since
   * an older layer may hold a record the tombstone hides; otherwise the lowest version of the
   * newer live layers (a newer record of the key with a lower version is hidden by the
   * tombstone; one with an equal or higher version wins anyway), or any version if the run is
   * every live layer. A newer layer whose lowest version is unknown keeps every tombstone.
   */
  static long tombstoneBound(List<LayerReader> live, int best, int k) {
    if (best + k < live.size()) {
      return Long.MIN_VALUE;
    }
    long bound = Long.MAX_VALUE;
    for (LayerReader newer : live.subList(0, best)) {
      Long min = newer.meta().minVersion;
      bound = Math.min(bound, min == null ? Long.MIN_VALUE : min);
    }
    return bound;
  }

  /** One input file's position in the merge. */
  private static final class Cursor {
    final HFileScanner scanner;
    final int age; // 0 = newest input
    byte[] key;
    long version;
    byte[] value;

    Cursor(HFileScanner scanner, int age) {
      this.scanner = scanner;
      this.age = age;
    }

    /** Copies the current cell out, since the scanner may reuse its buffers once it moves. */
    boolean load() {
      Cell cell = scanner.getCell();
      key = CellUtil.cloneRow(cell);
      version = cell.getTimestamp();
      value = CellUtil.cloneValue(cell);
      return true;
    }
  }

  /** Merges {@code inputs} (newest first) into one layer, dropping tombstones of versions up to {@code dropUpTo}. */
  private String merge(List<LayerReader> inputs, long dropUpTo) throws IOException, InterruptedException {
    long start = System.currentTimeMillis();
    String id = LayerId.next(LayerId.COMPACT, LayerId.createdAtMillis(inputs.get(0).id()));
    int partitions = buckets;
    LayerMeta meta = new LayerMeta();
    meta.kind = LayerId.COMPACT;
    meta.source = "compaction of " + inputs.size() + " layers";
    List<Cursor> all = new ArrayList<>();
    PriorityQueue<Cursor> heap = new PriorityQueue<>((a, b) -> {
      int c = Arrays.compareUnsigned(a.key, b.key);
      return c != 0 ? c : Integer.compare(a.age, b.age);
    });
    long maxVersion = 0;
    long dropped = 0;
    try (LayerBuilder out = sink.open(id, partitions)) {
      for (int age = 0; age < inputs.size(); age++) {
        LayerReader in = inputs.get(age);
        meta.replaces.add(in.id());
        in.meta().walThrough.forEach((pod, seq) -> meta.walThrough.merge(pod, seq, Math::max));
        for (int p = 0; p < in.partitions(); p++) {
          Cursor c = new Cursor(in.scan(p), age);
          all.add(c);
          if (c.scanner.seekTo() && c.load()) {
            heap.add(c);
          }
        }
      }
      for (long n = 0; !heap.isEmpty(); n++) {
        if ((n & 4095) == 0 && (closed || Thread.currentThread().isInterrupted())) {
          throw new InterruptedException("compaction of " + id + " interrupted"); // close(): the pod is stopping
        }
        Cursor first = heap.poll();
        byte[] key = first.key;
        long version = first.version;
        byte[] value = first.value;
        advance(first, heap);
        while (!heap.isEmpty() && Arrays.equals(heap.peek().key, key)) {
          Cursor same = heap.poll(); // an older layer's record of the same key
          if (same.version > version) {
            version = same.version;
            value = same.value;
          }
          advance(same, heap);
        }
        if (version <= dropUpTo && RecordCodec.isTombstone(value)) {
          dropped++; // nothing left for it to hide
          continue;
        }
        maxVersion = Math.max(maxVersion, version);
        out.append(key, version, value);
      }
      meta.maxVersion = maxVersion;
      out.publish(meta);
    } finally {
      all.forEach(c -> c.scanner.close());
    }
    layers.refresh();
    for (String old : meta.replaces) {
      fs.mkdirs(layout.retiredDir());
      if (!fs.rename(layout.layerDir(old), layout.retiredDir(old))) {
        LOG.warn("could not move compacted layer {} to retired/; it stays, replaced by {}", old, id);
      }
    }
    compactions++;
    LOG.info("compacted {} layers ({} records, {} tombstones kept, {} dropped) into {} in {} ms", inputs.size(),
        meta.records, meta.tombstones, dropped, id, System.currentTimeMillis() - start);
    return id;
  }

  /** Moves a cursor to its next cell, back into the heap unless its file is done. */
  private static void advance(Cursor c, PriorityQueue<Cursor> heap) throws IOException {
    if (c.scanner.next() && c.load()) {
      heap.add(c);
    }
  }

  long compactions() {
    return compactions;
  }
}
