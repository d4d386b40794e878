package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.Limits;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPod;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.WriteOptions;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.thrift.TApplicationException;
import org.apache.thrift.TBase;
import org.apache.thrift.TException;
import org.apache.thrift.protocol.TBinaryProtocol;
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
import org.apache.thrift.transport.layered.TFramedTransport;
import org.junit.jupiter.api.Test;

/** Requests whose arguments cannot be decoded get the method's KvPodException, in memory. */
class ContractProcessorTest {
  private final AtomicInteger served = new AtomicInteger();
  private final ContractProcessor processor = new ContractProcessor(new Service());
  /** The pod's decode budget, and one call's share of it: the pod's defaults unless a test changes them. */
  private DecodeBudget budget = new DecodeBudget(256L << 20);
  private long perCall = 128L << 20;

  private StrictBinaryProtocol strict(org.apache.thrift.transport.TTransport t) {
    return new StrictBinaryProtocol(t, budget, perCall);
  }

  /** {@code n} records of one short field each. */
  private static Map<String, Map<String, String>> records(int n) {
    Map<String, Map<String, String>> records = new HashMap<>();
    for (int i = 0; i < n; i++) {
      records.put("key-" + i, Map.of("f", "v" + i));
    }
    return records;
  }

  private KvPodException batchPutRefusal(Map<String, Map<String, String>> records) throws TException {
    KvPod.batchPut_result r = new KvPod.batchPut_result();
    reply(call("batchPut", new KvPod.batchPut_args(records, new WriteOptions(), null)), r);
    return r.getE();
  }

  @Test
  void aValueInABatchWithMoreThanMaxFieldsIsRefusedBeforeItIsBuilt() throws Exception {
    Map<String, String> wide = new HashMap<>();
    for (int i = 0; i <= Limits.MAX_FIELDS; i++) {
      wide.put("f" + i, "");
    }
    KvPodException e = batchPutRefusal(Map.of("k", wide));
    assertEquals(ErrorCode.TOO_LARGE, e.getCode());
    assertTrue(e.getMessage().contains("MAX_FIELDS=" + Limits.MAX_FIELDS), e.getMessage());
    assertEquals(0, served.get());
    assertEquals(0, budget.used(), "the budget is given back");
  }

  @Test
  void aCallThatWouldDecodeToMoreThanItsShareOfHeapIsRefusedAsTooLarge() throws Exception {
    perCall = 1L << 20;
    KvPodException e = batchPutRefusal(records(20_000)); // about 5 MiB decoded
    assertEquals(ErrorCode.TOO_LARGE, e.getCode());
    assertTrue(e.getMessage().contains("kvpod.server.max.decode.bytes.per.call"), e.getMessage());
    assertEquals(0, served.get());
    assertEquals(0, budget.used(), "the budget is given back");
    KvPod.batchPut_result ok = new KvPod.batchPut_result();
    reply(call("batchPut", new KvPod.batchPut_args(records(1_000), new WriteOptions(), null)), ok);
    assertTrue(ok.isSuccess(), "a batch within its share is decoded and served");
  }

  @Test
  void whenOtherCallsHoldThePodsBudgetACallIsRefusedAsBusyAndServedOnceTheyGiveItBack() throws Exception {
    budget = new DecodeBudget(4L << 20);
    perCall = 4L << 20;
    long others = (4L << 20) - (100 << 10);
    assertTrue(budget.tryTake(others), "other connections' calls hold all but 100 KiB");
    KvPodException e = batchPutRefusal(records(5_000)); // about 1.3 MiB decoded
    assertEquals(ErrorCode.BUSY, e.getCode());
    assertTrue(e.isRetriable(), "nothing was applied: BUSY is retriable");
    assertTrue(e.getMessage().contains("kvpod.server.max.decode.bytes"), e.getMessage());
    assertEquals(0, served.get());
    assertEquals(others, budget.used(), "the refused call holds nothing");
    budget.giveBack(others);
    KvPod.batchPut_result ok = new KvPod.batchPut_result();
    reply(call("batchPut", new KvPod.batchPut_args(records(5_000), new WriteOptions(), null)), ok);
    assertTrue(ok.isSuccess());
    assertEquals(1, served.get());
    assertEquals(0, budget.used(), "a served call gives back all it took");
  }

