package io.kvpod.pod;

import java.io.Closeable;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.thrift.TAsyncProcessor;
import org.apache.thrift.TException;
import org.apache.thrift.TProcessor;
import org.apache.thrift.protocol.TMessage;
import org.apache.thrift.protocol.TProtocol;
import org.apache.thrift.server.AbstractNonblockingServer.AsyncFrameBuffer;
import org.apache.thrift.server.TNonblockingServer;
import org.apache.thrift.transport.TTransport;
import org.apache.thrift.transport.TTransportException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs each call on one of two lanes, chosen by its method, so that a pod's liveness never
 * waits behind its work:
 * <ul>
 *   <li>the <em>heartbeat lane</em>, a few threads of its own, runs {@link #HEARTBEAT_METHODS}
 *       ({@code ping}, and {@code heartbeat}: the signed PINGs of {@link PeerLiveness});</li>
 *   <li>the <em>worker lane</em>, the pod's worker pool, runs every other call.</li>
 * </ul>
 * Without the split, a pod whose workers all waited (on HDFS, on flushes its peers asked for,
 * on other pods) answered no ping; the others took it for dead and took its buckets over.
 * That was seen when a restarted pod asked its three peers to flush its 16 home buckets at
 * once: one peer's pings timed out for 2.5 s, and it lost all of its own buckets. (HDFS gives
 * DataNode heartbeats a NameNode port of their own for the same reason.)
 *
 * <p>This is libthrift's asynchronous processor, and the server runs it on its selector
 * threads: {@link #process(AsyncFrameBuffer)} gets a complete frame, reads only the message
 * header there (the method name), and leaves decoding, the call and the answer to the lane,
 * which hands the answer back with {@code responseReady()}. A frame that cannot be read
 * closes its connection, as in libthrift's own processor. A frame over
 * {@link #MAX_HEARTBEAT_FRAME} bytes goes to the worker lane whatever its method, so the
 * heartbeat lane only ever decodes small frames.
 *
 * <p>A third way: a {@code get} whose answer is in memory runs on the selector thread that
 * read it, with no hand-off ({@link InlineReads} says which may).
 *
 * <p>Thread-safe. Owns both lanes' threads: {@link #close} ends them.
 */
final class CallLanes implements TAsyncProcessor, TProcessor, Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(CallLanes.class);
  /** The methods the heartbeat lane runs. */
  static final Set<String> HEARTBEAT_METHODS = Set.of("ping", "heartbeat");
  /** The largest frame (after its message header) that runs on the heartbeat lane; a heartbeat is ~200 bytes. */
  static final int MAX_HEARTBEAT_FRAME = 64 * 1024;
  private static final int HEARTBEAT_THREADS = 2;
  private static final long CLOSE_WAIT_SECONDS = 10;

  private final ContractProcessor calls;
  private final ExecutorService workers;
  private final ExecutorService heartbeats;
  /** Null: every call goes to a lane. */
  private volatile InlineReads inline;

  /** Runs {@code calls}, on {@code workers} unless they are heartbeats; takes ownership of {@code workers}. */
  CallLanes(ContractProcessor calls, ExecutorService workers) {
    this.calls = calls;
    this.workers = workers;
    AtomicInteger n = new AtomicInteger();
    this.heartbeats = Executors.newFixedThreadPool(HEARTBEAT_THREADS, r -> {
      Thread t = new Thread(r, "heartbeat-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * A server that runs its calls on these lanes, with {@code selectorThreads} selector
   * threads (which call {@link #process(AsyncFrameBuffer)}), closing the lanes when it stops
   * serving.
   */
  SelectorServer server(TNonblockingServer.Args args, int selectorThreads) {
    return new SelectorServer(args.processor(this), selectorThreads, this::close);
  }

  /** From now on, runs on the selector thread the calls {@code inline} says may run there. */
  void inline(InlineReads inline) {
    this.inline = inline;
  }

  /**
   * True if the call of {@code method}, whose arguments are what is left of {@code args} (a
   * whole frame in memory, its message header read), may run on the I/O thread that read it;
   * counts it. Reads nothing from {@code args}.
   */
  boolean runsInline(String method, TTransport args) {
    InlineReads now = inline;
    return now != null && now.answerable(method, args);
  }

  /**
   * Called on a selector thread with a complete frame: runs the call there if it may run
   * inline, else picks the lane and hands the call to it.
   */
  @Override
  public void process(AsyncFrameBuffer frame) throws TException {
    TProtocol in = frame.getInputProtocol();
    TMessage msg = in.readMessageBegin(); // a malformed header throws: the server closes the connection
    if (runsInline(msg.name, in.getTransport())) {
      try {
        run(frame, msg);
      } catch (RuntimeException e) { // the call's own failures are answered; this is a bug: keep the selector
        LOG.error("closing a connection: its inline {} call failed", msg.name, e);
        frame.close();
      }
      return;
    }
    try {
      dispatch(msg.name, in.getTransport().getBytesRemainingInBuffer(), () -> run(frame, msg));
    } catch (RejectedExecutionException e) {
      throw new TTransportException("the pod is stopping; closing the connection");
    }
  }

  /**
   * Runs {@code call}, the call of {@code method} whose frame has {@code frameBytes} left
   * after its header, on its lane. Throws {@link RejectedExecutionException} once the lanes
   * are closed.
   */
  void dispatch(String method, int frameBytes, Runnable call) {
    boolean heartbeat = HEARTBEAT_METHODS.contains(method) && frameBytes <= MAX_HEARTBEAT_FRAME;
    (heartbeat ? heartbeats : workers).execute(call);
  }

  /** Runs one call on the current (lane) thread and hands its answer to the server. */
  private void run(AsyncFrameBuffer frame, TMessage msg) {
    boolean answered = false;
    try {
      calls.processCall(msg, frame.getInputProtocol(), frame.getOutputProtocol());
      answered = true;
    } catch (TException e) {
      LOG.warn("closing a connection: its {} call could not be read or answered: {}", msg.name, e.toString());
    } finally {
      if (answered) {
        frame.responseReady();
      } else {
        frame.close();
      }
    }
  }

  /** The same calls run on the caller's thread (a server that does not run asynchronous processors). */
  @Override
  public void process(TProtocol in, TProtocol out) throws TException {
    calls.process(in, out);
  }

  /** Lets the calls running finish (up to 10 s), then interrupts what is left. */
  @Override
  public void close() {
    workers.shutdown();
    heartbeats.shutdown();
    try {
      if (!workers.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)
          || !heartbeats.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
        LOG.warn("calls still running {} s after the server stopped; interrupting them", CLOSE_WAIT_SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      workers.shutdownNow();
      heartbeats.shutdownNow();
    }
  }
}
