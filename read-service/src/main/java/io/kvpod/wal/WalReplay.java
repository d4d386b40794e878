package io.kvpod.wal;

import io.kvpod.contract.CorruptionException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Replays a pod's log: every entry above the sequence number that the published layers
 * already cover, in order, into a {@link Sink}.
 *
 * <p>The rules that tell a crash apart from damage:
 * <ul>
 *   <li>Sequence numbers must run on without a gap, from the first entry not covered by a
 *       layer, within and across segments; a gap is corruption unless the layers cover it.</li>
 *   <li>A segment may end inside an entry (a <em>torn tail</em>: the pod died while writing
 *       it, so it was never acknowledged). The bytes are dropped and reported. A torn tail
 *       is only possible in the last segment, or in a segment after which a recovery
 *       started the next segment at the torn entry's sequence number; the gap rule above
 *       catches every other case.</li>
 *   <li>A checksum, length or sequence error in a complete entry is corruption wherever it
 *       is: replay stops with a {@link CorruptionException} and nothing is skipped.</li>
 * </ul>
 * Stateless; thread-safe.
 */
public final class WalReplay {
  private WalReplay() {}

  /** Receives replayed entries, in sequence order. */
  @FunctionalInterface
  public interface Sink {
    void apply(WalEntry entry) throws IOException;
  }

  /** Told about torn tails that replay dropped. */
  @FunctionalInterface
  public interface Reporter {
    void tornTail(Path segment, long validBytes, long droppedBytes);
  }

  /**
   * What a replay found. {@code nextSeq} is the number the next entry must get;
   * {@code lastSegmentEntries} is how many entries the last segment held (0 means a new
   * segment would reuse its name).
   */
  public record Result(long nextSeq, long entriesApplied, long entriesSkipped, long maxVersion,
                       long bytesRead, List<Path> segments, long lastSegmentEntries) {}

  /** The segments of a log directory, oldest first; other files are ignored. */
  public static List<Path> segments(FileSystem fs, Path dir) throws IOException {
    List<Path> out = new ArrayList<>();
    try {
      for (FileStatus st : fs.listStatus(dir)) {
        if (st.isFile() && WalFormat.firstSeqOf(st.getPath().getName()) >= 0) {
          out.add(st.getPath());
        }
      }
    } catch (FileNotFoundException e) {
      return out;
    }
    out.sort(Comparator.comparingLong(p -> WalFormat.firstSeqOf(p.getName())));
    return out;
  }

  /** Replays every entry with a sequence number above {@code coveredThrough}. */
  public static Result replay(FileSystem fs, Path dir, long coveredThrough, Sink sink, Reporter reporter)
      throws IOException {
    List<Path> segs = segments(fs, dir);
    long expected = -1;
    long applied = 0;
    long skipped = 0;
    long maxVersion = Long.MIN_VALUE;
    long bytes = 0;
    long lastEntries = 0;
    for (Path seg : segs) {
      lastEntries = 0;
      try (WalSegmentReader r = WalSegmentReader.open(fs, seg)) {
        if (r == null) {
          reporter.tornTail(seg, 0, -1);
          continue;
        }
        long first = r.firstSeq();
        if (expected < 0 && first > coveredThrough + 1) {
          throw new CorruptionException("WAL " + dir + " is missing entries " + (coveredThrough + 1) + ".."
              + (first - 1) + ": the layers cover up to " + coveredThrough + " but the oldest segment "
              + seg.getName() + " starts at " + first);
        }
        if (expected >= 0 && first != expected && !(first > expected && first <= coveredThrough + 1)) {
          throw new CorruptionException("WAL " + dir + ": segment " + seg.getName() + " starts at sequence "
              + first + " but the previous segment ended before " + expected);
        }
        WalEntry e;
        while ((e = r.next()) != null) {
          lastEntries++;
          maxVersion = Math.max(maxVersion, e.version());
          if (e.seq() > coveredThrough) {
            sink.apply(e);
            applied++;
          } else {
            skipped++;
          }
        }
        bytes += r.offset() + r.tornBytes();
        if (r.tornBytes() > 0) {
          reporter.tornTail(seg, r.offset(), r.tornBytes());
        }
        expected = r.nextSeq();
      }
    }
    long next = Math.max(expected, coveredThrough + 1);
    return new Result(next, applied, skipped, maxVersion, bytes, segs, lastEntries);
  }
}
