package io.kvpod.contract;

import java.nio.charset.StandardCharsets;
import org.apache.commons.codec.digest.MurmurHash3;

/**
 * Maps a key to one of {@code n} buckets: the partition of a layer's HFiles, and the
 * owning pod of a key. The loader, the pods and every client must use exactly this
 * function, so it is specified to the bit:
 *
 * <pre>
 *   bucket(key, n) = unsigned32(murmur3_x86_32(utf8(key), seed = 0)) mod n
 * </pre>
 *
 * (MurmurHash3 x86 32-bit as published by Austin Appleby, e.g. Python's
 * {@code mmh3.hash(key, 0, signed=False) % n}.)
 *
 * <p>Stateless and thread-safe.
 */
public final class KeyPartitioner {
  private KeyPartitioner() {}

  /** The bucket of the key held in {@code bytes[off, off+len)}. Requires {@code n > 0}. */
  public static int bucket(byte[] bytes, int off, int len, int n) {
    return bucketOfHash(hash(bytes, off, len), n);
  }

  /**
   * {@code unsigned32(murmur3_x86_32(bytes[off, off+len), seed = 0))}: hash a key once, then
   * take its bucket for several counts with {@link #bucketOfHash}.
   */
  public static long hash(byte[] bytes, int off, int len) {
    return Integer.toUnsignedLong(MurmurHash3.hash32x86(bytes, off, len, 0));
  }

  /** The bucket among {@code n} of a key whose {@link #hash} is {@code hash}. Requires {@code n > 0}. */
  public static int bucketOfHash(long hash, int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("bucket count must be positive, got " + n);
    }
    return (int) (hash % n);
  }

  public static int bucket(byte[] key, int n) {
    return bucket(key, 0, key.length, n);
  }

  public static int bucket(String key, int n) {
    return bucket(key.getBytes(StandardCharsets.UTF_8), n);
  }
}
