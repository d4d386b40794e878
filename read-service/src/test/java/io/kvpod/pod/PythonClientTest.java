package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.PeerSigner;
import io.kvpod.contract.TableLayout;
import io.kvpod.local.PodProcess;
import io.kvpod.thrift.internal.PeerRequest;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A non-Java client: Python bindings generated from kvpod.thrift by Debian's thrift
 * compiler, used by thrift-idl/examples/python/kvpod_get.py against a running pod process.
 * Needs {@code thrift} and {@code python3-thrift} (.ci/run installs them); without them the
 * test is skipped locally and fails under CI.
 */
class PythonClientTest {
  private static final String PYTHON = "/usr/bin/python3";

  @TempDir
  File tmp;

  private static int run(List<String> cmd, Map<String, String> env, StringBuilder out) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    out.append(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("timed out: " + cmd);
    }
    return p.exitValue();
  }

  private static boolean available() {
    try {
      return run(List.of("thrift", "-version"), Map.of(), new StringBuilder()) == 0
          && run(List.of(PYTHON, "-c", "import thrift"), Map.of(), new StringBuilder()) == 0;
    } catch (Exception e) {
      return false;
    }
  }

  /** Skips the test where the tools are missing, except under CI, which must have them. */
  private static void requireTools() {
    if (!available()) {
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError("CI must have thrift and python3-thrift (see .ci/run)");
      }
      Assumptions.abort("thrift compiler or python3-thrift not installed");
    }
  }

  /** thrift-idl/examples/python/kvpod_get.py. */
  private static File exampleScript() {
    File repo = new File(System.getProperty("user.dir")).getParentFile();
    return new File(repo, "thrift-idl/examples/python/kvpod_get.py");
  }

  /** Generates Python bindings of both IDLs into {@code gen}. */
  private static void generate(File gen) throws Exception {
    File repo = new File(System.getProperty("user.dir")).getParentFile();
    gen.mkdirs();
    for (String name : List.of("kvpod.thrift", "kvpod_internal.thrift")) {
      File idl = new File(repo, "thrift-idl/src/main/thrift/" + name);
      StringBuilder out = new StringBuilder();
      assertEquals(0, run(List.of("thrift", "--gen", "py", "-out", gen.getPath(), idl.getPath()), Map.of(), out),
          name + ": " + out);
    }
  }

  /**
   * The internal IDL's unions work in Python too (a field named {@code write} or {@code read}
   * would hide the generated methods of those names): a forwarded write built and encoded in
   * Python decodes in Java as the pods decode it.
   */
  @Test
  void internalMessagesBuiltInPythonDecodeInJava() throws Exception {
    requireTools();
    File gen = new File(tmp, "gen-py");
    generate(gen);
    String script = String.join("\n",
        "from thrift.TSerialization import serialize, deserialize",
        "from thrift.protocol.TCompactProtocol import TCompactProtocolFactory",
        "from kvpod.internal.ttypes import PeerRequest, WriteRequest, KeyValue",
        "f = TCompactProtocolFactory()",
        "req = PeerRequest(forwardedWrite=WriteRequest(records=[KeyValue(key=b'k1', value=b'v1')], deadlineMillis=42))",
        "data = serialize(req, f)",
        "assert deserialize(PeerRequest(), data, f).forwardedWrite.records[0].key == b'k1'",
        "print(data.hex())");
    StringBuilder out = new StringBuilder();
    assertEquals(0, run(List.of(PYTHON, "-c", script), Map.of("PYTHONPATH", gen.getPath()), out), out.toString());
    PeerRequest req = PeerSigner.decodeRequest(HexFormat.of().parseHex(out.toString().trim()));
    assertTrue(req.isSetForwardedWrite(), req.toString());
    assertEquals("k1", new String(req.getForwardedWrite().getRecords().get(0).getKey(), StandardCharsets.UTF_8));
    assertEquals(42, req.getForwardedWrite().getDeadlineMillis());
  }

  @Test
  void pythonClientGeneratedFromTheIdlReadsFromAPod() throws Exception {
    requireTools();
    File script = exampleScript();
    File gen = new File(tmp, "gen-py");
    generate(gen);
    StringBuilder out = new StringBuilder();

    Configuration conf = new Configuration();
    FileSystem fs = FileSystem.getLocal(conf);
    String root = new Path(new File(tmp, "root").toURI().toString()).toString();
    TableLayout layout = new TableLayout(root, "py");
    Map<String, TestLayers.Rec> recs = new HashMap<>();
    recs.put("user:1", new TestLayers.Rec(1, Map.of("name", "choke", "age", "18")));
    recs.put("城市", new TestLayers.Rec(1, Map.of("name", "上海")));
    recs.put("blank", new TestLayers.Rec(1, Map.of())); // a record stored as {}: found
    recs.put("gone", TestLayers.Rec.removed(2));        // a removal: not found
    TestLayers.write(conf, fs, layout, "1000000000000-load-0000aa", 2, recs);

    int port = PodProcess.freePort();
    PodProcess pod = PodProcess.start(0, PodProcess.baseConfig("127.0.0.1:" + port, 0, root, "py",
        "python-test-secret"), new File("target/pod-logs/PythonClientTest"));
    try {
      List<String> cmd = new ArrayList<>(List.of(PYTHON, script.getPath(), "--pod", "127.0.0.1:" + port,
          "user:1", "城市", "blank"));
      out.setLength(0);
      int rc = run(cmd, Map.of("PYTHONPATH", gen.getPath()), out);
      String text = out.toString();
      assertEquals(0, rc, text);
      assertTrue(text.contains("user:1\t{'age': '18', 'name': 'choke'}\tversion 1"), text);
      assertTrue(text.contains("城市\t{'name': '上海'}"), text);
      assertTrue(text.contains("blank\t{}\tversion 1"), text);
      assertTrue(text.contains("pod 0 of 1 serves table py: 1 layers, 4 records"), text);

      out.setLength(0);
      rc = run(List.of(PYTHON, script.getPath(), "--pod", "127.0.0.1:" + port, "nobody", "gone"),
          Map.of("PYTHONPATH", gen.getPath()), out);
      assertEquals(1, rc, out.toString());
      assertTrue(out.toString().contains("nobody\t(not found)"), out.toString());
      assertTrue(out.toString().contains("gone\t(not found)"), "a removed key: " + out);
    } finally {
      pod.stop();
    }
  }

  /**
   * The same client over TLS, with the PEM files of {@code kvpod tls init}, against a pod that
   * requires client certificates: with its certificate it reads; without one it is told
   * UNAUTHENTICATED (the message of the pod's refusal).
   */
  @Test
  void pythonClientReadsOverTlsWithItsCertificate() throws Exception {
    requireTools();
    File script = exampleScript();
    File gen = new File(tmp, "gen-py");
    generate(gen);
    java.nio.file.Path tls = tmp.toPath().resolve("tls");
    io.kvpod.cli.TlsInit.create(tls, List.of("127.0.0.1"), "python-tls", 2);
    String root = TestLayers.rootWithOneRecord(tmp, "pytls");
    int port = PodProcess.freePort();
    Map<String, String> cfg = PodProcess.baseConfig("127.0.0.1:" + port, 0, root, "pytls", "python-test-secret");
    cfg.putAll(Map.of(PodConfig.TLS_ENABLED, "true", PodConfig.TLS_KEYSTORE, tls.resolve("pod.p12").toString(),
        PodConfig.TLS_KEYSTORE_PASSWORD, "python-tls", PodConfig.TLS_TRUSTSTORE, tls.resolve("trust.p12").toString(),
        PodConfig.TLS_TRUSTSTORE_PASSWORD, "python-tls", PodConfig.TLS_CLIENT_AUTH, "require"));
    PodProcess pod = PodProcess.start(0, cfg, new File("target/pod-logs/PythonClientTest"));
    try {
      List<String> tlsArgs = List.of(PYTHON, script.getPath(), "--pod", "127.0.0.1:" + port,
          "--ca", tls.resolve("ca.pem").toString());
      StringBuilder out = new StringBuilder();
      List<String> cmd = new ArrayList<>(tlsArgs);
      cmd.addAll(List.of("--cert", tls.resolve("client-cert.pem").toString(), "--key",
          tls.resolve("client-key.pem").toString(), "user:1"));
      int rc = run(cmd, Map.of("PYTHONPATH", gen.getPath()), out);
      assertEquals(0, rc, out.toString());
      assertTrue(out.toString().contains("user:1\t{'name': 'choke'}"), out.toString());

      out.setLength(0);
      cmd = new ArrayList<>(tlsArgs);
      cmd.add("user:1");
      rc = run(cmd, Map.of("PYTHONPATH", gen.getPath()), out);
      assertEquals(2, rc, out.toString());
      assertTrue(out.toString().contains("error: this pod requires a client certificate"), out.toString());
    } finally {
      pod.stop();
    }
  }
}
