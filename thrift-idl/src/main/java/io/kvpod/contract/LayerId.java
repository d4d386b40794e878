package io.kvpod.contract;

import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Layer ids name a layer's directory and are part of every HFile name in it, which keeps
 * block-cache keys (file name + offset) unique across layers.
 *
 * <pre>
 *   layerId := millis13 '-' kind '-' hex6
 *   millis13 := creation time in ms since the epoch, 13 decimal digits, zero-padded
 *   kind     := "load" | "flush" | "compact"
 *   hex6     := 6 random lowercase hex digits
 * </pre>
 *
 * Example: {@code 1763889600123-load-9f3a1c}. Ids sort by creation time as strings; among
 * records of equal version, the one in the newer layer wins.
 */
public final class LayerId {
  public static final String LOAD = "load";
  public static final String FLUSH = "flush";
  public static final String COMPACT = "compact";

  private static final Pattern ID = Pattern.compile("\\d{13}-(load|flush|compact)-[0-9a-f]{6}");

  private LayerId() {}

  public static String next(String kind, long nowMillis) {
    if (!LOAD.equals(kind) && !FLUSH.equals(kind) && !COMPACT.equals(kind)) {
      throw new IllegalArgumentException("unknown layer kind '" + kind + "'");
    }
    int rnd = ThreadLocalRandom.current().nextInt(1 << 24);
    return String.format("%013d-%s-%06x", nowMillis, kind, rnd);
  }

  public static boolean isValid(String id) {
    return id != null && ID.matcher(id).matches();
  }

  /** Returns {@code id} if it is well formed; throws otherwise. */
  public static String check(String id) {
    if (!isValid(id)) {
      throw new IllegalArgumentException("bad layer id '" + id
          + "': expected <13-digit millis>-<load|flush|compact>-<6 hex>");
    }
    return id;
  }

  public static long createdAtMillis(String id) {
    return Long.parseLong(check(id).substring(0, 13));
  }

  public static String kind(String id) {
    String s = check(id);
    return s.substring(14, s.lastIndexOf('-'));
  }
}
