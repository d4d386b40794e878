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
 * Replays a bucket's log: every entry above the sequence number that the published layers
 * already cover, in order, into a {@link Sink}.
 *
 * <p>Segments are read in {@link SegmentName} order (first sequence number, then epoch).
 * The rules that tell a crash apart from damage:
 * <ul>
 *   <li>A segment with no whole entry (a header only, or a header torn by a crash) adds
 *       nothing and is skipped: a holder that was refused, or died, right after starting
 *       it left it behind. Its name still says that its writer had seen every entry below
 *       its first sequence number, so those entries must be in the log or in the layers.</li>
 *   <li>Sequence numbers must run on without a gap, from the first entry not covered by a
 *       layer, within and across the segments that hold entries; a gap is corruption
 *       unless the layers cover it ({@link WalGapException}, which says what is missing:
 *       a flush published after the caller's view of the layers may cover it).</li>
 *   <li>A segment may end inside an entry (a <em>torn tail</em>: its writer stopped while
 *       writing it, so it was never acknowledged). The bytes are dropped and reported. A
 *       torn tail is only possible in the last segment, or in a segment after which a
 *       recovery started the next segment at the torn entry's sequence number; the gap rule
 *       above catches every other case.</li>
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
   * {@code segments} are the segments read, in order, each with its last sequence number.
   */
  public record Result(long nextSeq, long entriesApplied, long entriesSkipped, long maxVersion,
                       long bytesRead, List<WalSegment> segments) {}

  /** The segments of a log directory, in {@link SegmentName} order; other files are ignored. */
  public static List<Path> segments(FileSystem fs, Path dir) throws IOException {
    List<Path> out = new ArrayList<>();
    try {
      for (FileStatus st : fs.listStatus(dir)) {
        if (st.isFile() && SegmentName.parse(st.getPath().getName()) != null) {
          out.add(st.getPath());
        }
      }
    } catch (FileNotFoundException e) {
      return out;
    }
    out.sort(Comparator.comparing(p -> SegmentName.parse(p.getName())));
    return out;
  }

  /** Replays every entry with a sequence number above {@code coveredThrough}, from every segment in {@code dir}. */
  public static Result replay(FileSystem fs, Path dir, long coveredThrough, Sink sink, Reporter reporter)
      throws IOException {
    return replay(fs, dir, segments(fs, dir), coveredThrough, sink, reporter);
  }

  /**
   * Replays every entry with a sequence number above {@code coveredThrough} from
   * {@code segs}, the segments of {@code dir} in {@link SegmentName} order.
   */
  public static Result replay(FileSystem fs, Path dir, List<Path> segs, long coveredThrough, Sink sink,
                              Reporter reporter) throws IOException {
    long expected = -1;
    long impliedThrough = coveredThrough;
    long applied = 0;
    long skipped = 0;
    long maxVersion = Long.MIN_VALUE;
    long bytes = 0;
    List<WalSegment> found = new ArrayList<>(segs.size());
    for (Path seg : segs) {
      SegmentName name = SegmentName.parse(seg.getName());
      impliedThrough = Math.max(impliedThrough, name.firstSeq() - 1);
      try (WalSegmentReader r = WalSegmentReader.open(fs, seg)) {
        if (r == null) {
          reporter.tornTail(seg, 0, -1);
          found.add(new WalSegment(seg, name, name.firstSeq() - 1));
          continue;
        }
        WalEntry e = r.next();
        if (e != null) {
          checkContinues(dir, seg, r.firstSeq(), expected, coveredThrough);
        }
        for (; e != null; e = r.next()) {
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
        if (r.nextSeq() > r.firstSeq()) {
          expected = r.nextSeq();
        }
        found.add(new WalSegment(seg, name, r.nextSeq() - 1));
      }
    }
    long next = Math.max(expected, coveredThrough + 1);
    if (impliedThrough >= next) {
      throw new WalGapException("WAL " + dir + " is missing entries " + next + ".." + impliedThrough
          + ": a segment named after them exists, but no segment holds them and the layers cover only through "
          + coveredThrough, next, impliedThrough);
    }
    return new Result(next, applied, skipped, maxVersion, bytes, found);
  }

  /** The gap rule, for a segment whose first whole entry is {@code first}. */
  private static void checkContinues(Path dir, Path seg, long first, long expected, long coveredThrough)
      throws CorruptionException {
    if (expected < 0 && first > coveredThrough + 1) {
      throw new WalGapException("WAL " + dir + " is missing entries " + (coveredThrough + 1) + ".."
          + (first - 1) + ": the layers cover up to " + coveredThrough + " but the oldest segment holding entries, "
          + seg.getName() + ", starts at " + first, coveredThrough + 1, first - 1);
    }
    if (expected >= 0 && first < expected) {
      throw new CorruptionException("WAL " + dir + ": segment " + seg.getName() + " starts at sequence "
          + first + " but the previous segment ended before " + expected);
    }
    if (expected >= 0 && first > coveredThrough + 1 && first != expected) {
      long from = Math.max(expected, coveredThrough + 1);
      throw new WalGapException("WAL " + dir + " is missing entries " + from + ".." + (first - 1) + ": segment "
          + seg.getName() + " starts at sequence " + first + " but the previous segment ended before " + expected
          + ", and the layers cover only through " + coveredThrough, from, first - 1);
    }
  }
}
