package io.kvpod.wal;

import io.kvpod.contract.CorruptionException;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Reads the entries of one segment in order ({@link WalFormat}). Never trusts the file
 * length the filesystem reports: it reads until EOF, because HDFS reports a stale length
 * for a file that is still being written.
 *
 * <p>How the end of the data is classified:
 * <ul>
 *   <li>{@link #next()} returns null at a clean end: EOF exactly after an entry.</li>
 *   <li>EOF inside an entry (or inside the header) is a <em>torn tail</em>: also null, and
 *       {@link #tornBytes()} tells how many bytes were left over. Whether a torn tail is
 *       acceptable is the caller's decision (see {@link WalReplay}).</li>
 *   <li>A complete entry whose length check, checksum or sequence number is wrong is
 *       corruption: {@link CorruptionException}, naming the segment and offset.</li>
 * </ul>
 * Owned by one thread.
 */
public final class WalSegmentReader implements Closeable {
  private final DataInputStream in;
  private final String name;
  private final long firstSeq;
  private long offset;
  private long nextSeq;
  private long tornBytes;

  private WalSegmentReader(DataInputStream in, String name, long firstSeq, long offset, long nextSeq) {
    this.in = in;
    this.name = name;
    this.firstSeq = firstSeq;
    this.offset = offset;
    this.nextSeq = nextSeq;
  }

  /**
   * Opens {@code path} and checks its header against the file's name. Returns null if the
   * file is shorter than a header (a segment torn before its header was complete).
   */
  public static WalSegmentReader open(FileSystem fs, Path path) throws IOException {
    SegmentName named = SegmentName.parse(path.getName());
    if (named == null) {
      throw new IllegalArgumentException(path + " is not a WAL segment name");
    }
    FSDataInputStream raw = fs.open(path);
    try {
      DataInputStream in = new DataInputStream(new BufferedInputStream(raw, 1 << 16));
      byte[] prefix = in.readNBytes(WalFormat.HEADER_PREFIX_BYTES);
      if (prefix.length < WalFormat.HEADER_PREFIX_BYTES) {
        raw.close();
        return null;
      }
      int headerBytes = WalFormat.headerBytes(prefix, path.toString());
      byte[] rest = in.readNBytes(headerBytes - prefix.length);
      if (rest.length < headerBytes - prefix.length) {
        raw.close();
        return null;
      }
      byte[] h = new byte[headerBytes];
      System.arraycopy(prefix, 0, h, 0, prefix.length);
      System.arraycopy(rest, 0, h, prefix.length, rest.length);
      WalFormat.Header header = WalFormat.parseHeader(h, path.toString());
      if (header.firstSeq() != named.firstSeq() || header.epoch() != named.epoch()) {
        throw new CorruptionException(path + ": header says first sequence number " + header.firstSeq()
            + " and epoch " + header.epoch() + ", which its name does not");
      }
      return new WalSegmentReader(in, path.toString(), header.firstSeq(), headerBytes, header.firstSeq());
    } catch (IOException | RuntimeException e) {
      raw.close();
      throw e;
    }
  }

  /** Opens {@code path} at a known entry boundary, as returned by {@link #offset()} earlier. */
  public static WalSegmentReader resume(FileSystem fs, Path path, long offset, long nextSeq) throws IOException {
    FSDataInputStream raw = fs.open(path);
    try {
      raw.seek(offset);
    } catch (IOException e) {
      raw.close();
      throw e;
    }
    return new WalSegmentReader(new DataInputStream(new BufferedInputStream(raw, 1 << 16)), path.toString(),
        WalFormat.firstSeqOf(path.getName()), offset, nextSeq);
  }

  public long firstSeq() {
    return firstSeq;
  }

  /** Byte offset just after the last entry returned. */
  public long offset() {
    return offset;
  }

  /** The sequence number the next entry must have. */
  public long nextSeq() {
    return nextSeq;
  }

  /** Bytes after the last complete entry, if the segment ended inside one; else 0. */
  public long tornBytes() {
    return tornBytes;
  }

  /** The next entry, or null at the end of the data (clean or torn). */
  public WalEntry next() throws IOException {
    byte[] h = in.readNBytes(WalFormat.ENTRY_HEADER_BYTES);
    if (h.length == 0) {
      return null;
    }
    if (h.length < WalFormat.ENTRY_HEADER_BYTES) {
      tornBytes = h.length;
      return null;
    }
    ByteBuffer hb = ByteBuffer.wrap(h);
    int length = hb.getInt();
    int check = hb.getInt();
    int crc = hb.getInt();
    if (check != ~length || length < 16 || length > WalFormat.MAX_PAYLOAD) {
      throw corrupt("bad entry length " + length);
    }
    byte[] payload = in.readNBytes(length);
    if (payload.length < length) {
      tornBytes = WalFormat.ENTRY_HEADER_BYTES + payload.length;
      return null;
    }
    CRC32C c = new CRC32C();
    c.update(payload, 0, length);
    if ((int) c.getValue() != crc) {
      throw corrupt("entry checksum mismatch");
    }
    ByteBuffer p = ByteBuffer.wrap(payload);
    long seq = p.getLong();
    long version = p.getLong();
    if (seq != nextSeq) {
      throw corrupt("entry has sequence number " + seq + ", expected " + nextSeq);
    }
    offset += WalFormat.ENTRY_HEADER_BYTES + length;
    nextSeq++;
    return new WalEntry(seq, version, payload, 16, length - 16);
  }

  private CorruptionException corrupt(String what) {
    return new CorruptionException("WAL segment " + name + " is corrupt at byte " + offset + ": " + what);
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
