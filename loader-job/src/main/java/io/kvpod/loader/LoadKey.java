package io.kvpod.loader;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.Arrays;
import org.apache.hadoop.io.WritableComparable;
import org.apache.hadoop.io.WritableComparator;

/**
 * The map-output key of a load: a record's key bytes and its version.
 *
 * <pre>
 *   LoadKey := u16be(len(key)) key i64be(version)
 * </pre>
 *
 * {@link SortComparator} orders by key (unsigned bytes, the HFile order) and then by
 * version, highest first, so a reducer sees a key's winning record first.
 * {@link GroupComparator} groups by key alone. Both compare serialized bytes; no
 * deserialization on the sort path. Mutable and reused; not thread-safe.
 */
public final class LoadKey implements WritableComparable<LoadKey> {
  private byte[] key = new byte[64];
  private int length;
  private long version;

  public void set(byte[] src, int off, int len, long version) {
    if (len > 0xffff) {
      throw new IllegalArgumentException("key longer than 65535 bytes");
    }
    if (key.length < len) {
      key = new byte[Math.max(len, key.length * 2)];
    }
    System.arraycopy(src, off, key, 0, len);
    this.length = len;
    this.version = version;
  }

  public byte[] keyBytes() {
    return key;
  }

  public int keyLength() {
    return length;
  }

  public long version() {
    return version;
  }

  public void setVersion(long version) {
    this.version = version;
  }

  @Override
  public void write(DataOutput out) throws IOException {
    out.writeShort(length);
    out.write(key, 0, length);
    out.writeLong(version);
  }

  @Override
  public void readFields(DataInput in) throws IOException {
    int len = in.readUnsignedShort();
    if (key.length < len) {
      key = new byte[Math.max(len, key.length * 2)];
    }
    in.readFully(key, 0, len);
    length = len;
    version = in.readLong();
  }

  @Override
  public int compareTo(LoadKey o) {
    int c = Arrays.compareUnsigned(key, 0, length, o.key, 0, o.length);
    return c != 0 ? c : Long.compare(o.version, version);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LoadKey k && compareTo(k) == 0;
  }

  @Override
  public int hashCode() {
    return WritableComparator.hashBytes(key, length) * 31 + Long.hashCode(version);
  }

  @Override
  public String toString() {
    return new String(key, 0, length, java.nio.charset.StandardCharsets.UTF_8) + "@" + version;
  }

  private static int keyLen(byte[] b, int s) {
    return ((b[s] & 0xff) << 8) | (b[s + 1] & 0xff);
  }

  /** Key ascending (unsigned bytes), then version descending. */
  public static final class SortComparator extends WritableComparator {
    public SortComparator() {
      super(LoadKey.class);
    }

    @Override
    public int compare(byte[] b1, int s1, int l1, byte[] b2, int s2, int l2) {
      int k1 = keyLen(b1, s1);
      int k2 = keyLen(b2, s2);
      int c = compareBytes(b1, s1 + 2, k1, b2, s2 + 2, k2);
      if (c != 0) {
        return c;
      }
      return Long.compare(readLong(b2, s2 + 2 + k2), readLong(b1, s1 + 2 + k1));
    }

    @Override
    @SuppressWarnings("rawtypes")
    public int compare(WritableComparable a, WritableComparable b) {
      return ((LoadKey) a).compareTo((LoadKey) b);
    }
  }

  /** Key bytes only: all versions of a key reach one reduce call. */
  public static final class GroupComparator extends WritableComparator {
    public GroupComparator() {
      super(LoadKey.class);
    }

    @Override
    public int compare(byte[] b1, int s1, int l1, byte[] b2, int s2, int l2) {
      return compareBytes(b1, s1 + 2, keyLen(b1, s1), b2, s2 + 2, keyLen(b2, s2));
    }

    @Override
    @SuppressWarnings("rawtypes")
    public int compare(WritableComparable a, WritableComparable b) {
      LoadKey x = (LoadKey) a;
      LoadKey y = (LoadKey) b;
      return Arrays.compareUnsigned(x.key, 0, x.length, y.key, 0, y.length);
    }
  }

  static {
    WritableComparator.define(LoadKey.class, new SortComparator());
  }
}
