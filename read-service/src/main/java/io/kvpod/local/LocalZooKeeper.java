package io.kvpod.local;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One ZooKeeper server (Apache ZooKeeper's own {@code ZooKeeperServerMain}) in a process of
 * its own on 127.0.0.1, for {@code bin/kvpod suite --coordination zookeeper}. Its data, its
 * {@code zoo.cfg} and its log live under one directory. {@link #close} stops it.
 */
public final class LocalZooKeeper implements AutoCloseable {
  private final Process process;
  private final int port;

  private LocalZooKeeper(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /** Starts a server with its files under {@code dir} and waits (up to a minute) until it serves. */
  public static LocalZooKeeper start(File dir) throws IOException, InterruptedException {
    File data = new File(dir, "data");
    data.mkdirs();
    int port = PodProcess.freePort();
    File cfg = new File(dir, "zoo.cfg");
    Files.writeString(cfg.toPath(), String.join("\n", List.of(
        "tickTime=500", // sessions of 1 to 10 s
        "dataDir=" + data.getAbsolutePath(),
        "clientPort=" + port,
        "clientPortAddress=127.0.0.1",
        "admin.enableServer=false",
        "4lw.commands.whitelist=srvr")) + "\n");
    File log = new File(dir, "zookeeper.log");
    Process p = new ProcessBuilder(new File(System.getProperty("java.home"), "bin/java").getPath(), "-Xmx256m",
        "-cp", PodProcess.classpath(), "org.apache.zookeeper.server.ZooKeeperServerMain", cfg.getAbsolutePath())
        .redirectErrorStream(true).redirectOutput(log).start();
    PodProcess.track(p);
    long deadline = System.currentTimeMillis() + 60_000;
    while (!serving(port)) {
      if (!p.isAlive() || System.currentTimeMillis() > deadline) {
        p.destroyForcibly();
        String text = Files.readString(log.toPath());
        throw new IOException("ZooKeeper did not start; its log " + log + " ends:\n"
            + text.substring(Math.max(0, text.length() - 3000)));
      }
      Thread.sleep(100);
    }
    return new LocalZooKeeper(p, port);
  }

  /** Whether a server on 127.0.0.1:{@code port} answers {@code srvr} with its mode. */
  static boolean serving(int port) {
    return mode(port) != null;
  }

  /**
   * What the ZooKeeper server on 127.0.0.1:{@code port} says it is to {@code srvr}
   * ({@code standalone}, {@code leader}, {@code follower}), or null if it does not answer so.
   */
  public static String mode(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
      s.setSoTimeout(2000);
      OutputStream out = s.getOutputStream();
      out.write("srvr".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
      for (String line; (line = in.readLine()) != null; ) {
        if (line.startsWith("Mode: ")) {
          return line.substring(6).trim();
        }
      }
      return null;
    } catch (IOException e) {
      return null;
    }
  }

  /** Its client address, {@code 127.0.0.1:port}. */
  public String address() {
    return "127.0.0.1:" + port;
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
