package io.kvpod.wal;

import io.kvpod.contract.CorruptionException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The byte format of a bucket's write-ahead log. A log is a directory of segments; a
 * segment is one file, written by one holder in one epoch (see {@link SegmentName}):
 *
 * <pre>
 *   name     := firstSeq:20 decimal digits "-" epoch:12 decimal digits ".wal"
 *               (format 1 named segments firstSeq ".wal": epoch 0)
 *   segment  := header entry*
 *   header   := "KVPODWAL" formatVersion:u8(=2) logId:i32 firstSeq:i64 epoch:i64 writer:i32 headerCrc:u32
 *                 logId = the bucket; writer = the pod that wrote the segment
 *                 headerCrc = CRC32C of the 33 bytes before it
 *               (format 1: "KVPODWAL" 1:u8 logId:i32 firstSeq:i64 headerCrc:u32, read but not written)
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
 * The name and the header must agree on firstSeq and epoch.
 * See {@code docs/formats.md} for a worked example. Stateless; thread-safe.
 */
public final class WalFormat {
  static final byte[] MAGIC = "KVPODWAL".getBytes(StandardCharsets.US_ASCII);
  static final int FORMAT_VERSION = 2;
  /** Bytes of a format 2 header, the one written. */
  static final int HEADER_BYTES = 8 + 1 + 4 + 8 + 8 + 4 + 4;
  static final int V1_HEADER_BYTES = 8 + 1 + 4 + 8 + 4;
  /** Magic and format version: enough to know how long the rest of the header is. */
  static final int HEADER_PREFIX_BYTES = 8 + 1;
  static final int ENTRY_HEADER_BYTES = 12;
  /** Largest payload: a full Thrift frame of records plus framing, with room to spare. */
  static final int MAX_PAYLOAD = 64 << 20;
  static final String SUFFIX = ".wal";

  private WalFormat() {}

  /** The file name of the segment that starts at {@code firstSeq}, written in {@code epoch}. */
  public static String segmentName(long firstSeq, long epoch) {
    return new SegmentName(firstSeq, epoch).fileName();
  }

  /** The first sequence number of a segment file name, or -1 if it is not a segment name. */
  public static long firstSeqOf(String name) {
    SegmentName n = SegmentName.parse(name);
    return n == null ? -1 : n.firstSeq();
  }

  static byte[] header(int logId, long firstSeq, long epoch, int writer) {
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES);
    b.put(MAGIC).put((byte) FORMAT_VERSION).putInt(logId).putLong(firstSeq).putLong(epoch).putInt(writer);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, HEADER_BYTES - 4);
    b.putInt((int) crc.getValue());
    return b.array();
  }

  /** A checked header: the segment's first sequence number and epoch (0 in format 1). */
  record Header(long firstSeq, long epoch, int bytes) {}

  /**
   * The length of the header that starts with {@code prefix} (magic and version), or throws
   * if it is not a kvpod WAL header of a known version.
   */
  static int headerBytes(byte[] prefix, String where) throws CorruptionException {
    if (!java.util.Arrays.equals(prefix, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
      throw new CorruptionException(where + ": not a kvpod WAL segment (bad magic)");
    }
    return switch (prefix[MAGIC.length]) {
      case 1 -> V1_HEADER_BYTES;
      case 2 -> HEADER_BYTES;
      default -> throw new CorruptionException(where + ": unsupported WAL format version " + prefix[MAGIC.length]);
    };
  }

  /** Checks a whole header (as long as {@link #headerBytes} said). */
  static Header parseHeader(byte[] h, String where) throws CorruptionException {
    int n = headerBytes(h, where);
    CRC32C crc = new CRC32C();
    crc.update(h, 0, n - 4);
    if (h.length != n || (int) crc.getValue() != ByteBuffer.wrap(h, n - 4, 4).getInt()) {
      throw new CorruptionException(where + ": WAL segment header checksum mismatch");
    }
    ByteBuffer b = ByteBuffer.wrap(h, HEADER_PREFIX_BYTES, n - HEADER_PREFIX_BYTES);
    b.getInt(); // the log id: informational
    long firstSeq = b.getLong();
    long epoch = n == HEADER_BYTES ? b.getLong() : 0;
    return new Header(firstSeq, epoch, n);
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
