package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.TableLayout;
import io.kvpod.loader.MiniHdfs;
import io.kvpod.wal.WalFormat;
import io.kvpod.wal.WriteAheadLog;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pieces of a takeover, on a real HDFS: the exclusive claim, and the two fences on the
 * old holder's log (lease recovery for the open segment, the segment guard for a segment it
 * starts after the claim). Each "pod" is its own HDFS client, as separate processes are.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TakeoverFencingTest {
  @TempDir
  static File tmp;
  private MiniHdfs hdfs;

  @BeforeAll
  void start() throws IOException {
    hdfs = new MiniHdfs(new File(tmp, "dfs"), 1);
  }

  @AfterAll
  void stop() {
    if (hdfs != null) {
      hdfs.close();
    }
  }

  /** A new HDFS client, as another process would have (leases belong to clients). */
  private FileSystem newClient() throws IOException {
    return FileSystem.newInstance(URI.create(hdfs.uri()), hdfs.conf());
  }

  private static byte[] body(String key) {
    WalFormat.BodyBuilder b = new WalFormat.BodyBuilder();
    b.add(key.getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
    return b.build();
  }

  private static List<String> replayKeys(WriteAheadLog wal) throws IOException {
    List<String> keys = new ArrayList<>();
    wal.recover(0, e -> e.forEachRecord((k, v) -> keys.add(new String(k, StandardCharsets.UTF_8))),
        (s, v, d) -> { }, 30_000);
    return keys;
  }

  @Test
  void ofManyPodsClaimingTheSameEpochExactlyOneWins() throws Exception {
    TableLayout layout = new TableLayout(hdfs.uri() + "/claims", "t");
    int claimers = 8;
    ExecutorService pool = Executors.newFixedThreadPool(claimers);
    List<FileSystem> clients = new ArrayList<>();
    try {
      List<Future<Boolean>> won = new ArrayList<>();
      for (int i = 0; i < claimers; i++) {
        FileSystem fs = newClient();
        clients.add(fs);
        int pod = i;
        Callable<Boolean> claim = () -> new Ownership(fs, layout, 3).claim(1, 1, pod % 3);
        won.add(pool.submit(claim));
      }
      int winners = 0;
      for (Future<Boolean> f : won) {
        winners += f.get() ? 1 : 0;
      }
      assertEquals(1, winners, "exactly one claim of (bucket 1, epoch 1) succeeds");
      Ownership.View v = new Ownership(clients.get(0), layout, 3).refresh();
      assertEquals(1, v.of(1).epoch());
      assertTrue(v.of(1).holder() >= 0 && v.of(1).holder() < 3);
      assertEquals(new Ownership.Holding(0, 0), v.of(0), "an unclaimed bucket is held by its home pod");
    } finally {
      pool.shutdownNow();
      for (FileSystem fs : clients) {
        fs.close();
      }
    }
  }

  @Test
  void aRecoveredLeaseFencesTheOldWriterAndKeepsEveryAcknowledgedEntry() throws Exception {
    Path dir = new Path(hdfs.uri() + "/fence-lease/wal/pod-1");
    try (FileSystem oldFs = newClient(); FileSystem newFs = newClient()) {
      WriteAheadLog old = new WriteAheadLog(oldFs, dir, 1, WriteAheadLog.Durability.HFLUSH);
      replayKeys(old);
      for (int i = 0; i < 10; i++) {
        old.append(1, body("acked-" + i));
      }
      old.sync(); // acknowledged from here on

      WriteAheadLog taker = new WriteAheadLog(newFs, dir, 1, WriteAheadLog.Durability.HFLUSH);
      List<String> replayed = replayKeys(taker); // recovers the lease on the open segment
      for (int i = 0; i < 10; i++) {
        assertTrue(replayed.contains("acked-" + i), "acknowledged entry " + i + " replayed: " + replayed);
      }

      // the write fails at its append or at its sync, depending on when the DataNode's refusal arrives
      IOException fenced = assertThrows(IOException.class, () -> {
        old.append(2, body("after-fence"));
        old.sync();
      }, "the old writer cannot make a write durable once fenced");
      assertNotNull(old.failure());
      assertThrows(IOException.class, () -> old.append(3, body("later")), "and it refuses every later write");

      taker.append(4, body("new-holder"));
      taker.sync();
      taker.close();
      old.close();
      WriteAheadLog reader = new WriteAheadLog(newFs, dir, 1, WriteAheadLog.Durability.HFLUSH);
      List<String> all = replayKeys(reader);
      assertTrue(all.contains("new-holder"), all.toString());
      assertTrue(!all.contains("later"), "a write refused by the fenced writer is nowhere: " + all);
      reader.close();
      System.out.println("[fence] the fenced writer's write failed with: " + fenced.getMessage());
    }
  }

  @Test
  void aSegmentTheOldHolderStartsAfterTheClaimIsRefused() throws Exception {
    TableLayout layout = new TableLayout(hdfs.uri() + "/fence-guard", "t");
    Path dir = layout.walDir(2);
    try (FileSystem oldFs = newClient(); FileSystem newFs = newClient()) {
      Ownership oldView = new Ownership(oldFs, layout, 3);
      assertTrue(oldView.claim(2, 1, 2));
      WriteAheadLog old = new WriteAheadLog(oldFs, dir, 2, WriteAheadLog.Durability.HFLUSH, segment -> {
        Ownership.Holding h = oldView.refresh().of(2);
        if (!h.equals(new Ownership.Holding(2, 1))) {
          throw new IOException("bucket 2 is held by pod " + h.holder() + " since epoch " + h.epoch());
        }
      });
      replayKeys(old);
      old.append(1, body("before-claim"));
      old.sync();

      assertTrue(new Ownership(newFs, layout, 3).claim(2, 2, 0), "pod 0 claims bucket 2");
      IOException refused = assertThrows(IOException.class, old::roll,
          "the old holder may not start a segment after the claim");
      assertTrue(refused.getMessage().contains("held by pod 0"), refused.getMessage());
      assertThrows(IOException.class, () -> old.append(2, body("after-claim")));
      old.close();

      WriteAheadLog taker = new WriteAheadLog(newFs, dir, 2, WriteAheadLog.Durability.HFLUSH);
      List<String> replayed = replayKeys(taker);
      assertEquals(List.of("before-claim"), replayed);
      taker.close();
    }
  }
}
