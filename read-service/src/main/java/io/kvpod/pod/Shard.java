package io.kvpod.pod;

import io.kvpod.contract.TableLayout;
import io.kvpod.wal.SupersededException;
import io.kvpod.wal.WalGapException;
import io.kvpod.wal.WalReplay;
import io.kvpod.wal.WriteAheadLog;
import java.io.Closeable;
import java.io.FileNotFoundException;
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
                 Runnable afterPublish, MemoryBudget memory, PodMetrics metrics) {}

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
  private final MemoryBudget memory;
  private final java.util.function.LongSupplier memoryMember;
  /** This shard's token for the bucket's warm layer files ({@link LayerWatcher#warm}). */
  private final Object warmth;

  private Shard(int bucket, long epoch, LayerWatcher layers, Object warmth, MemTables mem, WriteAheadLog wal,
                GroupCommitter committer, Flusher flusher, long writeTimeoutMillis, MemoryBudget memory) {
    this.bucket = bucket;
    this.epoch = epoch;
    this.layers = layers;
    this.warmth = warmth;
    this.mem = mem;
    this.wal = wal;
    this.committer = committer;
    this.flusher = flusher;
    this.writeTimeoutMillis = writeTimeoutMillis;
    this.memory = memory;
    this.memoryMember = memory.join(mem::bytes);
  }

  /**
   * Confirms that this pod still holds the bucket in the epoch it claimed; throws
   * {@link SupersededException} if not (or another IOException if it cannot tell).
   */
  @FunctionalInterface
  interface ClaimCheck {
    void confirm() throws IOException;
  }

  /**
   * Recovers bucket {@code bucket}'s log as holder of {@code epoch} and starts serving it:
   * ends every earlier writer's HDFS lease on the log's segments (fencing them), replays
   * every entry no live layer covers, and opens a new segment, which {@code claim} must
   * still confirm. A previous holder may publish a flush and retire segments while this
   * runs, so a replay that finds a segment gone, or the log starting after what its view
   * of the layers covers ({@link WalGapException}) while a fresh view covers the gap, is
   * tried again on the fresh view, but only while {@code claim} confirms that the bucket is
   * still this pod's: a pod that lost its claim touches nothing more. Throws
   * {@link SupersededException} then.
   *
   * <p>The bucket's layer files open and start their prefetch into the block cache before
   * the replay ({@link LayerWatcher#warm}), so the cache fills while the log replays and
   * while the shard serves; if the shard does not open, they are set aside again.
   */
  static Shard open(Context ctx, int bucket, long epoch, ClaimCheck claim) throws IOException {
    Object warmth = new Object();
    boolean serving = false;
    try {
      Shard s = replay(ctx, bucket, epoch, claim, warmth);
      serving = true;
      return s;
    } finally {
      if (!serving) {
        ctx.layers().cool(bucket, warmth);
      }
    }
  }

  private static Shard replay(Context ctx, int bucket, long epoch, ClaimCheck claim, Object warmth)
      throws IOException {
    Settings s = ctx.settings();
    for (int attempt = 1; ; attempt++) {
      claim.confirm();
      long start = System.currentTimeMillis();
      ctx.layers().refresh();
      ctx.layers().warm(bucket, warmth);
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
      WriteAheadLog wal = new WriteAheadLog(ctx.walFs(), ctx.layout().walDir(bucket),
          new WriteAheadLog.Writer(bucket, epoch, ctx.podId()), ctx.durability(), segment -> claim.confirm());
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
      } catch (FileNotFoundException e) {
        closeQuietly(wal);
        if (attempt >= 5) {
          throw e;
        }
        LOG.info("bucket {}: a log segment was retired while it was replayed (attempt {}); replaying again on a "
            + "fresh view of the layers: {}", bucket, attempt, e.toString());
        continue;
      } catch (WalGapException e) {
        closeQuietly(wal);
        long now = coveredNow(ctx, bucket);
        if (attempt >= 5 || now < e.missingThrough()) {
          throw e;
        }
        LOG.info("bucket {}: the log lacks entries {}..{}, which a flush published since replay began covers (the "
            + "layers now cover through {}; attempt {}); replaying again", bucket, e.missingFrom(),
            e.missingThrough(), now, attempt);
        continue;
      } catch (IOException e) {
        closeQuietly(wal);
        throw e;
      }
      LOG.info("bucket {} (epoch {}): WAL recovered in {} ms: {} segments, {} bytes, {} entries replayed ({} "
          + "records), {} already in layers (through sequence {}); next sequence {}", bucket, epoch,
          System.currentTimeMillis() - start, r.segments().size(), r.bytesRead(), r.entriesApplied(), records[0],
          r.entriesSkipped(), covered, r.nextSeq());
      long lastVersion = Math.max(Math.max(r.maxVersion(), layerVersion), 0);
      GroupCommitter committer = new GroupCommitter(wal, mem, lastVersion, s.segmentBytes(), s.groupBytes(),
          s.memMaxBytes(), ctx.metrics());
      committer.start();
      Flusher flusher = new Flusher(new Flusher.Target(bucket, ctx.podId(), s.flushPartitions(), s.flushBytes(),
          s.flushAgeMillis(), s.writeTimeoutMillis()), committer, mem, ctx.layers(), wal, ctx.sink(),
          ctx.afterPublish(), ctx.memory(), ctx.metrics().flushes());
      flusher.start(s.flushCheckMillis());
      return new Shard(bucket, epoch, ctx.layers(), warmth, mem, wal, committer, flusher, s.writeTimeoutMillis(),
          ctx.memory());
    }
  }

  /** The sequence number through which the layers hold {@code bucket}'s log, after reading them again. */
  private static long coveredNow(Context ctx, int bucket) throws IOException {
    ctx.layers().refresh();
    LayerSet view = ctx.layers().acquire();
    try {
      return view.walThrough(bucket);
    } finally {
      view.release();
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

  /**
   * Logs and applies records of this bucket unless their deadline passes first; returns
   * once they are durable ({@link GroupCommitter#write}).
   */
  GroupCommitter.Committed write(byte[][] keys, byte[][] values, long deadlineMillis)
      throws IOException, InterruptedException {
    return committer.write(keys, values, deadlineMillis, writeTimeoutMillis);
  }

  long expiredWrites() {
    return committer.expiredWrites();
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

  /**
   * Stops the flush timer and flushes what is in memory, so that nothing is left to replay;
   * a failure is logged, and {@link #close} tries again. Called while the pod still answers
   * its peers, once writes are refused; {@link #close} follows.
   */
  void flushBeforeStop() {
    flusher.close();
  }

  /** A clean stop: flushes what is in memory (so nothing is left to replay), then closes the log. */
  @Override
  public void close() {
    flusher.close();
    committer.close();
    closeQuietly(wal);
    memory.leave(memoryMember);
  }

  /**
   * Stops without flushing or writing anything: another pod holds the bucket now and has
   * replayed (or will replay) the log, which holds every write this shard acknowledged.
   */
  void abandon() {
    flusher.stop();
    committer.close();
    closeQuietly(wal);
    memory.leave(memoryMember);
    layers.cool(bucket, warmth);
  }

  private static void closeQuietly(WriteAheadLog wal) {
    try {
      wal.close();
    } catch (IOException e) {
      LOG.debug("closing the WAL of {}: {}", wal.dir(), e.toString());
    }
  }
}
