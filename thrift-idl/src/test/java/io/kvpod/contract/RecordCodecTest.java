package io.kvpod.contract;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.thrift.ErrorCode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RecordCodecTest {

  @Test
  void encodesTheWorkedExampleExactly() {
    byte[] b = RecordCodec.encode(Map.of("age", "18"));
    assertArrayEquals(new byte[] {1, 3, 'a', 'g', 'e', 2, '1', '8'}, b);
  }

  @Test
  void emptyMapIsOneFormatByte() throws Exception {
    assertArrayEquals(new byte[] {1}, RecordCodec.encode(Map.of()));
    assertEquals(Map.of(), RecordCodec.decode(new byte[] {1}));
  }

  @Test
  void roundTripsUnicodeAndKeepsFieldOrder() throws Exception {
    Map<String, String> v = new LinkedHashMap<>();
    v.put("name", "choke");
    v.put("城市", "上海");
    v.put("emoji", "\uD83D\uDE00 ok");
    v.put("", "");
    byte[] b = RecordCodec.encode(v);
    Map<String, String> back = RecordCodec.decode(b);
    assertEquals(v, back);
    assertEquals(new ArrayList<>(v.keySet()), new ArrayList<>(back.keySet()));
  }

  @Test
  void builderUtf8AndStringFormsProduceTheSameBytes() {
    RecordCodec.Builder a = new RecordCodec.Builder().add("naïve", "café").add("x", "y");
    byte[] n = "naïve".getBytes(StandardCharsets.UTF_8);
    byte[] t = "café".getBytes(StandardCharsets.UTF_8);
    RecordCodec.Builder b = new RecordCodec.Builder().addUtf8(n, 0, n.length, t, 0, t.length)
        .addUtf8(new byte[] {'x'}, 0, 1, new byte[] {'y'}, 0, 1);
    assertArrayEquals(a.toByteArray(), b.toByteArray());
    assertEquals(2, b.fieldCount());
  }

  @Test
  void longFieldUsesMultiByteVarint() throws Exception {
    String big = "x".repeat(300); // 300 = 0xAC 0x02 as LEB128
    byte[] b = RecordCodec.encode(Map.of("f", big));
    assertEquals((byte) 0xAC, b[3]);
    assertEquals((byte) 0x02, b[4]);
    assertEquals(big, RecordCodec.decode(b).get("f"));
  }

  @Test
  void builderResetStartsAFreshValue() throws Exception {
    RecordCodec.Builder b = new RecordCodec.Builder();
    b.add("a", "1");
    b.reset().add("a", "2");
    assertEquals(Map.of("a", "2"), RecordCodec.decode(b.toByteArray()));
  }

  @Test
  void repeatedFieldNameIsRejectedWithItsName() {
    ContractViolation e = assertThrows(ContractViolation.class,
        () -> new RecordCodec.Builder().add("a", "1").add("b", "2").add("a", "3"));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    assertTrue(e.getMessage().contains("'a'"), e.getMessage());
  }

  @Test
  void oversizedValueNamesTheLimit() {
    String huge = "v".repeat(Limits.MAX_VALUE_BYTES);
    ContractViolation e = assertThrows(ContractViolation.class,
        () -> RecordCodec.encode(Map.of("f", huge)));
    assertEquals(ErrorCode.TOO_LARGE, e.code());
    assertTrue(e.getMessage().contains("MAX_VALUE_BYTES"), e.getMessage());
  }

  @Test
  void tooManyFieldsNamesTheLimit() {
    RecordCodec.Builder b = new RecordCodec.Builder();
    for (int i = 0; i < Limits.MAX_FIELDS; i++) {
      b.add("f" + i, "");
    }
    ContractViolation e = assertThrows(ContractViolation.class, () -> b.add("one-more", ""));
    assertTrue(e.getMessage().contains("MAX_FIELDS"), e.getMessage());
  }

  @Test
  void nullFieldIsRejected() {
    Map<String, String> v = new LinkedHashMap<>();
    v.put("a", null);
    assertThrows(ContractViolation.class, () -> RecordCodec.encode(v));
  }

  @Test
  void corruptBytesAreReportedNotMisread() {
    assertThrows(CorruptionException.class, () -> RecordCodec.decode(new byte[0]));
    assertThrows(CorruptionException.class, () -> RecordCodec.decode(new byte[] {2, 0, 0}));
    // name length 5 but only 2 bytes follow
    assertThrows(CorruptionException.class, () -> RecordCodec.decode(new byte[] {1, 5, 'a', 'b'}));
    // a varint that never ends
    assertThrows(CorruptionException.class,
        () -> RecordCodec.decode(new byte[] {1, (byte) 0x80, (byte) 0x80}));
    // name without its text
    assertThrows(CorruptionException.class, () -> RecordCodec.decode(new byte[] {1, 1, 'a'}));
    // a repeated name
    assertThrows(CorruptionException.class,
        () -> RecordCodec.decode(new byte[] {1, 1, 'a', 0, 1, 'a', 0}));
  }

  @Test
  void aTombstoneIsOneZeroByteThatNoValueEncodesTo() {
    assertArrayEquals(new byte[] {0}, RecordCodec.tombstone());
    assertTrue(RecordCodec.isTombstone(RecordCodec.tombstone()));
    assertFalse(RecordCodec.isTombstone(RecordCodec.encode(Map.of())), "{} is a value, not a removal");
    assertFalse(RecordCodec.isTombstone(RecordCodec.encode(Map.of("", ""))));
    assertFalse(RecordCodec.isTombstone(new byte[] {0, 0}), "only the single byte 00 is a tombstone");
    assertThrows(CorruptionException.class, () -> RecordCodec.decode(RecordCodec.tombstone()),
        "a tombstone is not decoded as a value: readers check for it first");
  }

  @Test
  void checkAcceptsWhatEncodeMakes() {
    Map<String, String> v = new LinkedHashMap<>();
    v.put("naïve", "café €");
    v.put("long", "x".repeat(300));
    v.put("", "");
    RecordCodec.check(RecordCodec.encode(v));
    RecordCodec.check(RecordCodec.encode(Map.of()));
  }

  /** The message of the INVALID_ARGUMENT that check throws for {@code value}. */
  private static String refused(byte[] value) {
    ContractViolation e = assertThrows(ContractViolation.class, () -> RecordCodec.check(value));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), e.getMessage());
    return e.getMessage();
  }

  @Test
  void checkRefusesWhatDecodeWouldCallCorruptAndSaysWhy() {
    assertTrue(refused(new byte[0]).contains("empty"));
    assertTrue(refused(RecordCodec.tombstone()).contains("use remove"), "a removal is not a value to put");
    assertTrue(refused(new byte[] {2, 0, 0}).contains("0x02"));
    assertTrue(refused(new byte[] {1, 5, 'a', 'b'}).contains("runs past the end"));
    assertTrue(refused(new byte[] {1, (byte) 0x80, (byte) 0x80}).contains("varint"));
    assertTrue(refused(new byte[] {1, 1, 'a'}).contains("malformed"), "a name without its text");
    assertTrue(refused(new byte[] {1, 1, 'a', 0, 1, 'a', 0}).contains("repeats field name 'a'"));
    // past 16 fields the names are hashed: a repeat is still found
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    b.write(RecordCodec.FORMAT_V1);
    for (String name : new String[] {"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11",
        "f12", "f13", "f14", "f15", "f16", "f17", "f3", "f18"}) {
      b.write(name.length());
      b.writeBytes(name.getBytes(StandardCharsets.UTF_8));
      b.write(0);
    }
    assertTrue(refused(b.toByteArray()).contains("repeats field name 'f3'"));
  }

  @Test
  void checkRefusesTextThatIsNotUtf8() {
    // 0xC3 starts a two-byte sequence; 'x' cannot continue it
    assertTrue(refused(new byte[] {1, 1, 'a', 2, (byte) 0xC3, 'x'}).contains("field text is not well-formed UTF-8"));
    assertTrue(refused(new byte[] {1, 1, (byte) 0xFF, 0}).contains("field name is not well-formed UTF-8"));
  }

  @Test
  void checkEnforcesTheLimits() {
    byte[] huge = new byte[Limits.MAX_VALUE_BYTES + 1];
    huge[0] = RecordCodec.FORMAT_V1;
    ContractViolation e = assertThrows(ContractViolation.class, () -> RecordCodec.check(huge));
    assertEquals(ErrorCode.TOO_LARGE, e.code(), e.getMessage());
    java.io.ByteArrayOutputStream many = new java.io.ByteArrayOutputStream();
    many.write(RecordCodec.FORMAT_V1);
    for (int i = 0; i <= Limits.MAX_FIELDS; i++) {
      byte[] name = Integer.toString(i).getBytes(StandardCharsets.UTF_8);
      many.write(name.length);
      many.writeBytes(name);
      many.write(0);
    }
    e = assertThrows(ContractViolation.class, () -> RecordCodec.check(many.toByteArray()));
    assertTrue(e.getMessage().contains(Integer.toString(Limits.MAX_FIELDS)), e.getMessage());
  }
}
