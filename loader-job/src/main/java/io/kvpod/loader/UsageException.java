package io.kvpod.loader;

/** The command line was wrong; the message says how. Exit status 2. */
public class UsageException extends Exception {
  private static final long serialVersionUID = 1L;

  public UsageException(String message) {
    super(message);
  }
}
