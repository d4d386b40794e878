package io.kvpod.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.CorruptionException;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.Syncable;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The WAL on the local filesystem: format, replay rules and failure handling. */
class WriteAheadLogTest {
  @TempDir
  File tmp;
  private FileSystem fs;
  private Path dir;

  @BeforeEach
  void setUp() throws IOException {
    fs = FileSystem.getLocal(new Configuration()).getRaw();
    dir = new Path(tmp.getAbsolutePath(), "wal/pod-0");
  }

  private static byte[] body(String... kv) {
    WalFormat.BodyBuilder b = new WalFormat.BodyBuilder();
    for (int i = 0; i < kv.length; i += 2) {
      b.add(kv[i].getBytes(StandardCharsets.UTF_8), kv[i + 1].getBytes(StandardCharsets.UTF_8));
    }
    return b.build();
  }

  /** Replays everything above {@code covered}; returns "seq:key=value" strings. */
  private List<String> replay(long covered, List<String> torn) throws IOException {
    List<String> out = new ArrayList<>();
    WalReplay.replay(fs, dir, covered, e -> e.forEachRecord((k, v) -> out.add(e.seq() + ":"
        + new String(k, StandardCharsets.UTF_8) + "=" + new String(v, StandardCharsets.UTF_8))),
        (seg, valid, dropped) -> torn.add(seg.getName() + "@" + valid + "+" + dropped));
    return out;
  }

  private WriteAheadLog openFresh() throws IOException {
    WriteAheadLog wal = new WriteAheadLog(fs, dir, 0, WriteAheadLog.Durability.HFLUSH);
    wal.recover(0, e -> { }, (s, v, d) -> { }, 1000);
    return wal;
  }

  private Path onlySegment() throws IOException {
    List<Path> segs = WalReplay.segments(fs, dir);
    assertEquals(1, segs.size());
    return segs.get(0);
  }

  @Test
  void entriesReplayInOrderAcrossSegmentsAndRetiredOnesAreSkipped() throws IOException {
    try (WriteAheadLog wal = openFresh()) {
      assertEquals(1, wal.append(10, body("a", "1", "b", "2")));
      wal.sync();
      assertEquals(1, wal.roll());
      assertEquals(2, wal.append(11, body("a", "3")));
      assertEquals(3, wal.append(11, body("c", "4")));
      wal.sync();
      wal.roll();
      assertEquals(1, wal.retireThrough(1));
      assertEquals(2, wal.segmentCount());
    }
    List<String> torn = new ArrayList<>();
    assertEquals(List.of("2:a=3", "3:c=4"), replay(1, torn));
    assertEquals(List.of("3:c=4"), replay(2, torn));
    assertTrue(torn.isEmpty());
  }

  @Test
  void truncatedTailIsDroppedOnReplay() throws IOException {
    try (WriteAheadLog wal = openFresh()) {
      wal.append(10, body("a", "1"));
      wal.append(10, body("b", "2"));
      wal.sync();
    }
    Path seg = onlySegment();
    File f = new File(seg.toUri().getPath());
    byte[] all = Files.readAllBytes(f.toPath());
    Files.write(f.toPath(), java.util.Arrays.copyOf(all, all.length - 3));
    List<String> torn = new ArrayList<>();
    assertEquals(List.of("1:a=1"), replay(0, torn));
    assertEquals(1, torn.size());
    assertTrue(torn.get(0).endsWith("+" + (all.length - 3 - (WalFormat.HEADER_BYTES + 12 + 16 + 5))), torn.toString());

    // recovery starts a new segment at the torn entry's number; a second recovery accepts the
    // old torn tail, because the next segment continues right after its last whole entry
    try (WriteAheadLog wal = new WriteAheadLog(fs, dir, 0, WriteAheadLog.Durability.HFLUSH)) {
      WalReplay.Result r = wal.recover(0, e -> { }, (s, v, d) -> { }, 1000);
      assertEquals(2, r.nextSeq());
      assertEquals(2, wal.append(12, body("c", "3")));
      wal.sync();
    }
    torn.clear();
    assertEquals(List.of("1:a=1", "2:c=3"), replay(0, torn));
    assertEquals(1, torn.size());
  }

