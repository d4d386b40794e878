package io.kvpod.pod;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on loopback in front of one pod, which can cut a connection at the worst
 * moment for a caller: once armed, the next answer the pod starts to send back is dropped
 * and the caller's connection is reset. The pod took the request; the caller never hears.
 * For tests. Thread-safe; close it to stop every thread and socket.
 */
final class CuttingProxy implements AutoCloseable {
  private final InetSocketAddress target;
  private final ServerSocket server;
  private final AtomicBoolean armed = new AtomicBoolean();
  private final AtomicInteger cuts = new AtomicInteger();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final Thread acceptor;

  CuttingProxy(InetSocketAddress target) throws IOException {
    this.target = target;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.acceptor = new Thread(this::accept, "cutting-proxy");
    this.acceptor.setDaemon(true);
    this.acceptor.start();
  }

  /** Where callers connect, as {@code host:port}. */
  String address() {
    return "127.0.0.1:" + server.getLocalPort();
  }

  /** Cuts the connection that next carries an answer back, before any of it reaches the caller. */
  void cutNextAnswer() {
    armed.set(true);
  }

  /** How many answers were cut. */
  int cuts() {
    return cuts.get();
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        Socket pod = new Socket(target.getHostString(), target.getPort());
        sockets.add(client);
        sockets.add(pod);
        pump(client, pod, false);
        pump(pod, client, true);
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void pump(Socket from, Socket to, boolean answers) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[8192];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        int n;
        while ((n = in.read(buf)) >= 0) {
          if (answers && armed.compareAndSet(true, false)) {
            cuts.incrementAndGet();
            to.setSoLinger(true, 0); // a reset, not an orderly close
            to.close();
            from.close();
            return;
          }
          out.write(buf, 0, n);
          out.flush();
        }
      } catch (IOException e) {
        // the other side closed
      } finally {
        closeQuietly(from);
        closeQuietly(to);
      }
    }, "cutting-proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket s : sockets) {
      closeQuietly(s);
    }
  }
}
