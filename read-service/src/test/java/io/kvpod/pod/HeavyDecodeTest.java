package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.Limits;
import io.kvpod.local.PodProcess;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPod;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.protocol.TField;
import org.apache.thrift.protocol.TMap;
import org.apache.thrift.protocol.TMessage;
import org.apache.thrift.protocol.TMessageType;
import org.apache.thrift.protocol.TProtocol;
import org.apache.thrift.protocol.TStruct;
import org.apache.thrift.protocol.TType;
import org.apache.thrift.transport.TIOStreamTransport;
import org.apache.thrift.transport.TMemoryInputTransport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pod process attacked with frames that are small on the wire but huge once decoded: a
 * {@code batchPut} of about 1.5 million tiny fields in one 16 MB frame, which libthrift
 * would turn into about 200 MB of Strings and map nodes. Eight attackers send them at once,
 * five times each, to a pod with a 768 MB heap: decoded in full, that is about 1.6 GB. Each
 * call is refused before it is built, as TOO_LARGE (over its share of heap) or BUSY (the
 * pod's decode budget is held by others), the pod never runs out of memory, and a
 * well-behaved client's gets are answered right all along.
 */
class HeavyDecodeTest {
  private static final int ATTACKERS = 8;
  private static final int ROUNDS = 5;

  @TempDir
  File tmp;

  /** One framed batchPut call that fills a frame with as many tiny fields as fit. */
  private static byte[] heavyFrame() throws Exception {
    ByteArrayOutputStream body = new ByteArrayOutputStream(Limits.MAX_FRAME_BYTES);
    TProtocol p = new TBinaryProtocol(new TIOStreamTransport(body));
    int fields = Limits.MAX_FIELDS - 1;
    int perValue = 15 + fields * 11; // key (4+5) and map header (6), then per field: name (4+3), empty text (4)
    int values = (Limits.MAX_FRAME_BYTES - 1024) / perValue;
    p.writeMessageBegin(new TMessage("batchPut", TMessageType.CALL, 1));
    p.writeStructBegin(new TStruct("batchPut_args"));
    p.writeFieldBegin(new TField("records", TType.MAP, (short) 1));
    p.writeMapBegin(new TMap(TType.STRING, TType.MAP, values));
    for (int v = 0; v < values; v++) {
      p.writeString(String.format("k%04d", v));
      p.writeMapBegin(new TMap(TType.STRING, TType.STRING, fields));
      for (int f = 0; f < fields; f++) {
        p.writeString(String.format("%3s", Integer.toString(f, 36))); // distinct 3-byte names
        p.writeString("");
      }
      p.writeMapEnd();
    }
    p.writeMapEnd();
    p.writeFieldEnd();
    p.writeFieldStop();
    p.writeStructEnd();
    p.writeMessageEnd();
    ByteArrayOutputStream framed = new ByteArrayOutputStream(body.size() + 4);
    new DataOutputStream(framed).writeInt(body.size());
    body.writeTo(framed);
    return framed.toByteArray();
  }

  /** Sends {@code frame} on a new connection; returns the error code it was answered with (null: success). */
  private static ErrorCode send(int port, byte[] frame) throws Exception {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 30_000);
      s.setSoTimeout(300_000);
      s.getOutputStream().write(frame);
      s.getOutputStream().flush();
      DataInputStream in = new DataInputStream(s.getInputStream());
      byte[] reply = new byte[in.readInt()];
      in.readFully(reply);
      TProtocol p = new TBinaryProtocol(new TMemoryInputTransport(reply));
      assertEquals(TMessageType.REPLY, p.readMessageBegin().type, "a KvPodException, not an application error");
      KvPod.batchPut_result r = new KvPod.batchPut_result();
      r.read(p);
      return r.isSetE() ? r.getE().getCode() : null;
    }
  }

  @Test
  void framesThatDecodeToHugeHeapsAreRefusedWithinThePodsBudgetAndGetsGoOn() throws Exception {
    String root = TestLayers.rootWithOneRecord(tmp, "heavy");
    int port = PodProcess.freePort();
    Map<String, String> cfg = PodProcess.baseConfig("127.0.0.1:" + port, 0, root, "heavy", "heavy-test-secret");
    cfg.put(PodConfig.MAX_READ_BUFFER_BYTES, Long.toString((long) ATTACKERS * Limits.MAX_FRAME_BYTES));
    cfg.put(PodConfig.BLOCK_CACHE_BYTES, Long.toString(16L << 20));
    PodProcess pod = PodProcess.prepare(0, new File("target/pod-logs/HeavyDecodeTest")).heap("768m");
    pod.launch(cfg);
    ExecutorService attackers = Executors.newFixedThreadPool(ATTACKERS);
    try (KvPodClient client = KvPodClient.builder("127.0.0.1:" + port).callTimeoutMs(120_000).deadlineMs(300_000)
        .build()) {
      assertEquals(Map.of("name", "choke"), client.get("user:1"), "the client has learned the pod");
      byte[] frame = heavyFrame();
      assertTrue(frame.length > Limits.MAX_FRAME_BYTES - (64 << 10) && frame.length <= Limits.MAX_FRAME_BYTES,
          "one full frame: " + frame.length);
      Map<ErrorCode, AtomicInteger> answers = new ConcurrentHashMap<>();
      List<Future<?>> sent = new ArrayList<>();
      for (int a = 0; a < ATTACKERS; a++) {
        sent.add(attackers.submit(() -> {
          for (int r = 0; r < ROUNDS; r++) {
            ErrorCode code = send(port, frame);
            answers.computeIfAbsent(code == null ? ErrorCode.INTERNAL : code, c -> new AtomicInteger()).incrementAndGet();
            assertTrue(code == ErrorCode.TOO_LARGE || code == ErrorCode.BUSY, "refused, not stored: " + code);
          }
          return null;
        }));
      }
      int gets = 0;
      long started = System.nanoTime();
      long slowest = 0;
      while (!sent.stream().allMatch(Future::isDone)) {
        long t0 = System.nanoTime();
        assertEquals(Map.of("name", "choke"), client.get("user:1"), "a get while the pod is attacked");
        slowest = Math.max(slowest, System.nanoTime() - t0);
        gets++;
      }
      for (Future<?> f : sent) {
        f.get();
      }
      System.out.printf("[heavy decode] %d heavy frames answered %s in %d ms; %d gets answered right meanwhile, "
          + "the slowest in %d ms%n", ATTACKERS * ROUNDS, answers, (System.nanoTime() - started) / 1_000_000, gets,
          slowest / 1_000_000);
      assertEquals(ATTACKERS * ROUNDS, answers.values().stream().mapToInt(AtomicInteger::get).sum());
      assertTrue(answers.containsKey(ErrorCode.TOO_LARGE), "calls with the budget free are over their share: "
          + answers);
      assertTrue(pod.alive(), "the pod is up");
      assertEquals(Map.of("name", "choke"), client.get("user:1"), "and serves");
      assertEquals(ErrorCode.TOO_LARGE, send(port, frame), "the refused calls gave their budget back: alone, "
          + "a heavy call is over its own share, not short of the pod's");
      assertTrue(client.put("after", Map.of("v", "1")), "and ordinary writes are decoded and stored");
      assertTrue(pod.logText().contains("refused a batchPut call"), "the pod logs the refusals");
      assertFalse(pod.logText().contains("OutOfMemoryError"), "the pod never ran out of heap");
    } finally {
      attackers.shutdownNow();
      pod.stop();
    }
  }
}
