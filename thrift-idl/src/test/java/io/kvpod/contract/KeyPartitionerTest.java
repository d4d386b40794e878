package io.kvpod.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.apache.commons.codec.digest.MurmurHash3;
import org.junit.jupiter.api.Test;

class KeyPartitionerTest {

  @Test
  void hashMatchesPublishedMurmur3Vectors() {
    // Reference values of MurmurHash3_x86_32 with seed 0; other-language clients check these too.
    assertEquals(0, MurmurHash3.hash32x86(new byte[0], 0, 0, 0));
    assertEquals(0x248bfa47, MurmurHash3.hash32x86(utf8("hello"), 0, 5, 0));
    byte[] fox = utf8("The quick brown fox jumps over the lazy dog");
    assertEquals(0x2e4ff723, MurmurHash3.hash32x86(fox, 0, fox.length, 0));
  }

  @Test
  void bucketIsUnsignedHashModN() {
    // 0x2e4ff723 = 776992547; 776992547 % 7 = 4
    assertEquals(776992547L % 7, KeyPartitioner.bucket("The quick brown fox jumps over the lazy dog", 7));
    // A hash with the top bit set must not go negative: find one and check.
    for (int i = 0; i < 1000; i++) {
      String k = "key-" + i;
      int h = MurmurHash3.hash32x86(utf8(k), 0, utf8(k).length, 0);
      int b = KeyPartitioner.bucket(k, 13);
      assertEquals(Integer.toUnsignedLong(h) % 13, b, k);
      assertTrue(b >= 0 && b < 13);
    }
  }

  @Test
  void byteRangeAndStringFormsAgree() {
    byte[] buf = utf8("xxkey-42yy");
    assertEquals(KeyPartitioner.bucket("key-42", 16), KeyPartitioner.bucket(buf, 2, 6, 16));
    assertEquals(KeyPartitioner.bucket("ключ", 5), KeyPartitioner.bucket(utf8("ключ"), 5));
  }

  @Test
  void spreadsKeysEvenly() {
    int[] counts = new int[8];
    for (int i = 0; i < 80_000; i++) {
      counts[KeyPartitioner.bucket("user" + i, 8)]++;
    }
    for (int c : counts) {
      assertTrue(c > 9_000 && c < 11_000, "bucket holds " + c + " of 80000");
    }
  }

  @Test
  void rejectsNonPositiveBucketCount() {
    assertThrows(IllegalArgumentException.class, () -> KeyPartitioner.bucket("k", 0));
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
