package io.kvpod.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.Limits;
import io.kvpod.contract.RecordCodec;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class JsonLineParserTest {
  private final JsonLineParser parser = new JsonLineParser();
  private final ParsedRecord rec = new ParsedRecord();

  private void parse(String line) throws BadRecordException {
    byte[] b = line.getBytes(StandardCharsets.UTF_8);
    parser.parse(b, b.length, rec);
  }

  @Test
  void parsesTheContestBodyFormat() throws Exception {
    parse("{\"key\":\"k1\",\"value\":{\"name\":\"choke\",\"age\":\"18\"}}");
    assertEquals("k1", new String(rec.key(), 0, rec.keyLength(), StandardCharsets.UTF_8));
    assertEquals(ParsedRecord.NO_VERSION, rec.version());
    Map<String, String> want = new LinkedHashMap<>();
    want.put("name", "choke");
    want.put("age", "18");
    assertEquals(want, RecordCodec.decode(rec.value().toByteArray()));
  }

  @Test
  void acceptsFieldsInAnyOrderWithVersionAndScalars() throws Exception {
    parse("{\"version\":42,\"value\":{\"n\":7,\"ok\":true,\"x\":1.5,\"s\":\"\\u00e9\"},\"key\":\"ключ\"}");
    assertEquals(42, rec.version());
    assertEquals("ключ", new String(rec.key(), 0, rec.keyLength(), StandardCharsets.UTF_8));
    assertEquals(Map.of("n", "7", "ok", "true", "x", "1.5", "s", "é"),
        RecordCodec.decode(rec.value().toByteArray()));
  }

  @Test
  void emptyValueObjectIsAllowed() throws Exception {
    parse("{\"key\":\"k\",\"value\":{}}");
    assertEquals(Map.of(), RecordCodec.decode(rec.value().toByteArray()));
  }

  @Test
  void parserIsReusableAfterABadLine() throws Exception {
    assertThrows(BadRecordException.class, () -> parse("{\"key\":\"a\",\"value\":{\"f\":\"1\"},\"x\":1}"));
    parse("{\"key\":\"b\",\"value\":{\"g\":\"2\"}}");
    assertEquals(Map.of("g", "2"), RecordCodec.decode(rec.value().toByteArray()));
    assertEquals(ParsedRecord.NO_VERSION, rec.version());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "not json at all                                        | malformed JSON",
      "[1,2]                                                  | not a JSON object",
      "{\"key\":\"k\"                                         | malformed JSON",
      "{\"value\":{\"a\":\"1\"}}                              | no \"key\"",
      "{\"key\":\"k\"}                                        | no \"value\"",
      "{\"key\":7,\"value\":{}}                               | \"key\" must be a string",
      "{\"key\":null,\"value\":{}}                            | \"key\" must be a string, got null",
      "{\"key\":\"\",\"value\":{}}                            | key is empty",
      "{\"key\":\"k\",\"value\":[]}                           | \"value\" must be an object",
      "{\"key\":\"k\",\"value\":\"v\"}                        | \"value\" must be an object",
      "{\"key\":\"k\",\"value\":{\"a\":null}}                 | must be a string, number or boolean, got null",
      "{\"key\":\"k\",\"value\":{\"a\":{\"b\":\"c\"}}}        | got an object",
      "{\"key\":\"k\",\"value\":{\"a\":\"1\",\"a\":\"2\"}}    | repeats field name 'a'",
      "{\"key\":\"k\",\"value\":{},\"version\":\"3\"}         | \"version\" must be an integer",
      "{\"key\":\"k\",\"value\":{},\"version\":-1}            | must not be negative",
      "{\"key\":\"k\",\"value\":{},\"vale\":1}                | unknown field \"vale\"",
      "{\"key\":\"k\",\"value\":{}} trailing                  | malformed JSON",
      "{\"key\":\"k\",\"value\":{}}{}                         | text after the end",
  })
  void malformedLinesAreRejectedWithAReason(String line, String reason) {
    BadRecordException e = assertThrows(BadRecordException.class, () -> parse(line.trim()));
    assertTrue(e.getMessage().contains(reason), () -> "'" + e.getMessage() + "' should mention '" + reason + "'");
  }

  @Test
  void oversizedKeyNamesTheLimit() {
    String key = "k".repeat(Limits.MAX_KEY_BYTES + 1);
    BadRecordException e = assertThrows(BadRecordException.class,
        () -> parse("{\"key\":\"" + key + "\",\"value\":{}}"));
    assertTrue(e.getMessage().contains("MAX_KEY_BYTES"), e.getMessage());
  }

  @Test
  void oversizedValueNamesTheLimit() {
    String big = "v".repeat(Limits.MAX_VALUE_BYTES);
    BadRecordException e = assertThrows(BadRecordException.class,
        () -> parse("{\"key\":\"k\",\"value\":{\"f\":\"" + big + "\"}}"));
    assertTrue(e.getMessage().contains("MAX_VALUE_BYTES"), e.getMessage());
  }
}
