package io.kvpod.contract;

import java.util.zip.CRC32C;

/**
 * A checksum of a data file's records, independent of HFile blocks and compression, so the
 * writer can compute it while appending and a validator while scanning.
 *
 * <pre>
 *   checksum := crc32c( record* )  as 8 lowercase hex digits
 *   record   := i32be(len(key)) key i64be(version) i32be(len(value)) value
 * </pre>
 *
 * Not thread-safe.
 */
public final class ContentChecksum {
  private final CRC32C crc = new CRC32C();
  private final byte[] scratch = new byte[8];
  private long records;

  public void update(byte[] key, int keyOff, int keyLen, long version,
                     byte[] value, int valueOff, int valueLen) {
    putInt(keyLen);
    crc.update(key, keyOff, keyLen);
    for (int i = 0; i < 8; i++) {
      scratch[i] = (byte) (version >>> (56 - 8 * i));
    }
    crc.update(scratch, 0, 8);
    putInt(valueLen);
    crc.update(value, valueOff, valueLen);
    records++;
  }

  private void putInt(int v) {
    scratch[0] = (byte) (v >>> 24);
    scratch[1] = (byte) (v >>> 16);
    scratch[2] = (byte) (v >>> 8);
    scratch[3] = (byte) v;
    crc.update(scratch, 0, 4);
  }

  public long records() {
    return records;
  }

  public String hex() {
    return String.format("%08x", crc.getValue());
  }
}
