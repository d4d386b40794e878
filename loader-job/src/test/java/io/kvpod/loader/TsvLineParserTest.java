package io.kvpod.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.RecordCodec;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TsvLineParserTest {
  private final TsvLineParser parser = new TsvLineParser();
  private final ParsedRecord rec = new ParsedRecord();

  private void parse(String line) throws BadRecordException {
    byte[] b = line.getBytes(StandardCharsets.UTF_8);
    parser.parse(b, b.length, rec);
  }

  private String key() {
    return new String(rec.key(), 0, rec.keyLength(), StandardCharsets.UTF_8);
  }

  @Test
  void parsesKeyVersionAndFields() throws Exception {
    parse("k1\t@7\tname=choke\tage=18");
    assertEquals("k1", key());
    assertEquals(7, rec.version());
    assertEquals(Map.of("name", "choke", "age", "18"), RecordCodec.decode(rec.value().toByteArray()));
  }

  @Test
  void versionIsOptionalAndTextMayHoldEquals() throws Exception {
    parse("k2\texpr=a=b\tempty=");
    assertEquals(ParsedRecord.NO_VERSION, rec.version());
    assertEquals(Map.of("expr", "a=b", "empty", ""), RecordCodec.decode(rec.value().toByteArray()));
  }

  @Test
  void keyAloneIsARecordWithNoFields() throws Exception {
    parse("lonely");
    assertEquals("lonely", key());
    assertEquals(Map.of(), RecordCodec.decode(rec.value().toByteArray()));
  }

  @Test
  void escapesAreDecodedEverywhere() throws Exception {
    parse("a\\tb\tn\\\\m=line1\\nline2\\r");
    assertEquals("a\tb", key());
    assertEquals(Map.of("n\\m", "line1\nline2\r"), RecordCodec.decode(rec.value().toByteArray()));
  }

  @Test
  void unicodePassesThrough() throws Exception {
    parse("城市\t名字=上海");
    assertEquals("城市", key());
    assertEquals(Map.of("名字", "上海"), RecordCodec.decode(rec.value().toByteArray()));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "'\tf=1'                 | key is empty",
      "'k\tnoequals'           | column 2 is not name=value",
      "'k\t@'                  | version column",
      "'k\t@12x'               | version column",
      "'k\t@99999999999999999999' | version column",
      "'k\tf=1\t@3'            | column 3 is not name=value",
      "'k\tf=a\\q'             | unknown escape",
      "'k\tf=a\\'              | inside a backslash escape",
      "'k\tf=1\tf=2'           | repeats field name 'f'",
  })
  void malformedLinesAreRejectedWithAReason(String line, String reason) {
    String l = line.replace("\\t", "\t").replace("\\q", "\\q");
    BadRecordException e = assertThrows(BadRecordException.class, () -> parse(l));
    assertTrue(e.getMessage().contains(reason), () -> "'" + e.getMessage() + "' should mention '" + reason + "'");
  }
}
