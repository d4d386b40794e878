package io.kvpod.wal;

import java.io.IOException;

/**
 * A log refuses to be written because a holder of a later epoch has it now: recovery found a
 * segment of a later epoch, or a {@link WriteAheadLog.SegmentGuard} refused a new segment.
 * Nothing was deleted or written; the caller has lost the bucket and must route to the
 * newer holder.
 */
public final class SupersededException extends IOException {
  private static final long serialVersionUID = 1L;

  public SupersededException(String message) {
    super(message);
  }
}
