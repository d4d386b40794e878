package io.kvpod.loader;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.kvpod.contract.ContractViolation;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Parses JSON Lines records, the contest's body format:
 *
 * <pre>
 *   line    := '{' "key": string, "value": object [, "version": integer] '}'   (any order)
 *   object  := '{' (name: scalar)* '}'    scalar := string | number | true | false
 * </pre>
 *
 * Example: {@code {"key":"k1","value":{"name":"choke","age":"18"},"version":7}}. Numbers
 * and booleans in the value are kept as their JSON text. Anything else (a null, a nested
 * object, an unknown top-level field, trailing text) makes the line bad.
 */
final class JsonLineParser implements RecordParser {
  private final JsonFactory factory = new JsonFactory();

  @Override
  public void parse(byte[] line, int length, ParsedRecord out) throws BadRecordException {
    out.reset();
    try (JsonParser p = factory.createParser(line, 0, length)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new BadRecordException("line is not a JSON object");
      }
      boolean sawKey = false;
      boolean sawValue = false;
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken v = p.nextToken();
        switch (field) {
          case "key" -> {
            if (v != JsonToken.VALUE_STRING) {
              throw new BadRecordException("\"key\" must be a string, got " + describe(v));
            }
            byte[] k = p.getText().getBytes(StandardCharsets.UTF_8);
            out.setKey(k, 0, k.length);
            sawKey = true;
          }
          case "value" -> {
            if (v != JsonToken.START_OBJECT) {
              throw new BadRecordException("\"value\" must be an object, got " + describe(v));
            }
            readValue(p, out);
            sawValue = true;
          }
          case "version" -> {
            if (v != JsonToken.VALUE_NUMBER_INT) {
              throw new BadRecordException("\"version\" must be an integer, got " + describe(v));
            }
            long ver = p.getLongValue();
            if (ver < 0) {
              throw new BadRecordException("\"version\" must not be negative, got " + ver);
            }
            out.version = ver;
          }
          default -> throw new BadRecordException("unknown field \"" + field
              + "\"; a record has \"key\", \"value\" and optionally \"version\"");
        }
      }
      if (t != JsonToken.END_OBJECT) {
        throw new BadRecordException("unexpected " + describe(t) + " in the record object");
      }
      if (p.nextToken() != null) {
        throw new BadRecordException("text after the end of the JSON object");
      }
      if (!sawKey) {
        throw new BadRecordException("record has no \"key\"");
      }
      if (!sawValue) {
        throw new BadRecordException("record has no \"value\"");
      }
    } catch (ContractViolation e) {
      throw new BadRecordException(e.getMessage());
    } catch (JsonParseException e) {
      throw new BadRecordException("malformed JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new BadRecordException("unreadable JSON: " + e.getMessage());
    }
  }

  private static void readValue(JsonParser p, ParsedRecord out) throws IOException, BadRecordException {
    JsonToken t;
    while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
      String name = p.currentName();
      JsonToken v = p.nextToken();
      if (v == JsonToken.VALUE_STRING || v == JsonToken.VALUE_NUMBER_INT
          || v == JsonToken.VALUE_NUMBER_FLOAT || v == JsonToken.VALUE_TRUE
          || v == JsonToken.VALUE_FALSE) {
        out.value.add(name, p.getText());
      } else {
        throw new BadRecordException("value field \"" + name + "\" must be a string, number or boolean, got "
            + describe(v));
      }
    }
    if (t != JsonToken.END_OBJECT) {
      throw new BadRecordException("unexpected " + describe(t) + " in \"value\"");
    }
  }

  private static String describe(JsonToken t) {
    if (t == null) {
      return "end of line";
    }
    return switch (t) {
      case VALUE_NULL -> "null";
      case START_OBJECT -> "an object";
      case START_ARRAY -> "an array";
      case VALUE_STRING -> "a string";
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
      case VALUE_TRUE, VALUE_FALSE -> "a boolean";
      default -> t.asString() == null ? t.name() : "'" + t.asString() + "'";
    };
  }
}