  @Test
  void aConnectionLostInTheMiddleOfACallGivesItsBudgetBack() throws Exception {
    byte[] whole = frame("batchPut", 1, new KvPod.batchPut_args(records(5_000), new WriteOptions(), null));
    byte[] cut = java.util.Arrays.copyOf(whole, whole.length / 2);
    TMemoryInputTransport frames = new TMemoryInputTransport(cut);
    TMemoryBuffer out = new TMemoryBuffer(256);
    assertThrows(org.apache.thrift.transport.TTransportException.class,
        () -> processor.process(strict(new TFramedTransport(frames)), new TBinaryProtocol(out)));
    assertEquals(0, served.get());
    assertEquals(0, budget.used());
  }

  @Test
  void aBatchOverMaxBatchIsRefusedAsTooLargeBeforeTheServiceSeesIt() throws Exception {
    Map<String, Map<String, String>> records = new HashMap<>();
    for (int i = 0; i <= Limits.MAX_BATCH; i++) {
      records.put("k" + i, Map.of());
    }
    KvPod.batchPut_result r = new KvPod.batchPut_result();
    reply(call("batchPut", new KvPod.batchPut_args(records, new WriteOptions(), null)), r);
    assertEquals(ErrorCode.TOO_LARGE, r.getE().getCode());
    assertTrue(r.getE().getMessage().contains("MAX_BATCH=" + Limits.MAX_BATCH), r.getE().getMessage());
    assertEquals(0, served.get());
  }

  @Test
  void aMultiGetOverMaxBatchIsRefusedAsTooLarge() throws Exception {
    List<String> keys = new java.util.ArrayList<>();
    for (int i = 0; i <= Limits.MAX_BATCH; i++) {
      keys.add("k" + i);
    }
    KvPod.multiGet_result r = new KvPod.multiGet_result();
    reply(call("multiGet", new KvPod.multiGet_args(keys, null)), r);
    assertEquals(ErrorCode.TOO_LARGE, r.getE().getCode());
    assertEquals(0, served.get());
  }

  @Test
  void aRefusedRequestLeavesNothingBehindForTheNextRequestOnTheConnection() throws Exception {
    // Two frames on one connection, as the server reads them: a refused batch, then a get.
    Map<String, Map<String, String>> records = new HashMap<>();
    for (int i = 0; i <= Limits.MAX_BATCH; i++) {
      records.put("k" + i, Map.of("a", "b"));
    }
    byte[] batchFrame = frame("batchPut", 1, new KvPod.batchPut_args(records, new WriteOptions(), null));
    byte[] getFrame = frame("get", 2, new KvPod.get_args("next", null));

    // As libthrift's nonblocking server does: one framed transport and protocol per
    // connection, over a memory transport that it resets to each frame it has read.
    TMemoryInputTransport frames = new TMemoryInputTransport();
    TProtocol in = strict(new TFramedTransport(frames));
    TMemoryBuffer out = new TMemoryBuffer(256);
    frames.reset(batchFrame);
    processor.process(in, new TBinaryProtocol(out));
    frames.reset(getFrame);
    processor.process(in, new TBinaryProtocol(out));
    TProtocol replies = new TBinaryProtocol(new TMemoryInputTransport(java.util.Arrays.copyOf(out.getArray(),
        out.length())));
    replies.readMessageBegin();
    KvPod.batchPut_result refused = new KvPod.batchPut_result();
    refused.read(replies);
    assertEquals(ErrorCode.TOO_LARGE, refused.getE().getCode());
    TMessage second = replies.readMessageBegin();
    assertEquals(2, second.seqid);
    KvPod.get_result got = new KvPod.get_result();
    got.read(replies);
    assertEquals(Map.of("key", "next"), got.getSuccess());
  }

  @Test
  void aNegativeContainerSizeIsRefusedAsInvalidArgument() throws Exception {
    TMemoryBuffer buf = new TMemoryBuffer(64);
    TProtocol p = new TBinaryProtocol(buf);
    p.writeMessageBegin(new TMessage("batchPut", TMessageType.CALL, 1));
    p.writeStructBegin(new TStruct("batchPut_args"));
    p.writeFieldBegin(new TField("records", TType.MAP, (short) 1));
    p.writeMapBegin(new TMap(TType.STRING, TType.MAP, -1));
    p.writeMapEnd();
    p.writeFieldEnd();
    p.writeFieldStop();
    p.writeStructEnd();
    p.writeMessageEnd();
    KvPod.batchPut_result r = new KvPod.batchPut_result();
    reply(process(buf), r);
    assertEquals(ErrorCode.INVALID_ARGUMENT, r.getE().getCode());
    assertEquals(0, served.get());
  }

