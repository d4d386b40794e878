package io.kvpod.pod;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.thrift.transport.TNonblockingServerSocket;
import org.apache.thrift.transport.TNonblockingSocket;
import org.apache.thrift.transport.TTransportException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends connections that leave a request frame unfinished.
 *
 * <p>libthrift's nonblocking server reserves a frame's announced size from
 * {@code kvpod.server.max.read.buffer.bytes} as soon as the 4-byte frame header arrives, and
 * then waits for the rest with no timeout. So a few sockets that announce large frames and
 * send nothing more take the whole reservation, and the pod reads no other request (17
 * sockets and 68 bytes stalled a pod with the default 256 MB). This class accepts the
 * server's connections, follows each one's framing as the server reads it
 * ({@code frame := length:i32 bytes[length]}), and shuts down the input of a connection whose
 * frame is not complete within {@code timeoutMillis} of its first byte. The server then reads
 * end-of-stream, closes the connection and gives its reservation back.
 *
 * <p>An idle connection (between frames) is never ended: clients keep pooled connections
 * open. Owns a checker thread; thread-safe.
 */
final class FrameWatch implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(FrameWatch.class);

  private final long timeoutNanos;
  private final Set<Watched> open = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService checker = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "frame-watch");
    t.setDaemon(true);
    return t;
  });

  private final ConnectionLimits limits;

  /** Follows frames with {@code timeoutMillis}; admits connections within {@code limits}. */
  FrameWatch(long timeoutMillis, ConnectionLimits limits) {
    this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    this.limits = limits;
    long every = Math.max(50, Math.min(1000, timeoutMillis / 4));
    checker.scheduleWithFixedDelay(this::check, every, every, TimeUnit.MILLISECONDS);
  }

  /** A server socket on {@code bind} whose accepted connections this watch follows. */
  TNonblockingServerSocket serverSocket(InetSocketAddress bind) throws TTransportException {
    return new TNonblockingServerSocket(bind) {
      @Override
      public TNonblockingSocket accept() throws TTransportException {
        TNonblockingSocket s = super.accept();
        if (s == null) {
          return null;
        }
        InetAddress from = remoteAddress(s.getSocketChannel());
        if (!limits.admit(from)) {
          s.close();
          return null; // the server takes null as "nothing accepted"
        }
        try {
          Watched w = new Watched(s.getSocketChannel(), from);
          w.setMaxFrameSize(s.getMaxFrameSize());
          open.add(w);
          return w;
        } catch (IOException e) {
          limits.release(from);
          s.close();
          throw new TTransportException(e);
        }
      }
    };
  }

  private static InetAddress remoteAddress(SocketChannel channel) {
    try {
      return ((InetSocketAddress) channel.getRemoteAddress()).getAddress();
    } catch (IOException | RuntimeException e) {
      return InetAddress.getLoopbackAddress(); // closed already: counted, then released at once
    }
  }

  /** Connections being followed (for tests and status). */
  int connections() {
    return open.size();
  }

  private void check() {
    long now = System.nanoTime();
    for (Watched w : open) {
      if (!w.isOpen()) {
        w.forget();
        continue;
      }
      long started = w.frameStartedNanos;
      if (started != Watched.NONE && now - started > timeoutNanos && !w.ended) {
        w.ended = true;
        LOG.warn("ending the connection from {}: its request frame ({} of {} bytes received) was not finished "
            + "within {} ms (kvpod.server.frame.timeout)", w.peer(), w.received(), w.announced(),
            TimeUnit.NANOSECONDS.toMillis(timeoutNanos));
        w.endInput();
      }
    }
  }

  @Override
  public void close() {
    checker.shutdownNow();
  }

  /**
   * One accepted connection, with its framing followed byte by byte as the server reads.
   * Its read state belongs to the server's selector thread; {@link #frameStartedNanos} and
   * {@link #ended} are read by the checker.
   */
  final class Watched extends TNonblockingSocket {
    static final long NONE = Long.MIN_VALUE;

    volatile long frameStartedNanos = NONE;
    volatile boolean ended;
    private int headerBytes; // of the current frame's 4-byte length, 0 between frames
    private int length;
    private long bodyLeft;
    private volatile long received;
    private final InetAddress from;
    private final AtomicBoolean forgotten = new AtomicBoolean();

    Watched(SocketChannel channel, InetAddress from) throws IOException, TTransportException {
      super(channel);
      this.from = from;
    }

    /** Stops following this connection and releases its place in the limits (once). */
    void forget() {
      open.remove(this);
      if (forgotten.compareAndSet(false, true)) {
        limits.release(from);
      }
    }

    @Override
    public int read(ByteBuffer buffer) throws TTransportException {
      int from = buffer.position();
      int n = super.read(buffer);
      int i = 0;
      while (i < n) {
        if (headerBytes == 0 && bodyLeft == 0) {
          frameStartedNanos = System.nanoTime();
          received = 0;
        }
        if (headerBytes < 4) {
          length = (length << 8) | (buffer.get(from + i) & 0xff);
          i++;
          received++;
          if (++headerBytes == 4) {
            bodyLeft = length;
            if (bodyLeft <= 0) {
              frameEnded(); // the server refuses such a frame itself
            }
          }
          continue;
        }
        int take = (int) Math.min(bodyLeft, n - i);
        i += take;
        received += take;
        bodyLeft -= take;
        if (bodyLeft == 0) {
          frameEnded();
        }
      }
      return n;
    }

    private void frameEnded() {
      headerBytes = 0;
      length = 0;
      bodyLeft = 0;
      frameStartedNanos = NONE;
    }

    long received() {
      return received;
    }

    long announced() {
      return headerBytes == 4 ? length + 4L : -1;
    }

    Object peer() {
      try {
        return getSocketChannel().getRemoteAddress();
      } catch (IOException e) {
        return "an unknown peer";
      }
    }

    /** Makes the server's next read of this connection see end-of-stream. */
    void endInput() {
      try {
        getSocketChannel().shutdownInput();
      } catch (IOException e) {
        close();
      }
    }

    @Override
    public void close() {
      forget();
      super.close();
    }
  }
}
