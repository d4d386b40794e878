package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.wal.WalReplay;
import io.kvpod.wal.WriteAheadLog;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Group commit, memtable application and freezing, on the local filesystem. */
class GroupCommitterTest {
  @TempDir
  File tmp;
  private FileSystem fs;
  private Path dir;
  private WriteAheadLog wal;
  private MemTables mem;
  private GroupCommitter committer;

  @BeforeEach
  void setUp() throws IOException {
    fs = FileSystem.getLocal(new Configuration()).getRaw();
    dir = new Path(tmp.getAbsolutePath(), "wal");
    wal = new WriteAheadLog(fs, dir, 0, WriteAheadLog.Durability.HSYNC);
    wal.recover(0, e -> { }, (s, v, d) -> { }, 1000);
    mem = new MemTables();
    committer = new GroupCommitter(wal, mem, 0, 1 << 20, 1 << 20, 64 << 20, PodMetrics.inMemory());
    committer.start();
  }

  @AfterEach
  void tearDown() throws IOException {
    committer.close();
    wal.close();
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private GroupCommitter.Committed put(String k, String v) throws Exception {
    return committer.write(new byte[][] {b(k)}, new byte[][] {b(v)}, Long.MAX_VALUE, 10_000);
  }

  @Test
  void concurrentWritesShareSyncsAndAreAllReadableAndReplayable() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(16);
    List<Future<GroupCommitter.Committed>> fs = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      int n = i;
      fs.add(pool.submit(() -> put("key" + n, "value" + n)));
    }
    long lastVersion = 0;
    for (Future<GroupCommitter.Committed> f : fs) {
      lastVersion = Math.max(lastVersion, f.get().version());
    }
    pool.shutdown();
    for (int i = 0; i < 2000; i++) {
      assertArrayEquals(b("value" + i), mem.get(b("key" + i)).value(), "key" + i);
    }
    assertTrue(committer.entriesPerSync() > 1.0, "group commit shares syncs: " + committer.entriesPerSync());
    Map<String, String> replayed = new HashMap<>();
    WalReplay.replay(this.fs, dir, 0, e -> e.forEachRecord((k, v) -> replayed.put(new String(k, StandardCharsets.UTF_8),
        new String(v, StandardCharsets.UTF_8))), (s, v, d) -> { });
    assertEquals(2000, replayed.size());
    assertEquals("value1999", replayed.get("key1999"));
  }

  @Test
  void aLaterWriteOfAKeyWinsEvenWithinTheSameMillisecond() throws Exception {
    GroupCommitter.Committed first = put("k", "old");
    GroupCommitter.Committed second = put("k", "new");
    assertTrue(second.version() >= first.version());
    assertTrue(second.seq() > first.seq());
    assertArrayEquals(b("new"), mem.get(b("k")).value());
  }

  @Test
  void freezeCutsTheMemtableAtAKnownSequenceNumberAndRollsTheSegment() throws Exception {
    put("a", "1");
    GroupCommitter.Committed c = put("b", "2");
    MemTables.Frozen f = committer.freeze(10_000);
    assertEquals(c.seq(), f.throughSeq());
    assertEquals(2, f.table().size());
    put("c", "3");
    assertNull(mem.active().get(b("a")));
    assertArrayEquals(b("1"), mem.get(b("a")).value(), "frozen memtables are still read");
    assertEquals(2, wal.segmentCount());
    mem.drop(f);
    assertEquals(1, wal.retireThrough(f.throughSeq()));
    assertNull(mem.get(b("a")));
    assertArrayEquals(b("3"), mem.get(b("c")).value());
  }

  @Test
  void versionsNeverGoBackwards() throws Exception {
    committer.close();
    long future = System.currentTimeMillis() + 3_600_000; // as if the clock stepped back an hour
    committer = new GroupCommitter(wal, mem, future, 1 << 20, 1 << 20, 64 << 20, PodMetrics.inMemory());
    committer.start();
    assertEquals(future, put("k", "v").version());
  }

  @Test
  void writesFailOnceTheWalHasFailed() throws Exception {
    put("a", "1");
    wal.close(); // the next append has no stream: the log fails
    IOException e = assertThrows(IOException.class, () -> put("b", "2"));
    assertTrue(e.getMessage().contains("WAL"), e.getMessage());
    assertNull(mem.get(b("b")), "a write that was not logged is never applied");
  }
}