  @Test
  void aKeyThatIsNotUtf8IsRefusedRatherThanStoredUnderReplacementCharacters() throws Exception {
    for (byte[] key : new byte[][] {{(byte) 0xff, 'a'}, {'a', (byte) 0xc3}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80}}) {
      KvPod.get_result r = new KvPod.get_result();
      reply(rawStringCall("get", key), r);
      assertEquals(ErrorCode.INVALID_ARGUMENT, r.getE().getCode());
      assertTrue(r.getE().getMessage().contains("not valid UTF-8"), r.getE().getMessage());
    }
    assertEquals(0, served.get());
  }

  @Test
  void wellFormedCallsReachTheService() throws Exception {
    KvPod.get_result r = new KvPod.get_result();
    reply(rawStringCall("get", "ключ".getBytes(StandardCharsets.UTF_8)), r);
    assertNull(r.getE());
    assertEquals(Map.of("key", "ключ"), r.getSuccess());
    assertEquals(1, served.get());
  }

  @Test
  void anUnexpectedErrorInTheServiceIsAnInternalKvPodException() throws Exception {
    KvPod.multiGet_result r = new KvPod.multiGet_result();
    reply(call("multiGet", new KvPod.multiGet_args(List.of("boom"), null)), r);
    assertEquals(ErrorCode.INTERNAL, r.getE().getCode());
    assertTrue(r.getE().getMessage().contains("a bug in the service"), r.getE().getMessage());
  }

  @Test
  void aMethodWithoutDeclaredExceptionsGetsAProtocolError() throws Exception {
    TMemoryBuffer buf = new TMemoryBuffer(Limits.MAX_BATCH + 64);
    TProtocol p = new TBinaryProtocol(buf);
    p.writeMessageBegin(new TMessage("ping", TMessageType.CALL, 7));
    p.writeStructBegin(new TStruct("ping_args"));
    p.writeFieldBegin(new TField("junk", TType.LIST, (short) 9)); // an unknown field, skipped
    p.writeListBegin(new TList(TType.BYTE, Limits.MAX_BATCH + 1)); // but bounded: refused here
    for (int i = 0; i <= Limits.MAX_BATCH; i++) {
      p.writeByte((byte) i);
    }
    p.writeListEnd();
    p.writeFieldEnd();
    p.writeFieldStop();
    p.writeStructEnd();
    p.writeMessageEnd();
    TApplicationException x = applicationError(process(buf), "ping");
    assertEquals(TApplicationException.PROTOCOL_ERROR, x.getType());
  }

  @Test
  void anUnknownMethodGetsUnknownMethod() throws Exception {
    TMemoryBuffer buf = new TMemoryBuffer(64);
    TProtocol p = new TBinaryProtocol(buf);
    p.writeMessageBegin(new TMessage("drop", TMessageType.CALL, 3));
    new KvPod.ping_args().write(p);
    p.writeMessageEnd();
    assertEquals(TApplicationException.UNKNOWN_METHOD, applicationError(process(buf), "drop").getType());
  }

  @Test
  void aRefusedCallIsAnsweredAsTheMethodsKvPodExceptionWithoutRunning() throws Exception {
    KvPodException why = new KvPodException(ErrorCode.UNAUTHENTICATED, "no client certificate");
    byte[] get = refuse("get", new KvPod.get_args("user:1", null), why);
    KvPod.get_result r = new KvPod.get_result();
    reply(get, r);
    assertEquals(ErrorCode.UNAUTHENTICATED, r.getE().getCode());
    assertEquals("no client certificate", r.getE().getMessage());
    // ping declares no KvPodException: the refusal comes as a TApplicationException, as libthrift answers
    TApplicationException ping = applicationError(refuse("ping", new KvPod.ping_args(), why), "ping");
    assertEquals("no client certificate", ping.getMessage());
    assertEquals(0, served.get(), "neither call ran");
  }

  private byte[] refuse(String method, TBase<?, ?> args, KvPodException why) throws TException {
    TMemoryBuffer buf = new TMemoryBuffer(256);
    TProtocol p = new TBinaryProtocol(buf);
    p.writeMessageBegin(new TMessage(method, TMessageType.CALL, 7));
    args.write(p);
    p.writeMessageEnd();
    TProtocol in = strict(new TMemoryInputTransport(java.util.Arrays.copyOf(buf.getArray(), buf.length())));
    TMemoryBuffer out = new TMemoryBuffer(256);
    processor.refuseCall(in.readMessageBegin(), in, new TBinaryProtocol(out), why);
    return java.util.Arrays.copyOf(out.getArray(), out.length());
  }

  /** One framed request: its 4-byte length, then the message. */
  private static byte[] frame(String method, int seqid, TBase<?, ?> args) throws TException {
    TMemoryBuffer wire = new TMemoryBuffer(1 << 20);
    TFramedTransport framed = new TFramedTransport(wire);
    TProtocol p = new TBinaryProtocol(framed);
    p.writeMessageBegin(new TMessage(method, TMessageType.CALL, seqid));
    args.write(p);
    p.writeMessageEnd();
    framed.flush();
    return java.util.Arrays.copyOf(wire.getArray(), wire.length());
  }

  private byte[] call(String method, TBase<?, ?> args) throws TException {
    TMemoryBuffer buf = new TMemoryBuffer(1 << 20);
    TProtocol p = new TBinaryProtocol(buf);
    p.writeMessageBegin(new TMessage(method, TMessageType.CALL, 1));
    args.write(p);
    p.writeMessageEnd();
    return process(buf);
  }

  /** A call of {@code method} whose field 1 is a string of exactly {@code bytes}. */
  private byte[] rawStringCall(String method, byte[] bytes) throws TException {
    TMemoryBuffer buf = new TMemoryBuffer(64);
    TProtocol p = new TBinaryProtocol(buf);
    p.writeMessageBegin(new TMessage(method, TMessageType.CALL, 1));
    p.writeStructBegin(new TStruct(method + "_args"));
    p.writeFieldBegin(new TField("key", TType.STRING, (short) 1));
    p.writeBinary(ByteBuffer.wrap(bytes));
    p.writeFieldEnd();
    p.writeFieldStop();
    p.writeStructEnd();
    p.writeMessageEnd();
    return process(buf);
  }

  private byte[] process(TMemoryBuffer request) throws TException {
    byte[] in = java.util.Arrays.copyOf(request.getArray(), request.length());
    TMemoryBuffer out = new TMemoryBuffer(256);
    processor.process(strict(new TMemoryInputTransport(in)), new TBinaryProtocol(out));
    return java.util.Arrays.copyOf(out.getArray(), out.length());
  }

  private static void reply(byte[] bytes, TBase<?, ?> result) throws TException {
    TProtocol p = new TBinaryProtocol(new TMemoryInputTransport(bytes));
    assertEquals(TMessageType.REPLY, p.readMessageBegin().type);
    result.read(p);
  }

  private static TApplicationException applicationError(byte[] bytes, String method) throws TException {
    TProtocol p = new TBinaryProtocol(new TMemoryInputTransport(bytes));
    TMessage m = p.readMessageBegin();
    assertEquals(TMessageType.EXCEPTION, m.type);
    assertEquals(method, m.name);
    return TApplicationException.readFrom(p);
  }

  /** Answers get with the key it was given; counts the calls that reach it. */
  private final class Service implements KvPod.Iface {
    @Override
    public Map<String, String> get(String key, String table) {
      served.incrementAndGet();
      return Map.of("key", key);
    }

    @Override
    public boolean put(String key, Map<String, String> value, WriteOptions options, String table) {
      served.incrementAndGet();
      return true;
    }

    @Override
    public boolean batchPut(Map<String, Map<String, String>> records, WriteOptions options,
        String table) {
      served.incrementAndGet();
      return true;
    }

    @Override
    public Map<String, Map<String, String>> multiGet(List<String> keys, String table) {
      served.incrementAndGet();
      if (keys.contains("boom")) {
        throw new IllegalStateException("a bug in the service");
      }
      return Map.of();
    }

    @Override
    public io.kvpod.thrift.Lookup getRecord(String key, String table) {
      served.incrementAndGet();
      return new io.kvpod.thrift.Lookup(false);
    }

    @Override
    public Map<String, io.kvpod.thrift.Record> multiGetRecords(List<String> keys, String table) {
      served.incrementAndGet();
      return Map.of();
    }

    @Override
    public boolean remove(String key, WriteOptions options, String table) {
      served.incrementAndGet();
      return true;
    }

    @Override
    public List<ByteBuffer> multiGetEncoded(List<String> keys, String table) {
      served.incrementAndGet();
      return List.of();
    }

    @Override
    public boolean batchPutEncoded(Map<String, ByteBuffer> records, WriteOptions options, String table) {
      served.incrementAndGet();
      return true;
    }

    @Override
    public ByteBuffer process(ByteBuffer input) throws KvPodException {
      throw new KvPodException(ErrorCode.UNSUPPORTED, "not here");
    }

    @Override
    public ByteBuffer heartbeat(ByteBuffer input) throws KvPodException {
      throw new KvPodException(ErrorCode.UNSUPPORTED, "not here");
    }

    @Override
    public PodStatus status(String table) throws KvPodException {
      throw new KvPodException(ErrorCode.UNSUPPORTED, "not here");
    }

    @Override
    public void ping() {
      served.incrementAndGet();
    }
  }
}
