package io.kvpod.wal;

import io.kvpod.contract.CorruptionException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The byte format of a pod's write-ahead log. A log is a directory of segments; a segment
 * is one file named {@code <firstSeq, 20 decimal digits>.wal}.
 *
 * <pre>
 *   segment  := header entry*
 *   header   := "KVPODWAL" formatVersion:u8(=1) podId:i32 firstSeq:i64 headerCrc:u32
 *                 headerCrc = CRC32C of the 21 bytes before it
 *   entry    := length:u32 lengthCheck:u32 crc:u32 payload
 *                 lengthCheck = ~length (a flipped length byte is corruption, not a torn tail)
 *                 crc = CRC32C(payload); length = bytes of payload, at most MAX_PAYLOAD
 *   payload  := seq:i64 version:i64 body
 *   body     := count:varint record{count}
 *   record   := keyLength:varint key valueLength:varint value      (value: RecordCodec bytes)
 * </pre>
 *
 * Integers are big-endian; varints are unsigned LEB128 (7 bits a byte, low bits first).
 * Sequence numbers are consecutive: the first entry of a segment has {@code firstSeq}, and
 * each following entry the next number. Every record of an entry has the entry's version.
 * See {@code docs/formats.md} for a worked example. Stateless; thread-safe.
 */
public final class WalFormat {
  static final byte[] MAGIC = "KVPODWAL".getBytes(StandardCharsets.US_ASCII);
  static final int FORMAT_VERSION = 1;
  static final int HEADER_BYTES = 8 + 1 + 4 + 8 + 4;
  static final int ENTRY_HEADER_BYTES = 12;
  /** Largest payload: a full Thrift frame of records plus framing, with room to spare. */
  static final int MAX_PAYLOAD = 64 << 20;
  static final String SUFFIX = ".wal";

  private WalFormat() {}

  public static String segmentName(long firstSeq) {
    return String.format("%020d%s", firstSeq, SUFFIX);
  }

  /** The first sequence number of a segment file name, or -1 if it is not a segment name. */
  public static long firstSeqOf(String name) {
    if (name.length() != 20 + SUFFIX.length() || !name.endsWith(SUFFIX)) {
      return -1;
    }
    for (int i = 0; i < 20; i++) {
      if (!Character.isDigit(name.charAt(i))) {
        return -1;
      }
    }
    return Long.parseLong(name.substring(0, 20));
  }

  static byte[] header(int podId, long firstSeq) {
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES);
    b.put(MAGIC).put((byte) FORMAT_VERSION).putInt(podId).putLong(firstSeq);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, HEADER_BYTES - 4);
    b.putInt((int) crc.getValue());
    return b.array();
  }

  /** Checks a header; returns its firstSeq. */
  static long parseHeader(byte[] h, String where) throws CorruptionException {
    ByteBuffer b = ByteBuffer.wrap(h);
    byte[] magic = new byte[MAGIC.length];
    b.get(magic);
    CRC32C crc = new CRC32C();
    crc.update(h, 0, HEADER_BYTES - 4);
    if (!java.util.Arrays.equals(magic, MAGIC) || (int) crc.getValue() != ByteBuffer.wrap(h, HEADER_BYTES - 4, 4).getInt()) {
      throw new CorruptionException(where + ": not a kvpod WAL segment header (bad magic or checksum)");
    }
    int version = b.get();
    if (version != FORMAT_VERSION) {
      throw new CorruptionException(where + ": unsupported WAL format version " + version);
    }
    b.getInt();
    return b.getLong();
  }

  /** Builds the body of an entry: records appended in order. Not thread-safe. */
  public static final class BodyBuilder {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    private int count;

    public BodyBuilder add(byte[] key, byte[] value) {
      writeVarint(out, key.length);
      out.write(key, 0, key.length);
      writeVarint(out, value.length);
      out.write(value, 0, value.length);
      count++;
      return this;
    }

    public int count() {
      return count;
    }

    public byte[] build() {
      ByteArrayOutputStream b = new ByteArrayOutputStream(out.size() + 5);
      writeVarint(b, count);
      b.write(out.toByteArray(), 0, out.size());
      return b.toByteArray();
    }
  }

  /** Frames one entry: header, checksum and payload, ready to append to a segment. */
  static byte[] entry(long seq, long version, byte[] body) {
    int length = 16 + body.length;
    if (length > MAX_PAYLOAD) {
      throw new IllegalArgumentException("WAL entry of " + length + " bytes exceeds " + MAX_PAYLOAD);
    }
    ByteBuffer b = ByteBuffer.allocate(ENTRY_HEADER_BYTES + length);
    b.putInt(length).putInt(~length).putInt(0).putLong(seq).putLong(version).put(body);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), ENTRY_HEADER_BYTES, length);
    b.putInt(8, (int) crc.getValue());
    return b.array();
  }

  /** Receives the records of an entry's body. */
  @FunctionalInterface
  public interface RecordVisitor {
    void record(byte[] key, byte[] value);
  }

  /** Decodes a body, calling {@code visitor} for each record; malformed bytes are corruption. */
  public static void forEachRecord(byte[] body, int off, int len, RecordVisitor visitor)
      throws CorruptionException {
    int[] pos = {off};
    int end = off + len;
    long count = readVarint(body, pos, end);
    for (long i = 0; i < count; i++) {
      byte[] key = readBytes(body, pos, end);
      byte[] value = readBytes(body, pos, end);
      visitor.record(key, value);
    }
    if (pos[0] != end) {
      throw new CorruptionException("WAL entry body has " + (end - pos[0]) + " bytes after its records");
    }
  }

  private static byte[] readBytes(byte[] b, int[] pos, int end) throws CorruptionException {
    long n = readVarint(b, pos, end);
    if (n > end - pos[0]) {
      throw new CorruptionException("WAL record length " + n + " runs past the entry");
    }
    byte[] out = java.util.Arrays.copyOfRange(b, pos[0], pos[0] + (int) n);
    pos[0] += (int) n;
    return out;
  }

  private static long readVarint(byte[] b, int[] pos, int end) throws CorruptionException {
    long v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      if (pos[0] >= end) {
        throw new CorruptionException("WAL entry body ends inside a varint");
      }
      int x = b[pos[0]++] & 0xff;
      v |= (long) (x & 0x7f) << shift;
      if (x < 0x80) {
        return v;
      }
    }
    throw new CorruptionException("WAL varint longer than 5 bytes");
  }

  private static void writeVarint(ByteArrayOutputStream out, int v) {
    while ((v & ~0x7f) != 0) {
      out.write((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.write(v);
  }
}
