package io.kvpod.config;

/** Parses durations such as {@code 250ms}, {@code 30s}, {@code 5m}, {@code 2h}, {@code 7d}; a bare number is ms. */
public final class Durations {
  private Durations() {}

  public static long parseMillis(String text) {
    String t = text.trim().toLowerCase();
    long mult;
    String num;
    if (t.endsWith("ms")) {
      mult = 1;
      num = t.substring(0, t.length() - 2);
    } else if (t.endsWith("s")) {
      mult = 1000;
      num = t.substring(0, t.length() - 1);
    } else if (t.endsWith("m")) {
      mult = 60_000;
      num = t.substring(0, t.length() - 1);
    } else if (t.endsWith("h")) {
      mult = 3_600_000;
      num = t.substring(0, t.length() - 1);
    } else if (t.endsWith("d")) {
      mult = 86_400_000;
      num = t.substring(0, t.length() - 1);
    } else {
      mult = 1;
      num = t;
    }
    long n;
    try {
      n = Long.parseLong(num.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a duration: '" + text + "' (use e.g. 500ms, 30s, 5m, 2h, 1d)");
    }
    if (n < 0) {
      throw new IllegalArgumentException("duration must not be negative: '" + text + "'");
    }
    return Math.multiplyExact(n, mult);
  }
}
