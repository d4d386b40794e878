package io.kvpod.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The binary tarball as a user gets it: unpacked into an empty directory and run with no
 * Maven on the PATH, {@code bin/kvpod} starts a local HDFS with three DataNodes, a pod on a new
 * table there, writes a record, reads it back and reports the pod's status, stops the pod,
 * checks that HDFS holds the table's blocks three times, and stops HDFS.
 */
class DistributionIT {
  private static final long COMMAND_MINUTES = 3;

  @TempDir
  Path tmp;

  /** What a command printed (stdout and stderr together) and its exit code. */
  private record Ran(int exit, String output) {}

  @Test
  void theUnpackedTarballRunsAPodAndAGetWithoutMaven() throws Exception {
    String version = System.getProperty("kvpod.dist.version");
    Path tarball = Path.of(System.getProperty("kvpod.dist.tarball"));
    assertTrue(Files.isRegularFile(tarball), "built by 'package': " + tarball);
    assertEquals(0, run(tmp, Map.of(), "tar", "xzf", tarball.toString()).exit());
    Path home = tmp.resolve("kvpod-" + version);

    assertTrue(Files.isExecutable(home.resolve("bin/kvpod")), "bin/kvpod is executable");
    for (String f : List.of("lib/kvpod-read-service-" + version + ".jar", "jobs/kvpod-loader-job-" + version
        + "-job.jar", "conf/pod.properties.example", "conf/kvpod-pod@.service", "thrift/kvpod.thrift",
        "bin/log4j-pod.properties", "docs/operations.md", "README.md")) {
      assertTrue(Files.isRegularFile(home.resolve(f)), f + " is in the tarball");
    }
    try (Stream<Path> hdfs = Files.list(home.resolve("hdfs-lib"))) {
      assertTrue(hdfs.anyMatch(p -> p.getFileName().toString().startsWith("hadoop-client-minicluster")));
    }
    try (Stream<Path> lib = Files.list(home.resolve("lib"))) {
      List<String> unused = lib.map(p -> p.getFileName().toString())
          .filter(n -> n.matches("(httpclient5|httpcore5|jakarta.servlet|javassist|hadoop-client-minicluster).*"))
          .toList();
      assertEquals(List.of(), unused, "lib/ leaves out what kvpod never loads");
    }

    Map<String, String> env = Map.of("PATH", pathWithoutMaven().toString(), "KVPOD_RUN_DIR",
        tmp.resolve("run").toString(), "KVPOD_HEAP", "256m", "KVPOD_POD_HEAP", "512m");
    Ran hdfs = kvpod(home, env, "hdfs", "start", "--datanodes", "3", "--port", Integer.toString(freePort()));
    assertEquals(0, hdfs.exit(), hdfs.output());
    Matcher uri = Pattern.compile("HDFS serving at (hdfs://127\\.0\\.0\\.1:\\d+)")
        .matcher(hdfs.output());
    assertTrue(uri.find(), hdfs.output());
    try {
      runAPod(home, env, uri.group(1) + "/kvpod");
      // the pod flushed its record on stop: every file of the table ends up on all three DataNodes
      // (the counts come from block reports, which lag the writes and deletes by a heartbeat or so)
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(COMMAND_MINUTES);
      Ran status;
      List<String> blocks;
      do {
        status = kvpod(home, env, "hdfs", "status");
        assertEquals(0, status.exit(), status.output());
        assertTrue(status.output().contains("3 live DataNodes, 0 dead"), status.output());
        blocks = Pattern.compile("DataNode 127\\.0\\.0\\.1:\\d+: ([\\d,]+) blocks")
            .matcher(status.output()).results().map(m -> m.group(1)).toList();
        assertEquals(3, blocks.size(), status.output());
      } while (!eachHoldsEveryBlock(blocks) && System.nanoTime() < deadline);
      assertTrue(eachHoldsEveryBlock(blocks), "replication 3: each DataNode holds every block: " + status.output());
    } finally {
      Ran stopped = kvpod(home, env, "hdfs", "stop");
      assertTrue(stopped.output().contains("HDFS stopped"), stopped.output());
    }
    assertEquals(3, kvpod(home, env, "hdfs", "status").exit(), "exit 3: not running");
    assertFalse(Files.exists(home.resolve("target")), "the tarball runs as it is");
  }

