package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.Limits;
import io.kvpod.contract.PeerSigner;
import io.kvpod.local.PodProcess;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPod;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.WriteOptions;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PingRequest;
import io.kvpod.thrift.internal.RefreshRequest;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.apache.thrift.TApplicationException;
import org.apache.thrift.TBase;
import org.apache.thrift.TException;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.protocol.TCompactProtocol;
import org.apache.thrift.protocol.TField;
import org.apache.thrift.protocol.TList;
import org.apache.thrift.protocol.TMap;
import org.apache.thrift.protocol.TMessage;
import org.apache.thrift.protocol.TMessageType;
import org.apache.thrift.protocol.TProtocol;
import org.apache.thrift.protocol.TStruct;
import org.apache.thrift.protocol.TType;
import org.apache.thrift.transport.TMemoryBuffer;
import org.apache.thrift.transport.TMemoryInputTransport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input and abuse, case by case, against one real pod process over loopback. Every case
 * sends its bytes on a socket of its own (not through the Java client, which would refuse
 * most of them before they left), and must get a clear error, or have its connection
 * closed, and then the pod must still serve a well-behaved client: read a bulk-loaded
 * record, and write and read back a new one ({@link #thePodStillServes}).
 *
 * <p>{@link TlsAbuseMatrixTest} runs every case again against pods that serve TLS (through
 * {@link NettyServer}) and require client certificates, and adds the cases of TLS itself.
 * Memory under 1,000 slow-frame attackers is measured by {@code bin/kvpod bench get
 * --attackers} and by {@link StalledFrameTest}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AbuseMatrixTest {
  static final String SECRET = "abuse-matrix-secret";
  private static final long FRAME_TIMEOUT_MILLIS = 2_000;
  static final int BUCKETS = 4;

  File tmp;
  /** The pod every raw case talks to (pod 0). */
  PodProcess pod;
  final List<PodProcess> pods = new ArrayList<>();
  int port;
  KvPodClient client;
  private int written;

  @BeforeAll
  void startPod() throws Exception {
    tmp = Files.createTempDirectory("abuse-matrix").toFile();
    beforePods();
    String root = TestLayers.rootWithOneRecord(tmp, "abuse", BUCKETS); // by bucket: gets may run inline
    String podList = PodProcess.loopbackPodList(podCount());
    port = Integer.parseInt(podList.split(",")[0].split(":")[1]);
    for (int id = 0; id < podCount(); id++) {
      Map<String, String> cfg = PodProcess.baseConfig(podList, id, root, "abuse", SECRET);
      cfg.put(PodConfig.FRAME_TIMEOUT, frameTimeoutMillis() + "ms");
      cfg.put(PodConfig.TABLE_BUCKETS, Integer.toString(BUCKETS));
      cfg.putAll(extraConfig(id));
      pods.add(PodProcess.start(id, cfg, new File("target/pod-logs/" + getClass().getSimpleName())));
    }
    pod = pods.get(0);
    client = clientBuilder(podList).callTimeoutMs(30_000).deadlineMs(60_000).build();
  }

  // ---- what a variant of the matrix (TlsAbuseMatrixTest) changes

  /** Runs before the pods start (a variant makes its certificates here). */
  void beforePods() throws Exception {}

  /** How many pods serve the table; raw cases talk to pod 0. */
  int podCount() {
    return 1;
  }

  /** Settings beyond the base ones, for pod {@code id}. */
  Map<String, String> extraConfig(int id) {
    return Map.of();
  }

  /** The well-behaved client's builder. */
  KvPodClient.Builder clientBuilder(String podList) throws Exception {
    return KvPodClient.builder(podList);
  }

  /** The pods' {@code kvpod.server.frame.timeout}. */
  long frameTimeoutMillis() {
    return FRAME_TIMEOUT_MILLIS;
  }

  /** A raw connection to pod 0, ready for frames (a variant's is TLS). */
  Socket connect() throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", port), 30_000);
    s.setSoTimeout(60_000);
    return s;
  }

  @AfterAll
  void stopPod() throws Exception {
    try {
      if (client != null) {
        client.close();
      }
    } finally {
      PodProcess.stopAll(pods);
      org.apache.hadoop.fs.FileUtil.fullyDelete(tmp);
    }
  }

  /** One case: sends its abuse to the pod at {@code port} and checks the pod's answer to it. */
  interface Abuse {
    void run(AbuseMatrixTest t) throws Exception;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void eachAbuseGetsAClearAnswerAndThePodGoesOnServing(Abuse abuse) throws Exception {
    abuse.run(this);
    thePodStillServes();
  }

  void thePodStillServes() throws Exception {
    assertEquals(Map.of("name", "choke"), client.get("user:1"), "a bulk-loaded record still reads");
    String key = "after-abuse-" + (++written);
    client.put(key, Map.of("n", Integer.toString(written)));
    assertEquals(Map.of("n", Integer.toString(written)), client.get(key), "a new write is applied and read back");
    assertTrue(pod.alive(), "the pod process is up");
  }

  static Stream<Named<Abuse>> cases() {
    List<Named<Abuse>> c = new ArrayList<>();
    // ---- arguments that break the contract: a KvPodException with the code the IDL documents
    c.add(Named.of("get of an empty key", t -> t.refused(ErrorCode.INVALID_ARGUMENT,
        "get", new KvPod.get_args("", null), new KvPod.get_result())));
    c.add(Named.of("put of an empty key", t -> t.refused(ErrorCode.INVALID_ARGUMENT,
        "put", new KvPod.put_args("", Map.of("f", "v"), new WriteOptions(), null), new KvPod.put_result())));
    c.add(Named.of("remove of an empty key", t -> t.refused(ErrorCode.INVALID_ARGUMENT,
        "remove", new KvPod.remove_args("", new WriteOptions(), null), new KvPod.remove_result())));
    c.add(Named.of("get of a key one byte over MAX_KEY_BYTES", t -> t.refused(ErrorCode.TOO_LARGE,
        "get", new KvPod.get_args("k".repeat(Limits.MAX_KEY_BYTES + 1), null), new KvPod.get_result())));
    c.add(Named.of("put of a value over MAX_VALUE_BYTES", t -> t.refused(ErrorCode.TOO_LARGE, "put",
        new KvPod.put_args("big", Map.of("f", "v".repeat(Limits.MAX_VALUE_BYTES + 1)), new WriteOptions(), null),
        new KvPod.put_result())));
    c.add(Named.of("put of a value with MAX_FIELDS + 1 fields", t -> t.refused(ErrorCode.TOO_LARGE, "put",
        new KvPod.put_args("wide", fields(Limits.MAX_FIELDS + 1), new WriteOptions(), null), new KvPod.put_result())));
    c.add(Named.of("batchPut of MAX_BATCH + 1 records", t -> t.refused(ErrorCode.TOO_LARGE, "batchPut",
        new KvPod.batchPut_args(records(Limits.MAX_BATCH + 1), new WriteOptions(), null), new KvPod.batchPut_result())));
    c.add(Named.of("multiGet of MAX_BATCH + 1 keys", t -> t.refused(ErrorCode.TOO_LARGE, "multiGet",
        new KvPod.multiGet_args(new ArrayList<>(records(Limits.MAX_BATCH + 1).keySet()), null),
        new KvPod.multiGet_result())));
    c.add(Named.of("batchPut with one empty key stores none of its records", t -> {
      Map<String, Map<String, String>> batch = new HashMap<>(Map.of("good-in-bad-batch", Map.of("f", "v")));
      batch.put("", Map.of("f", "v"));
      t.refused(ErrorCode.INVALID_ARGUMENT, "batchPut", new KvPod.batchPut_args(batch, new WriteOptions(), null),
          new KvPod.batchPut_result());
      assertFalse(t.client.getRecord("good-in-bad-batch").isFound(), "nothing of the refused batch was stored");
    }));
    c.add(Named.of("put whose deadline has passed is not applied", t -> {
      t.refused(ErrorCode.EXPIRED, "put", new KvPod.put_args("late", Map.of("f", "v"),
          new WriteOptions().setDeadlineMillis(System.currentTimeMillis() - 60_000), null), new KvPod.put_result());
      assertFalse(t.client.getRecord("late").isFound(), "the expired write was not applied");
    }));
    c.add(Named.of("get of a key that is not UTF-8", t -> {
      KvPodException e = t.refusedRaw("get", p -> stringField(p, new byte[] {(byte) 0xff, 'a'}),
          new KvPod.get_result(), ErrorCode.INVALID_ARGUMENT);
      assertTrue(e.getMessage().contains("not valid UTF-8"), e.getMessage());
    }));
    // ---- well-framed messages that are not what they claim
    c.add(Named.of("a method the pod does not have", t -> assertEquals(TApplicationException.UNKNOWN_METHOD,
        t.applicationError(message("dropTable", TMessageType.CALL, new KvPod.ping_args())).getType())));
    c.add(Named.of("a container of negative size", t -> t.refusedRaw("batchPut", p -> {
      p.writeFieldBegin(new TField("records", TType.MAP, (short) 1));
      p.writeMapBegin(new TMap(TType.STRING, TType.MAP, -1));
    }, new KvPod.batchPut_result(), ErrorCode.INVALID_ARGUMENT)));
    c.add(Named.of("a container announcing 2^31 - 1 entries in a few bytes", t -> t.refusedRaw("multiGet", p -> {
      p.writeFieldBegin(new TField("keys", TType.LIST, (short) 1));
      p.writeListBegin(new TList(TType.STRING, Integer.MAX_VALUE));
      p.writeString("only-one");
    }, new KvPod.multiGet_result(), ErrorCode.TOO_LARGE)));
    c.add(Named.of("a container announcing more entries than its frame holds", t -> t.refusedRaw("multiGet", p -> {
      p.writeFieldBegin(new TField("keys", TType.LIST, (short) 1));
      p.writeListBegin(new TList(TType.STRING, 50_000));
      p.writeString("only-one");
    }, new KvPod.multiGet_result(), ErrorCode.INVALID_ARGUMENT)));
    c.add(Named.of("a string announcing 1 GiB in a few bytes", t -> t.endsOrRefuses(messageRaw("get",
        TMessageType.CALL, p -> {
          p.writeFieldBegin(new TField("key", TType.STRING, (short) 1));
          p.writeI32(1 << 30);
          p.writeByte((byte) 'k');
        }))));
    c.add(Named.of("structs nested 10,000 deep in an unknown field of ping", t -> {
      TApplicationException x = t.applicationError(messageRaw("ping", TMessageType.CALL, p -> nestStructs(p, 10_000)));
      assertEquals(TApplicationException.PROTOCOL_ERROR, x.getType());
      assertTrue(x.getMessage().contains("nested more than 64 deep"), x.getMessage());
    }));
    c.add(Named.of("lists nested 10,000 deep in an unknown field of get", t -> {
      KvPodException e = t.refusedRaw("get", p -> {
        p.writeFieldBegin(new TField("deep", TType.LIST, (short) 99));
        for (int i = 0; i < 10_000; i++) {
          p.writeListBegin(new TList(TType.LIST, 1));
        }
      }, new KvPod.get_result(), ErrorCode.INVALID_ARGUMENT);
      assertTrue(e.getMessage().contains("nested more than 64 deep"), e.getMessage());
    }));
    c.add(Named.of("an unknown field holding MAX_BATCH + 1 elements", t -> assertEquals(
        TApplicationException.PROTOCOL_ERROR, t.applicationError(messageRaw("ping", TMessageType.CALL, p -> {
          p.writeFieldBegin(new TField("junk", TType.LIST, (short) 9));
          p.writeListBegin(new TList(TType.BYTE, Limits.MAX_BATCH + 1));
          for (int i = 0; i <= Limits.MAX_BATCH; i++) {
            p.writeByte((byte) i);
          }
          p.writeListEnd();
          p.writeFieldEnd();
        })).getType())));
    c.add(Named.of("a reply sent to the pod as if it were a call", t -> assertEquals(
        TApplicationException.INVALID_MESSAGE_TYPE,
        t.applicationError(message("get", TMessageType.REPLY, new KvPod.get_args("user:1", null))).getType())));
    c.add(Named.of("a message of an unknown protocol version", t -> {
      TMemoryBuffer buf = new TMemoryBuffer(64);
      TProtocol p = new TBinaryProtocol(buf);
      p.writeI32(0x80020000 | TMessageType.CALL); // version 2: there is none
      p.writeString("ping");
      p.writeI32(1);
      new KvPod.ping_args().write(p);
      t.endsOrRefuses(bytes(buf));
    }));
    c.add(Named.of("a message in the compact protocol", t -> {
      TMemoryBuffer buf = new TMemoryBuffer(64);
      TProtocol p = new TCompactProtocol(buf);
      p.writeMessageBegin(new TMessage("get", TMessageType.CALL, 1));
      new KvPod.get_args("user:1", null).write(p);
      p.writeMessageEnd();
      t.endsOrRefuses(bytes(buf));
    }));
    // ---- framing
    c.add(Named.of("an HTTP request on the Thrift port", t -> t.closedAfter(
        "GET / HTTP/1.1\r\nHost: pod\r\n\r\n".getBytes(StandardCharsets.US_ASCII))));
    c.add(Named.of("a frame announcing more than MAX_FRAME_BYTES", t -> t.closedAfter(
        ByteBuffer.allocate(4).putInt(Limits.MAX_FRAME_BYTES + 1).array())));
    c.add(Named.of("a frame of negative length", t -> t.closedAfter(ByteBuffer.allocate(4).putInt(-5).array())));
    c.add(Named.of("garbage after a valid frame on the same connection", t -> {
      try (Socket s = t.connect()) {
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        writeFrame(out, message("ping", TMessageType.CALL, new KvPod.ping_args()));
        out.write(new byte[] {0x7f, 0x7f, 0x7f, 0x7f, 1, 2, 3}); // a frame header of 2 GB, then junk
        out.flush();
        byte[] reply = readFrame(new DataInputStream(s.getInputStream()));
        assertNotNull(reply, "the valid call before the garbage was answered");
        assertEquals("ping", new TBinaryProtocol(new TMemoryInputTransport(reply)).readMessageBegin().name);
        assertEnded(s);
      }
    }));
    c.add(Named.of("half a frame, then the client goes away", t -> {
      try (Socket s = t.connect()) {
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        byte[] whole = message("get", TMessageType.CALL, new KvPod.get_args("user:1", null));
        out.writeInt(whole.length);
        out.write(whole, 0, whole.length / 2);
        out.flush();
      }
    }));
    c.add(Named.of("a frame sent in part and never finished is ended at the frame timeout", t -> {
      try (Socket s = t.connect()) {
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        out.writeInt(1000);
        out.write(new byte[10]);
        out.flush();
        long start = System.nanoTime();
        assertEnded(s);
        assertTrue(System.nanoTime() - start >= (t.frameTimeoutMillis() / 2) * 1_000_000L,
            "ended by the frame timeout, not at once");
      }
      PodCluster.await("the pod logs why it ended the connection", 30_000,
          () -> t.pod.logText().contains("was not finished within " + t.frameTimeoutMillis() + " ms"));
    }));
    // ---- pod-to-pod messages: signed, bound to their target, fresh, and never accepted twice
    c.add(Named.of("process() with bytes that are no envelope", t -> t.refused(ErrorCode.UNAUTHENTICATED,
        "process", new KvPod.process_args(ByteBuffer.wrap(new byte[] {1, 2, 3, 4})), new KvPod.process_result())));
    c.add(Named.of("process() signed with another secret", t -> t.refused(ErrorCode.UNAUTHENTICATED, "process",
        processArgs(PeerSigner.tool("not-the-cluster-secret").seal(ping(), 0)), new KvPod.process_result())));
    c.add(Named.of("process() replayed: accepted once, refused the second time", t -> {
      PeerSigner.Sealed sealed = PeerSigner.tool(SECRET).seal(ping(), 0);
      KvPod.process_result first = new KvPod.process_result();
      t.call("process", processArgs(sealed), first);
      assertNull(first.getE(), "the first delivery is genuine");
      assertTrue(first.isSetSuccess());
      KvPodException again = t.refused(ErrorCode.UNAUTHENTICATED, "process", processArgs(sealed),
          new KvPod.process_result());
      assertTrue(again.getMessage().contains("replay"), again.getMessage());
    }));
    c.add(Named.of("process() addressed to another pod", t -> t.refused(ErrorCode.UNAUTHENTICATED, "process",
        processArgs(PeerSigner.tool(SECRET).seal(ping(), 1)), new KvPod.process_result())));
    c.add(Named.of("process() sent ten minutes ago", t -> t.refused(ErrorCode.UNAUTHENTICATED, "process",
        processArgs(new PeerSigner(SECRET, -1, 30_000, () -> System.currentTimeMillis() - 600_000).seal(ping(), 0)),
        new KvPod.process_result())));
    c.add(Named.of("heartbeat() carrying something other than a PING", t -> t.refused(ErrorCode.INVALID_ARGUMENT,
        "heartbeat", new KvPod.heartbeat_args(ByteBuffer.wrap(PeerSigner.tool(SECRET)
            .seal(PeerRequest.refresh(new RefreshRequest()), 0).bytes())), new KvPod.heartbeat_result())));
    // ---- crowds, and a client that reads late
    c.add(Named.of("10,000 idle connections from 10 addresses", AbuseMatrixTest::tenThousandIdleConnections));
    c.add(Named.of("200 calls sent before reading any answer (36 MB of answers): each answered, in order",
        AbuseMatrixTest::pipelinedCallsAnsweredInOrder));
    return c.stream();
  }

  /**
   * A client that sends 200 calls at once and only then reads: gets of a 256 KB value, held by
   * pod 0 (answered on the I/O thread that read them, {@link InlineReads}) with a ping (which
   * never runs there) after every third, so that the pod's answers back up while the client
   * does not read, and the two ways of answering alternate on one connection. Every call is
   * answered, in the order sent (by its sequence id), the gets with the value; and gets were
   * answered inline.
   */
  private void pipelinedCallsAnsweredInOrder() throws Exception {
    String key = null;
    for (int i = 0; key == null; i++) {
      String k = "pipelined-" + i;
      if (io.kvpod.contract.BucketHomes.home(io.kvpod.contract.KeyPartitioner.bucket(k, BUCKETS), podCount()) == 0) {
        key = k;
      }
    }
    Map<String, String> value = Map.of("v", "x".repeat(256 * 1024));
    client.put(key, value);
    double inlineBefore = metric("kvpod_gets_inline_total");
    int calls = 200;
    java.io.ByteArrayOutputStream frames = new java.io.ByteArrayOutputStream();
    for (int i = 0; i < calls; i++) {
      byte[] m = i % 4 == 3 ? message("ping", TMessageType.CALL, new KvPod.ping_args(), i)
          : message("get", TMessageType.CALL, new KvPod.get_args(key, null), i);
      writeFrame(new DataOutputStream(frames), m);
    }
    try (Socket s = connect()) {
      s.getOutputStream().write(frames.toByteArray());
      s.getOutputStream().flush();
      DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
      for (int i = 0; i < calls; i++) {
        byte[] reply = readFrame(in);
        assertNotNull(reply, "call " + i + " of " + calls + " was answered");
        TProtocol p = new TBinaryProtocol(new TMemoryInputTransport(reply));
        TMessage m = p.readMessageBegin();
        assertEquals(i, m.seqid, "answers come in the order of the calls");
        if (i % 4 == 3) {
          assertEquals("ping", m.name);
        } else {
          KvPod.get_result r = new KvPod.get_result();
          r.read(p);
          assertEquals(value, r.getSuccess(), "get " + i + " read the value");
        }
      }
      KvPod.ping_result again = new KvPod.ping_result();
      call(s, "ping", new KvPod.ping_args(), again); // the connection goes on serving
    }
    assertTrue(metric("kvpod_gets_inline_total") > inlineBefore, "some of the gets were answered inline");
  }

  /** The one sample of {@code name} among pod 0's metrics (its {@code /metrics} endpoint). */
  double metric(String name) throws Exception {
    java.net.HttpURLConnection c = (java.net.HttpURLConnection) new java.net.URL(
        "http://127.0.0.1:" + client.status(0).getHttpPort() + "/metrics").openConnection();
    c.setReadTimeout(30_000);
    try (var in = c.getInputStream()) {
      return PrometheusText.value(PrometheusText.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8)), name);
    }
  }

  /**
   * 10,000 idle connections, 1,000 from each of 127.0.0.2 to 127.0.0.11: the pod keeps
   * {@code kvpod.server.max.connections} (4,096) and closes the rest at once; a connection
   * opened before them is still answered while they are open.
   */
  private void tenThousandIdleConnections() throws Exception {
    List<Socket> crowd = java.util.Collections.synchronizedList(new ArrayList<>());
    ExecutorService connectors = Executors.newFixedThreadPool(10); // one per address: a refused SYN waits 1 s
    try (Socket before = connect()) {
      List<Future<?>> done = new ArrayList<>();
      for (int a = 2; a <= 11; a++) {
        InetAddress from = InetAddress.getByName("127.0.0." + a);
        done.add(connectors.submit(() -> {
          for (int i = 0; i < 1_000; i++) {
            Socket s = new Socket();
            crowd.add(s);
            s.bind(new InetSocketAddress(from, 0));
            s.connect(new InetSocketAddress("127.0.0.1", port), 60_000);
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
      KvPod.get_result r = new KvPod.get_result();
      call(before, "get", new KvPod.get_args("user:1", null), r);
      assertEquals(Map.of("name", "choke"), r.getSuccess(), "a connection from before the crowd is served");
      PodCluster.await("the pod says it refuses connections over its limits", 30_000,
          () -> pod.logText().contains("refused a connection from"));
    } finally {
      connectors.shutdownNow();
      synchronized (crowd) {
        for (Socket s : crowd) {
          s.close();
        }
      }
    }
  }

  // ---- helpers: frames on raw sockets

  /** Sends {@code method(args)} on a new connection; fills {@code result} from the reply. */
  void call(String method, TBase<?, ?> args, TBase<?, ?> result) throws Exception {
    try (Socket s = connect()) {
      call(s, method, args, result);
    }
  }

  static void call(Socket s, String method, TBase<?, ?> args, TBase<?, ?> result) throws Exception {
    writeFrame(new DataOutputStream(s.getOutputStream()), message(method, TMessageType.CALL, args));
    byte[] reply = readFrame(new DataInputStream(s.getInputStream()));
    assertNotNull(reply, method + ": the pod closed the connection instead of answering");
    TProtocol p = new TBinaryProtocol(new TMemoryInputTransport(reply));
    TMessage m = p.readMessageBegin();
    if (m.type == TMessageType.EXCEPTION) {
      throw TApplicationException.readFrom(p);
    }
    result.read(p);
  }

  /** Sends the call; asserts that its result carries a KvPodException with {@code code}, and returns it. */
  KvPodException refused(ErrorCode code, String method, TBase<?, ?> args, TBase<?, ?> result)
      throws Exception {
    call(method, args, result);
    return assertRefusal(code, result);
  }

  static KvPodException assertRefusal(ErrorCode code, TBase<?, ?> result) {
    @SuppressWarnings({"unchecked", "rawtypes"})
    KvPodException e = (KvPodException) ((TBase) result).getFieldValue(((TBase) result).fieldForId(1));
    assertNotNull(e, "refused with a KvPodException, not answered: " + result);
    assertEquals(code, e.getCode(), e.getMessage());
    assertFalse(e.getMessage().isBlank(), "the refusal says why");
    return e;
  }

  /** Like {@link #refused}, with the call's arguments written by hand after the struct begins. */
  private KvPodException refusedRaw(String method, Writer fields, TBase<?, ?> result, ErrorCode code)
      throws Exception {
    try (Socket s = connect()) {
      writeFrame(new DataOutputStream(s.getOutputStream()), messageRaw(method, TMessageType.CALL, fields));
      byte[] reply = readFrame(new DataInputStream(s.getInputStream()));
      assertNotNull(reply, method + ": the pod closed the connection instead of answering");
      TProtocol p = new TBinaryProtocol(new TMemoryInputTransport(reply));
      assertEquals(TMessageType.REPLY, p.readMessageBegin().type);
      result.read(p);
      return assertRefusal(code, result);
    }
  }

  /** Sends one framed message that the pod must answer with a TApplicationException. */
  private TApplicationException applicationError(byte[] message) throws Exception {
    try (Socket s = connect()) {
      writeFrame(new DataOutputStream(s.getOutputStream()), message);
      byte[] reply = readFrame(new DataInputStream(s.getInputStream()));
      assertNotNull(reply, "the pod closed the connection instead of answering");
      TProtocol p = new TBinaryProtocol(new TMemoryInputTransport(reply));
      assertEquals(TMessageType.EXCEPTION, p.readMessageBegin().type);
      TApplicationException x = TApplicationException.readFrom(p);
      assertFalse(x.getMessage() == null || x.getMessage().isBlank(), "the error says why");
      return x;
    }
  }

  /**
   * Sends one framed message the pod cannot take: it must either answer with an error (a
   * TApplicationException, or a KvPodException in the result) or end the connection; it must
   * never answer as if the call had succeeded.
   */
  private void endsOrRefuses(byte[] message) throws Exception {
    try (Socket s = connect()) {
      writeFrame(new DataOutputStream(s.getOutputStream()), message);
      byte[] reply = readFrame(new DataInputStream(s.getInputStream()));
      if (reply == null) {
        return; // ended
      }
      TProtocol p = new TBinaryProtocol(new TMemoryInputTransport(reply));
      TMessage m = p.readMessageBegin();
      if (m.type == TMessageType.EXCEPTION) {
        assertNotNull(TApplicationException.readFrom(p).getMessage());
        return;
      }
      assertEquals(TMessageType.REPLY, m.type);
      p.readStructBegin();
      TField f = p.readFieldBegin();
      assertEquals(1, f.id, "the reply must be the call's KvPodException (field 1), not a success");
    }
  }

  /** Sends raw bytes; the pod must end the connection without answering. */
  void closedAfter(byte[] raw) throws Exception {
    try (Socket s = connect()) {
      s.getOutputStream().write(raw);
      s.getOutputStream().flush();
      assertEnded(s);
    }
  }

  static void assertEnded(Socket s) throws IOException {
    try {
      int b;
      while ((b = s.getInputStream().read()) != -1) {
        assertTrue(b >= 0);
      }
    } catch (SocketException | javax.net.ssl.SSLException reset) {
      // a reset ends it too (or, over TLS, a record cut short)
    }
  }

  interface Writer {
    void write(TProtocol p) throws TException;
  }

  static byte[] message(String method, byte type, TBase<?, ?> args) throws TException {
    return message(method, type, args, 1);
  }

  static byte[] message(String method, byte type, TBase<?, ?> args, int seqid) throws TException {
    TMemoryBuffer buf = new TMemoryBuffer(1 << 16);
    TProtocol p = new TBinaryProtocol(buf);
    p.writeMessageBegin(new TMessage(method, type, seqid));
    args.write(p);
    p.writeMessageEnd();
    return bytes(buf);
  }

  /** A message whose argument struct holds what {@code fields} writes, then a stop. */
  private static byte[] messageRaw(String method, byte type, Writer fields) throws TException {
    TMemoryBuffer buf = new TMemoryBuffer(1 << 16);
    TProtocol p = new TBinaryProtocol(buf);
    p.writeMessageBegin(new TMessage(method, type, 1));
    p.writeStructBegin(new TStruct(method + "_args"));
    fields.write(p);
    p.writeFieldStop();
    p.writeStructEnd();
    p.writeMessageEnd();
    return bytes(buf);
  }

  private static void nestStructs(TProtocol p, int depth) throws TException {
    for (int i = 0; i < depth; i++) {
      p.writeFieldBegin(new TField("deep", TType.STRUCT, (short) 99));
    }
  }

  private static void stringField(TProtocol p, byte[] value) throws TException {
    p.writeFieldBegin(new TField("key", TType.STRING, (short) 1));
    p.writeBinary(ByteBuffer.wrap(value));
    p.writeFieldEnd();
  }

  private static byte[] bytes(TMemoryBuffer buf) {
    return java.util.Arrays.copyOf(buf.getArray(), buf.length());
  }

  static void writeFrame(DataOutputStream out, byte[] message) throws IOException {
    out.writeInt(message.length);
    out.write(message);
    out.flush();
  }

  /** The next frame's bytes, or null if the pod ended the connection (or reset it) first. */
  static byte[] readFrame(DataInputStream in) throws IOException {
    try {
      int n = in.readInt();
      byte[] b = new byte[n];
      in.readFully(b);
      return b;
    } catch (EOFException | SocketException ended) {
      return null;
    }
  }

  private static PeerRequest ping() {
    return PeerRequest.ping(new PingRequest());
  }

  private static KvPod.process_args processArgs(PeerSigner.Sealed sealed) {
    return new KvPod.process_args(ByteBuffer.wrap(sealed.bytes()));
  }

  private static Map<String, String> fields(int n) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i < n; i++) {
      m.put("f" + i, "");
    }
    return m;
  }

  private static Map<String, Map<String, String>> records(int n) {
    Map<String, Map<String, String>> m = new HashMap<>();
    Map<String, String> v = Map.of("f", "v");
    for (int i = 0; i < n; i++) {
      m.put("k" + i, v);
    }
    return m;
  }
}
