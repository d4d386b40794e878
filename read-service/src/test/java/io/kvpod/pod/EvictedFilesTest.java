package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.apache.hadoop.hbase.io.hfile.BlockCacheKey;
import org.apache.hadoop.hbase.io.hfile.BlockType;
import org.apache.hadoop.hbase.io.hfile.Cacheable;
import org.apache.hadoop.hbase.io.hfile.CacheableDeserializer;
import org.apache.hadoop.hbase.io.hfile.LruBlockCache;
import org.junit.jupiter.api.Test;

/** HBase's LruBlockCache reports its evictions for room, by file, to {@link EvictedFiles}. */
class EvictedFilesTest {
  private static final long BLOCK = 64 * 1024;

  /** A data block of {@code BLOCK} bytes on the heap, as the cache sizes it. */
  private static final class Block implements Cacheable {
    @Override
    public long heapSize() {
      return BLOCK;
    }

    @Override
    public int getSerializedLength() {
      return (int) BLOCK;
    }

    @Override
    public void serialize(ByteBuffer destination, boolean includeNextBlockMetadata) {
      throw new UnsupportedOperationException("kept on the heap only");
    }

    @Override
    public CacheableDeserializer<Cacheable> getDeserializer() {
      return null;
    }

    @Override
    public BlockType getBlockType() {
      return BlockType.DATA;
    }
  }

  /**
   * A cache of 1 MiB that evicts on the caller's thread when it is over its acceptable size
   * (no eviction thread, so not shut down: its shutdown assumes the thread).
   */
  private static LruBlockCache smallCache() {
    return new LruBlockCache(1024 * 1024, BLOCK, false);
  }

  @Test
  void blocksEvictedForRoomAreRecordedByTheirFileOnly() {
    LruBlockCache cache = smallCache();
    EvictedFiles evicted = EvictedFiles.of(cache);
    assertSame(evicted, EvictedFiles.of(cache), "one record per cache, however many tables ask");
    for (int i = 0; i < 4; i++) { // read twice: multi-access blocks, kept over single-access ones
      cache.cacheBlock(new BlockCacheKey("hot", i * BLOCK), new Block());
      assertNotNull(cache.getBlock(new BlockCacheKey("hot", i * BLOCK), true, false, true));
    }
    for (int i = 0; i < 40; i++) { // 2.5 MiB through a 1 MiB cache, each block read once
      cache.cacheBlock(new BlockCacheKey("cold", i * BLOCK), new Block());
    }
    assertTrue(cache.getStats().getEvictedCount() > 0, "the cache evicted for room");
    assertTrue(evicted.evictedFrom("cold"), "the file whose blocks went is recorded");
    for (int i = 0; i < 4; i++) {
      assertNotNull(cache.getBlock(new BlockCacheKey("hot", i * BLOCK), true, false, true),
          "the file not recorded lost nothing");
    }
    assertFalse(evicted.evictedFrom("hot"), "a file that lost no block is not recorded");
    assertFalse(evicted.evictedFrom("never-cached"));

    cache.evictBlocksByHfileName("hot");
    assertFalse(evicted.evictedFrom("hot"), "blocks dropped with their file were not evicted for room");
    evicted.forget("cold");
    assertFalse(evicted.evictedFrom("cold"), "forgotten when the file opens and is prefetched again");
  }

  @Test
  void aCacheWithAnotherVictimCacheCountsAnyEvictionAgainstEveryFile() {
    LruBlockCache cache = smallCache();
    LruBlockCache secondLevel = smallCache();
    cache.setVictimCache(secondLevel);
    EvictedFiles evicted = EvictedFiles.of(cache);
    assertFalse(evicted.evictedFrom("any"), "nothing evicted yet");
    for (int i = 0; i < 40; i++) {
      cache.cacheBlock(new BlockCacheKey("cold", i * BLOCK), new Block());
    }
    assertTrue(evicted.evictedFrom("any"), "once the cache evicted anything, no file is known whole");
    assertSame(secondLevel, cache.getBlockCaches()[1], "the second level was left in place");
  }
}
