package io.kvpod.loader;

/** An input line that cannot become a record. The message says why, for the bad-record report. */
public class BadRecordException extends Exception {
  private static final long serialVersionUID = 1L;

  public BadRecordException(String message) {
    super(message);
  }
}
