package io.kvpod.wal;

import io.kvpod.contract.CorruptionException;

/**
 * A bucket's log lacks entries {@code missingFrom..missingThrough}, which the layers that
 * replay was given do not cover. That is corruption, unless a flush covering them was
 * published after replay took its view of the layers and the flushing holder then retired
 * their segments: a replay that finds the layers now cover {@code missingThrough} may
 * simply start again.
 */
public final class WalGapException extends CorruptionException {
  private static final long serialVersionUID = 1L;

  private final long missingFrom;
  private final long missingThrough;

  public WalGapException(String message, long missingFrom, long missingThrough) {
    super(message);
    this.missingFrom = missingFrom;
    this.missingThrough = missingThrough;
  }

  public long missingFrom() {
    return missingFrom;
  }

  public long missingThrough() {
    return missingThrough;
  }
}
