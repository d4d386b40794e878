package io.kvpod.wal;

import org.apache.hadoop.fs.Path;

/**
 * One segment as a replay found it: where it is, its name, and the sequence number of its
 * last whole entry ({@code name.firstSeq() - 1} if it holds none). Immutable.
 */
public record WalSegment(Path path, SegmentName name, long lastSeq) {
  /** True if the segment holds no whole entry (a header, perhaps a torn one, and nothing else). */
  public boolean isEmpty() {
    return lastSeq < name.firstSeq();
  }
}
