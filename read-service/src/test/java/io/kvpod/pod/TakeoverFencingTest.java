package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.TableLayout;
import io.kvpod.loader.MiniHdfs;
import io.kvpod.wal.SupersededException;
import io.kvpod.wal.WalFormat;
import io.kvpod.wal.WalReplay;
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

  private static WriteAheadLog.Writer writer(int bucket, long epoch, int pod) {
    return new WriteAheadLog.Writer(bucket, epoch, pod);
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
        Callable<Boolean> claim = () -> new Ownership(fs, layout, 3, 3).claim(1, 1, pod % 3);
        won.add(pool.submit(claim));
      }
      int winners = 0;
      for (Future<Boolean> f : won) {
        winners += f.get() ? 1 : 0;
      }
      assertEquals(1, winners, "exactly one claim of (bucket 1, epoch 1) succeeds");
      Ownership.View v = new Ownership(clients.get(0), layout, 3, 3).refresh();
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
      WriteAheadLog old = new WriteAheadLog(oldFs, dir, writer(1, 1, 1), WriteAheadLog.Durability.HFLUSH, s -> { });
      replayKeys(old);
      for (int i = 0; i < 10; i++) {
        old.append(1, body("acked-" + i));
      }
      old.sync(); // acknowledged from here on

      WriteAheadLog taker = new WriteAheadLog(newFs, dir, writer(1, 2, 0), WriteAheadLog.Durability.HFLUSH, s -> { });
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
      WriteAheadLog reader = new WriteAheadLog(newFs, dir, writer(1, 3, 0), WriteAheadLog.Durability.HFLUSH, s -> { });
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
      Ownership oldView = new Ownership(oldFs, layout, 3, 3);
      assertTrue(oldView.claim(2, 1, 2));
      WriteAheadLog old = new WriteAheadLog(oldFs, dir, writer(2, 1, 2), WriteAheadLog.Durability.HFLUSH, segment -> {
        Ownership.Holding h = oldView.refresh().of(2);
        if (!h.equals(new Ownership.Holding(2, 1))) {
          throw new IOException("bucket 2 is held by pod " + h.holder() + " since epoch " + h.epoch());
        }
      });
      replayKeys(old);
      old.append(1, body("before-claim"));
      old.sync();

      assertTrue(new Ownership(newFs, layout, 3, 3).claim(2, 2, 0), "pod 0 claims bucket 2");
      IOException refused = assertThrows(IOException.class, old::roll,
          "the old holder may not start a segment after the claim");
      assertTrue(refused.getMessage().contains("held by pod 0"), refused.getMessage());
      assertThrows(IOException.class, () -> old.append(2, body("after-claim")));
      old.close();

      WriteAheadLog taker = new WriteAheadLog(newFs, dir, writer(2, 2, 0), WriteAheadLog.Durability.HFLUSH, s -> { });
      List<String> replayed = replayKeys(taker);
      assertEquals(List.of("before-claim"), replayed);
      taker.close();
    }
  }

  /** A holder of bucket 1 in {@code epoch}, as pod {@code pod}: its log refuses segments once the records say otherwise. */
  private static WriteAheadLog holder(FileSystem fs, TableLayout layout, long epoch, int pod) {
    Ownership records = new Ownership(fs, layout, 3, 3);
    return new WriteAheadLog(fs, layout.walDir(1), writer(1, epoch, pod), WriteAheadLog.Durability.HFLUSH, segment -> {
      Ownership.Holding h = records.refresh().of(1);
      if (h.holder() != pod || h.epoch() != epoch) {
        throw new SupersededException("bucket 1 is held by pod " + h.holder() + " since epoch " + h.epoch());
      }
    });
  }

  /** Closes the log of a holder that a later one fenced: its segment can no longer be completed. */
  private static void closeFenced(WriteAheadLog wal) {
    assertThrows(IOException.class, wal::close);
  }

  private static void ack(WriteAheadLog wal, String key) throws IOException {
    wal.append(1, body(key));
    wal.sync();
  }

  /**
   * The interleaving that lost acknowledged writes: pod 2 claims epoch 6 and is slow to
   * recover; pod 0 takes the bucket (epochs 7 and 8) and starts a segment that holds no
   * entry yet; only then does pod 2's recovery run. It must touch nothing of epoch 8's.
   */
  @Test
  void aStaleClaimerThatRecoversAfterANewerHolderStartedTouchesNoneOfItsSegments() throws Exception {
    TableLayout layout = new TableLayout(hdfs.uri() + "/stale-after", "t");
    try (FileSystem pod2 = newClient(); FileSystem pod0 = newClient(); FileSystem later = newClient()) {
      Ownership o0 = new Ownership(pod0, layout, 3, 3);
      assertTrue(new Ownership(pod2, layout, 3, 3).claim(1, 6, 2), "pod 2 claims epoch 6, then stalls");
      assertTrue(o0.claim(1, 7, 0));
      WriteAheadLog h7 = holder(pod0, layout, 7, 0);
      replayKeys(h7);
      ack(h7, "epoch7-a");
      assertTrue(o0.claim(1, 8, 0));
      WriteAheadLog h8 = holder(pod0, layout, 8, 0);
      replayKeys(h8); // fences epoch 7's segment, starts epoch 8's: empty, as during the lease wait
      Path h8Segment = new Path(layout.walDir(1), WalFormat.segmentName(2, 8));
      assertTrue(pod0.exists(h8Segment));

      WriteAheadLog stale = holder(pod2, layout, 6, 2);
      SupersededException refused = assertThrows(SupersededException.class, () -> replayKeys(stale),
          "pod 2's late recovery sees epoch 8's segment and gives up");
      assertTrue(refused.getMessage().contains("epoch 8"), refused.getMessage());
      assertTrue(pod0.exists(h8Segment), "epoch 8's segment is still there");

      ack(h8, "epoch8-a"); // epoch 8's holder was not fenced by the stale claimer either
      ack(h8, "epoch8-b");
      h8.close();
      closeFenced(h7);
      stale.close();
      assertTrue(o0.claim(1, 9, 0));
      assertEquals(List.of("epoch7-a", "epoch8-a", "epoch8-b"), replayKeys(holder(later, layout, 9, 0)),
          "every acknowledged entry replays");
    }
  }

  /**
   * The same race the other way round: pod 2 lists the segments before pod 0's epoch 8
   * starts one, and finishes after pod 0 has acknowledged writes in it. Pod 2 fences only
   * what it listed, and its own segment is refused before it holds an entry.
   */
  @Test
  void aStaleClaimerThatListedBeforeANewerHolderStartedFencesOnlyWhatItListed() throws Exception {
    TableLayout layout = new TableLayout(hdfs.uri() + "/stale-before", "t");
    try (FileSystem pod2 = newClient(); FileSystem pod0 = newClient(); FileSystem later = newClient()) {
      Ownership o0 = new Ownership(pod0, layout, 3, 3);
      assertTrue(o0.claim(1, 5, 0));
      WriteAheadLog h5 = holder(pod0, layout, 5, 0);
      replayKeys(h5);
      ack(h5, "epoch5-a");
      assertTrue(new Ownership(pod2, layout, 3, 3).claim(1, 6, 2));

      WriteAheadLog stale = holder(pod2, layout, 6, 2);
      WriteAheadLog[] h8 = new WriteAheadLog[1];
      stale.setRecoveryHook(listed -> { // pod 2 has listed the segments; now pod 0 takes the bucket twice
        assertEquals(1, listed.size());
        assertTrue(o0.claim(1, 7, 0));
        assertTrue(o0.claim(1, 8, 0));
        h8[0] = holder(pod0, layout, 8, 0);
        replayKeys(h8[0]);
        ack(h8[0], "epoch8-a");
      });
      assertThrows(SupersededException.class, () -> replayKeys(stale), "pod 2's new segment is refused");
      ack(h8[0], "epoch8-b");
      List<Path> segments = WalReplay.segments(later, layout.walDir(1));
      assertEquals(3, segments.size(), "epoch 5's, epoch 6's refused one, epoch 8's: " + segments);
      h8[0].close();
      closeFenced(h5);
      stale.close();
      assertTrue(o0.claim(1, 9, 0));
      assertEquals(List.of("epoch5-a", "epoch8-a", "epoch8-b"), replayKeys(holder(later, layout, 9, 0)),
          "every acknowledged entry replays, and the refused segment adds nothing");
    }
  }
}
