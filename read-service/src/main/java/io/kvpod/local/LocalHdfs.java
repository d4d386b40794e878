package io.kvpod.local;

import io.kvpod.loader.Cli;
import io.kvpod.loader.UsageException;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FsStatus;
import org.apache.hadoop.hdfs.DistributedFileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.hdfs.protocol.DatanodeInfo;
import org.apache.hadoop.hdfs.protocol.HdfsConstants;

/**
 * A real HDFS, one NameNode and one or more DataNodes on 127.0.0.1, in a process of its own,
 * for {@code bin/kvpod hdfs start}, {@code suite}, {@code chaos} and local trials: {@link #main}
 * runs the cluster until the process is stopped; {@link #start} launches that process from this
 * JVM and waits until it serves; {@link #describe} reports on a running one.
 *
 * <p>{@code main} needs {@code hadoop-client-minicluster} on the classpath (the build copies
 * it to {@code read-service/target/hdfs-lib}); pods and clients do not.
 */
public final class LocalHdfs implements AutoCloseable {
  static final String READY = "HDFS READY ";

  private final Process process;
  private final String uri;
  private final File log;

  private LocalHdfs(Process process, String uri, File log) {
    this.process = process;
    this.uri = uri;
    this.log = log;
  }

  /** The NameNode port {@code bin/kvpod hdfs start} uses unless told otherwise: HDFS's own default. */
  public static final int DEFAULT_PORT = 8020;

