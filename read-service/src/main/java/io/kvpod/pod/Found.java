package io.kvpod.pod;

/** A stored record: its version and its encoded value (RecordCodec bytes). Immutable. */
public record Found(long version, byte[] value) {

  /** The newer of two records; on equal versions, {@code a} (the caller passes the newer layer first). */
  public static Found newer(Found a, Found b) {
    if (a == null) {
      return b;
    }
    if (b == null) {
      return a;
    }
    return b.version > a.version ? b : a;
  }
}
