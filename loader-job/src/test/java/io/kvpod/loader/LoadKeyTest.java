package io.kvpod.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LoadKeyTest {

  private static byte[] ser(String key, long version) throws Exception {
    LoadKey k = new LoadKey();
    byte[] b = key.getBytes(StandardCharsets.UTF_8);
    k.set(b, 0, b.length, version);
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    bos.write(new byte[] {9, 9, 9}); // an offset, as in a real sort buffer
    k.write(new DataOutputStream(bos));
    return bos.toByteArray();
  }

  private static int rawCompare(byte[] a, byte[] b) {
    return new LoadKey.SortComparator().compare(a, 3, a.length - 3, b, 3, b.length - 3);
  }

  @Test
  void rawOrderIsUnsignedKeyThenVersionDescending() throws Exception {
    assertTrue(rawCompare(ser("a", 1), ser("b", 1)) < 0);
    assertTrue(rawCompare(ser("ab", 1), ser("a", 1)) > 0);
    // unsigned: 'é' (0xC3..) sorts after 'z'
    assertTrue(rawCompare(ser("é", 1), ser("z", 1)) > 0);
    // same key: higher version first
    assertTrue(rawCompare(ser("k", 9), ser("k", 3)) < 0);
    assertEquals(0, rawCompare(ser("k", 3), ser("k", 3)));
  }

  @Test
  void groupComparatorIgnoresVersion() throws Exception {
    byte[] a = ser("k", 9);
    byte[] b = ser("k", 3);
    assertEquals(0, new LoadKey.GroupComparator().compare(a, 3, a.length - 3, b, 3, b.length - 3));
  }

  @Test
  void rawAndObjectComparisonsAgreeOnRandomKeys() throws Exception {
    Random r = new Random(7);
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      StringBuilder sb = new StringBuilder();
      int len = 1 + r.nextInt(4);
      for (int j = 0; j < len; j++) {
        sb.append((char) (r.nextBoolean() ? 'a' + r.nextInt(3) : 0xe0 + r.nextInt(3)));
      }
      keys.add(sb.toString());
    }
    for (int i = 0; i < keys.size() - 1; i++) {
      long v1 = r.nextInt(3);
      long v2 = r.nextInt(3);
      LoadKey x = new LoadKey();
      LoadKey y = new LoadKey();
      byte[] kx = keys.get(i).getBytes(StandardCharsets.UTF_8);
      byte[] ky = keys.get(i + 1).getBytes(StandardCharsets.UTF_8);
      x.set(kx, 0, kx.length, v1);
      y.set(ky, 0, ky.length, v2);
      assertEquals(Integer.signum(x.compareTo(y)),
          Integer.signum(rawCompare(ser(keys.get(i), v1), ser(keys.get(i + 1), v2))));
    }
  }
}
