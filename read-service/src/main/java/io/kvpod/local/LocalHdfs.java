package io.kvpod.local;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;

/**
 * A real HDFS, one NameNode and one DataNode on 127.0.0.1, in a process of its own, for
 * {@code bin/kvpod suite} and local trials: {@link #main} runs the cluster until the process
 * is stopped; {@link #start} launches that process from this JVM and waits until it serves.
 *
 * <p>{@code main} needs {@code hadoop-client-minicluster} on the classpath (the build copies
 * it to {@code read-service/target/hdfs-lib}); pods and clients do not.
 */
public final class LocalHdfs implements AutoCloseable {
  private static final String READY = "HDFS READY ";

  private final Process process;
  private final String uri;
  private final File log;

  private LocalHdfs(Process process, String uri, File log) {
    this.process = process;
    this.uri = uri;
    this.log = log;
  }

  /** Runs the cluster under {@code args[0]} (its data directory) until the process is stopped. */
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: LocalHdfs <data directory>");
      System.exit(2);
    }
    File base = new File(args[0]).getAbsoluteFile();
    Configuration c = new Configuration();
    c.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getPath());
    c.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
    c.set("dfs.datanode.address", "127.0.0.1:0");
    c.set("dfs.datanode.http.address", "127.0.0.1:0");
    c.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    c.set("dfs.namenode.http-address", "127.0.0.1:0");
    c.set("hadoop.tmp.dir", new File(base, "hadoop-tmp").getPath());
    c.setInt("dfs.heartbeat.interval", 1); // lease recovery of a dead pod's log waits on a heartbeat
    // Lets a client of this user read block files straight from disk, if it asks to
    // (dfs.client.read.shortcircuit and dfs.client.use.legacy.blockreader.local): the
    // short-circuit read that needs no native library. Without those client keys, nothing changes.
    c.set("dfs.block.local-path-access.user", System.getProperty("user.name"));
    MiniDFSCluster cluster = new MiniDFSCluster.Builder(c, base).numDataNodes(1).build();
    cluster.waitActive();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> cluster.shutdown(false)));
    System.out.println(READY + "hdfs://127.0.0.1:" + cluster.getNameNodePort());
    System.out.flush();
    Thread.currentThread().join();
  }

  /**
   * Starts the cluster in a new JVM with this JVM's classpath plus the minicluster jar, its
   * data and log under {@code dir}, and waits (up to 2 minutes) until it serves.
   */
  public static LocalHdfs start(File dir) throws IOException, InterruptedException {
    return start(dir, PodProcess.classpath() + File.pathSeparator + hdfsLib());
  }

  /**
   * Starts the cluster in a new JVM with {@code classpath}, its data and log under
   * {@code dir}, and waits (up to 2 minutes) until it serves.
   */
  public static LocalHdfs start(File dir, String classpath) throws IOException, InterruptedException {
    dir.mkdirs();
    File log = new File(dir, "hdfs.log");
    List<String> cmd = new ArrayList<>(List.of(new File(System.getProperty("java.home"), "bin/java").getPath(),
        "-Xmx768m", "-Djava.net.preferIPv4Stack=true", "-Djava.io.tmpdir=" + dir.getAbsolutePath(),
        "-cp", classpath, LocalHdfs.class.getName(), new File(dir, "data").getAbsolutePath()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log).start();
    PodProcess.track(p);
    long deadline = System.currentTimeMillis() + 120_000;
    while (true) {
      String text = java.nio.file.Files.readString(log.toPath());
      int at = text.indexOf(READY);
      if (at >= 0 && text.indexOf('\n', at) > 0) {
        return new LocalHdfs(p, text.substring(at + READY.length(), text.indexOf('\n', at)).trim(), log);
      }
      if (!p.isAlive() || System.currentTimeMillis() > deadline) {
        p.destroyForcibly();
        throw new IOException("HDFS did not start; its log " + log + " ends:\n"
            + text.substring(Math.max(0, text.length() - 3000)));
      }
      Thread.sleep(100);
    }
  }

  /** The minicluster jar's directory next to target/lib, for the HDFS process only. */
  static String hdfsLib() {
    for (String entry : PodProcess.classpath().split(File.pathSeparator)) {
      File f = new File(entry);
      if (f.getName().startsWith("hadoop-client-minicluster")) {
        return ""; // already on the classpath (tests)
      }
      if (f.getParentFile() != null && f.getParentFile().getName().equals("lib")) {
        File dir = new File(f.getParentFile().getParentFile(), "hdfs-lib");
        if (dir.isDirectory()) {
          return dir.getPath() + File.separator + "*";
        }
      }
    }
    return "";
  }

  /** Deletes {@code f} and everything under it. */
  public static void deleteRecursively(File f) {
    File[] kids = f.listFiles();
    if (kids != null) {
      for (File k : kids) {
        deleteRecursively(k);
      }
    }
    f.delete();
  }

  public long pid() {
    return process.pid();
  }

  /** Sends a signal to the HDFS process, e.g. STOP (freeze the NameNode and DataNode) or CONT. */
  public void signal(String sig) throws IOException, InterruptedException {
    PodProcess.signal(process.pid(), sig);
  }

  /** The NameNode's URI, e.g. {@code hdfs://127.0.0.1:41234}. */
  public String uri() {
    return uri;
  }

  public File log() {
    return log;
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
