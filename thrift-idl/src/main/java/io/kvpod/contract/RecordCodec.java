package io.kvpod.contract;

import io.kvpod.thrift.ErrorCode;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The byte form of a value ({@code Map<String,String>}), as stored in HFile cells, WAL
 * entries and peer messages.
 *
 * <pre>
 *   stored  := value | TOMBSTONE
 *   value   := FORMAT_V1 field*         -- the value's length comes from its container
 *   field   := varint(len(name)) name varint(len(text)) text
 *   name    := UTF-8 bytes              -- unique within one value
 *   text    := UTF-8 bytes
 *   varint  := unsigned LEB128 (7 bits a byte, low group first, high bit = more), 1..5 bytes
 *   FORMAT_V1 := 0x01
 *   TOMBSTONE := 0x00                   -- exactly one byte: the key was removed
 * </pre>
 *
 * Worked example: {@code {"age":"18"}} encodes to {@code 01 03 'a' 'g' 'e' 02 '1' '8'}.
 * The empty map encodes to the single byte {@code 01}; a removal is stored as the single byte
 * {@code 00}, which no value encodes to, so WAL entries, memtables, forwarded writes and layer
 * cells carry it like any value and only readers and compactions look at it. See
 * docs/formats.md.
 *
 * <p>Field order is the map's iteration order; decoding keeps it. The encoded length is
 * bounded by {@link Limits#MAX_VALUE_BYTES} and the field count by {@link Limits#MAX_FIELDS}.
 *
 * <p>{@link Builder} is not thread-safe; the static methods are.
 */
public final class RecordCodec {
  public static final byte FORMAT_V1 = 0x01;
  public static final byte TOMBSTONE = 0x00;

  private RecordCodec() {}

  /** The stored form of a removal (a new array each time, as callers may keep it). */
  public static byte[] tombstone() {
    return new byte[] {TOMBSTONE};
  }

  /** Whether {@code stored} is a removal rather than a value. */
  public static boolean isTombstone(byte[] stored) {
    return stored.length == 1 && stored[0] == TOMBSTONE;
  }

  /** Encodes a value, enforcing the limits. */
  public static byte[] encode(Map<String, String> value) {
    Builder b = new Builder();
    for (Map.Entry<String, String> e : value.entrySet()) {
      if (e.getKey() == null || e.getValue() == null) {
        throw new ContractViolation(ErrorCode.INVALID_ARGUMENT,
            "value has a null field name or text; both must be strings");
      }
      b.add(e.getKey(), e.getValue());
    }
    return b.toByteArray();
  }

  public static Map<String, String> decode(byte[] bytes) throws CorruptionException {
    return decode(bytes, 0, bytes.length);
  }

  /** Decodes {@code bytes[off, off+len)}; any deviation from the grammar is corruption. */
  public static Map<String, String> decode(byte[] bytes, int off, int len)
      throws CorruptionException {
    int end = off + len;
    if (len < 1 || bytes[off] != FORMAT_V1) {
      throw new CorruptionException("value does not start with format byte 0x01 (length " + len + ")");
    }
    Map<String, String> out = new LinkedHashMap<>();
    int[] pos = {off + 1};
    while (pos[0] < end) {
      String name = readText(bytes, pos, end);
      String text = readText(bytes, pos, end);
      if (out.put(name, text) != null) {
        throw new CorruptionException("value repeats field name '" + name + "'");
      }
    }
    return out;
  }

  /**
   * Checks that {@code value} is a value in this grammar, not a removal, within the limits,
   * with no repeated field name and every name and text well-formed UTF-8, without decoding
   * it: for values that arrive already encoded ({@code batchPutEncoded}), which are stored as
   * they are and must read back through {@link #decode} exactly.
   *
   * @throws ContractViolation INVALID_ARGUMENT or TOO_LARGE, saying what is wrong
   */
  public static void check(byte[] value) {
    if (value == null || value.length == 0) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "an encoded value is empty; {} encodes to 0x01");
    }
    Limits.checkValueLength(value.length);
    if (value[0] != FORMAT_V1) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, String.format(
          "an encoded value starts with 0x%02x, not the format byte 0x01%s", value[0] & 0xff,
          value[0] == TOMBSTONE ? " (0x00 is a removal: use remove)" : ""));
    }
    int[] pos = {1};
    // names seen so far: compared one by one while few, hashed once there are many (up to MAX_FIELDS)
    java.util.List<java.nio.ByteBuffer> names = new java.util.ArrayList<>(4);
    java.util.Set<java.nio.ByteBuffer> many = null;
    int fields = 0;
    try {
      while (pos[0] < value.length) {
        int nameLen = readLength(value, pos, value.length);
        checkUtf8(value, pos[0], nameLen, "field name");
        java.nio.ByteBuffer name = java.nio.ByteBuffer.wrap(value, pos[0], nameLen);
        if (many == null && names.size() == 16) {
          many = new java.util.HashSet<>(names);
        }
        if (many != null ? !many.add(name) : names.contains(name)) {
          throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "an encoded value repeats field name '"
              + new String(value, pos[0], nameLen, StandardCharsets.UTF_8) + "'");
        }
        if (many == null) {
          names.add(name);
        }
        pos[0] += nameLen;
        int textLen = readLength(value, pos, value.length);
        checkUtf8(value, pos[0], textLen, "field text");
        pos[0] += textLen;
        Limits.checkFieldCount(++fields);
      }
    } catch (CorruptionException e) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "an encoded value is malformed: " + e.getMessage());
    }
  }

  /** Throws unless {@code b[off, off+len)} is well-formed UTF-8 (ASCII is checked byte by byte, the rest by the JDK). */
  private static void checkUtf8(byte[] b, int off, int len, String what) {
    for (int i = off; i < off + len; i++) {
      if (b[i] < 0) {
        try {
          StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(b, i, off + len - i));
        } catch (java.nio.charset.CharacterCodingException e) {
          throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "an encoded value's " + what
              + " is not well-formed UTF-8");
        }
        return;
      }
    }
  }

  private static String readText(byte[] b, int[] pos, int end) throws CorruptionException {
    int n = readLength(b, pos, end);
    String s = new String(b, pos[0], n, StandardCharsets.UTF_8);
    pos[0] += n;
    return s;
  }

  /** Reads a varint length at {@code pos} (moving it on), checked to fit before {@code end}. */
  private static int readLength(byte[] b, int[] pos, int end) throws CorruptionException {
    int n = 0;
    int shift = 0;
    while (true) {
      if (pos[0] >= end || shift > 28) {
        throw new CorruptionException("value has a truncated or overlong length varint");
      }
      int x = b[pos[0]++] & 0xff;
      n |= (x & 0x7f) << shift;
      if ((x & 0x80) == 0) {
        break;
      }
      shift += 7;
    }
    if (n < 0 || n > end - pos[0]) {
      throw new CorruptionException("value field length " + n + " runs past the end of the value");
    }
    return n;
  }

  /**
   * Builds one encoded value in a reusable buffer, with no per-field garbage: the loader
   * and the WAL encode straight from parsed input. Call {@link #reset()} between values.
   */
  public static final class Builder {
    private byte[] buf = new byte[256];
    private int len;
    private int fields;
    private int[] nameOffsets = new int[8];

    public Builder() {
      reset();
    }

    public Builder reset() {
      buf[0] = FORMAT_V1;
      len = 1;
      fields = 0;
      return this;
    }

    /** Adds a field; rejects a repeated name and enforces the limits. */
    public Builder add(CharSequence name, CharSequence text) {
      int nameStart = len;
      writeText(name);
      checkUniqueName(nameStart);
      writeText(text);
      return afterField();
    }

    /** Adds a field given as UTF-8 byte ranges (assumed valid UTF-8). */
    public Builder addUtf8(byte[] name, int nameOff, int nameLen,
                           byte[] text, int textOff, int textLen) {
      int nameStart = len;
      writeBytes(name, nameOff, nameLen);
      checkUniqueName(nameStart);
      writeBytes(text, textOff, textLen);
      return afterField();
    }

    private Builder afterField() {
      fields++;
      Limits.checkFieldCount(fields);
      Limits.checkValueLength(len);
      return this;
    }

    /** Names are compared by their encoded bytes; values have few fields, so O(n^2) is cheapest. */
    private void checkUniqueName(int nameStart) {
      for (int i = 0; i < fields; i++) {
        if (sameText(nameOffsets[i], nameStart)) {
          throw new ContractViolation(ErrorCode.INVALID_ARGUMENT,
              "value repeats field name '" + textAt(nameStart) + "'");
        }
      }
      if (fields == nameOffsets.length) {
        nameOffsets = Arrays.copyOf(nameOffsets, fields * 2);
      }
      nameOffsets[fields] = nameStart;
    }

    private boolean sameText(int a, int b) {
      int[] pa = {a};
      int[] pb = {b};
      int la = readVarint(pa);
      int lb = readVarint(pb);
      return la == lb && Arrays.equals(buf, pa[0], pa[0] + la, buf, pb[0], pb[0] + lb);
    }

    private String textAt(int at) {
      int[] p = {at};
      int n = readVarint(p);
      return new String(buf, p[0], n, StandardCharsets.UTF_8);
    }

    private int readVarint(int[] p) {
      int n = 0;
      int shift = 0;
      int x;
      do {
        x = buf[p[0]++] & 0xff;
        n |= (x & 0x7f) << shift;
        shift += 7;
      } while ((x & 0x80) != 0);
      return n;
    }

    public int fieldCount() {
      return fields;
    }

    /** The encoded bytes are {@code array()[0, length())}; valid until the next change. */
    public byte[] array() {
      return buf;
    }

    public int length() {
      return len;
    }

    public byte[] toByteArray() {
      return Arrays.copyOf(buf, len);
    }

    private void writeBytes(byte[] b, int off, int n) {
      writeVarint(n);
      ensure(n);
      System.arraycopy(b, off, buf, len, n);
      len += n;
    }

    /** Writes varint(utf8Length) then the UTF-8 bytes, encoding in place. */
    private void writeText(CharSequence s) {
      int chars = s.length();
      int utf8 = utf8Length(s, chars);
      writeVarint(utf8);
      ensure(utf8);
      int p = len;
      for (int i = 0; i < chars; i++) {
        char c = s.charAt(i);
        if (c < 0x80) {
          buf[p++] = (byte) c;
        } else if (c < 0x800) {
          buf[p++] = (byte) (0xc0 | (c >> 6));
          buf[p++] = (byte) (0x80 | (c & 0x3f));
        } else if (Character.isHighSurrogate(c) && i + 1 < chars
            && Character.isLowSurrogate(s.charAt(i + 1))) {
          int cp = Character.toCodePoint(c, s.charAt(++i));
          buf[p++] = (byte) (0xf0 | (cp >> 18));
          buf[p++] = (byte) (0x80 | ((cp >> 12) & 0x3f));
          buf[p++] = (byte) (0x80 | ((cp >> 6) & 0x3f));
          buf[p++] = (byte) (0x80 | (cp & 0x3f));
        } else if (Character.isSurrogate(c)) {
          buf[p++] = (byte) '?'; // an unpaired surrogate, as String.getBytes(UTF_8) writes it
        } else {
          buf[p++] = (byte) (0xe0 | (c >> 12));
          buf[p++] = (byte) (0x80 | ((c >> 6) & 0x3f));
          buf[p++] = (byte) (0x80 | (c & 0x3f));
        }
      }
      len = p;
    }

    private void writeVarint(int v) {
      ensure(5);
      while ((v & ~0x7f) != 0) {
        buf[len++] = (byte) ((v & 0x7f) | 0x80);
        v >>>= 7;
      }
      buf[len++] = (byte) v;
    }

    private void ensure(int extra) {
      if (len + extra > buf.length) {
        long want = Math.max((long) buf.length * 2, (long) len + extra);
        buf = Arrays.copyOf(buf, (int) Math.min(want, Integer.MAX_VALUE - 8));
      }
    }
  }

  /** The UTF-8 length of {@code s}, counting an unpaired surrogate as one byte ('?'). */
  static int utf8Length(CharSequence s, int chars) {
    int n = 0;
    for (int i = 0; i < chars; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n++;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < chars
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        n += 4;
        i++;
      } else if (Character.isSurrogate(c)) {
        n++;
      } else {
        n += 3;
      }
    }
    return n;
  }
}
