package io.kvpod.pod;

import java.util.Iterator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.hadoop.hbase.io.hfile.BlockCache;
import org.apache.hadoop.hbase.io.hfile.BlockCacheKey;
import org.apache.hadoop.hbase.io.hfile.CacheStats;
import org.apache.hadoop.hbase.io.hfile.Cacheable;
import org.apache.hadoop.hbase.io.hfile.CachedBlock;
import org.apache.hadoop.hbase.io.hfile.FirstLevelBlockCache;

/**
 * The HFiles of which the block cache has evicted a block for room, so that a get of a file
 * that was prefetched whole can tell whether it may still read from the filesystem.
 *
 * <p>HBase's first-level caches ({@code LruBlockCache}, {@code TinyLfuBlockCache}) hand every
 * block they evict for room to their victim cache, which is where an off-heap second level
 * would sit. {@link #of} installs an instance there that keeps only the evicted block's file
 * name and caches nothing: a lookup that misses the first level misses here too, as it did
 * with no victim cache. Blocks dropped with their file ({@code evictBlocksByHfileName}) are
 * not evictions for room and are not recorded.
 *
 * <p>Before this, one eviction anywhere in the cache sent every get of every table to a
 * worker thread for as long as the pod ran, so that a bulk load into one table whose layer
 * overflowed the cache slowed the gets of all the others. Recording evictions per file limits
 * that to the files that lost blocks.
 *
 * <p>With any other cache (a combined one with an off-heap second level, which has its own
 * victim cache) nothing can be installed, and every file counts as evicted from once the
 * cache has evicted anything for room, as before. Thread-safe.
 */
final class EvictedFiles implements BlockCache {
  private final BlockCache cache;
  /** Names of files that lost a block since {@link #forget}; null when nothing could be installed. */
  private final Set<String> names;
  /** Bumped each time a file is added to {@link #names}. */
  private final AtomicLong generation = new AtomicLong();
  private final CacheStats stats = new CacheStats("kvpod-evicted-files");

  private EvictedFiles(BlockCache cache, boolean tracking) {
    this.cache = cache;
    this.names = tracking ? ConcurrentHashMap.newKeySet() : null;
  }

  /**
   * The record of evictions of {@code cache}: the one installed already, or a new one, installed
   * as its victim cache where the cache has one to set.
   */
  static synchronized EvictedFiles of(BlockCache cache) {
    if (!(cache instanceof FirstLevelBlockCache first)) {
      return new EvictedFiles(cache, false);
    }
    BlockCache[] levels = first.getBlockCaches();
    if (levels != null) {
      for (BlockCache level : levels) {
        if (level instanceof EvictedFiles installed) {
          return installed;
        }
      }
      return new EvictedFiles(cache, false); // a victim cache of someone else's: leave it
    }
    EvictedFiles e = new EvictedFiles(cache, true);
    first.setVictimCache(e);
    return e;
  }

  /** True if the cache may have evicted a block of the file named {@code hfileName} for room since it was last forgotten. */
  boolean evictedFrom(String hfileName) {
    return names == null ? cache.getStats().getEvictedCount() > 0 : names.contains(hfileName);
  }

  /**
   * A number that changes whenever {@link #evictedFrom} may have turned true for some file, so
   * that an answer of false may be kept until it changes.
   */
  long generation() {
    return names == null ? (cache.getStats().getEvictedCount() > 0 ? 1 : 0) : generation.get();
  }

  /** Forgets past evictions of {@code hfileName}: call before the file is opened and prefetched again. */
  void forget(String hfileName) {
    if (names != null) {
      names.remove(hfileName);
    }
  }

  /** How many files have lost a block since they were last forgotten (0 when not tracking per file). */
  int count() {
    return names == null ? 0 : names.size();
  }

  // ---- BlockCache, as a victim cache: records the name, keeps nothing ----

  @Override
  public void cacheBlock(BlockCacheKey key, Cacheable block, boolean inMemory) {
    cacheBlock(key, block);
  }

  @Override
  public void cacheBlock(BlockCacheKey key, Cacheable block) {
    if (names != null && names.add(key.getHfileName())) {
      generation.incrementAndGet();
    }
  }

  @Override
  public Cacheable getBlock(BlockCacheKey key, boolean caching, boolean repeat, boolean updateCacheMetrics) {
    return null;
  }

  @Override
  public boolean evictBlock(BlockCacheKey key) {
    return false;
  }

  @Override
  public int evictBlocksByHfileName(String hfileName) {
    return 0;
  }

  @Override
  public CacheStats getStats() {
    return stats;
  }

  @Override
  public void shutdown() {}

  @Override
  public long size() {
    return 0;
  }

  @Override
  public long getMaxSize() {
    return 0;
  }

  @Override
  public long getFreeSize() {
    return 0;
  }

  @Override
  public long getCurrentSize() {
    return 0;
  }

  @Override
  public long getCurrentDataSize() {
    return 0;
  }

  @Override
  public long getBlockCount() {
    return 0;
  }

  @Override
  public long getDataBlockCount() {
    return 0;
  }

  @Override
  public Iterator<CachedBlock> iterator() {
    return java.util.Collections.emptyIterator();
  }

  @Override
  public BlockCache[] getBlockCaches() {
    return null;
  }
}
