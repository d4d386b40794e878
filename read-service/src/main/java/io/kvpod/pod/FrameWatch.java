package io.kvpod.pod;

import io.kvpod.contract.Limits;
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
import java.util.concurrent.atomic.AtomicLong;
import org.apache.thrift.transport.TNonblockingServerSocket;
import org.apache.thrift.transport.TNonblockingSocket;
import org.apache.thrift.transport.TTransportException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Guards the server's reading of request frames ({@code frame := length:i32 bytes[length]}).
 *
 * <p>libthrift's nonblocking server reserves a frame's announced size from
 * {@code kvpod.server.max.read.buffer.bytes} as soon as the 4-byte frame header arrives, and
 * then waits for the rest with no timeout. So a few sockets that announced large frames and
 * sent nothing more took the whole reservation, and the pod read no other request (17 sockets
 * and 68 bytes stalled a pod with the default 256 MB). This class accepts the server's
 * connections and reads each frame's header itself, before the server sees it:
 * <ul>
 *   <li>a frame of up to {@link #PASS_THROUGH_BYTES} goes straight to the server (at most
 *       16 KiB reserved per connection, and connections are bounded by {@link ConnectionLimits});</li>
 *   <li>a larger frame is <em>staged</em>: read here into a buffer that starts at 4 KiB and
 *       doubles as bytes arrive, all staged buffers together bounded by the same budget, and
 *       handed to the server only once it is whole. So memory follows the bytes that arrived,
 *       not the sizes that headers announce, and the server's reservation lasts only while it
 *       copies a complete frame. A connection whose frame would overflow the budget is ended.</li>
 *   <li>a connection whose frame is not complete within {@code timeoutMillis} of its first
 *       byte has its input shut down: the server reads end-of-stream, closes it and gives back
 *       what it held.</li>
 * </ul>
 * An idle connection (between frames) is never ended: clients keep pooled connections open.
 * Owns a checker thread; thread-safe.
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
  /** Frames up to this size go straight to the server; larger ones are staged here until whole. */
  static final int PASS_THROUGH_BYTES = 16 * 1024;
  /** A staged frame's first buffer; it doubles as bytes arrive (4,096 connections of headers alone hold 16 MiB). */
  private static final int FIRST_STAGE_BYTES = 4 * 1024;
  private final long maxStagedBytes;
  private final AtomicLong stagedBytes = new AtomicLong();
  /** At most a line a second each, with counts: an attack must not flood the log. */
  private final LogThrottle refusedLog = new LogThrottle(1, TimeUnit.SECONDS);
  private final LogThrottle lateLog = new LogThrottle(1, TimeUnit.SECONDS);

  /**
   * Follows frames with {@code timeoutMillis}; admits connections within {@code limits}; stages
   * large frames in at most {@code maxStagedBytes} of buffers over all connections.
   */
  FrameWatch(long timeoutMillis, ConnectionLimits limits, long maxStagedBytes) {
    this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    this.limits = limits;
    this.maxStagedBytes = maxStagedBytes;
    long every = Math.max(50, Math.min(1000, timeoutMillis / 4));
    checker.scheduleWithFixedDelay(this::check, every, every, TimeUnit.MILLISECONDS);
  }

  /**
   * A server socket on {@code bind} whose accepted connections this watch follows, with a
   * queue of {@code backlog} connections not yet accepted (the kernel caps it at
   * net.core.somaxconn): when the queue is full, the kernel drops new connections' SYNs and
   * their clients wait a second or more to try again.
   */
  TNonblockingServerSocket serverSocket(InetSocketAddress bind, int backlog) throws TTransportException {
    return new TNonblockingServerSocket(new TNonblockingServerSocket.NonblockingAbstractServerSocketArgs()
        .bindAddr(bind).backlog(backlog).maxFrameSize(Limits.MAX_FRAME_BYTES)) {
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

  /** Bytes of buffers holding large frames as they arrive (for tests and status). */
  long stagedBytes() {
    return stagedBytes.get();
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
        long n = lateLog.count();
        if (n > 0) {
          LOG.warn("ending the connection from {}: its request frame ({} of {} bytes received) was not finished "
              + "within {} ms (kvpod.server.frame.timeout; {} connections ended so far for this)", w.peer(),
              w.received(), w.announced(), TimeUnit.NANOSECONDS.toMillis(timeoutNanos), n);
        }
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
    /** The current frame's 4-byte length, as read from the channel (empty between frames). */
    private final ByteBuffer header = ByteBuffer.allocate(4);
    /** How much of {@link #header} the server has been handed (pass-through frames). */
    private int headerGiven;
    private int length;
    /** Body bytes of the current frame not yet read from the channel. */
    private long bodyLeft;
    /** A large frame as it arrives (header and body), or null; {@link #stagedCapacity} is charged for it. */
    private ByteBuffer staged;
    private long stagedCapacity;
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
    public int read(ByteBuffer dst) throws TTransportException {
      int given = 0;
      while (dst.hasRemaining()) {
        if (header.hasRemaining()) { // the next frame's length, read here first
          int n = super.read(header);
          if (n <= 0) {
            return given > 0 || n == 0 ? given : -1;
          }
          if (frameStartedNanos == NONE) {
            frameStartedNanos = System.nanoTime();
            received = 0;
          }
          received += n;
          if (header.hasRemaining()) {
            return given;
          }
          length = header.getInt(0);
          bodyLeft = Math.max(length, 0);
          headerGiven = 0;
          if (length > PASS_THROUGH_BYTES && length <= getMaxFrameSize() && !stage()) {
            return -1;
          }
          continue;
        }
        int n = staged == null ? passThrough(dst) : stageOrDeliver(dst);
        if (n < 0) {
          return given > 0 ? given : -1;
        }
        if (n == 0) {
          return given;
        }
        given += n;
      }
      return given;
    }

    /** Hands the header, then the body straight from the channel (never past the frame's end). */
    private int passThrough(ByteBuffer dst) throws TTransportException {
      if (headerGiven < 4) {
        int k = Math.min(4 - headerGiven, dst.remaining());
        for (int i = 0; i < k; i++) {
          dst.put(header.get(headerGiven++));
        }
        if (headerGiven == 4 && bodyLeft == 0) {
          frameEnded(); // empty or invalid: the server decides what to do with it
        }
        return k;
      }
      int limit = dst.limit();
      if (dst.remaining() > bodyLeft) {
        dst.limit(dst.position() + (int) bodyLeft);
      }
      int n;
      try {
        n = super.read(dst);
      } finally {
        dst.limit(limit);
      }
      if (n > 0) {
        received += n;
        bodyLeft -= n;
        if (bodyLeft == 0) {
          frameEnded();
        }
      }
      return n;
    }

    /**
     * A large frame: reads its body into {@link #staged}, which grows as bytes arrive, and
     * hands the whole frame to the server only once all of it is here. Returns what it handed.
     */
    private int stageOrDeliver(ByteBuffer dst) throws TTransportException {
      if (bodyLeft > 0) {
        while (bodyLeft > 0) {
          if (!staged.hasRemaining() && !grow()) {
            return -1;
          }
          int n = super.read(staged);
          if (n <= 0) {
            return n;
          }
          received += n;
          bodyLeft -= n;
        }
        staged.flip(); // whole: from here on it is handed to the server
      }
      int k = Math.min(dst.remaining(), staged.remaining());
      int end = staged.position() + k;
      ByteBuffer part = staged.duplicate();
      part.limit(end);
      dst.put(part);
      staged.position(end);
      if (!staged.hasRemaining()) {
        unstage();
        frameEnded();
      }
      return k;
    }

    /** Starts staging a large frame with a first, small buffer; false if there is no room for it. */
    private boolean stage() {
      int first = (int) Math.min(length + 4L, FIRST_STAGE_BYTES);
      if (!charge(first)) {
        return false;
      }
      staged = ByteBuffer.allocate(first);
      staged.put(header.array());
      return true;
    }

    /** Doubles {@link #staged}, up to the whole frame; false (and the connection ends) if no room. */
    private boolean grow() {
      int size = (int) Math.min(length + 4L, 2L * staged.capacity());
      if (!charge(size - staged.capacity())) {
        return false;
      }
      ByteBuffer bigger = ByteBuffer.allocate(size);
      staged.flip();
      bigger.put(staged);
      staged = bigger;
      return true;
    }

    private boolean charge(long bytes) {
      if (stagedBytes.addAndGet(bytes) > maxStagedBytes) {
        stagedBytes.addAndGet(-bytes);
        long n = refusedLog.count();
        if (n > 0) {
          LOG.warn("ending the connection from {}: its {}-byte request frame does not fit in what is left of "
              + "kvpod.server.max.read.buffer.bytes ({} bytes of other large frames are arriving; {} connections "
              + "ended so far for this)", peer(), length, stagedBytes.get(), n);
        }
        return false;
      }
      stagedCapacity += bytes;
      return true;
    }

    private void unstage() {
      stagedBytes.addAndGet(-stagedCapacity);
      stagedCapacity = 0;
      staged = null;
    }

    private void frameEnded() {
      header.clear();
      headerGiven = 0;
      length = 0;
      bodyLeft = 0;
      frameStartedNanos = NONE;
    }

    long received() {
      return received;
    }

    long announced() {
      return header.hasRemaining() ? -1 : length + 4L;
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
      if (staged != null) {
        unstage();
      }
      super.close();
    }
  }
}
