package io.kvpod.bench.hbase;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Reads one line of kvpod's JSON Lines input ({@code bin/kvpod gen}, and what kvpod's loader
 * reads): {@code {"key":"...","value":{...}[,"version":N]}}, fields in any order.
 *
 * <p>The key is the string's UTF-8 bytes (as kvpod stores it). The value is the value
 * object's JSON text exactly as it appears on the line, e.g.
 * {@code {"f0":"ovuf...","f1":"dms6..."}}: that is what the harness stores in HBase, about
 * the size of kvpod's encoded value. Not thread-safe; one per thread.
 */
final class JsonRecordParser {
  private final JsonFactory factory = new JsonFactory();

  byte[] key;
  int valueStart;
  int valueEnd;

  /**
   * Parses {@code line[0, length)}. The line must start at offset 0 so that Jackson's byte
   * offsets are offsets into {@code line}.
   *
   * @return null when the line is a record (then {@link #key} and the value span are set),
   *     or what is wrong with it
   */
  String parse(byte[] line, int length) {
    key = null;
    valueStart = -1;
    valueEnd = -1;
    try (JsonParser p = factory.createParser(line, 0, length)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return "not a JSON object";
      }
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken v = p.nextToken();
        switch (field) {
          case "key" -> {
            if (v != JsonToken.VALUE_STRING) {
              return "\"key\" is not a string";
            }
            key = p.getText().getBytes(StandardCharsets.UTF_8);
          }
          case "value" -> {
            if (v != JsonToken.START_OBJECT) {
              return "\"value\" is not an object";
            }
            valueStart = (int) p.currentTokenLocation().getByteOffset();
            p.skipChildren();
            valueEnd = (int) p.currentTokenLocation().getByteOffset() + 1;
          }
          default -> p.skipChildren(); // "version" (a number), or anything else: ignored
        }
      }
      if (t != JsonToken.END_OBJECT) {
        return "malformed record object";
      }
    } catch (IOException e) {
      return "malformed JSON: " + e.getMessage();
    }
    if (key == null || key.length == 0) {
      return "no \"key\"";
    }
    if (valueStart < 0 || valueEnd <= valueStart || valueEnd > length) {
      return "no \"value\"";
    }
    return null;
  }

  /** The value's JSON text, a copy. */
  byte[] value(byte[] line) {
    return java.util.Arrays.copyOfRange(line, valueStart, valueEnd);
  }
}
