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

/** How a selector thread reads a get's key from its frame without consuming it. */
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
    TMemoryInputTransport t = new TMemoryInputTransport(frame("get", new KvPod.get_args("user:\u00e9")));
    TProtocol in = new TBinaryProtocol(t);
    assertEquals("get", in.readMessageBegin().name);
    int at = t.getBufferPosition();
    assertArrayEquals("user:\u00e9".getBytes(StandardCharsets.UTF_8), InlineReads.peekKey(t));
    assertEquals(at, t.getBufferPosition(), "the worker or the inline call decodes the arguments from here");
    KvPod.get_args args = new KvPod.get_args();
    args.read(in);
    assertEquals("user:\u00e9", args.getKey());
  }

  @Test
  void argumentsThatDoNotStartWithAStringKeyGiveNoKey() throws Exception {
    TMemoryInputTransport t = new TMemoryInputTransport(frame("multiGet", new KvPod.multiGet_args(List.of("a"))));
    new TBinaryProtocol(t).readMessageBegin();
    assertNull(InlineReads.peekKey(t));
    TMemoryInputTransport cut = new TMemoryInputTransport(new byte[] {11, 0, 1, 0, 0, 0, 9, 'a'}); // 9 bytes announced, 1 sent
    assertNull(InlineReads.peekKey(cut));
  }
}
