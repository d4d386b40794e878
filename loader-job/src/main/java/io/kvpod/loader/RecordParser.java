package io.kvpod.loader;

/**
 * Turns one input line into a {@link ParsedRecord}. Implementations are reused across
 * lines by one thread. A line that cannot be parsed throws {@link BadRecordException} with a
 * reason fit for the bad-record report; a record that breaks a limit throws
 * {@link io.kvpod.contract.ContractViolation}.
 */
public interface RecordParser {
  void parse(byte[] line, int length, ParsedRecord out) throws BadRecordException;

  static RecordParser forFormat(String format) {
    return switch (format.toLowerCase()) {
      case "jsonl", "json" -> new JsonLineParser();
      case "tsv" -> new TsvLineParser();
      default -> throw new IllegalArgumentException("unknown input format '" + format + "': use jsonl or tsv");
    };
  }
}