  @Test
  void flippedByteInTheMiddleOfASegmentFailsReplayLoudly() throws IOException {
    try (WriteAheadLog wal = openFresh()) {
      for (int i = 0; i < 10; i++) {
        wal.append(10, body("key" + i, "value" + i));
      }
      wal.sync();
    }
    File f = new File(onlySegment().toUri().getPath());
    byte[] all = Files.readAllBytes(f.toPath());
    all[all.length / 2] ^= 0x10;
    Files.write(f.toPath(), all);
    CorruptionException e = assertThrows(CorruptionException.class, () -> replay(0, new ArrayList<>()));
    assertTrue(e.getMessage().contains("corrupt at byte"), e.getMessage());
    assertThrows(CorruptionException.class,
        () -> new WriteAheadLog(fs, dir, 0, WriteAheadLog.Durability.HFLUSH).recover(0, x -> { }, (s, v, d) -> { }, 1000));
  }

  @Test
  void flippedLengthByteIsCorruptionNotATornTail() throws IOException {
    try (WriteAheadLog wal = openFresh()) {
      wal.append(10, body("a", "1"));
      wal.append(10, body("b", "2"));
      wal.sync();
    }
    File f = new File(onlySegment().toUri().getPath());
    byte[] all = Files.readAllBytes(f.toPath());
    int secondEntry = WalFormat.HEADER_BYTES + WalFormat.ENTRY_HEADER_BYTES + 16 + 5;
    all[secondEntry + 2] ^= 0x7f; // would claim a longer entry than the file holds
    Files.write(f.toPath(), all);
    assertThrows(CorruptionException.class, () -> replay(0, new ArrayList<>()));
  }

  @Test
  void aMissingSegmentIsCorruption() throws IOException {
    try (WriteAheadLog wal = openFresh()) {
      wal.append(10, body("a", "1"));
      wal.sync();
      wal.roll();
      wal.append(10, body("b", "2"));
      wal.sync();
      wal.roll();
      wal.append(10, body("c", "3"));
      wal.sync();
    }
    List<Path> segs = WalReplay.segments(fs, dir);
    fs.delete(segs.get(1), false);
    WalGapException e = assertThrows(WalGapException.class, () -> replay(0, new ArrayList<>()));
    assertTrue(e.getMessage().contains("starts at sequence 3"), e.getMessage());
    assertEquals(2, e.missingFrom(), "entry 2 is missing");
    assertEquals(2, e.missingThrough(), "only entry 2 is missing");
    // but if a layer covers entries 1..2, the gap is no loss
    assertEquals(List.of("3:c=3"), replay(2, new ArrayList<>()));
    // and entries the layers claim but no segment holds are a loss
    fs.delete(segs.get(0), false);
    WalGapException oldest = assertThrows(WalGapException.class, () -> replay(1, new ArrayList<>()));
    assertEquals(2, oldest.missingFrom());
    assertEquals(2, oldest.missingThrough(), "what a flush published since would have to cover to retry");
  }

  @Test
  void aSegmentTornInsideItsHeaderIsSkippedAndLeftAloneOnRecovery() throws IOException {
    fs.mkdirs(dir);
    Path torn1 = new Path(dir, WalFormat.segmentName(1, 1));
    try (OutputStream o = fs.create(torn1)) {
      o.write(WalFormat.header(0, 1, 1, 0), 0, 7);
    }
    List<String> torn = new ArrayList<>();
    try (WriteAheadLog wal = epoch(2)) {
      assertEquals(1, wal.recover(0, e -> { }, (s, v, d) -> torn.add(s.getName()), 1000).nextSeq());
      assertEquals(1, wal.append(5, body("k", "v")));
      wal.sync();
    }
    assertEquals(List.of(torn1.getName()), torn);
    assertEquals(7, fs.getFileStatus(torn1).getLen(), "recovery neither deletes nor rewrites another epoch's segment");
    assertEquals(List.of("1:k=v"), replay(0, new ArrayList<>()));
  }

