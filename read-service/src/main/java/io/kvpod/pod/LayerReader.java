package io.kvpod.pod;

import io.kvpod.contract.CorruptionException;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.LayerFormat;
import io.kvpod.contract.LayerId;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.TableLayout;
import java.nio.charset.StandardCharsets;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.IntPredicate;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.Cell;
import org.apache.hadoop.hbase.CellUtil;
import org.apache.hadoop.hbase.HConstants;
import org.apache.hadoop.hbase.KeyValueUtil;
import org.apache.hadoop.hbase.io.hfile.BlockCache;
import org.apache.hadoop.hbase.io.hfile.CacheConfig;
import org.apache.hadoop.hbase.io.FSDataInputStreamWrapper;
import org.apache.hadoop.hbase.io.FileLink;
import org.apache.hadoop.hbase.io.hfile.HFile;
import org.apache.hadoop.hbase.io.hfile.HFileInfo;
import org.apache.hadoop.hbase.io.hfile.PrefetchExecutor;
import org.apache.hadoop.hbase.io.hfile.ReaderContext;
import org.apache.hadoop.hbase.io.hfile.ReaderContextBuilder;
import org.apache.hadoop.hbase.io.hfile.HFileScanner;
import org.apache.hadoop.hbase.util.BloomFilter;
import org.apache.hadoop.hbase.util.BloomFilterFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One layer, with its data files opened by bucket. A file that holds only keys of one
 * bucket of the table ({@link #bucketOfPartition}) is opened, prefetched into the block
 * cache and cached on read only while this pod holds that bucket ({@link #warm}); any other
 * file is opened the first time a get needs it (a pod reading a bucket for a holder that
 * does not answer), and its blocks are not cached. A file that may hold keys of every
 * bucket (a layer whose partition count is not a multiple of the table's bucket count, as
 * loads written before layers lined up with buckets) is opened at once, as before.
 *
 * <p>A lookup hashes the key once ({@link KeyPartitioner#hash}), takes its partition,
 * asks the file's bloom filter, and only then seeks the block index.
 *
 * <p>Thread-safe: files are shared, each lookup uses its own scanner; files open under the
 * reader's lock. Reference counted: every {@link LayerSet} holding this layer retains it,
 * and the files close when the last set that holds it is released, i.e. after the gets in
 * flight on it have finished. A file set aside by {@link #cool} or replaced by {@link #warm}
 * closes then too, since a get may still be reading it.
 */
final class LayerReader {
  private static final Logger LOG = LoggerFactory.getLogger(LayerReader.class);

  /** A file's partition may hold keys of every bucket of the table. */
  static final int ANY_BUCKET = -1;

  /**
   * What opening a pod's layer files needs. {@code warm} prefetches a file into the block
   * cache when it opens; {@code cold} does not. Both share one block cache. A layer prefetches
   * at most {@code prefetchBudget} bytes of files (by their size on disk).
   */
  record Opener(FileSystem fs, TableLayout layout, Configuration conf, CacheConfig warm, CacheConfig cold,
                int buckets, boolean prefetch, long prefetchBudget, EvictedFiles evicted) {
    /** The share of the cache one layer's prefetch may fill when nothing else is said. */
    static final int DEFAULT_PREFETCH_CACHE_PERCENT = 25;

    /** Opener over {@code blockCache} whose layers prefetch at most the default share of it. */
    static Opener of(FileSystem fs, TableLayout layout, Configuration conf, BlockCache blockCache, int buckets,
                     boolean prefetch) {
      return of(fs, layout, conf, blockCache, buckets, prefetch, DEFAULT_PREFETCH_CACHE_PERCENT);
    }

    /**
     * Opener over {@code blockCache}; {@code prefetch} false leaves every file to fill the
     * cache as read, and each layer prefetches at most {@code cachePercent} of the cache.
     */
    static Opener of(FileSystem fs, TableLayout layout, Configuration conf, BlockCache blockCache, int buckets,
                     boolean prefetch, int cachePercent) {
      Configuration warmConf = new Configuration(conf);
      warmConf.setBoolean(CacheConfig.PREFETCH_BLOCKS_ON_OPEN_KEY, prefetch);
      Configuration coldConf = new Configuration(conf);
      coldConf.setBoolean(CacheConfig.PREFETCH_BLOCKS_ON_OPEN_KEY, false);
      return new Opener(fs, layout, conf, new CacheConfig(warmConf, blockCache),
          new CacheConfig(coldConf, blockCache), buckets, prefetch,
          blockCache.getMaxSize() / 100 * cachePercent, EvictedFiles.of(blockCache));
    }
  }

  /**
   * One open data file: its reader, its bloom filter (or null), whether it was opened warm
   * (its bucket held here: its blocks stay cached as read), and whether it was prefetched.
   */
  private record Part(HFile.Reader reader, BloomFilter bloom, boolean warm, boolean prefetching, long bytes) {}

  private final LayerMeta meta;
  private final Opener opener;
  /** The only bucket every file holds (a flush), or {@link #ANY_BUCKET}. */
  private final int onlyBucket;
  private final AtomicReferenceArray<Part> parts;
  /**
   * Files set aside while gets may read them; closed with the layer, not sooner: closing a
   * reader cancels HBase's prefetch of its path, which a warm reader of the same file may be
   * running. At most one per file for each time its bucket arrived or left while the layer
   * lived. Guarded by this.
   */
  private final List<Part> setAside = new ArrayList<>();
  private final RefCount refs = new RefCount();
  /** Bytes of the open files that were prefetched (at most {@link Opener#prefetchBudget}). Guarded by this. */
  private long prefetchedBytes;
  /** Whether a file was opened warm without a prefetch for want of budget (logged once). Guarded by this. */
  private boolean overBudget;

  private LayerReader(LayerMeta meta, Opener opener) {
    this.meta = meta;
    this.opener = opener;
    this.onlyBucket = onlyBucket(meta);
    this.parts = new AtomicReferenceArray<>(meta.partitions);
  }

  /**
   * Opens a layer: at once the files of the buckets {@code held} accepts (warm) and the
   * files that may hold any bucket; the rest when first read. Checks that every partition
   * has a file, and each opened file's partition against the metadata.
   *
   * <p>Each file is opened through an HBase {@link FileLink} over its two possible homes,
   * {@code layers/<id>/} and {@code retired/<id>/}: a rollback renames the layer while gets
   * may still be reading it, and a plain stream would fail once the filesystem looks the
   * path up again. The link re-opens the file where it now lives.
   */
  static LayerReader open(Opener opener, LayerMeta meta, IntPredicate held) throws IOException {
    boolean[] listed = new boolean[meta.partitions];
    meta.files.forEach(f -> listed[f.partition] = true);
    for (int i = 0; i < listed.length; i++) {
      if (!listed[i]) {
        throw new CorruptionException("layer " + meta.layerId + " has no file for partition " + i);
      }
    }
    LayerReader l = new LayerReader(meta, opener);
    try {
      for (int p = 0; p < meta.partitions; p++) {
        int b = l.bucketOfPartition(p);
        if (b == ANY_BUCKET || held.test(b)) {
          l.part(p, b != ANY_BUCKET);
        }
      }
    } catch (IOException | RuntimeException e) {
      l.closeAll();
      throw e;
    }
    return l;
  }

  /**
   * The bucket of the table whose keys alone partition {@code p}'s file holds, or
   * {@link #ANY_BUCKET}. A key's partition is {@code h mod P} and its bucket {@code h mod B}
   * (h its {@link KeyPartitioner#hash}); when B divides P, {@code (h mod P) mod B = h mod B},
   * so file p holds bucket {@code p mod B}. A flush holds the keys of the one bucket whose
   * log it covers, whatever its partition count.
   */
  int bucketOfPartition(int p) {
    if (onlyBucket != ANY_BUCKET) {
      return onlyBucket;
    }
    return meta.partitions % opener.buckets() == 0 ? p % opener.buckets() : ANY_BUCKET;
  }

  private static int onlyBucket(LayerMeta meta) {
    return LayerId.FLUSH.equals(meta.kind) && meta.walThrough.size() == 1
        ? meta.walThrough.keySet().iterator().next() : ANY_BUCKET;
  }

  /** False if no file of this layer can hold a key of {@code bucket}, so a get may skip it. */
  boolean mayHold(int bucket) {
    return onlyBucket == ANY_BUCKET || onlyBucket == bucket;
  }

  /** Partition {@code p}'s file, opened now (warm or cold) if it is not open yet. */
  private Part part(int p, boolean warm) throws IOException {
    Part x = parts.get(p);
    if (x != null) {
      return x;
    }
    synchronized (this) {
      x = parts.get(p);
      if (x == null) {
        x = openPart(p, warm);
        parts.set(p, x);
      }
      return x;
    }
  }

  private Part openPart(int p, boolean warm) throws IOException {
    LayerMeta.FileMeta f = meta.files.stream().filter(x -> x.partition == p).findFirst().orElseThrow();
    TableLayout layout = opener.layout();
    boolean prefetching = warm && opener.prefetch() && prefetchedBytes + f.bytes <= opener.prefetchBudget();
    if (prefetching) {
      opener.evicted().forget(f.name); // the prefetch about to start caches it whole again
    } else if (warm && opener.prefetch() && !overBudget) {
      overBudget = true;
      LOG.info("layer {}: {} bytes of its files prefetched, and {} more would pass the {} bytes one layer may "
          + "prefetch ({} of the block cache): its other files of buckets held here are cached as gets read them",
          meta.layerId, prefetchedBytes, f.bytes, opener.prefetchBudget(), PodConfig.LAYERS_PREFETCH_CACHE_PERCENT);
    }
    HFile.Reader r = openLinked(opener.fs(), new Path(layout.layerDir(meta.layerId), f.name),
        new Path(layout.retiredDir(meta.layerId), f.name), prefetching ? opener.warm() : opener.cold(),
        opener.conf());
    try {
      byte[] stored = r.getHFileInfo().get(LayerFormat.INFO_PARTITION);
      if (stored == null || !Integer.toString(p).equals(new String(stored, StandardCharsets.UTF_8))) {
        throw new CorruptionException(f.name + " does not hold partition " + p);
      }
      var bloomMeta = r.getGeneralBloomFilterMetadata();
      Part x = new Part(r, bloomMeta == null ? null : BloomFilterFactory.createFromMeta(bloomMeta, r), warm,
          prefetching, f.bytes);
      if (prefetching) {
        prefetchedBytes += f.bytes;
      }
      return x;
    } catch (IOException | RuntimeException e) {
      closeQuietly(r);
      throw e;
    }
  }

  /**
   * Opens warm the files of {@code bucket} (a bucket this pod now holds): a file not open
   * yet opens with a prefetch, and one opened cold (read for an absent holder) is replaced
   * by a warm one. Files that may hold any bucket are open already and stay as they are.
   */
  void warm(int bucket) throws IOException {
    for (int p = 0; p < meta.partitions; p++) {
      if (bucketOfPartition(p) != bucket) {
        continue;
      }
      synchronized (this) {
        Part x = parts.get(p);
        if (x == null || !x.warm()) {
          parts.set(p, openPart(p, true));
          if (x != null) {
            setAside.add(x);
          }
        }
      }
    }
  }

  /**
   * Sets aside the files of {@code bucket} (a bucket this pod no longer holds) and drops
   * their blocks from the block cache. A later read for it opens them again, cold.
   */
  void cool(int bucket) {
    for (int p = 0; p < meta.partitions; p++) {
      if (bucketOfPartition(p) != bucket) {
        continue;
      }
      synchronized (this) {
        Part x = parts.getAndSet(p, null);
        if (x != null) {
          setAside.add(x);
          if (x.prefetching()) {
            prefetchedBytes -= x.bytes();
          }
          opener.warm().getBlockCache().ifPresent(c -> c.evictBlocksByHfileName(x.reader().getName()));
        }
      }
    }
  }

  /**
   * True if no file of this layer can hold {@code bucket}, or every file that does was
   * prefetched when it opened (warm, within the layer's budget), HBase's prefetch of it has
   * ended, and the cache has evicted none of its blocks for room since it opened
   * ({@link EvictedFiles}), so that a get of the bucket reads no block from the filesystem
   * (but for an eviction racing the get). False for files that may hold any bucket (never
   * prefetched), for files over the layer's prefetch budget, and when prefetching is off.
   */
  boolean prefetched(int bucket) {
    if (!mayHold(bucket)) {
      return true;
    }
    if (!opener.prefetch()) {
      return false;
    }
    for (int p = 0; p < meta.partitions; p++) {
      int b = bucketOfPartition(p);
      if (b == ANY_BUCKET) {
        return false;
      }
      if (b == bucket) {
        Part x = parts.get(p);
        if (x == null || !x.prefetching() || !PrefetchExecutor.isCompleted(x.reader().getPath())
            || opener.evicted().evictedFrom(x.reader().getName())) {
          return false;
        }
      }
    }
    return true;
  }

  /** How many of this layer's files are open now (set-aside ones not counted). */
  int openFiles() {
    int n = 0;
    for (int p = 0; p < parts.length(); p++) {
      if (parts.get(p) != null) {
        n++;
      }
    }
    return n;
  }

  private static HFile.Reader openLinked(FileSystem fs, Path live, Path retired, CacheConfig cache,
                                         Configuration conf) throws IOException {
    FileLink link = new FileLink(live, retired);
    FSDataInputStreamWrapper in = new FSDataInputStreamWrapper(fs, link, false, -1L);
    try {
      ReaderContext ctx = new ReaderContextBuilder()
          .withFilePath(live)
          .withInputStreamWrapper(in)
          .withFileSize(link.getFileStatus(fs).getLen())
          .withFileSystem(fs)
          .withPrimaryReplicaReader(true)
          .withReaderType(ReaderContext.ReaderType.PREAD)
          .build();
      HFileInfo info = new HFileInfo(ctx, conf);
      HFile.Reader r = HFile.createReader(ctx, info, cache, conf);
      info.initMetaAndIndex(r);
      return r;
    } catch (IOException | RuntimeException e) {
      in.close();
      throw e;
    }
  }

  LayerMeta meta() {
    return meta;
  }

  String id() {
    return meta.layerId;
  }

  /**
   * The record stored for {@code key}, or null. {@code hash} is the key's
   * {@link KeyPartitioner#hash}; {@code cache} says whether the blocks read stay in the
   * block cache (true for keys of buckets this pod holds). Requires a retained reader.
   */
  Found get(byte[] key, long hash, boolean cache) throws IOException {
    int p = KeyPartitioner.bucketOfHash(hash, meta.partitions);
    Part part = part(p, false);
    HFile.Reader r = part.reader();
    if (r.getEntries() == 0) {
      return null;
    }
    if (part.bloom() != null && !part.bloom().contains(key, 0, key.length, null)) {
      return null;
    }
    try (HFileScanner s = r.getScanner(opener.conf(), cache, true)) {
      Cell probe = KeyValueUtil.createFirstOnRow(key, LayerFormat.FAMILY, LayerFormat.QUALIFIER);
      if (!seekAtOrAfter(s, probe)) {
        return null;
      }
      Cell c = s.getCell();
      if (!CellUtil.matchingRows(c, key)) {
        return null;
      }
      return new Found(c.getTimestamp(), CellUtil.cloneValue(c));
    }
  }

  /**
   * Positions {@code s} at the first cell at or after {@code probe}; false if there is none.
   * {@code seekTo(cell)} answers -1 when the probe is before the file's first cell,
   * {@link HConstants#INDEX_KEY_MAGIC} when it is before the first cell of the block the
   * (shortened) index chose, already positioned on that cell, 0 on an exact match, and 1
   * when positioned on the last cell before the probe.
   */
  static boolean seekAtOrAfter(HFileScanner s, Cell probe) throws IOException {
    int at = s.seekTo(probe);
    if (at == HConstants.INDEX_KEY_MAGIC) {
      return true;
    }
    if (at < 0) {
      return s.seekTo();
    }
    return at == 0 || s.next();
  }

  int partitions() {
    return meta.partitions;
  }

  /**
   * A scanner for one pass over a partition's file in key order (compaction). It does not
   * fill the block cache, so a pass does not evict the blocks gets need. Requires a retained
   * reader; the caller closes the scanner.
   */
  HFileScanner scan(int partition) throws IOException {
    return part(partition, false).reader().getScanner(opener.conf(), false, false);
  }

  boolean retain() {
    return refs.tryRetain();
  }

  void release() {
    if (refs.release()) {
      LOG.info("closing layer {}", meta.layerId);
      closeAll();
    }
  }

  private synchronized void closeAll() {
    for (int p = 0; p < parts.length(); p++) {
      Part x = parts.getAndSet(p, null);
      if (x != null) {
        closeQuietly(x.reader());
      }
    }
    setAside.forEach(x -> closeQuietly(x.reader()));
    setAside.clear();
  }

  /** Closes {@code r} and drops its blocks from the block cache. */
  private static void closeQuietly(HFile.Reader r) {
    try {
      r.close(true);
    } catch (IOException e) {
      LOG.warn("error closing {}: {}", r.getPath(), e.toString());
    }
  }

  @Override
  public String toString() {
    return "LayerReader[" + meta.layerId + ", " + meta.partitions + " partitions, " + openFiles() + " open]";
  }
}