  /**
   * Runs the cluster until the process is stopped: {@code --dir} holds its data (formatted on
   * first use, or with {@code --format}; kept otherwise), {@code --datanodes N} DataNodes, the
   * NameNode on {@code --port} (0: any free port). Prints {@code HDFS READY <uri>} once it serves.
   */
  public static void main(String[] args) throws Exception {
    Options opts = Cli.withHelp(new Options()
        .addOption(Cli.flag("dir", "DIR", "where the NameNode's and DataNodes' data live (required)"))
        .addOption(Cli.flag("datanodes", "N", "DataNodes to run (default: 1); files get replication min(N, 3)"))
        .addOption(Cli.flag("port", "P", "the NameNode's RPC port on 127.0.0.1; 0: any free port (default: 0)"))
        .addOption(Cli.flag("format", null, "start empty even if --dir holds data")));
    CommandLine cl;
    try {
      cl = Cli.parse("kvpod hdfs run", "Run a NameNode and DataNodes on 127.0.0.1 in this process, for trials "
          + "and tests; stop it with SIGTERM.", opts, null, args);
      if (cl == null) {
        return;
      }
      if (!cl.hasOption("dir")) {
        throw new UsageException("kvpod hdfs run: --dir DIR is required (see --help)");
      }
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    int dataNodes = Integer.parseInt(cl.getOptionValue("datanodes", "1"));
    int port = Integer.parseInt(cl.getOptionValue("port", "0"));
    File base = new File(cl.getOptionValue("dir")).getAbsoluteFile();
    boolean format = cl.hasOption("format") || !new File(base, "name-0-1/current").isDirectory();
    MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf(base, dataNodes), base).numDataNodes(dataNodes)
        .nameNodePort(port).format(format).build();
    cluster.waitActive();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> cluster.shutdown(false)));
    System.out.printf("HDFS %s %d DataNode%s, replication %d, data under %s%n", format ? "formatted;" : "reopened;",
        dataNodes, dataNodes == 1 ? "" : "s", Math.min(dataNodes, 3), base);
    System.out.println(READY + "hdfs://127.0.0.1:" + cluster.getNameNodePort());
    System.out.flush();
    Thread.currentThread().join();
  }

  /** The cluster's settings: everything on 127.0.0.1, data under {@code base}. */
  static Configuration conf(File base, int dataNodes) {
    Configuration c = new Configuration();
    c.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getPath());
    c.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
    c.set("dfs.datanode.address", "127.0.0.1:0");
    c.set("dfs.datanode.http.address", "127.0.0.1:0");
    c.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    c.set("dfs.namenode.http-address", "127.0.0.1:0");
    c.set("hadoop.tmp.dir", new File(base, "hadoop-tmp").getPath());
    // the replication the NameNode keeps up for files whose writers ask for more DataNodes than exist
    c.setInt("dfs.replication", Math.min(dataNodes, 3));
    c.setInt("dfs.heartbeat.interval", 1); // lease recovery of a dead pod's log waits on a heartbeat
    // Lets a client of this user read block files straight from disk, if it asks to
    // (dfs.client.read.shortcircuit and dfs.client.use.legacy.blockreader.local): the
    // short-circuit read that needs no native library. Without those client keys, nothing changes.
    c.set("dfs.block.local-path-access.user", System.getProperty("user.name"));
    return c;
  }

  /**
   * Starts the cluster in a new JVM with this JVM's classpath plus the minicluster jar, its
   * data and log under {@code dir}, and waits (up to 2 minutes) until it serves.
   */
  public static LocalHdfs start(File dir) throws IOException, InterruptedException {
    return start(dir, 1);
  }

  /** As {@link #start(File)}, with {@code dataNodes} DataNodes. */
  public static LocalHdfs start(File dir, int dataNodes) throws IOException, InterruptedException {
    return start(dir, dataNodes, PodProcess.classpath() + File.pathSeparator + hdfsLib());
  }

  /**
   * Starts the cluster in a new JVM with {@code classpath}, its data and log under
   * {@code dir}, and waits (up to 2 minutes) until it serves.
   */
  public static LocalHdfs start(File dir, int dataNodes, String classpath) throws IOException,
      InterruptedException {
    return launch(dir, classpath, LocalHdfs.class.getName(), List.of("--dir", new File(dir, "data").getAbsolutePath(),
        "--datanodes", Integer.toString(dataNodes), "--format"));
  }

  /**
   * Runs {@code mainClass} (this class's {@link #main}, or another that prints the same
   * {@code HDFS READY <uri>} line) in a new JVM with {@code classpath}, its log and temp files
   * under {@code dir}, and waits up to 2 minutes until it serves.
   */
  static LocalHdfs launch(File dir, String classpath, String mainClass, List<String> args) throws IOException,
      InterruptedException {
    dir.mkdirs();
    File log = new File(dir, "hdfs.log");
    List<String> cmd = new ArrayList<>(List.of(new File(System.getProperty("java.home"), "bin/java").getPath(),
        "-Xmx768m", "-Djava.net.preferIPv4Stack=true", "-Djava.io.tmpdir=" + dir.getAbsolutePath(),
        "-cp", classpath, mainClass));
    cmd.addAll(1, PodProcess.childJavaOptions());
    cmd.addAll(args);
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

  /**
   * What the HDFS at {@code uri} reports: its live and dead DataNodes and the space used, as
   * {@code bin/kvpod hdfs status} prints it. Fails fast if no NameNode answers.
   */
  public static String describe(String uri) throws IOException {
    Configuration c = new Configuration();
    c.setInt("ipc.client.connect.max.retries", 1);
    c.setInt("ipc.client.connect.max.retries.on.timeouts", 1);
    try (FileSystem fs = FileSystem.newInstance(URI.create(uri), c)) {
      if (!(fs instanceof DistributedFileSystem dfs)) {
        throw new IOException(uri + " is not an hdfs:// URI");
      }
      DatanodeInfo[] live = dfs.getDataNodeStats(HdfsConstants.DatanodeReportType.LIVE);
      DatanodeInfo[] dead = dfs.getDataNodeStats(HdfsConstants.DatanodeReportType.DEAD);
      FsStatus space = dfs.getStatus();
      StringBuilder b = new StringBuilder(String.format("%s: %d live DataNode%s, %d dead; %,d MB used of %,d MB%n",
          uri, live.length, live.length == 1 ? "" : "s", dead.length, space.getUsed() >> 20,
          space.getCapacity() >> 20));
      for (DatanodeInfo d : live) {
        b.append(String.format("  DataNode %s: %,d blocks, %,d MB used%n", d.getXferAddr(), d.getNumBlocks(),
            d.getDfsUsed() >> 20));
      }
      return b.toString();
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
