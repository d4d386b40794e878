package io.kvpod.bench.hbase;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.Get;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.Table;
import org.apache.hadoop.hbase.io.hfile.BlockCache;
import org.apache.hadoop.hbase.io.hfile.CacheStats;
import org.apache.hadoop.hbase.util.Bytes;

/**
 * Closed-loop single-row gets: each thread draws a key uniformly at random from the key set,
 * calls {@code Table.get(new Get(row))}, records the latency and checks that a value came
 * back. Warm-up first (not recorded), then the measured interval; the RegionServer's block
 * cache counters are read at both ends of the measured interval.
 */
final class GetBench {
  /** What one run measured. */
  static final class Result0 {
    long gets;
    double seconds;
    Histogram latency; // microseconds
    long misses;
    long errors;
    long warmupGets;
    long cacheHits;
    long cacheRequests;
    long cacheEvictions;
    long cachedDataBytes;
    long cachedBytes;
    long cachedBlocks;
    long cachedDataBlocks;
    long cacheMax;
  }

  private static final long HIGHEST_US = 60_000_000L;

  static Result0 run(Connection conn, TableName table, KeyStore keys, BlockCache cache, int threads,
      long warmupMs, long durationMs, long seed) throws InterruptedException {
    Recorder recorder = new Recorder(HIGHEST_US, 3);
    LongAdder done = new LongAdder();
    AtomicLong misses = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    AtomicReference<String> firstProblem = new AtomicReference<>();
    // 0 = warm-up, 1 = measuring, 2 = stop
    AtomicLong phase = new AtomicLong(0);
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + t);
      Thread th = new Thread(() -> {
        try (Table tbl = conn.getTable(table)) {
          int n = keys.size();
          while (phase.get() < 2) {
            byte[] row = keys.get(rnd.nextInt(n));
            long t0 = System.nanoTime();
            try {
              Result r = tbl.get(new Get(row));
              long us = (System.nanoTime() - t0) / 1000;
              recorder.recordValue(Math.min(Math.max(us, 1), HIGHEST_US));
              if (r.isEmpty() || r.getValue(HBaseCompare.FAMILY, HBaseCompare.QUALIFIER) == null) {
                if (misses.incrementAndGet() <= 10) {
                  HBaseCompare.log("ERROR: get found no record for key %s", Bytes.toStringBinary(row));
                }
              }
            } catch (Exception e) {
              if (errors.incrementAndGet() <= 10) {
                HBaseCompare.log("ERROR: get %s failed: %s", Bytes.toStringBinary(row), e);
              }
              firstProblem.compareAndSet(null, e.toString());
            }
            done.increment();
          }
        } catch (Exception e) {
          errors.incrementAndGet();
          HBaseCompare.log("ERROR: reader thread failed: %s", e);
        }
      }, "get-" + t);
      th.setDaemon(true);
      workers.add(th);
    }
    workers.forEach(Thread::start);

    Result0 r = new Result0();
    long start = System.nanoTime();
    if (warmupMs > 0) {
      report("warmup", start, warmupMs, done, cache);
    }
    r.warmupGets = done.sum();
    long missesBefore = misses.get();
    long errorsBefore = errors.get();
    CacheStats s0 = cache.getStats();
    long hits0 = s0.getHitCount();
    long req0 = s0.getRequestCount();
    long ev0 = s0.getEvictedCount();
    recorder.getIntervalHistogram(); // drop the warm-up's latencies
    phase.set(1);
    long m0 = System.nanoTime();
    report("measure", m0, durationMs, done, cache);
    Histogram h = recorder.getIntervalHistogram();
    long m1 = System.nanoTime();
    CacheStats s1 = cache.getStats();
    r.cacheHits = s1.getHitCount() - hits0;
    r.cacheRequests = s1.getRequestCount() - req0;
    r.cacheEvictions = s1.getEvictedCount() - ev0;
    phase.set(2);
    for (Thread th : workers) {
      th.join(10_000);
    }
    r.latency = h;
    r.gets = h.getTotalCount();
    r.seconds = (m1 - m0) / 1e9;
    r.misses = misses.get() - missesBefore;
    r.errors = errors.get() - errorsBefore;
    if (missesBefore + errorsBefore > 0) {
      HBaseCompare.log("ERROR: %,d misses and %,d errors during the warm-up", missesBefore, errorsBefore);
      r.misses += missesBefore;
      r.errors += errorsBefore;
    }
    r.cachedDataBytes = cache.getCurrentDataSize();
    r.cachedBytes = cache.getCurrentSize();
    r.cachedBlocks = cache.getBlockCount();
    r.cachedDataBlocks = cache.getDataBlockCount();
    r.cacheMax = cache.getMaxSize();
    return r;
  }

  /** Sleeps through a phase, printing the rate and the block cache's hit ratio every 5 s. */
  private static void report(String phase, long start, long lengthMs, LongAdder done, BlockCache cache)
      throws InterruptedException {
    long end = start + lengthMs * 1_000_000L;
    long lastT = System.nanoTime();
    long lastN = done.sum();
    long lastHits = cache.getStats().getHitCount();
    long lastReq = cache.getStats().getRequestCount();
    while (true) {
      long now = System.nanoTime();
      if (now >= end) {
        return;
      }
      Thread.sleep(Math.min(5_000, Math.max(1, (end - now) / 1_000_000)));
      now = System.nanoTime();
      if (now - lastT < 1_000_000_000L) {
        continue; // a sliver left before the phase's end: not worth a line
      }
      long n = done.sum();
      long hits = cache.getStats().getHitCount();
      long req = cache.getStats().getRequestCount();
      HBaseCompare.log("%s %5.1f s: %,.0f gets/s, block cache hit ratio %.2f%%, cached %,d MB", phase,
          (now - start) / 1e9, (n - lastN) / ((now - lastT) / 1e9),
          req == lastReq ? 0.0 : 100.0 * (hits - lastHits) / (req - lastReq),
          cache.getCurrentDataSize() >> 20);
      lastT = now;
      lastN = n;
      lastHits = hits;
      lastReq = req;
    }
  }

  private GetBench() {}
}
