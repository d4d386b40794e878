package io.kvpod.local;

import io.kvpod.pod.PodConfig;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * A pod running as a separate OS process (its own JVM), started from this JVM's classpath,
 * with its output in a log file. Used by the tests and by {@code bin/kvpod suite}. {@link #kill9()} sends SIGKILL; {@link #stop()} SIGTERM.
 * Every started process is also killed by a JVM shutdown hook, so a failing test leaves
 * none behind.
 */
public final class PodProcess {
  private static final List<Process> ALL = new ArrayList<>();
  /** System property: the log4j configuration (a URL) for pods started from this JVM; unset: the classpath's. */
  public static final String POD_LOG4J = "kvpod.pod.log4j";
  /**
   * System property: JVM options, separated by spaces, for every pod and local HDFS process
   * started from this JVM. The build's tests set {@code -XX:TieredStopAtLevel=1}: their
   * processes live for seconds to minutes, and C2's compiles would take a third of the CPU
   * a pod spends getting ready on a 2-core machine.
   */
  public static final String CHILD_JAVA_OPTS = "kvpod.child.java.opts";

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      synchronized (ALL) {
        ALL.forEach(Process::destroyForcibly);
      }
    }));
  }

  public final int id;
  public final File log;
  private Process process;
  private String heap = "384m";
  private final List<String> jvmOptions = new ArrayList<>();
  private final Map<String, String> environment = new HashMap<>();

  private PodProcess(int id, File log) {
    this.id = id;
    this.log = log;
  }

  /** Kills {@code p} when this JVM exits, if it is still running then. */
  static void track(Process p) {
    synchronized (ALL) {
      ALL.add(p);
    }
  }

  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** {@code n} pod addresses on free loopback ports, as {@code kvpod.pods} lists them. */
  public static String loopbackPodList(int n) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(i == 0 ? "" : ",").append("127.0.0.1:").append(freePort());
    }
    return sb.toString();
  }

  /** The settings every pod of a cluster needs: who the pods are, which one this is, the table and the secret. */
  public static Map<String, String> baseConfig(String podList, int id, String root, String table, String secret) {
    Map<String, String> c = new HashMap<>();
    c.put(PodConfig.PODS, podList);
    c.put(PodConfig.POD_ID, Integer.toString(id));
    c.put(PodConfig.ROOT, root);
    c.put(PodConfig.TABLE, table);
    c.put(PodConfig.SECRET, secret);
    return c;
  }

  /**
   * Stops every running pod of {@code pods} at once, as a whole cluster's restart does: asks
   * each to stop (SIGTERM), then waits for each ({@link #stop}). Stopped one after another,
   * each pod's buckets would be taken over by the pods still running, only to be flushed
   * again by them as they stop in turn.
   */
  public static void stopAll(List<PodProcess> pods) throws InterruptedException {
    for (PodProcess p : pods) {
      p.askToStop();
    }
    for (PodProcess p : pods) {
      p.stop();
    }
  }

  /** Starts every pod with {@code config.apply(id)} at once, then waits until each serves. */
  public static void launchAll(List<PodProcess> pods, IntFunction<Map<String, String>> config)
      throws IOException, InterruptedException {
    for (PodProcess p : pods) {
      p.spawn(config.apply(p.id));
    }
    for (PodProcess p : pods) {
      p.awaitReady();
    }
  }

  public static String classpath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp != null ? cp : System.getProperty("java.class.path");
  }

  /** Starts pod {@code id} with the given settings and waits until it serves. */
  public static PodProcess start(int id, Map<String, String> config, File logDir) throws IOException, InterruptedException {
    PodProcess p = prepare(id, logDir);
    p.launch(config);
    return p;
  }

  /** Pod {@code id}, logging under {@code logDir}, not started yet: {@link #launch} starts it. */
  public static PodProcess prepare(int id, File logDir) {
    logDir.mkdirs();
    return new PodProcess(id, new File(logDir, "pod-" + id + ".log"));
  }

  /** Starts the pod and waits until it serves. */
  public void launch(Map<String, String> config) throws IOException, InterruptedException {
    spawn(config);
    awaitReady();
  }

  private void spawn(Map<String, String> config) throws IOException {
    if (log.exists()) {
      log.renameTo(new File(log.getPath() + "." + System.nanoTime()));
    }
    // temp files (snappy-java's native library) in a directory of this pod's, emptied at each
    // launch: a pod stopped with kill -9 cannot delete them itself
    File tmp = new File(log.getAbsoluteFile().getParentFile(), "tmp/pod-" + id);
    org.apache.hadoop.fs.FileUtil.fullyDelete(tmp);
    if (!tmp.mkdirs()) {
      throw new IOException("cannot create " + tmp);
    }
    List<String> cmd = new ArrayList<>(List.of(
        new File(System.getProperty("java.home"), "bin/java").getPath(), "-Xmx" + heap,
        "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
        "-Djava.net.preferIPv4Stack=true",
        "-Djava.io.tmpdir=" + tmp.getPath(),
        "-cp", classpath(), "io.kvpod.cli.KvPodMain", "pod"));
    cmd.addAll(1, jvmOptions);
    cmd.addAll(1, childJavaOptions());
    String log4j = System.getProperty(POD_LOG4J);
    if (log4j != null) {
      cmd.add(1, "-Dlog4j.configuration=" + log4j);
    }
    config.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.to(log));
    pb.environment().remove("KVPOD_SECRET");
    pb.environment().putAll(environment);
    process = pb.start();
    synchronized (ALL) {
      ALL.add(process);
    }
  }

  private void awaitReady() throws IOException, InterruptedException {
    // a pod is ready in seconds; the limit is for a machine that other work keeps busy
    long deadline = System.currentTimeMillis() + 180_000;
    while (!Files.readString(log.toPath(), StandardCharsets.UTF_8).contains("READY ")) {
      if (!process.isAlive()) {
        throw new IOException("pod " + id + " exited during start:\n" + Files.readString(log.toPath()));
      }
      if (System.currentTimeMillis() > deadline) {
        throw new IOException("pod " + id + " not ready in 180 s:\n" + Files.readString(log.toPath()));
      }
      Thread.sleep(50);
    }
  }

  /** The heap of the next launch (default 384m). */
  public PodProcess heap(String h) {
    this.heap = h;
    return this;
  }

  /** The options of {@link #CHILD_JAVA_OPTS}; none if it is unset. */
  static List<String> childJavaOptions() {
    String opts = System.getProperty(CHILD_JAVA_OPTS, "").trim();
    return opts.isEmpty() ? List.of() : List.of(opts.split("\\s+"));
  }

  /** Adds JVM options (e.g. {@code -Djava.security.krb5.conf=...}) to every later launch. */
  public PodProcess jvmOptions(String... options) {
    jvmOptions.addAll(List.of(options));
    return this;
  }

  /** Sets an environment variable of every later launch (e.g. {@code KRB5CCNAME}). */
  public PodProcess environment(String name, String value) {
    environment.put(name, value);
    return this;
  }

  /** Waits up to {@code millis} for the process to end by itself; its exit code, or null if it still runs. */
  public Integer awaitExit(long millis) throws InterruptedException {
    return process.waitFor(millis, TimeUnit.MILLISECONDS) ? process.exitValue() : null;
  }

  public boolean alive() {
    return process != null && process.isAlive();
  }

  public long pid() {
    return process.pid();
  }

  /** Sends a signal to the pod's process, e.g. STOP (freeze it) or CONT (resume it). */
  public void signal(String sig) throws IOException, InterruptedException {
    signal(pid(), sig);
  }

  /** Sends signal {@code sig} (STOP, CONT, ...) to process {@code pid}. */
  static void signal(long pid, String sig) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).inheritIO().start();
    if (p.waitFor() != 0) {
      throw new IOException("kill -" + sig + " " + pid + " failed");
    }
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed. */
  public void kill9() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  private void askToStop() {
    if (process != null && process.isAlive()) {
      process.destroy();
    }
  }

  /**
   * Stops the pod cleanly (SIGTERM), or with SIGKILL if it has not stopped in 40 s: a clean
   * stop flushes every bucket the pod holds, which takes a few seconds, and more on a busy
   * machine; a pod killed instead leaves its logs to be recovered (HDFS lease recovery).
   */
  public void stop() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(40, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  public String logText() throws IOException {
    return Files.readString(log.toPath(), StandardCharsets.UTF_8);
  }
}
