package io.kvpod.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.Membership;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPod;
import io.kvpod.thrift.KvPodException;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.server.TServer;
import org.apache.thrift.server.TThreadPoolServer;
import org.apache.thrift.transport.TServerSocket;
import org.apache.thrift.transport.layered.TFramedTransport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The client's retry policy, against real Thrift servers on loopback that stand in for pods
 * and answer {@code get} as each test says: retries are decided by the exception, bounded by
 * a count, and a pod that is not there is a transport failure like any other.
 */
class PodCallsTest {
  /** What a stand-in pod does with a get: returns a record or throws. */
  @FunctionalInterface
  private interface Answer {
    Map<String, String> get(String key) throws KvPodException;
  }

  private final List<TServer> servers = new ArrayList<>();
  private final List<Thread> serving = new ArrayList<>();
  private final List<AtomicInteger> gets = new ArrayList<>();
  private final List<Integer> relearned = new CopyOnWriteArrayList<>();
  private ConnectionPool pool;
  private PodCalls calls;

  /** A stand-in pod on loopback that answers gets with {@code answer}; returns where it listens. */
  private InetSocketAddress pod(Answer answer) throws Exception {
    AtomicInteger count = new AtomicInteger();
    gets.add(count);
    KvPod.Iface service = (KvPod.Iface) Proxy.newProxyInstance(KvPod.Iface.class.getClassLoader(),
        new Class<?>[] {KvPod.Iface.class}, (proxy, method, args) -> {
          if (!method.getName().equals("get")) {
            throw new UnsupportedOperationException(method.getName());
          }
          count.incrementAndGet();
          return answer.get((String) args[0]);
        });
    TServerSocket socket = new TServerSocket(new InetSocketAddress("127.0.0.1", 0));
    TServer server = new TThreadPoolServer(new TThreadPoolServer.Args(socket)
        .processor(new KvPod.Processor<>(service))
        .transportFactory(new TFramedTransport.Factory())
        .protocolFactory(new TBinaryProtocol.Factory())
        .minWorkerThreads(1)
        .maxWorkerThreads(4));
    Thread t = new Thread(server::serve, "stand-in-pod");
    t.setDaemon(true);
    t.start();
    servers.add(server);
    serving.add(t);
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (!server.isServing() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertTrue(server.isServing(), "the stand-in pod serves");
    return new InetSocketAddress("127.0.0.1", socket.getServerSocket().getLocalPort());
  }

  /** An address where nothing listens: a port bound, then let go. */
  private InetSocketAddress nobody() throws Exception {
    gets.add(new AtomicInteger());
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return new InetSocketAddress("127.0.0.1", s.getLocalPort());
    }
  }

  private void client(List<InetSocketAddress> pods, int maxAttempts) {
    pool = new ConnectionPool(pods, 2, 10_000, 30_000, null);
    Backoff backoff = new Backoff(1, 10);
    calls = new PodCalls(pool, new PodHealth(Membership.MAX_PODS, backoff), new SilentPods(Membership.MAX_PODS),
        pod -> true, relearned::add, 30_000, 60_000, maxAttempts, backoff, 1000, -1);
  }

  private Map<String, String> get(int firstPod) throws KvPodException {
    return calls.call("get", firstPod, c -> c.get("k", null));
  }

  private static KvPodException failure(ErrorCode code, boolean retriable) {
    KvPodException e = new KvPodException(code, "stand-in failure " + code);
    e.setRetriable(retriable);
    return e;
  }

  @AfterEach
  void stop() throws Exception {
    if (calls != null) {
      calls.close();
    }
    if (pool != null) {
      pool.close();
    }
    servers.forEach(TServer::stop);
    for (Thread t : serving) {
      t.join(TimeUnit.MINUTES.toMillis(1));
    }
  }

  @Test
  void aRetriableFailureMovesOnToTheNextPodAndTheHolderIsRelearned() throws Exception {
    client(List.of(pod(k -> {
      throw failure(ErrorCode.UNAVAILABLE, true);
    }), pod(k -> Map.of("v", "from-1")), pod(k -> Map.of("v", "from-2"))), 6);
    assertEquals(Map.of("v", "from-1"), get(0));
    assertEquals(List.of(1, 1, 0), gets.stream().map(AtomicInteger::get).toList());
    assertEquals(List.of(0), relearned, "the first pod, tried as the key's holder, failed: its holders are asked again");
  }

  @Test
  void aFailureNotMarkedRetriableIsThrownAtOnce() throws Exception {
    client(List.of(pod(k -> {
      throw failure(ErrorCode.INVALID_ARGUMENT, false);
    }), pod(k -> Map.of("v", "from-1"))), 6);
    KvPodException e = assertThrows(KvPodException.class, () -> get(0));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.getCode());
    assertEquals(List.of(1, 0), gets.stream().map(AtomicInteger::get).toList(), "no other pod was asked");
  }

  @Test
  void attemptsStopAtTheirCountWithTheLastError() throws Exception {
    client(List.of(pod(k -> {
      throw failure(ErrorCode.UNAVAILABLE, true);
    }), pod(k -> {
      throw failure(ErrorCode.UNAVAILABLE, true);
    })), 5);
    KvPodException e = assertThrows(KvPodException.class, () -> get(1));
    assertEquals(ErrorCode.UNAVAILABLE, e.getCode());
    assertTrue(e.isRetriable());
    assertTrue(e.getMessage().contains("at most 5 attempts") && e.getMessage().contains("stand-in failure"),
        e.getMessage());
    assertEquals(5, gets.stream().mapToInt(AtomicInteger::get).sum(), "five attempts over the two pods, no more");
  }

  @Test
  void aPodThatIsNotThereIsATransportFailureAndTheNextPodAnswers() throws Exception {
    client(List.of(nobody(), pod(k -> Map.of("v", "from-1"))), 6);
    assertEquals(Map.of("v", "from-1"), get(0));
    KvPodException e = assertThrows(KvPodException.class, () -> calls.attempt(0, c -> c.get("k", null), 5000));
    assertEquals(ErrorCode.UNAVAILABLE, e.getCode(), "a refused connection, as the client reports it");
    assertTrue(e.isRetriable());
  }
}
