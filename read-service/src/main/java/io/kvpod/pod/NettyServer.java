package io.kvpod.pod;

import io.kvpod.contract.Limits;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.apache.thrift.TException;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.protocol.TMessage;
import org.apache.thrift.protocol.TProtocol;
import org.apache.thrift.protocol.TProtocolFactory;
import org.apache.thrift.transport.TMemoryBuffer;
import org.apache.thrift.transport.TMemoryInputTransport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pod's Thrift server over Netty, used when the pod serves TLS ({@code kvpod.tls.enabled})
 * or when {@code kvpod.server.transport=netty}. It speaks exactly what {@link SelectorServer}
 * speaks, so clients cannot tell the two apart except by TLS:
 * <pre>
 *   connection := [TLS handshake] frame*          (TLS, when on, wraps every frame)
 *   frame      := length:i32 (big-endian, 0..MAX_FRAME_BYTES) message[length]
 *   message    := a Thrift binary-protocol message (call, reply or exception)
 * </pre>
 * libthrift's Java servers have no TLS for non-blocking I/O; Netty's {@link SslHandler} gives
 * it, and Netty's frame decoder gives the other bounds kvpod wants without
 * {@link FrameWatch}'s staging:
 * <ul>
 *   <li><b>Connections</b> are admitted by {@link ConnectionLimits} before a byte is read
 *       (the TLS handshake included).</li>
 *   <li><b>Memory follows bytes that arrived</b>: a frame's buffer grows as its bytes come,
 *       whatever its header announced; what is buffered over all connections (partial frames
 *       and frames being answered) is bounded by {@code maxBufferedBytes}, and a connection
 *       that would pass it is ended.</li>
 *   <li><b>A frame</b> (or a TLS handshake) not complete within {@code frameTimeoutMillis} of
 *       its first byte ends its connection; an idle connection between frames is kept.</li>
 *   <li><b>One call at a time per connection</b>, answered in order: the connection is not
 *       read while its call runs (as in libthrift's servers), which also pushes back on a
 *       client that sends faster than the pod answers.</li>
 *   <li><b>Client certificates</b>: with {@code requireClientCertificate}, every call on a
 *       connection whose client showed no certificate is answered {@code UNAUTHENTICATED}
 *       without running. (A certificate that is shown but not trusted fails the handshake.)</li>
 * </ul>
 * Calls run on {@link CallLanes}' threads, except gets whose answer is in memory, which run on
 * the event loop that read them ({@link InlineReads}, as on {@link SelectorServer}).
 *
 * <p>Lifecycle: {@link #start} binds and returns; {@link #close} stops accepting, closes every
 * connection, ends the event loops and then the lanes. Thread-safe.
 */
final class NettyServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(NettyServer.class);
  private static final int CLOSE_QUIET_MILLIS = 0;
  private static final int CLOSE_TIMEOUT_MILLIS = 5000;

  /** The server's bounds and threads. */
  record Settings(InetSocketAddress bind, int backlog, int ioThreads, long frameTimeoutMillis,
                  long maxBufferedBytes, ConnectionLimits limits) {}

  private final Settings settings;
  private final CallLanes lanes;
  private final ContractProcessor calls;
  private final TProtocolFactory protocols;
  private final SslContext ssl;
  private final boolean requireClientCertificate;
  private final AtomicLong buffered = new AtomicLong();
  private final LogThrottle endedLog = new LogThrottle(1, TimeUnit.SECONDS);
  /** Failed handshakes (wrong certificates, plaintext, old TLS) have a throttle of their own: operators look for them. */
  private final LogThrottle handshakeLog = new LogThrottle(1, TimeUnit.SECONDS);
  private final AtomicLong handshakeFailures = new AtomicLong();
  private final EventLoopGroup acceptor = new NioEventLoopGroup(1, new DefaultThreadFactory("netty-accept", true));
  private final EventLoopGroup io;
  private Channel listening;

  /**
   * A server that decodes calls with {@code protocols} and runs them with {@code calls} on
   * {@code lanes} (which it owns from now on), over TLS if {@code ssl} is not null.
   */
  NettyServer(Settings settings, CallLanes lanes, ContractProcessor calls, TProtocolFactory protocols,
              SslContext ssl, boolean requireClientCertificate) {
    this.settings = settings;
    this.lanes = lanes;
    this.calls = calls;
    this.protocols = protocols;
    this.ssl = ssl;
    this.requireClientCertificate = requireClientCertificate;
    this.io = new NioEventLoopGroup(settings.ioThreads(), new DefaultThreadFactory("netty-io", true));
  }

  /** Binds and starts accepting; returns once the port is open. */
  void start() throws IOException {
    ServerBootstrap b = new ServerBootstrap().group(acceptor, io).channel(NioServerSocketChannel.class)
        .option(ChannelOption.SO_BACKLOG, settings.backlog())
        .option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            InetAddress from = ch.remoteAddress().getAddress();
            if (!settings.limits().admit(from)) {
              ch.close();
              return;
            }
            ch.closeFuture().addListener(f -> settings.limits().release(from));
            if (ssl != null) {
              SslHandler tls = ssl.newHandler(ch.alloc());
              tls.setHandshakeTimeoutMillis(settings.frameTimeoutMillis());
              ch.pipeline().addLast("tls", tls);
            }
            ch.pipeline().addLast("frames", new Frames());
            ch.pipeline().addLast("length", new LengthFieldPrepender(4));
            ch.pipeline().addLast("calls", new Calls());
          }
        });
    try {
      listening = b.bind(settings.bind()).sync().channel();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while binding " + settings.bind(), e);
    } catch (RuntimeException e) { // Netty rethrows the bind's IOException unchecked
      close();
      throw new IOException("cannot listen on " + settings.bind() + ": " + e.getMessage(), e);
    }
  }

  /** Open connections. */
  int connections() {
    return settings.limits().open();
  }

  /** TLS handshakes that failed since start (wrong or missing certificates, plaintext, old TLS). */
  long handshakeFailures() {
    return handshakeFailures.get();
  }

  /** Blocks until {@link #close} has closed the listening socket. */
  void awaitClosed() throws InterruptedException {
    if (listening != null) {
      listening.closeFuture().await();
    }
  }

  @Override
  public void close() {
    if (listening != null) {
      listening.close().awaitUninterruptibly();
    }
    acceptor.shutdownGracefully(CLOSE_QUIET_MILLIS, CLOSE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS).awaitUninterruptibly();
    io.shutdownGracefully(CLOSE_QUIET_MILLIS, CLOSE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS).awaitUninterruptibly();
    lanes.close();
  }

  private void end(ChannelHandlerContext ctx, String why) {
    long n = endedLog.count();
    if (n > 0) {
      LOG.warn("ended a connection from {}: {} ({} ended so far)", ctx.channel().remoteAddress(), why, n);
    }
    ctx.close();
  }

  /**
   * Cuts the stream into frames as their bytes arrive, ends a connection whose frame is not
   * complete within the frame timeout, and counts the bytes it holds against the server's
   * budget. One per connection; runs on the connection's event loop.
   */
  private final class Frames extends LengthFieldBasedFrameDecoder {
    private long held;
    private long framesDone;
    private ScheduledFuture<?> timer;

    Frames() {
      super(Limits.MAX_FRAME_BYTES, 0, 4, 0, 4, true);
    }

    @Override
    protected Object decode(ChannelHandlerContext ctx, ByteBuf in) throws Exception {
      Object frame = super.decode(ctx, in);
      if (frame != null) {
        framesDone++;
      }
      return frame;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
      long before = framesDone;
      super.channelRead(ctx, msg);
      int pending = actualReadableBytes();
      if (!hold(pending)) {
        end(ctx, "its partial frames would pass kvpod.server.max.read.buffer.bytes (" + settings.maxBufferedBytes()
            + " bytes buffered over all connections)");
        return;
      }
      if (pending == 0 || framesDone != before) {
        cancelTimer();
      }
      if (pending > 0 && timer == null) { // a frame has begun: it must be complete in time
        long begun = framesDone;
        timer = ctx.executor().schedule(() -> {
          if (framesDone == begun && actualReadableBytes() > 0) {
            end(ctx, "its request frame (" + actualReadableBytes() + " bytes received) was not finished within "
                + settings.frameTimeoutMillis() + " ms (kvpod.server.frame.timeout)");
          }
        }, settings.frameTimeoutMillis(), TimeUnit.MILLISECONDS);
      }
    }

    /** Holds {@code bytes} of partial frame for this connection; false if the budget has no room. */
    private boolean hold(long bytes) {
      long total = buffered.addAndGet(bytes - held);
      held = bytes;
      return bytes == 0 || total <= settings.maxBufferedBytes();
    }

    private void cancelTimer() {
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
      cancelTimer();
      hold(0);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.fireExceptionCaught(cause); // the calls decide when to end: after answering those read before it
    }
  }

  /**
   * Runs a connection's calls one at a time, in order, and writes their answers: a call that
   * {@link CallLanes#runsInline} may run inline runs here on the event loop; any other goes to
   * a lane, and the connection is not read until its answer is written. One per connection;
   * its fields are touched only on the connection's event loop.
   */
  private final class Calls extends ChannelInboundHandlerAdapter {
    private final ArrayDeque<ByteBuf> waiting = new ArrayDeque<>();
    /** A call is on a lane: its answer comes back through {@link #answered}. */
    private boolean running;
    /** In {@link #runWaiting}: a writability change from its own writes must not re-enter it. */
    private boolean looping;
    /** Reading is off (auto-read) until the calls in hand are answered and the answers can be written. */
    private boolean paused;
    /** Null until the first call: whether the client showed a trusted certificate. */
    private Boolean authenticated;
    /** Set when the stream went bad (a bad frame header): why to end once the calls in hand are answered. */
    private String endAfter;
    /** The last answer written, so that an end waits for it. */
    private ChannelFuture lastWrite;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      waiting.add((ByteBuf) msg);
      runWaiting(ctx);
    }

    /** Answers can be written again (a client that does not read its answers pauses the connection). */
    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (ctx.channel().isWritable()) {
        runWaiting(ctx);
      }
      ctx.fireChannelWritabilityChanged();
    }

    /**
     * Runs the calls in hand in order: those that may run inline now, here, until one goes to
     * a lane, the connection's answers back up (the client is not reading them), or none is
     * left; reading pauses in the first two cases and resumes in the last.
     */
    private void runWaiting(ChannelHandlerContext ctx) {
      if (running || looping) {
        return;
      }
      looping = true;
      try {
        while (!waiting.isEmpty()) {
          if (!ctx.channel().isWritable()) {
            pause(ctx);
            return;
          }
          if (!start(ctx, waiting.poll())) {
            return;
          }
          if (running) {
            pause(ctx);
            return;
          }
        }
        if (endAfter != null) {
          if (lastWrite != null && !lastWrite.isDone()) {
            lastWrite.addListener(f -> end(ctx, endAfter)); // the answers go out first
          } else {
            end(ctx, endAfter);
          }
        } else if (paused) {
          paused = false;
          ctx.channel().config().setAutoRead(true);
        }
      } finally {
        looping = false;
      }
    }

    private void pause(ChannelHandlerContext ctx) {
      if (!paused) {
        paused = true;
        ctx.channel().config().setAutoRead(false);
      }
    }

    /**
     * Starts the call in {@code frame}: answers it here if it may run inline, else hands it
     * to its lane ({@link #running} is then set). False if the connection was ended instead.
     */
    private boolean start(ChannelHandlerContext ctx, ByteBuf frame) {
      byte[] bytes = new byte[frame.readableBytes()];
      frame.readBytes(bytes);
      frame.release();
      if (buffered.addAndGet(bytes.length) > settings.maxBufferedBytes()) {
        buffered.addAndGet(-bytes.length);
        end(ctx, "its frame would pass kvpod.server.max.read.buffer.bytes");
        return false;
      }
      TProtocol in;
      TMessage msg;
      try {
        in = protocols.getProtocol(new TMemoryInputTransport(bytes));
        msg = in.readMessageBegin();
      } catch (TException e) {
        buffered.addAndGet(-bytes.length);
        end(ctx, "unreadable message header: " + e.getMessage());
        return false;
      }
      boolean refused = requireClientCertificate && !authenticated(ctx);
      if (!refused && lanes.runsInline(msg.name, in.getTransport())) {
        return write(ctx, call(msg, in, bytes.length, false));
      }
      running = true;
      try {
        lanes.dispatch(msg.name, bytes.length, () -> {
          TMemoryBuffer answer = call(msg, in, bytes.length, refused);
          try {
            ctx.executor().execute(() -> answered(ctx, answer));
          } catch (RejectedExecutionException stopping) {
            LOG.debug("the server stopped before a {} call's answer could be written", msg.name);
          }
        });
      } catch (RejectedExecutionException e) {
        buffered.addAndGet(-bytes.length);
        end(ctx, "the pod is stopping");
        return false;
      }
      return true;
    }

    /**
     * Runs one call (or its refusal) on the current thread and returns its answer, or null if
     * the connection must end; gives the frame's bytes back to the budget.
     */
    private TMemoryBuffer call(TMessage msg, TProtocol in, int frameBytes, boolean refused) {
      try {
        TMemoryBuffer out = new TMemoryBuffer(256);
        TProtocol outProtocol = new TBinaryProtocol(out);
        if (refused) {
          calls.refuseCall(msg, in, outProtocol, new KvPodException(ErrorCode.UNAUTHENTICATED,
              "this pod requires a client certificate (kvpod.tls.client.auth=require); the connection showed none")
              .setRetriable(false));
        } else {
          calls.processCall(msg, in, outProtocol);
        }
        return out;
      } catch (TException e) {
        LOG.warn("closing a connection: its {} call could not be read or answered: {}", msg.name, e.toString());
        return null;
      } finally {
        buffered.addAndGet(-frameBytes);
      }
    }

    /** On the event loop: a lane's answer; writes it, then runs the calls that waited. */
    private void answered(ChannelHandlerContext ctx, TMemoryBuffer answer) {
      running = false;
      if (write(ctx, answer)) {
        runWaiting(ctx);
      }
    }

    /** Writes a call's answer; null ends the connection (and returns false). */
    private boolean write(ChannelHandlerContext ctx, TMemoryBuffer answer) {
      if (answer == null) {
        ctx.close();
        return false;
      }
      lastWrite = ctx.writeAndFlush(Unpooled.wrappedBuffer(answer.getArray(), 0, answer.length()));
      return true;
    }

    private boolean authenticated(ChannelHandlerContext ctx) {
      if (authenticated == null) {
        SslHandler tls = ctx.pipeline().get(SslHandler.class);
        try {
          authenticated = tls != null && tls.engine().getSession().getPeerCertificates().length > 0;
        } catch (SSLPeerUnverifiedException e) {
          authenticated = false;
        }
      }
      return authenticated;
    }

    /** Logs a failed TLS handshake (SslHandler ends the connection itself). */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof SslHandshakeCompletionEvent done && !done.isSuccess()
          && !(done.cause() instanceof java.nio.channels.ClosedChannelException)) { // closed before a handshake began
        handshakeFailures.incrementAndGet();
        long n = handshakeLog.count();
        if (n > 0) {
          LOG.warn("TLS handshake with {} failed ({} failures so far): {}", ctx.channel().remoteAddress(), n,
              done.cause().toString());
        }
      }
      ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      waiting.forEach(ByteBuf::release);
      waiting.clear();
      ctx.fireChannelInactive();
    }

    /**
     * A bad frame header or a TLS failure: the calls read before it are still answered, then
     * the connection ends (as libthrift's servers do); nothing more is read from it.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      Throwable root = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
      String why = root.toString();
      SslHandler tls = ctx.pipeline().get(SslHandler.class);
      if (root instanceof SSLException && tls != null && !tls.handshakeFuture().isSuccess()) {
        ctx.close(); // a failed handshake: userEventTriggered logs it
        return;
      }
      if (running || !waiting.isEmpty()) {
        endAfter = why;
        pause(ctx);
      } else {
        end(ctx, why);
      }
    }
  }
}
