package io.kvpod.wal;

/**
 * The name of one WAL segment: the sequence number of its first entry and the epoch of the
 * holder that wrote it ({@link WalFormat} has the grammar). Two holders never write the same
 * name, since each writes only in its own epoch. Segments order by first sequence number,
 * then epoch: a segment that a later segment follows in that order is no longer written
 * (see {@link WriteAheadLog}). Immutable.
 */
public record SegmentName(long firstSeq, long epoch) implements Comparable<SegmentName> {
  static final String SUFFIX = ".wal";
  private static final int SEQ_DIGITS = 20;
  private static final int EPOCH_DIGITS = 12;

  public SegmentName {
    if (firstSeq < 0 || epoch < 0) {
      throw new IllegalArgumentException("negative sequence number or epoch: " + firstSeq + ", " + epoch);
    }
  }

  public String fileName() {
    return String.format("%020d-%012d%s", firstSeq, epoch, SUFFIX);
  }

  /** The segment a file name names, or null if it names none (format 1 names are epoch 0). */
  public static SegmentName parse(String name) {
    if (!name.endsWith(SUFFIX)) {
      return null;
    }
    String stem = name.substring(0, name.length() - SUFFIX.length());
    if (stem.length() == SEQ_DIGITS && digits(stem)) {
      return new SegmentName(Long.parseLong(stem), 0);
    }
    if (stem.length() == SEQ_DIGITS + 1 + EPOCH_DIGITS && stem.charAt(SEQ_DIGITS) == '-'
        && digits(stem.substring(0, SEQ_DIGITS)) && digits(stem.substring(SEQ_DIGITS + 1))) {
      return new SegmentName(Long.parseLong(stem.substring(0, SEQ_DIGITS)),
          Long.parseLong(stem.substring(SEQ_DIGITS + 1)));
    }
    return null;
  }

  private static boolean digits(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '9') {
        return false;
      }
    }
    return true;
  }

  @Override
  public int compareTo(SegmentName o) {
    int c = Long.compare(firstSeq, o.firstSeq);
    return c != 0 ? c : Long.compare(epoch, o.epoch);
  }
}
