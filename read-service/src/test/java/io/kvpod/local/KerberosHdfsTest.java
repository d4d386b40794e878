package io.kvpod.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.client.KvPodClient;
import io.kvpod.config.KerberosLogin;
import io.kvpod.pod.PodConfig;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pods and the loader against a Kerberos-secured HDFS (a KDC and the cluster in a process of
 * their own, {@link KerberizedHdfs}): each logs in from its keytab
 * ({@code kvpod.kerberos.principal}, {@code kvpod.kerberos.keytab}); a pod with no Kerberos
 * credentials refuses to start and says what to set; a pod killed with {@code kill -9} comes
 * back on the secured HDFS with every acknowledged write, from its flushed layers and its log;
 * the loader's tools log in from the keytab too, and a load that would run MapReduce's local
 * job runner without libhadoop, whose shuffle Kerberos makes need it, is refused before it
 * starts. No process here has a ticket cache ({@code KRB5CCNAME}
 * points at nothing), so every login is the keytab's.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KerberosHdfsTest {
  private static final String TABLE = "kt";
  private static final int PUTS = 200;

  @TempDir
  static File tmp;
  private static KerberizedHdfs.Secured secured;
  private static String root;
  private static int port;
  private static final List<PodProcess> pods = new ArrayList<>();

  @BeforeAll
  static void startSecuredHdfs() throws Exception {
    secured = KerberizedHdfs.start(new File(tmp, "hdfs"));
    root = secured.hdfs().uri() + "/kvpod";
    port = PodProcess.freePort();
  }

  @AfterAll
  static void stopEverything() throws Exception {
    PodProcess.stopAll(pods);
    if (secured != null) {
      secured.close();
    }
  }

  private static Map<String, String> podConfig(boolean withKeytab) {
    Map<String, String> c = PodProcess.baseConfig("127.0.0.1:" + port, 0, root, TABLE, "kerberos-test-secret");
    c.put(PodConfig.TABLE_BUCKETS, "2");
    c.put(PodConfig.LAYERS_POLL, "200ms");
    c.put(PodConfig.FLUSH_AGE, "1s");
    c.put(PodConfig.FLUSH_CHECK, "200ms");
    c.putAll(secured.clientSettings());
    if (withKeytab) {
      c.put(KerberosLogin.PRINCIPAL, secured.userPrincipal());
      c.put(KerberosLogin.KEYTAB, secured.keytab().getPath());
    }
    return c;
  }

  private static PodProcess pod() {
    PodProcess p = PodProcess.prepare(0, new File("target/pod-logs/KerberosHdfsTest")).heap("512m")
        .jvmOptions("-Djava.security.krb5.conf=" + secured.krb5conf().getPath())
        .environment("KRB5CCNAME", "FILE:" + new File(tmp, "no-ticket-cache").getPath());
    pods.add(p);
    return p;
  }

  private static KvPodClient client() {
    return KvPodClient.builder("127.0.0.1:" + port).callTimeoutMs(60_000).deadlineMs(120_000).build();
  }

  @Test
  @Order(1)
  void theNameNodeRefusesAClientThatIsNotKerberized() {
    Configuration c = new Configuration();
    c.setInt("ipc.client.connect.max.retries", 1);
    IOException e = assertThrows(IOException.class, () -> {
      try (FileSystem fs = FileSystem.newInstance(URI.create(secured.hdfs().uri()), c)) {
        fs.listStatus(new Path("/"));
      }
    });
    assertTrue(e.getMessage().contains("SIMPLE authentication is not enabled"), e.toString());
  }

  @Test
  @Order(2)
  void aPodWithNoKerberosCredentialsRefusesToStartAndSaysWhatToSet() {
    IOException e = assertThrows(IOException.class, () -> pod().launch(podConfig(false)));
    assertTrue(e.getMessage().contains("has no Kerberos ticket: run kinit, or set kvpod.kerberos.principal and "
        + "kvpod.kerberos.keytab"), e.getMessage());
  }

  @Test
  @Order(3)
  void aPodLogsInFromItsKeytabFlushesAndKeepsEveryAcknowledgedWriteThroughAKill() throws Exception {
    PodProcess p = pod();
    p.launch(podConfig(true));
    assertTrue(p.logText().contains("Kerberos login as " + secured.userPrincipal() + " from keytab"), p.logText());
    try (KvPodClient client = client()) {
      for (int i = 0; i < PUTS; i++) {
        client.put("put:" + i, Map.of("i", Integer.toString(i)));
      }
      // the memtables flush to layer files on the secured HDFS within a second or so
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
      while (client.status(0).getFlushes() == 0) {
        assertTrue(System.nanoTime() < deadline, "the pod did not flush within 2 minutes");
        Thread.sleep(100);
      }
      for (int i = PUTS; i < 2 * PUTS; i++) { // these stay in the log, unflushed, at the kill
        client.put("put:" + i, Map.of("i", Integer.toString(i)));
      }
    }
    p.kill9(); // the log's lease is still the dead pod's: the restart must recover it as kvpod
    p.launch(podConfig(true));
    try (KvPodClient client = client()) {
      for (int i = 0; i < 2 * PUTS; i++) {
        assertEquals(Map.of("i", Integer.toString(i)), client.get("put:" + i), "acknowledged write put:" + i);
      }
    }
  }

  @Test
  @Order(4)
  void theLoaderLogsInFromItsKeytabAndRefusesALocalJobWithoutLibhadoop() throws Exception {
    Tool layers = runTool("layers", "--root", root, "--table", TABLE);
    assertEquals(0, layers.exit, layers.output);
    assertTrue(layers.output.contains("[kerberos] logged in as " + secured.userPrincipal() + " from keytab"),
        layers.output);
    assertTrue(layers.output.matches("(?s).*\\bflush\\b.*\\n[1-9][0-9]* live layers in table kt .*"),
        "the pod's flushes, listed by the loader's tool:\n" + layers.output);

    File input = new File(tmp, "input.jsonl");
    Files.writeString(input.toPath(), "{\"key\":\"load:1\",\"value\":{\"n\":\"1\"}}\n", StandardCharsets.UTF_8);
    Tool load = runTool("load", "--input", input.toURI().toString(), "--root", root, "--table", TABLE);
    assertEquals(2, load.exit, load.output);
    assertTrue(load.output.contains("shuffle then needs Hadoop's native library, libhadoop"), load.output);
  }

  private record Tool(int exit, String output) {}

  /** Runs a loader-side command ({@code kvpod layers}, {@code kvpod load}) in a JVM of its own, logged in from the keytab. */
  private static Tool runTool(String command, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(new File(System.getProperty("java.home"), "bin/java").getPath(),
        "-Xmx512m", "-Djava.net.preferIPv4Stack=true", "-Djava.io.tmpdir=" + tmp.getPath(),
        "-Djava.security.krb5.conf=" + secured.krb5conf().getPath(),
        "-cp", PodProcess.classpath(), "io.kvpod.cli.KvPodMain", command));
    Map<String, String> defines = new HashMap<>(secured.clientSettings());
    defines.put(KerberosLogin.PRINCIPAL, secured.userPrincipal());
    defines.put(KerberosLogin.KEYTAB, secured.keytab().getPath());
    defines.put("hadoop.tmp.dir", new File(tmp, "tool-tmp").getPath());
    defines.forEach((k, v) -> cmd.addAll(List.of("-D", k + "=" + v)));
    cmd.addAll(List.of(args));
    File log = new File("target/pod-logs/KerberosHdfsTest/" + command + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log);
    pb.environment().put("KRB5CCNAME", "FILE:" + new File(tmp, "no-ticket-cache").getPath());
    Process process = pb.start();
    PodProcess.track(process);
    assertTrue(process.waitFor(5, TimeUnit.MINUTES), command + " ended");
    return new Tool(process.exitValue(), Files.readString(log.toPath()));
  }
}
