package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.thrift.KvPod;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.server.TServer;
import org.apache.thrift.server.TNonblockingServer;
import org.apache.thrift.transport.TNonblockingServerSocket;
import org.apache.thrift.transport.TSocket;
import org.apache.thrift.transport.TTransport;
import org.apache.thrift.transport.layered.TFramedTransport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A real Thrift server on loopback with one worker thread, whose get() waits until the test
 * lets it go: pings and heartbeats are answered while the worker is taken, other calls wait
 * for it.
 */
class CallLanesTest {
  private final CountDownLatch letGetsFinish = new CountDownLatch(1);
  private final AtomicInteger getsStarted = new AtomicInteger();
  private final AtomicInteger heartbeats = new AtomicInteger();
  private final ExecutorService callers = Executors.newCachedThreadPool();
  private TNonblockingServerSocket socket;
  private TServer server;
  private Thread serving;

  @BeforeEach
  void start() throws Exception {
    KvPod.Iface service = (KvPod.Iface) Proxy.newProxyInstance(KvPod.Iface.class.getClassLoader(),
        new Class<?>[] {KvPod.Iface.class}, (proxy, method, args) -> switch (method.getName()) {
          case "get" -> {
            getsStarted.incrementAndGet();
            assertTrue(letGetsFinish.await(2, TimeUnit.MINUTES), "the test let the get finish");
            yield Map.of("v", "1");
          }
          case "heartbeat" -> {
            heartbeats.incrementAndGet();
            yield ByteBuffer.wrap(new byte[] {1});
          }
          case "ping" -> null;
          default -> throw new UnsupportedOperationException(method.getName());
        });
    socket = new TNonblockingServerSocket(new InetSocketAddress("127.0.0.1", 0));
    TNonblockingServer.Args args = new TNonblockingServer.Args(socket)
        .protocolFactory(StrictBinaryProtocol.factory(new DecodeBudget(64L << 20), 32L << 20));
    server = new CallLanes(new ContractProcessor(service), Executors.newFixedThreadPool(1)).server(args, 2);
    serving = new Thread(server::serve, "test-server");
    serving.start();
    while (!server.isServing()) {
      Thread.sleep(10);
    }
  }

  @AfterEach
  void stop() throws Exception {
    letGetsFinish.countDown();
    callers.shutdownNow();
    server.stop();
    serving.join(TimeUnit.MINUTES.toMillis(1));
    socket.close();
  }

  private KvPod.Client client() throws Exception {
    TTransport t = new TFramedTransport(new TSocket("127.0.0.1", socket.getPort(), 60_000));
    t.open();
    return new KvPod.Client(new TBinaryProtocol(t));
  }

  @Test
  void pingsAndHeartbeatsAreAnsweredWhileEveryWorkerIsTaken() throws Exception {
    Future<Map<String, String>> first = callers.submit(() -> client().get("a", null));
    Future<Map<String, String>> second = callers.submit(() -> client().get("b", null));
    while (getsStarted.get() == 0) {
      Thread.sleep(10);
    }
    KvPod.Client c = client();
    c.ping(); // with no lane of its own, this would wait behind the gets, which wait for it
    assertEquals(ByteBuffer.wrap(new byte[] {1}), c.heartbeat(ByteBuffer.wrap(new byte[] {7})));
    assertEquals(1, heartbeats.get());
    assertFalse(first.isDone(), "the first get still holds the only worker");
    assertEquals(1, getsStarted.get(), "the second get waits for the worker");
    letGetsFinish.countDown();
    assertEquals(Map.of("v", "1"), first.get(1, TimeUnit.MINUTES));
    assertEquals(Map.of("v", "1"), second.get(1, TimeUnit.MINUTES));
    assertEquals(2, getsStarted.get());
  }

  @Test
  void aFrameThatCannotBeReadClosesItsConnectionAndTheServerGoesOn() throws Exception {
    try (java.net.Socket raw = new java.net.Socket("127.0.0.1", socket.getPort())) {
      raw.setSoTimeout(60_000);
      var out = new java.io.DataOutputStream(raw.getOutputStream());
      // a framed get whose key string claims 1000 bytes, in a frame that ends after 3 of them
      byte[] name = "get".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      java.io.ByteArrayOutputStream frame = new java.io.ByteArrayOutputStream();
      var f = new java.io.DataOutputStream(frame);
      f.writeInt(0x80010001); // strict binary protocol, CALL
      f.writeInt(name.length);
      f.write(name);
      f.writeInt(1); // seqid
      f.writeByte(11); // STRING
      f.writeShort(1); // field 1: key
      f.writeInt(1000);
      f.write(new byte[] {'a', 'b', 'c'});
      out.writeInt(frame.size());
      out.write(frame.toByteArray());
      out.flush();
      assertEquals(-1, raw.getInputStream().read(), "the server closed the connection, answering nothing");
    }
    client().ping();
    assertEquals(0, getsStarted.get(), "the cut-short get never reached the service");
  }
}
