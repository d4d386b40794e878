package io.kvpod.cli;

import io.kvpod.contract.Limits;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import io.kvpod.client.TlsConfig;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code bench get --attackers N}: N connections to the pods that each announce the largest
 * frame ({@link Limits#MAX_FRAME_BYTES}) and then send its body one byte a second, the
 * slow-frame attack a pod must shrug off. A connection the pod ends (its frame timeout, a
 * connection limit) is opened again, so the attack keeps its strength. The connections come
 * from {@code from} (by default 127.0.0.2), so that on loopback they do not share the
 * well-behaved client's per-address connection quota. Owns one thread; {@link #close} stops
 * it and closes every connection.
 */
final class SlowFrameAttack implements AutoCloseable {
  private final List<InetSocketAddress> targets;
  private final int connections;
  private final InetAddress from;
  /** Null: plain TCP; else the attackers complete a TLS handshake (with no client certificate) first. */
  private final TlsConfig tls;
  private final Thread thread;
  private final AtomicLong opened = new AtomicLong();
  private final AtomicLong endedByPod = new AtomicLong();
  private volatile boolean stop;

  SlowFrameAttack(List<InetSocketAddress> targets, int connections, InetAddress from, TlsConfig tls) {
    this.targets = targets;
    this.tls = tls;
    this.connections = connections;
    this.from = from;
    this.thread = new Thread(this::run, "slow-frame-attack");
    this.thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /** Connections opened so far, including re-opened ones. */
  long opened() {
    return opened.get();
  }

  /** Connections the pods ended (closed, or refused at once). */
  long endedByPod() {
    return endedByPod.get();
  }

  private void run() {
    Socket[] sockets = new Socket[connections];
    try {
      while (!stop) {
        for (int i = 0; i < connections && !stop; i++) {
          sockets[i] = trickle(sockets[i], targets.get(i % targets.size()));
        }
        TimeUnit.SECONDS.sleep(1);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // close() asked this thread to end: it does, below
    } finally {
      for (Socket s : sockets) {
        closeQuietly(s);
      }
    }
  }

  /** Sends one more byte of the slow frame on {@code s}, or opens a new connection and announces a frame. */
  private Socket trickle(Socket s, InetSocketAddress target) {
    try {
      if (s != null) {
        s.getOutputStream().write(0);
        return s;
      }
    } catch (IOException e) {
      endedByPod.incrementAndGet();
      closeQuietly(s);
    }
    Socket fresh = tls == null ? new Socket() : null;
    try {
      if (fresh != null) {
        fresh.bind(new InetSocketAddress(from, 0));
        fresh.connect(target, 2000);
      } else {
        fresh = tls.connect(target, from, 2000, 2000);
      }
      OutputStream out = fresh.getOutputStream();
      out.write(ByteBuffer.allocate(4).putInt(Limits.MAX_FRAME_BYTES - 4).array());
      out.flush();
      opened.incrementAndGet();
      return fresh;
    } catch (IOException e) {
      endedByPod.incrementAndGet();
      closeQuietly(fresh);
      return null;
    }
  }

  private static void closeQuietly(Socket s) {
    if (s != null) {
      try {
        s.close();
      } catch (IOException e) {
        // closing an attack connection: nothing to do about a failure
      }
    }
  }

  @Override
  public void close() throws InterruptedException {
    stop = true;
    thread.interrupt();
    thread.join(30_000);
  }
}
