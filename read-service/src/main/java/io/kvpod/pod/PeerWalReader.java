package io.kvpod.pod;

import io.kvpod.contract.TableLayout;
import io.kvpod.wal.WalEntry;
import io.kvpod.wal.SegmentName;
import io.kvpod.wal.WalReplay;
import io.kvpod.wal.WalSegmentReader;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.concurrent.atomic.LongAdder;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a bucket's unflushed writes from its WAL on HDFS, for when that pod does not
 * answer. Every acknowledged write is in the owner's log (it was synced before the
 * acknowledgement), and a new reader sees all synced bytes, so the log plus the published
 * layers answer exactly as the owner would.
 *
 * <p>Per owner it caches what it has read: for each segment the records so far and the
 * offset of the next entry. A lookup first reads any bytes added since (re-opening the
 * segment, since an open HDFS stream does not see later bytes), forgets segments the
 * owner has deleted, and stops quietly at an incomplete last entry, which the owner may
 * still be writing. A segment read to its end once a later one existed is complete (the
 * owner closes a segment before it starts the next), so only the newest is read again.
 *
 * <p>Order matters against the owner's flush, which publishes a layer and only then
 * deletes the segments it covers: segments are listed <em>first</em>, and the layer view
 * is refreshed afterwards if it does not yet cover everything before the oldest listed
 * segment. A segment that vanishes while being read restarts the lookup. Thread-safe; one
 * lock per owner, and a lookup that arrives while another is refreshing reuses its result.
 */
final class PeerWalReader {
  private static final Logger LOG = LoggerFactory.getLogger(PeerWalReader.class);

  private static final class Segment {
    final MemTable records = new MemTable();
    long offset;
    long nextSeq;
    boolean started;
    /** Read to its end after a later segment existed: it can no longer grow. */
    boolean sealed;
  }

  private static final class OwnerLog {
    final TreeMap<SegmentName, Segment> segments = new TreeMap<>();
    long lastRefreshNanos = System.nanoTime() - 86_400_000_000_000L; // "long ago"
  }

  private final FileSystem fs;
  private final TableLayout layout;
  private final LayerWatcher layers;
  private final LongAdder keysRead = new LongAdder();
  private final OwnerLog[] owners;

  PeerWalReader(FileSystem fs, TableLayout layout, LayerWatcher layers, int buckets) {
    this.fs = fs;
    this.layout = layout;
    this.layers = layers;
    this.owners = new OwnerLog[buckets];
    for (int i = 0; i < buckets; i++) {
      owners[i] = new OwnerLog();
    }
  }

  /**
   * The newest record of each key among {@code owner}'s logged writes and the layers, as
   * the owner itself would answer; null where there is none.
   */
  Found[] get(int owner, byte[][] keys) throws IOException {
    keysRead.add(keys.length);
    long asked = System.nanoTime();
    OwnerLog log = owners[owner];
    Found[] out = new Found[keys.length];
    synchronized (log) {
      if (log.lastRefreshNanos - asked < 0) { // no catch-up has started since this lookup began
        long started = System.nanoTime();
        catchUp(owner, log);
        log.lastRefreshNanos = started;
      }
      for (int i = 0; i < keys.length; i++) {
        for (Segment s : log.segments.values()) {
          out[i] = newerLater(out[i], s.records.get(keys[i]));
        }
      }
    }
    layers.mergeNewest(keys, out);
    return out;
  }

  /** Keys read here since the pod started, each for a holder that did not answer. */
  long keysRead() {
    return keysRead.sum();
  }

  /** Segments are read oldest first, so on equal versions the later record wins. */
  private static Found newerLater(Found earlier, Found later) {
    return Found.newer(later, earlier);
  }

  private void catchUp(int owner, OwnerLog log) throws IOException {
    Path dir = layout.walDir(owner);
    for (int attempt = 1; ; attempt++) {
      List<Path> listed = WalReplay.segments(fs, dir);
      Set<SegmentName> present = new HashSet<>();
      listed.forEach(p -> present.add(SegmentName.parse(p.getName())));
      log.segments.keySet().retainAll(present);
      try {
        for (int i = 0; i < listed.size(); i++) {
          Path p = listed.get(i);
          Segment seg = log.segments.computeIfAbsent(SegmentName.parse(p.getName()), k -> new Segment());
          if (!seg.sealed) {
            readNew(p, seg);
            // a later segment exists, so this one is no longer written (closed by its writer, or
            // fenced by the holder that wrote the later one: see WriteAheadLog)
            seg.sealed = i + 1 < listed.size();
          }
        }
      } catch (FileNotFoundException e) {
        if (attempt >= 5) {
          throw e;
        }
        continue; // the owner flushed and deleted a segment meanwhile: list again
      }
      if (!listed.isEmpty()) {
        ensureLayersCover(owner, SegmentName.parse(listed.get(0).getName()).firstSeq() - 1);
      } else {
        layers.refresh();
      }
      return;
    }
  }

  private void readNew(Path p, Segment seg) throws IOException {
    WalSegmentReader r = seg.started ? WalSegmentReader.resume(fs, p, seg.offset, seg.nextSeq)
        : WalSegmentReader.open(fs, p);
    if (r == null) {
      return; // the header is not complete yet
    }
    try (r) {
      WalEntry e;
      while ((e = r.next()) != null) {
        long seq = e.seq();
        long version = e.version();
        e.forEachRecord((k, v) -> seg.records.put(k, version, v, seq));
      }
      seg.started = true;
      seg.offset = r.offset();
      seg.nextSeq = r.nextSeq();
    }
  }

  private void ensureLayersCover(int owner, long seq) throws IOException {
    LayerSet s = layers.acquire();
    long covered;
    try {
      covered = s.walThrough(owner);
    } finally {
      s.release();
    }
    if (covered < seq) {
      layers.refresh();
      s = layers.acquire();
      try {
        covered = s.walThrough(owner);
      } finally {
        s.release();
      }
      if (covered < seq) {
        LOG.warn("pod {}'s WAL starts after sequence {} but the live layers cover it only through {}",
            owner, seq, covered);
      }
    }
  }

  /** How many records are cached for {@code owner} (for status and tests). */
  long cachedRecords(int owner) {
    OwnerLog log = owners[owner];
    synchronized (log) {
      return log.segments.values().stream().mapToLong(s -> s.records.size()).sum();
    }
  }
}
