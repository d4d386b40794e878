package io.kvpod.pod;

import java.io.IOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import org.apache.thrift.server.AbstractNonblockingServer;
import org.apache.thrift.server.TNonblockingServer;
import org.apache.thrift.transport.TNonblockingServerTransport;
import org.apache.thrift.transport.TNonblockingTransport;
import org.apache.thrift.transport.TTransportException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pod's Thrift server: one thread accepts connections and hands each, in turn, to one of
 * {@code selectorThreads} selector threads. A selector thread reads whole frames, gives each
 * to the processor on its own thread (kvpod's {@link CallLanes}, which reads the message
 * header and runs the call on a lane of its own), and writes the answers back. This is the
 * model of libthrift's {@code TThreadedSelectorServer}, which kvpod used before, less that
 * server's work-around for an old JDK epoll bug: after 512 wake-ups in a row that find no
 * connection ready (a burst of new connections gives that, each one waking its selector
 * thread), it replaces its selector by one holding only the connections ready at that
 * moment, and every other connection of the thread is never read again. 10,000 connections
 * opened at once stranded a connection that was open before them
 * ({@code AbuseMatrixTest}); the fix proposed upstream (apache/thrift pull request 2389) was
 * closed unmerged. The JDK bug itself was fixed in JDK 7; kvpod runs on 17.
 *
 * <p>Threads: {@link #serve} runs on the caller's thread until {@link #stop}; the accept and
 * selector threads are the server's own. The server transport (and the connections it
 * accepts, with their limits: {@link FrameWatch}) is the caller's; {@code onStopped} runs once
 * every thread of the server has ended.
 */
final class SelectorServer extends AbstractNonblockingServer {
  private static final Logger LOG = LoggerFactory.getLogger(SelectorServer.class);

  private final int selectorCount;
  private final Runnable onStopped;
  private final List<SelectorThread> selectors = new ArrayList<>();
  private AcceptThread acceptor;
  private int nextSelector;

  SelectorServer(TNonblockingServer.Args args, int selectorThreads, Runnable onStopped) {
    super(args);
    if (selectorThreads < 1) {
      throw new IllegalArgumentException("a server needs a selector thread");
    }
    this.selectorCount = selectorThreads;
    this.onStopped = onStopped;
  }

  @Override
  protected boolean startThreads() {
    try {
      for (int i = 0; i < selectorCount; i++) {
        selectors.add(new SelectorThread(i));
      }
      acceptor = new AcceptThread();
    } catch (IOException e) {
      LOG.error("could not open the server's selectors", e);
      return false;
    }
    selectors.forEach(Thread::start);
    acceptor.start();
    return true;
  }

  @Override
  protected void waitForShutdown() {
    try {
      acceptor.join();
      for (SelectorThread t : selectors) {
        t.join();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      LOG.warn("interrupted while the server's threads end");
    } finally {
      onStopped.run();
    }
  }

  @Override
  public void stop() {
    stopped_ = true;
    stopListening();
    if (acceptor != null) {
      acceptor.selector.wakeup();
    }
    for (SelectorThread t : selectors) {
      t.wakeupSelector();
    }
  }

  /** Runs the call on the selector thread: the processor ({@link CallLanes}) hands it to a lane at once. */
  @Override
  protected boolean requestInvoke(FrameBuffer frameBuffer) {
    frameBuffer.invoke();
    return true;
  }

  /** Waits until {@code selector} has keys ready (or is woken), and hands each ready key to {@code handle}. */
  private void selectOnce(Selector selector, Consumer<SelectionKey> handle) throws IOException {
    selector.select();
    Iterator<SelectionKey> ready = selector.selectedKeys().iterator();
    while (!stopped_ && ready.hasNext()) {
      SelectionKey key = ready.next();
      ready.remove();
      handle.accept(key);
    }
  }

  /** Accepts connections and deals them to the selector threads in turn. */
  private final class AcceptThread extends Thread {
    final Selector selector = Selector.open();

    AcceptThread() throws IOException {
      super("thrift-accept");
      ((TNonblockingServerTransport) serverTransport_).registerSelector(selector);
    }

    @Override
    public void run() {
      try {
        while (!stopped_) {
          selectOnce(selector, key -> {
            if (key.isValid() && key.isAcceptable()) {
              accept();
            }
          });
        }
      } catch (IOException | RuntimeException e) {
        LOG.error("the accepting thread failed; stopping the server", e);
        SelectorServer.this.stop();
      } finally {
        try {
          selector.close();
        } catch (IOException e) {
          LOG.warn("closing the accept selector: {}", e.toString());
        }
      }
    }

    private void accept() {
      TNonblockingTransport client;
      try {
        client = (TNonblockingTransport) serverTransport_.accept();
      } catch (TTransportException e) {
        LOG.warn("accepting a connection failed: {}", e.toString());
        return;
      }
      if (client != null) { // null: none was pending, or the connection limits refused (and closed) it
        selectors.get(nextSelector).add(client);
        nextSelector = (nextSelector + 1) % selectors.size();
      }
    }
  }

  /** Reads and writes the frames of its connections; registers the connections handed to it. */
  private final class SelectorThread extends AbstractSelectThread {
    private final Queue<TNonblockingTransport> accepted = new ConcurrentLinkedQueue<>();

    SelectorThread(int i) throws IOException {
      setName("thrift-selector-" + i);
    }

    /** Called by the accepting thread: the connection is registered on this thread's next turn. */
    void add(TNonblockingTransport connection) {
      accepted.add(connection);
      selector.wakeup();
    }

    @Override
    public void run() {
      try {
        while (!stopped_) {
          selectOnce(selector, key -> {
            if (!key.isValid()) {
              cleanupSelectionKey(key);
            } else if (key.isReadable()) {
              handleRead(key);
            } else if (key.isWritable()) {
              handleWrite(key);
            }
          });
          registerAccepted();
          processInterestChanges();
        }
      } catch (IOException | RuntimeException e) {
        LOG.error("a selector thread failed; stopping the server", e);
        SelectorServer.this.stop();
      } finally {
        for (SelectionKey key : selector.keys()) {
          cleanupSelectionKey(key);
        }
        TNonblockingTransport left;
        while ((left = accepted.poll()) != null) {
          left.close();
        }
        try {
          selector.close();
        } catch (IOException e) {
          LOG.warn("closing a selector: {}", e.toString());
        }
      }
    }

    private void registerAccepted() {
      TNonblockingTransport connection;
      while ((connection = accepted.poll()) != null) {
        SelectionKey key = null;
        try {
          key = connection.registerSelector(selector, SelectionKey.OP_READ);
          key.attach(processorFactory_.isAsyncProcessor()
              ? new AsyncFrameBuffer(connection, key, this)
              : new FrameBuffer(connection, key, this));
        } catch (IOException | TTransportException e) {
          LOG.warn("could not take a new connection: {}", e.toString());
          if (key != null) {
            cleanupSelectionKey(key);
          }
          connection.close();
        }
      }
    }
  }
}