  /**
   * Starts the tarball's ZooKeeper and one pod registered in it on two tables under
   * {@code root} (a new one, and one made by {@code table create}); writes, reads and asks its
   * status through the registry, in both tables (the client commands
   * find the pod there); then stops both.
   */
  private void runAPod(Path home, Map<String, String> env, String root) throws Exception {
    int port = freePort();
    String zkPort = Integer.toString(freePort());
    Ran zk = kvpod(home, env, "zk", "start", "--port", zkPort);
    assertEquals(0, zk.exit(), zk.output());
    assertTrue(zk.output().contains("ZooKeeper serving at 127.0.0.1:" + zkPort), zk.output());
    Ran stopped;
    Ran zkStopped;
    try {
      Ran created = kvpod(home, env, "table", "create", "--root", root, "--table", "other", "--buckets", "4");
      assertEquals(0, created.exit(), created.output());
      Ran started = kvpod(home, env, "cluster", "start", "--root", root, "--table",
          "dist,other", "--pods", "1", "--base-port", Integer.toString(port), "--zk", "127.0.0.1:" + zkPort);
      assertEquals(0, started.exit(), started.output());
      assertTrue(started.output().contains("pod 0 serving"), started.output());
      assertFalse(started.output().contains("building"), "nothing was built: " + started.output());

      Ran put = kvpod(home, env, "put", "dist:key", "f=v");
      assertEquals(0, put.exit(), put.output());
      Ran get = kvpod(home, env, "get", "--json", "dist:key");
      assertEquals(0, get.exit(), get.output());
      assertTrue(get.output().contains("\"found\":true") && get.output().contains("\"value\":{\"f\":\"v\"}"),
          get.output());
      Ran status = kvpod(home, env, "status", "--json");
      assertEquals(0, status.exit(), status.output());
      assertTrue(status.output().contains("\"httpPort\":"), status.output());
      Ran direct = kvpod(home, env, "get", "--zk", "127.0.0.1:" + zkPort, "--table", "dist", "dist:key");
      assertEquals(0, direct.exit(), direct.output());
      // the pod serves a second table: the same key holds its own record there
      Ran putOther = kvpod(home, env, "put", "--table", "other", "dist:key", "f=other");
      assertEquals(0, putOther.exit(), putOther.output());
      Ran getOther = kvpod(home, env, "get", "--json", "--table", "other", "dist:key");
      assertTrue(getOther.output().contains("\"value\":{\"f\":\"other\"}"), getOther.output());
      Ran getDefault = kvpod(home, env, "get", "--json", "dist:key");
      assertTrue(getDefault.output().contains("\"value\":{\"f\":\"v\"}"), getDefault.output());
      Ran tables = kvpod(home, env, "table", "list", "--root", root);
      assertEquals(0, tables.exit(), tables.output());
      assertTrue(tables.output().contains("2 tables under"), tables.output());
    } finally {
      stopped = kvpod(home, env, "cluster", "stop"); // checked below, so that it never hides a failure above
      zkStopped = kvpod(home, env, "zk", "stop");
    }
    assertTrue(stopped.output().contains("pod 0 stopped"), stopped.output());
    assertTrue(zkStopped.output().contains("ZooKeeper stopped"), zkStopped.output());
  }

  /** Whether the DataNodes' block counts are equal and not zero. */
  private static boolean eachHoldsEveryBlock(List<String> blocks) {
    return !blocks.get(0).equals("0") && blocks.stream().distinct().count() == 1;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static Ran kvpod(Path home, Map<String, String> env, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(home.resolve("bin/kvpod").toString()));
    cmd.addAll(List.of(args));
    return run(home, env, cmd.toArray(new String[0]));
  }

  private static Ran run(Path dir, Map<String, String> env, String... cmd) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().remove("KVPOD_PODS");
    pb.environment().remove("KVPOD_SECRET");
    pb.environment().putAll(env);
    File out = Files.createTempFile(dir, "out", ".txt").toFile();
    pb.redirectOutput(out);
    Process p = pb.start();
    if (!p.waitFor(COMMAND_MINUTES, TimeUnit.MINUTES)) {
      p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      throw new AssertionError(String.join(" ", cmd) + " did not finish in " + COMMAND_MINUTES + " min: "
          + Files.readString(out.toPath(), StandardCharsets.UTF_8));
    }
    String text = Files.readString(out.toPath(), StandardCharsets.UTF_8);
    Files.delete(out.toPath());
    return new Ran(p.exitValue(), text);
  }

  /** A PATH that has every command of the usual one except Maven's. */
  private Path pathWithoutMaven() throws IOException {
    Path bin = Files.createDirectories(tmp.resolve("path-without-maven"));
    for (String dir : List.of("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")) {
      File[] files = new File(dir).listFiles();
      if (files == null) {
        continue;
      }
      for (File f : files) {
        Path link = bin.resolve(f.getName());
        if (!f.getName().startsWith("mvn") && f.canExecute() && !Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          Files.createSymbolicLink(link, f.toPath());
        }
      }
    }
    return bin;
  }
}