  /** A log written by {@code pod 0} as holder of epoch {@code e}. */
  private WriteAheadLog epoch(long e) {
    return new WriteAheadLog(fs, dir, new WriteAheadLog.Writer(0, e, 0), WriteAheadLog.Durability.HFLUSH, s -> { });
  }

  /** Writes a segment of {@code epoch} holding entries {@code first..last} (none if last < first). */
  private void writeSegment(long epoch, long first, long last) throws IOException {
    fs.mkdirs(dir);
    try (OutputStream o = fs.create(new Path(dir, WalFormat.segmentName(first, epoch)))) {
      o.write(WalFormat.header(0, first, epoch, 0));
      for (long seq = first; seq <= last; seq++) {
        o.write(WalFormat.entry(seq, 10, body("k" + seq, "e" + epoch)));
      }
    }
  }

  @Test
  void everySegmentNameCarriesItsWritersEpochAndRecoveryStartsItsOwn() throws IOException {
    try (WriteAheadLog first = epoch(1)) {
      first.recover(0, e -> { }, (s, v, d) -> { }, 1000);
      first.append(10, body("a", "1"));
      first.sync();
    } // no roll: the epoch-1 segment is what a crashed holder leaves
    long before = fs.getFileStatus(onlySegment()).getLen();
    try (WriteAheadLog second = epoch(2)) {
      assertEquals(2, second.recover(0, e -> { }, (s, v, d) -> { }, 1000).nextSeq());
      second.append(11, body("b", "2"));
      second.sync();
    }
    List<String> names = WalReplay.segments(fs, dir).stream().map(Path::getName).toList();
    assertEquals(List.of(WalFormat.segmentName(1, 1), WalFormat.segmentName(2, 2)), names);
    assertEquals(before, fs.getFileStatus(new Path(dir, names.get(0))).getLen(), "epoch 1's segment is untouched");
    assertEquals(List.of("1:a=1", "2:b=2"), replay(0, new ArrayList<>()));
  }

  @Test
  void recoveryRefusesALogThatALaterEpochHasWritten() throws IOException {
    writeSegment(5, 1, 3);
    SupersededException e = assertThrows(SupersededException.class,
        () -> epoch(4).recover(0, x -> { }, (s, v, d) -> { }, 1000));
    assertTrue(e.getMessage().contains("epoch 5"), e.getMessage());
    assertEquals(1, WalReplay.segments(fs, dir).size(), "and it created no segment");
  }

  @Test
  void anEmptySegmentLeftByARefusedHolderIsSkippedOnReplay() throws IOException {
    writeSegment(1, 1, 3);   // entries 1..3
    writeSegment(0, 2, 1);   // a stale holder that had seen entry 1 only, refused before its first entry
    writeSegment(2, 4, 5);   // the holder after epoch 1
    assertEquals(List.of("1:k1=e1", "2:k2=e1", "3:k3=e1", "4:k4=e2", "5:k5=e2"), replay(0, new ArrayList<>()));
  }

  @Test
  void anEmptySegmentNamedAfterEntriesThatNoSegmentHoldsIsCorruption() throws IOException {
    writeSegment(1, 1, 3);
    writeSegment(2, 10, 9); // its writer had seen entries through 9: 4..9 are gone
    WalGapException e = assertThrows(WalGapException.class, () -> replay(0, new ArrayList<>()));
    assertTrue(e.getMessage().contains("missing entries 4..9"), e.getMessage());
    assertEquals(9, e.missingThrough());
    assertEquals(List.of(), replay(9, new ArrayList<>()), "unless the layers cover them");
  }

