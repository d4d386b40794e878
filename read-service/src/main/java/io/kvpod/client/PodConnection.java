package io.kvpod.client;

import io.kvpod.contract.Limits;
import io.kvpod.thrift.KvPod;
import java.net.InetSocketAddress;
import org.apache.thrift.TConfiguration;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.transport.TSocket;
import org.apache.thrift.transport.TTransportException;
import org.apache.thrift.transport.layered.TFramedTransport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One open connection to a pod: framed transport, binary protocol, as the pod serves, over
 * plain TCP or TLS ({@link TlsConfig}).
 * Used by one thread at a time (borrowed from a {@link ConnectionPool}), except that
 * {@link ConnectionPool#abort} may close it from another thread to end a call in progress.
 */
final class PodConnection implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PodConnection.class);
  final int pod;
  final KvPod.Client client;
  private final TSocket socket;
  private final TFramedTransport transport;
  private final boolean tls;
  /** True if this connection served an earlier call: the pod may have restarted since. */
  boolean reused;
  /** Set (from any thread) when the pool gave up on calls to this pod and closed the socket. */
  volatile boolean aborted;

  /** Connects to {@code addr}, over TLS if {@code tls} is not null. */
  PodConnection(int pod, InetSocketAddress addr, int connectTimeoutMs, int callTimeoutMs, TlsConfig tls)
      throws TTransportException {
    this.pod = pod;
    this.tls = tls != null;
    if (tls == null) {
      TConfiguration cfg = TConfiguration.custom().setMaxFrameSize(Limits.MAX_FRAME_BYTES)
          .setMaxMessageSize(Limits.MAX_FRAME_BYTES).build();
      this.socket = new TSocket(cfg, addr.getHostString(), addr.getPort(), callTimeoutMs, connectTimeoutMs);
    } else {
      try {
        this.socket = new TSocket(tls.connect(addr, connectTimeoutMs, callTimeoutMs));
      } catch (java.io.IOException e) {
        throw new TTransportException(TTransportException.NOT_OPEN,
            "TLS connection to " + addr + " failed: " + e, e);
      }
    }
    this.transport = new TFramedTransport(socket, Limits.MAX_FRAME_BYTES);
    if (!transport.isOpen()) {
      transport.open();
    }
    this.client = new KvPod.Client(new TBinaryProtocol(transport));
  }

  void setTimeout(int ms) {
    socket.setTimeout(ms);
  }

  @Override
  public void close() {
    if (!tls) {
      transport.close();
      return;
    }
    // A TLS socket closes whole when its input stream closes, which is what the transport
    // closes first: it would then fail (and log) flushing the output stream. Close the socket.
    try {
      socket.getSocket().close();
    } catch (java.io.IOException e) {
      LOG.debug("closing the TLS connection to pod {}: {}", pod, e.toString());
    }
  }
}
