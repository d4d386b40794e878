package io.kvpod.pod;

import io.kvpod.contract.TableLayout;
import io.kvpod.wal.WalReplay;
import io.kvpod.wal.WriteAheadLog;
import java.io.Closeable;
import java.io.IOException;
import org.apache.hadoop.fs.FileSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One bucket's keys while this pod holds them: the bucket's write-ahead log, the group
 * committer that writes it, the memtables it fills and the flusher that empties them.
 * Reads look up the memtables, then the layers (the order {@link MemTables} requires).
 *
 * <p>Lifecycle: {@link #open} recovers the log (lease, replay) and starts the threads; then
 * exactly one of {@link #close()} (a clean stop: flush, then close the log) or
 * {@link #abandon()} (the bucket went to another holder, which replays the log itself:
 * drop everything, write nothing). Thread-safe.
 */
final class Shard implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(Shard.class);

  /** What every shard of a pod shares: where the table is, its settings, its layers. */
  record Context(int podId, FileSystem walFs, TableLayout layout, LayerWatcher layers,
                 WriteAheadLog.Durability durability, Settings settings, Flusher.LayerSink sink,
                 Runnable afterPublish) {}

  /** The settings a shard reads, by name, from the pod's configuration. */
  record Settings(long leaseRecoveryMillis, long segmentBytes, long groupBytes, long memMaxBytes,
                       int flushPartitions, long flushBytes, long flushAgeMillis, long writeTimeoutMillis,
                       long flushCheckMillis) {}

  final int bucket;
  final long epoch;
  private final LayerWatcher layers;
  private final MemTables mem;
  private final WriteAheadLog wal;
  private final GroupCommitter committer;
  private final Flusher flusher;
  private final long writeTimeoutMillis;

  private Shard(int bucket, long epoch, LayerWatcher layers, MemTables mem, WriteAheadLog wal,
                GroupCommitter committer, Flusher flusher, long writeTimeoutMillis) {
    this.bucket = bucket;
    this.epoch = epoch;
    this.layers = layers;
    this.mem = mem;
    this.wal = wal;
    this.committer = committer;
    this.flusher = flusher;
    this.writeTimeoutMillis = writeTimeoutMillis;
  }

  /**
   * Recovers bucket {@code bucket}'s log as holder of {@code epoch} and starts serving it:
   * recovers the HDFS lease on the last segment (fencing any earlier writer), replays every
   * entry no live layer covers, and opens a new segment, which {@code guard} must accept.
   * A previous holder may publish a flush and delete segments while this runs, so a failed
   * replay is tried again on a fresh view of the layers.
   */
  static Shard open(Context ctx, int bucket, long epoch, WriteAheadLog.SegmentGuard guard) throws IOException {
    Settings s = ctx.settings();
    for (int attempt = 1; ; attempt++) {
      long start = System.currentTimeMillis();
      ctx.layers().refresh();
      long covered;
      long layerVersion;
      LayerSet view = ctx.layers().acquire();
      try {
        covered = view.walThrough(bucket);
        layerVersion = view.maxKnownVersion();
      } finally {
        view.release();
      }
      MemTables mem = new MemTables();
      MemTable active = mem.active();
      long[] records = {0};
      WriteAheadLog wal = new WriteAheadLog(ctx.walFs(), ctx.layout().walDir(bucket), bucket, ctx.durability(), guard);
      WalReplay.Result r;
      try {
        r = wal.recover(covered, e -> {
          long seq = e.seq();
          long version = e.version();
          e.forEachRecord((k, v) -> {
            active.put(k, version, v, seq);
            records[0]++;
          });
        }, (segment, valid, dropped) -> LOG.warn("WAL {}: dropped a torn tail of {} bytes after byte {} (an "
            + "entry being written when its writer stopped; it was never acknowledged)", segment,
            dropped < 0 ? "<header>" : dropped, valid), s.leaseRecoveryMillis());
      } catch (IOException e) {
        closeQuietly(wal);
        if (attempt >= 3 || e instanceof PodUnavailable) {
          throw e;
        }
        LOG.warn("recovering bucket {}'s log failed (attempt {}), trying again on a fresh view of the layers: {}",
            bucket, attempt, e.toString());
        continue;
      }
      LOG.info("bucket {} (epoch {}): WAL recovered in {} ms: {} segments, {} bytes, {} entries replayed ({} "
          + "records), {} already in layers (through sequence {}); next sequence {}", bucket, epoch,
          System.currentTimeMillis() - start, r.segments().size(), r.bytesRead(), r.entriesApplied(), records[0],
          r.entriesSkipped(), covered, r.nextSeq());
      long lastVersion = Math.max(Math.max(r.maxVersion(), layerVersion), 0);
      GroupCommitter committer = new GroupCommitter(wal, mem, lastVersion, s.segmentBytes(), s.groupBytes(),
          s.memMaxBytes());
      committer.start();
      Flusher flusher = new Flusher(new Flusher.Target(bucket, ctx.podId(), s.flushPartitions(), s.flushBytes(),
          s.flushAgeMillis(), s.writeTimeoutMillis()), committer, mem, ctx.layers(), wal, ctx.sink(),
          ctx.afterPublish());
      flusher.start(s.flushCheckMillis());
      return new Shard(bucket, epoch, ctx.layers(), mem, wal, committer, flusher, s.writeTimeoutMillis());
    }
  }

  /** The newest record of each key (null where there is none): memtables, then one layer snapshot. */
  Found[] get(byte[][] keys) throws IOException {
    Found[] out = new Found[keys.length];
    for (int i = 0; i < keys.length; i++) {
      out[i] = mem.get(keys[i]);
    }
    layers.mergeNewest(keys, out);
    return out;
  }

  /** Logs and applies records of this bucket; returns once they are durable. */
  GroupCommitter.Committed write(byte[][] keys, byte[][] values) throws IOException, InterruptedException {
    return committer.write(keys, values, writeTimeoutMillis);
  }

  /** Flushes everything in memory now; returns the sequence number the layers now cover. */
  long flush() throws IOException, InterruptedException {
    long through = wal.durableSeq();
    flusher.flush();
    return through;
  }

  /** Why the log refuses writes, or null while it takes them. */
  IOException walFailure() {
    return wal.failure();
  }

  long memRecords() {
    return mem.records();
  }

  long durableSeq() {
    return wal.durableSeq();
  }

  int walSegments() {
    return wal.segmentCount();
  }

  long flushes() {
    return flusher.flushes();
  }

  String lastFlushError() {
    return flusher.lastError();
  }

  /** A clean stop: flushes what is in memory (so nothing is left to replay), then closes the log. */
  @Override
  public void close() {
    flusher.close();
    committer.close();
    closeQuietly(wal);
  }

  /**
   * Stops without flushing or writing anything: another pod holds the bucket now and has
   * replayed (or will replay) the log, which holds every write this shard acknowledged.
   */
  void abandon() {
    flusher.stop();
    committer.close();
    closeQuietly(wal);
  }

  private static void closeQuietly(WriteAheadLog wal) {
    try {
      wal.close();
    } catch (IOException e) {
      LOG.debug("closing the WAL of {}: {}", wal.dir(), e.toString());
    }
  }
}