  @Test
  void retiringGoesByEachSegmentsLastEntryNotByTheNameOfTheNext() throws IOException {
    writeSegment(1, 1, 10);  // entries 1..10, closed
    writeSegment(0, 5, 4);   // an empty stale segment that sorts between
    try (WriteAheadLog wal = epoch(2)) {
      assertEquals(11, wal.recover(0, e -> { }, (s, v, d) -> { }, 1000).nextSeq());
      assertEquals(1, wal.retireThrough(7), "only the empty segment: epoch 1's still holds entries 8..10");
      assertEquals(List.of(WalFormat.segmentName(1, 1), WalFormat.segmentName(11, 2)),
          WalReplay.segments(fs, dir).stream().map(Path::getName).toList());
      assertEquals(1, wal.retireThrough(10));
    }
    assertEquals(0, replay(10, new ArrayList<>()).size());
  }

  @Test
  void bodyGrammarRoundTripsBinaryKeysAndEmptyValues() throws IOException {
    byte[] key = {0, (byte) 0xff, 7};
    WalFormat.BodyBuilder b = new WalFormat.BodyBuilder().add(key, new byte[0]).add(new byte[300], new byte[200]);
    byte[] body = b.build();
    List<byte[]> seen = new ArrayList<>();
    WalFormat.forEachRecord(body, 0, body.length, (k, v) -> {
      seen.add(k);
      seen.add(v);
    });
    assertArrayEquals(key, seen.get(0));
    assertEquals(0, seen.get(1).length);
    assertEquals(300, seen.get(2).length);
    assertEquals(200, seen.get(3).length);
    assertThrows(CorruptionException.class, () -> WalFormat.forEachRecord(body, 0, body.length - 1, (k, v) -> { }));
  }

  /** A local filesystem whose streams fail to sync once told to. */
  static final class FailingSyncFs extends RawLocalFileSystem {
    volatile boolean failSyncs;

    @Override
    public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite, int bufferSize,
                                     short replication, long blockSize, Progressable progress) throws IOException {
      FSDataOutputStream real = super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress);
      return new FSDataOutputStream(new SyncFailing(real), null);
    }

    @Override
    public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication, long blockSize,
                                     Progressable progress) throws IOException {
      return create(f, FsPermission.getFileDefault(), overwrite, bufferSize, replication, blockSize, progress);
    }

    private final class SyncFailing extends OutputStream implements Syncable {
      private final FSDataOutputStream out;

      SyncFailing(FSDataOutputStream out) {
        this.out = out;
      }

      @Override
      public void write(int b) throws IOException {
        out.write(b);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
      }

      @Override
      public void hflush() throws IOException {
        if (failSyncs) {
          throw new IOException("injected: DataNode pipeline failed");
        }
        out.hflush();
      }

      @Override
      public void hsync() throws IOException {
        hflush();
      }

      @Override
      public void close() throws IOException {
        out.close();
      }
    }
  }

  @Test
  void afterAFailedSyncTheLogRefusesEveryLaterWrite() throws IOException {
    FailingSyncFs failing = new FailingSyncFs();
    failing.initialize(fs.getUri(), new Configuration());
    WriteAheadLog wal = new WriteAheadLog(failing, dir, 0, WriteAheadLog.Durability.HFLUSH);
    wal.recover(0, e -> { }, (s, v, d) -> { }, 1000);
    wal.append(1, body("a", "1"));
    wal.sync();
    failing.failSyncs = true;
    wal.append(1, body("b", "2"));
    assertThrows(IOException.class, wal::sync);
    failing.failSyncs = false; // even once the cause is gone: whether "b" reached disk is unknown
    IOException later = assertThrows(IOException.class, () -> wal.append(1, body("c", "3")));
    assertTrue(later.getMessage().contains("refuses writes"), later.getMessage());
    assertThrows(IOException.class, wal::sync);
    assertThrows(IOException.class, wal::roll);
    assertTrue(wal.failure() != null);
    wal.close();
  }
}
