package io.kvpod.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.kvpod.contract.RecordCodec;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RecordGeneratorTest {

  @Test
  void sameSeedSameRecordsAndKeysNeverRepeat() {
    RecordGenerator a = new RecordGenerator(5, 3, 30);
    RecordGenerator b = new RecordGenerator(5, 3, 30);
    Set<String> keys = new HashSet<>();
    for (long i = 0; i < 50_000; i++) {
      assertEquals(a.key(i), b.key(i));
      keys.add(a.key(i));
    }
    assertEquals(50_000, keys.size());
    assertEquals(a.value(17), b.value(17));
    assertNotEquals(a.key(1), new RecordGenerator(6, 3, 30).key(1));
  }

  @Test
  void linesParseBackToKeyAndValue() throws Exception {
    RecordGenerator g = new RecordGenerator(1, 4, 100);
    byte[] buf = new byte[g.maxLineBytes()];
    ParsedRecord rec = new ParsedRecord();
    for (long i = 0; i < 200; i++) {
      int n = g.writeLine(i, true, buf, 0);
      new JsonLineParser().parse(buf, n - 1, rec);
      assertEquals(g.key(i), new String(rec.key(), 0, rec.keyLength(), StandardCharsets.UTF_8));
      assertEquals(g.value(i), RecordCodec.decode(rec.value().toByteArray()));
      n = g.writeLine(i, false, buf, 0);
      new TsvLineParser().parse(buf, n - 1, rec);
      assertEquals(g.value(i), RecordCodec.decode(rec.value().toByteArray()));
    }
  }
}
