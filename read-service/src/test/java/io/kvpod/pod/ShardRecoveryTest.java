package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.kvpod.contract.LayerId;
import io.kvpod.contract.RecordCodec;
import io.kvpod.contract.TableLayout;
import io.kvpod.wal.WalFormat;
import io.kvpod.wal.WalGapException;
import io.kvpod.wal.WalReplay;
import io.kvpod.wal.WriteAheadLog;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FilterFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.io.hfile.BlockCacheFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Shard#open} against a previous holder that flushes while the new holder recovers:
 * the flush is published, and the segments it covers are retired, right after the new
 * holder took its view of the layers and before it lists the log. Local filesystem; the
 * previous holder's moves are made by a filesystem wrapper at the moment of the listing.
 */
class ShardRecoveryTest {
  private static final int BUCKET = 0;

  @TempDir
  File tmp;
  private final Configuration conf = new Configuration();

  private TableLayout layout() {
    return new TableLayout(new Path(tmp.toURI().toString()), "t");
  }

  private static byte[] value(String v) {
    return RecordCodec.encode(Map.of("v", v));
  }

  /** Runs {@code before} once, the first time the log directory is listed. */
  private static final class ListingHook extends FilterFileSystem {
    private final Path walDir;
    private Runnable before;

    ListingHook(FileSystem fs, Path walDir, Runnable before) {
      super(fs);
      this.walDir = fs.makeQualified(walDir);
      this.before = before;
    }

    @Override
    public FileStatus[] listStatus(Path p) throws IOException {
      if (before != null && makeQualified(p).equals(walDir)) {
        Runnable r = before;
        before = null;
        r.run();
      }
      return super.listStatus(p);
    }
  }

  /** Entries 1..3 (keys a1..a3) in one segment, 4..5 (b4, b5) in the next; the first is closed. */
  private List<Path> writeLog(FileSystem raw) throws IOException {
    Path dir = layout().walDir(BUCKET);
    try (WriteAheadLog wal = new WriteAheadLog(raw, dir, new WriteAheadLog.Writer(BUCKET, 1, 0),
        WriteAheadLog.Durability.HFLUSH, s -> { })) {
      wal.recover(0, e -> { }, (s, v, d) -> { }, 1000);
      for (int i = 1; i <= 3; i++) {
        wal.append(i, new WalFormat.BodyBuilder().add(("a" + i).getBytes(StandardCharsets.UTF_8), value("a" + i))
            .build());
      }
      wal.sync();
      wal.roll();
      for (int i = 4; i <= 5; i++) {
        wal.append(i, new WalFormat.BodyBuilder().add(("b" + i).getBytes(StandardCharsets.UTF_8), value("b" + i))
            .build());
      }
      wal.sync();
    }
    return WalReplay.segments(raw, dir);
  }

  private Shard open(FileSystem walFs) throws IOException {
    LayerWatcher layers = new LayerWatcher(LayerReader.Opener.of(FileSystem.getLocal(conf), layout(), conf,
        BlockCacheFactory.createBlockCache(conf), 1, true));
    Shard.Settings s = new Shard.Settings(1000, 1 << 20, 1 << 20, 64 << 20, 1, 1L << 40, 3_600_000, 5000, 3_600_000);
    Shard.Context ctx = new Shard.Context(0, walFs, layout(), layers, WriteAheadLog.Durability.HFLUSH, s,
        (id, partitions) -> {
          throw new IOException("this test flushes nothing");
        }, () -> { }, new MemoryBudget(1L << 40), PodMetrics.inMemory());
    return Shard.open(ctx, BUCKET, 2, () -> { });
  }

  @Test
  void aFlushPublishedBetweenTheLayerViewAndTheListingIsReplayedAroundNotCalledCorruption() throws Exception {
    FileSystem raw = WriteAheadLog.walFileSystem(FileSystem.getLocal(conf));
    List<Path> segments = writeLog(raw);
    assertEquals(2, segments.size());
    // the previous holder publishes its flush of entries 1..3, then retires their segment
    FileSystem walFs = new ListingHook(raw, layout().walDir(BUCKET), () -> {
      try {
        Map<String, TestLayers.Rec> flushed = new TreeMap<>();
        for (int i = 1; i <= 3; i++) {
          flushed.put("a" + i, TestLayers.Rec.of(i, "a" + i));
        }
        TestLayers.write(conf, FileSystem.getLocal(conf), layout(), LayerId.next(LayerId.FLUSH,
            System.currentTimeMillis()), 1, flushed, Map.of(BUCKET, 3L));
        raw.delete(segments.get(0), false);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    Shard shard = open(walFs);
    try {
      byte[][] keys = {"a1".getBytes(StandardCharsets.UTF_8), "a3".getBytes(StandardCharsets.UTF_8),
          "b4".getBytes(StandardCharsets.UTF_8), "b5".getBytes(StandardCharsets.UTF_8)};
      Found[] got = shard.get(keys);
      String[] want = {"a1", "a3", "b4", "b5"};
      for (int i = 0; i < keys.length; i++) {
        assertNotNull(got[i], want[i] + " is found, in the flushed layer or the replayed log");
        assertEquals(want[i], RecordCodec.decode(got[i].value()).get("v"));
      }
    } finally {
      shard.abandon();
    }
  }

  @Test
  void aGapNoLayerCoversStaysCorruption() throws Exception {
    FileSystem raw = WriteAheadLog.walFileSystem(FileSystem.getLocal(conf));
    List<Path> segments = writeLog(raw);
    raw.delete(segments.get(0), false); // entries 1..3 gone, and no layer holds them
    WalGapException e = assertThrows(WalGapException.class, () -> open(raw));
    assertEquals(1, e.missingFrom());
    assertEquals(3, e.missingThrough());
  }
}
