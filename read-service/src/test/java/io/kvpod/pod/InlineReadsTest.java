package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.kvpod.thrift.KvPod;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.protocol.TMessage;
import org.apache.thrift.protocol.TMessageType;
import org.apache.thrift.protocol.TProtocol;
import org.apache.thrift.transport.TMemoryBuffer;
import org.apache.thrift.transport.TMemoryInputTransport;
import org.junit.jupiter.api.Test;

/** How an I/O thread reads a get's key, or a multiGet's keys, from its frame without consuming it. */
class InlineReadsTest {
  /** A whole call frame (no length prefix) of {@code method} with {@code args}. */
  private static byte[] frame(String method, org.apache.thrift.TBase<?, ?> args) throws Exception {
    TMemoryBuffer buf = new TMemoryBuffer(256);
    TProtocol out = new TBinaryProtocol(buf);
    out.writeMessageBegin(new TMessage(method, TMessageType.CALL, 7));
    args.write(out);
    out.writeMessageEnd();
    return java.util.Arrays.copyOf(buf.getArray(), buf.length());
  }

  @Test
  void theKeyOfAGetIsReadWithoutMovingTheFrame() throws Exception {
    TMemoryInputTransport t = new TMemoryInputTransport(frame("get", new KvPod.get_args("user:\u00e9", null)));
    TProtocol in = new TBinaryProtocol(t);
    assertEquals("get", in.readMessageBegin().name);
    int at = t.getBufferPosition();
    assertArrayEquals("user:\u00e9".getBytes(StandardCharsets.UTF_8), InlineReads.peek(t, false, 1).keys()[0]);
    assertEquals(at, t.getBufferPosition(), "the worker or the inline call decodes the arguments from here");
    KvPod.get_args args = new KvPod.get_args();
    args.read(in);
    assertEquals("user:\u00e9", args.getKey());
  }

  @Test
  void argumentsThatDoNotStartWithAStringKeyGiveNoKey() throws Exception {
    TMemoryInputTransport t = new TMemoryInputTransport(frame("multiGet", new KvPod.multiGet_args(List.of("a"), null)));
    new TBinaryProtocol(t).readMessageBegin();
    assertNull(InlineReads.peek(t, false, 1));
    TMemoryInputTransport cut = new TMemoryInputTransport(new byte[] {11, 0, 1, 0, 0, 0, 9, 'a'}); // 9 bytes announced, 1 sent
    assertNull(InlineReads.peek(cut, false, 1));
  }

  @Test
  void theKeysOfAMultiGetAreReadWithoutMovingTheFrame() throws Exception {
    List<String> keys = List.of("a", "user:\u00e9", "c");
    TMemoryInputTransport t = new TMemoryInputTransport(frame("multiGet", new KvPod.multiGet_args(keys, null)));
    TProtocol in = new TBinaryProtocol(t);
    in.readMessageBegin();
    int at = t.getBufferPosition();
    byte[][] peeked = InlineReads.peek(t, true, 3).keys();
    assertEquals(3, peeked.length);
    for (int i = 0; i < 3; i++) {
      assertArrayEquals(keys.get(i).getBytes(StandardCharsets.UTF_8), peeked[i]);
    }
    assertEquals(at, t.getBufferPosition());
    KvPod.multiGet_args args = new KvPod.multiGet_args();
    args.read(in);
    assertEquals(keys, args.getKeys());
  }

  @Test
  void theTableACallNamesIsReadAfterItsKeysAndNoneIsNull() throws Exception {
    TMemoryInputTransport t = new TMemoryInputTransport(frame("get", new KvPod.get_args("k", "orders")));
    new TBinaryProtocol(t).readMessageBegin();
    InlineReads.Call get = InlineReads.peek(t, false, 1);
    assertArrayEquals("k".getBytes(StandardCharsets.UTF_8), get.keys()[0]);
    assertEquals("orders", get.table());
    TMemoryInputTransport m = new TMemoryInputTransport(frame("multiGetRecords",
        new KvPod.multiGetRecords_args(List.of("a", "b"), "users")));
    new TBinaryProtocol(m).readMessageBegin();
    assertEquals("users", InlineReads.peek(m, true, 2).table());
    TMemoryInputTransport seed = new TMemoryInputTransport(frame("get", new KvPod.get_args("k", null)));
    new TBinaryProtocol(seed).readMessageBegin();
    assertNull(InlineReads.peek(seed, false, 1).table(), "a seed call names no table: the default one");
  }

  @Test
  void moreKeysThanTheLimitOrNoListGiveNoKeys() throws Exception {
    TMemoryInputTransport t = new TMemoryInputTransport(frame("multiGet",
        new KvPod.multiGet_args(List.of("a", "b", "c"), null)));
    new TBinaryProtocol(t).readMessageBegin();
    assertNull(InlineReads.peek(t, true, 2), "three keys, two allowed");
    TMemoryInputTransport get = new TMemoryInputTransport(frame("get", new KvPod.get_args("a", null)));
    new TBinaryProtocol(get).readMessageBegin();
    assertNull(InlineReads.peek(get, true, 10), "a get has no list");
    // field 1, a list of 2 strings, whose second is cut short
    TMemoryInputTransport cut = new TMemoryInputTransport(new byte[] {15, 0, 1, 11, 0, 0, 0, 2, 0, 0, 0, 1, 'a', 0, 0, 0, 5});
    assertNull(InlineReads.peek(cut, true, 10));
  }
}
