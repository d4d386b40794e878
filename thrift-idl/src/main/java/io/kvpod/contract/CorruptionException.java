package io.kvpod.contract;

import java.io.IOException;

/** Stored bytes failed a format or checksum check. Never retried; never silently skipped. */
public class CorruptionException extends IOException {
  private static final long serialVersionUID = 1L;

  public CorruptionException(String message) {
    super(message);
  }

  public CorruptionException(String message, Throwable cause) {
    super(message, cause);
  }
}
