package io.kvpod.bench.hbase;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Keys packed end to end in one byte array, with their start offsets: about 20 bytes a
 * 16-byte key instead of ~48 as separate arrays, so all keys of a 10M-record input take
 * ~200 MB of the heap the RegionServer shares. Append-only while loading; read-only (and
 * thread-safe to read) afterwards.
 */
final class KeyStore {
  private byte[] data = new byte[1 << 16];
  private int[] starts = new int[1 << 12];
  private int count;
  private int used;

  void add(byte[] key) {
    if (count + 1 >= starts.length) {
      starts = Arrays.copyOf(starts, grow(starts.length));
    }
    if ((long) used + key.length > Integer.MAX_VALUE - 16) {
      throw new IllegalStateException("more than 2 GB of keys; use --sample to keep fewer");
    }
    if (used + key.length > data.length) {
      data = Arrays.copyOf(data, Math.max(used + key.length, grow(data.length)));
    }
    System.arraycopy(key, 0, data, used, key.length);
    starts[count++] = used;
    used += key.length;
    starts[count] = used;
  }

  private static int grow(int n) {
    return (int) Math.min(Integer.MAX_VALUE - 16, n + (long) (n >> 1) + 16);
  }

  int size() {
    return count;
  }

  long bytes() {
    return used;
  }

  byte[] get(int i) {
    return Arrays.copyOfRange(data, starts[i], starts[i + 1]);
  }

  /** {@code n} distinct keys of this store, chosen uniformly at random (all of them if n >= size). */
  KeyStore sample(int n, long seed) {
    if (n >= count) {
      return this;
    }
    int[] idx = new int[count];
    for (int i = 0; i < count; i++) {
      idx[i] = i;
    }
    SplittableRandom rnd = new SplittableRandom(seed);
    KeyStore out = new KeyStore();
    for (int i = 0; i < n; i++) { // partial Fisher-Yates
      int j = i + rnd.nextInt(count - i);
      int t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
      out.add(get(idx[i]));
    }
    return out;
  }
}
