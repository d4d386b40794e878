package io.kvpod.loader;

/** The job counters a load keeps; the driver checks them before publishing. */
public enum LoadCounters {
  /** Well-formed input records emitted by the mappers. */
  INPUT_RECORDS,
  /** Input lines that could not be parsed. */
  BAD_RECORDS,
  /** Empty or whitespace-only lines, skipped. */
  BLANK_LINES,
  /** Records written to HFiles (one per distinct key). */
  RECORDS_WRITTEN,
  /** Records that lost to another record of the same key. */
  DUPLICATES,
  /** Bytes of encoded values written. */
  VALUE_BYTES
}
