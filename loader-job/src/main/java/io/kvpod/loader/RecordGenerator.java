package io.kvpod.loader;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Deterministic test records: record {@code i} of seed {@code s} is always the same, so a
 * reader can recompute any record to check it. Shaped like the contest's records: a key
 * plus a few short string fields.
 *
 * <pre>
 *   x      = mix64(i + s * 0x9E3779B97F4A7C15)      -- a bijection of i, so keys never repeat
 *   key    = 16 lowercase hex digits of x
 *   fields = f0..f{F-1}, each max(1, B / F) chars of [a-z0-9] from a xorshift64* stream seeded by x
 * </pre>
 *
 * Immutable; thread-safe.
 */
public final class RecordGenerator {
  private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final byte[] ALPHABET =
      "abcdefghijklmnopqrstuvwxyz0123456789".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  private final long seed;
  private final int fields;
  private final int fieldChars;

  public RecordGenerator(long seed, int fields, int valueBytes) {
    if (fields < 1 || valueBytes < 1) {
      throw new IllegalArgumentException("fields and value bytes must be >= 1");
    }
    this.seed = seed;
    this.fields = fields;
    this.fieldChars = Math.max(1, valueBytes / fields);
  }

  /** The splitmix64 finalizer; a bijection on 64-bit values. */
  static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  private long base(long i) {
    return mix64(i + seed * 0x9E3779B97F4A7C15L);
  }

  public String key(long i) {
    byte[] b = new byte[16];
    writeKey(base(i), b, 0);
    return new String(b, java.nio.charset.StandardCharsets.US_ASCII);
  }

  public Map<String, String> value(long i) {
    long state = base(i) | 1;
    Map<String, String> v = new LinkedHashMap<>();
    byte[] text = new byte[fieldChars];
    for (int f = 0; f < fields; f++) {
      for (int c = 0; c < fieldChars; c++) {
        state = next(state);
        text[c] = ALPHABET[(int) Long.remainderUnsigned(state * 0x2545F4914F6CDD1DL >>> 8, ALPHABET.length)];
      }
      v.put("f" + f, new String(text, java.nio.charset.StandardCharsets.US_ASCII));
    }
    return v;
  }

  private static long next(long s) {
    s ^= s >>> 12;
    s ^= s << 25;
    s ^= s >>> 27;
    return s;
  }

  private static void writeKey(long x, byte[] b, int at) {
    for (int k = 15; k >= 0; k--) {
      b[at + k] = HEX[(int) (x & 0xf)];
      x >>>= 4;
    }
  }

  /**
   * Appends record {@code i} as one line (with its newline) to {@code out}; returns the new
   * length. Produces exactly the text a JSON or TSV encoder would for {@link #key}/{@link #value}.
   */
  public int writeLine(long i, boolean json, byte[] out, int at) {
    long x = base(i);
    long state = x | 1;
    if (json) {
      at = put(out, at, "{\"key\":\"");
      writeKey(x, out, at);
      at += 16;
      at = put(out, at, "\",\"value\":{");
    } else {
      writeKey(x, out, at);
      at += 16;
    }
    for (int f = 0; f < fields; f++) {
      if (json) {
        if (f > 0) {
          out[at++] = ',';
        }
        at = put(out, at, "\"f");
        at = putInt(out, at, f);
        at = put(out, at, "\":\"");
      } else {
        out[at++] = '\t';
        out[at++] = 'f';
        at = putInt(out, at, f);
        out[at++] = '=';
      }
      for (int c = 0; c < fieldChars; c++) {
        state = next(state);
        out[at++] = ALPHABET[(int) Long.remainderUnsigned(state * 0x2545F4914F6CDD1DL >>> 8, ALPHABET.length)];
      }
      if (json) {
        out[at++] = '"';
      }
    }
    if (json) {
      out[at++] = '}';
      out[at++] = '}';
    }
    out[at++] = '\n';
    return at;
  }

  /** An upper bound on one line's length, for buffer sizing. */
  public int maxLineBytes() {
    return 40 + fields * (fieldChars + 20);
  }

  private static int put(byte[] out, int at, String ascii) {
    for (int k = 0; k < ascii.length(); k++) {
      out[at++] = (byte) ascii.charAt(k);
    }
    return at;
  }

  private static int putInt(byte[] out, int at, int v) {
    return put(out, at, Integer.toString(v));
  }
}
