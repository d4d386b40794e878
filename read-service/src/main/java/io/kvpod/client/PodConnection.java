package io.kvpod.client;

import io.kvpod.contract.Limits;
import io.kvpod.thrift.KvPod;
import java.net.InetSocketAddress;
import org.apache.thrift.TConfiguration;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.transport.TSocket;
import org.apache.thrift.transport.TTransportException;
import org.apache.thrift.transport.layered.TFramedTransport;

/**
 * One open connection to a pod: framed transport, binary protocol, as the pod serves, over
 * plain TCP or TLS ({@link TlsConfig}).
 * Used by one thread at a time (borrowed from a {@link ConnectionPool}), except that
 * {@link ConnectionPool#abort} may close it from another thread to end a call in progress.
 */
final class PodConnection implements AutoCloseable {
  final int pod;
  final KvPod.Client client;
  private final TSocket socket;
  private final TFramedTransport transport;
  /** True if this connection served an earlier call: the pod may have restarted since. */
  boolean reused;
  /** Set (from any thread) when the pool gave up on calls to this pod and closed the socket. */
  volatile boolean aborted;

  /** Connects to {@code addr}, over TLS if {@code tls} is not null. */
  PodConnection(int pod, InetSocketAddress addr, int connectTimeoutMs, int callTimeoutMs, TlsConfig tls)
      throws TTransportException {
    this.pod = pod;
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
    transport.close();
  }
}
