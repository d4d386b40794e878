package io.kvpod.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.BucketHomes;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.Membership;
import io.kvpod.contract.RecordCodec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.commons.codec.digest.MurmurHash3;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The worked examples of {@code docs/formats.md}, read from the document itself and checked
 * against the code, so that the document cannot drift from what the code does.
 */
class FormatsDocTest {
  private static final Pattern HASH = Pattern.compile("murmur3_x86_32\\(\"([^\"]*)\", 0\\) = 0x([0-9a-f]{8})");
  /** "bucket `776992547 mod 64 = 35`, whose home among 3 pods is pod `35 mod 3 = 2`" */
  private static final Pattern HOME = Pattern.compile(
      "bucket `(\\d+) mod (\\d+) = (\\d+)`,\\s+whose home among (\\d+) pods is pod `\\3 mod \\4 = (\\d+)`");
  private static final Pattern BUCKET = Pattern.compile("bucket\\(\"([^\"]*)\", (\\d+)\\) = (\\d+) mod \\2 = (\\d+)");
  private static final Pattern HEX_BYTE = Pattern.compile("[0-9a-f]{2}");

  private static String doc;

  @BeforeAll
  static void read() throws IOException {
    doc = Files.readString(Path.of(System.getProperty("user.dir")).resolveSibling("docs").resolve("formats.md"));
  }

  /** The bytes of the first code block after {@code intro}: the leading hex pairs of each line. */
  private static byte[] hexBlockAfter(String intro) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (String line : codeBlockAfter(intro).split("\n")) {
      for (String token : line.trim().split("\\s+")) {
        if (!HEX_BYTE.matcher(token).matches()) {
          break; // the comment starts
        }
        out.write(Integer.parseInt(token, 16));
      }
    }
    return out.toByteArray();
  }

  private static int hash(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    return MurmurHash3.hash32x86(b, 0, b.length, 0);
  }

  @Test
  void keyPartitioningVectorsMatchTheCode() {
    int hashes = 0;
    for (Matcher m = HASH.matcher(doc); m.find(); hashes++) {
      assertEquals(m.group(2), String.format("%08x", hash(m.group(1))), m.group());
    }
    int buckets = 0;
    for (Matcher m = BUCKET.matcher(doc); m.find(); buckets++) {
      int n = Integer.parseInt(m.group(2));
      assertEquals(Long.parseLong(m.group(3)), Integer.toUnsignedLong(hash(m.group(1))), m.group());
      assertEquals(Integer.parseInt(m.group(4)), KeyPartitioner.bucket(m.group(1), n), m.group());
    }
    assertTrue(hashes >= 2 && buckets >= 1, "the document gives its vectors (" + hashes + " hashes, " + buckets
        + " buckets found)");
  }

  @Test
  void homePodExampleMatchesBucketHomes() {
    Matcher m = HOME.matcher(doc);
    assertTrue(m.find(), "the document works out a key's home pod");
    long hash = Long.parseLong(m.group(1));
    int buckets = Integer.parseInt(m.group(2));
    int bucket = Integer.parseInt(m.group(3));
    assertEquals(hash % buckets, bucket, m.group());
    assertEquals(Integer.parseInt(m.group(5)), BucketHomes.home(bucket, Integer.parseInt(m.group(4))), m.group());
  }

  @Test
  void recordValueExampleMatchesRecordCodec() {
    Map<String, String> v = new LinkedHashMap<>();
    v.put("name", "choke");
    v.put("age", "18");
    assertEquals(HexFormat.of().formatHex(RecordCodec.encode(v)),
        HexFormat.of().formatHex(hexBlockAfter("`{\"name\":\"choke\",\"age\":\"18\"}` encodes to")));
  }

  @Test
  void walSegmentExampleMatchesWalFormat() {
    assertTrue(doc.contains("`" + WalFormat.segmentName(7, 3) + "`"), "the example's file name");
    byte[] value = RecordCodec.encode(Map.of("name", "choke"));
    byte[] body = new WalFormat.BodyBuilder().add("user:1".getBytes(StandardCharsets.UTF_8), value).build();
    ByteArrayOutputStream file = new ByteArrayOutputStream();
    file.writeBytes(WalFormat.header(0, 7, 3, 0));
    file.writeBytes(WalFormat.entry(7, 1763889600123L, body));
    assertEquals(HexFormat.of().formatHex(file.toByteArray()),
        HexFormat.of().formatHex(hexBlockAfter("Worked example: pod 0 holds bucket 0 in epoch 3")));
  }

  @Test
  void membershipExampleMatchesMembership() {
    String block = codeBlockAfter("Worked example: 2 pods, 4 buckets, then a third joins");
    Membership m = Membership.seed(List.of("h0:7000", "h1:7000"), 4).join("h2:7000");
    assertEquals(new String(m.format(), StandardCharsets.UTF_8), block);
  }

  @Test
  void registryExampleMatchesRegistryTree() {
    String block = codeBlockAfter("Worked example: pod 1 of the table `users`");
    io.kvpod.zk.RegistryTree tree = new io.kvpod.zk.RegistryTree("users");
    StringBuilder want = new StringBuilder();
    appendNode(want, io.kvpod.zk.ZkAddress.DEFAULT_ROOT + tree.podPath(1),
        new io.kvpod.zk.RegistryTree.PodNode("10.0.0.2:17000", "active", List.of(1, 4)).format());
    appendNode(want, io.kvpod.zk.ZkAddress.DEFAULT_ROOT + tree.holderPath(4),
        new io.kvpod.zk.RegistryTree.HolderNode(3, 1).format());
    assertEquals(want.toString(), block);
  }

  /** The first code block after {@code intro} in the document, as it stands. */
  private static String codeBlockAfter(String intro) {
    int at = doc.indexOf(intro);
    assertTrue(at >= 0, "docs/formats.md has no \"" + intro + "\"");
    int open = doc.indexOf("```\n", at) + 4;
    return doc.substring(open, doc.indexOf("```", open));
  }

  /** A znode as the example shows it: its path padded to 35 columns, then its content, one line each. */
  private static void appendNode(StringBuilder out, String path, byte[] content) {
    String[] lines = new String(content, StandardCharsets.UTF_8).split("\n");
    for (int i = 0; i < lines.length; i++) {
      out.append(String.format("%-35s", i == 0 ? path : "")).append(lines[i]).append('\n');
    }
  }
}
