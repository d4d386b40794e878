package io.kvpod.pod;

import io.kvpod.contract.Limits;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import org.apache.thrift.TException;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.protocol.TList;
import org.apache.thrift.protocol.TMap;
import org.apache.thrift.protocol.TMessage;
import org.apache.thrift.protocol.TProtocol;
import org.apache.thrift.protocol.TProtocolException;
import org.apache.thrift.protocol.TProtocolFactory;
import org.apache.thrift.protocol.TSet;
import org.apache.thrift.protocol.TStruct;
import org.apache.thrift.transport.TTransport;

/**
 * The binary protocol as pods read it: strings must be well-formed UTF-8, and strings,
 * containers and the heap a call decodes to are bounded before anything is allocated.
 *
 * <p>libthrift's own {@code readString} decodes malformed UTF-8 into U+FFFD replacement
 * characters, so two different byte keys could land on one record. Here a malformed string
 * fails the read with {@link TProtocolException#INVALID_DATA}; {@link ContractProcessor}
 * answers it as {@code INVALID_ARGUMENT}. kvpod keys and values are text: bytes that are not
 * UTF-8 are refused, never stored.
 *
 * <p>Bounds, each checked before the thing is built:
 * <ul>
 *   <li>a string at most one frame ({@link Limits#MAX_FRAME_BYTES}), a container at most
 *       {@link Limits#MAX_BATCH} elements, and a container inside a container (a value in a
 *       batch) at most {@link Limits#MAX_FIELDS}: {@link TProtocolException#SIZE_LIMIT},
 *       answered as {@code TOO_LARGE};</li>
 *   <li>the heap one call decodes to at most {@code perCall} bytes (SIZE_LIMIT, so
 *       {@code TOO_LARGE}), taken from the pod's {@link DecodeBudget} as the call is decoded
 *       ({@link DecodeBudget.Exhausted}, answered as a retriable {@code BUSY}, if other calls
 *       hold it).</li>
 * </ul>
 * Heap is counted as {@value #ENTRY_BYTES} bytes per map entry, {@value #ELEMENT_BYTES} per
 * list or set element, and {@value #STRING_BYTES} per string plus its length (twice its
 * length if not ASCII): about what a HashMap node, a list slot and a String with its array
 * take on a 64-bit JVM. {@code binary} fields are slices of the frame and count nothing.
 *
 * <p>The budget is taken per call: {@link ContractProcessor} calls {@link #releaseDecoded}
 * once the call is answered (or refused), and {@link #readMessageBegin} releases anything a
 * failed call left. Writing is libthrift's. Not thread-safe, like every protocol: one per
 * connection, which runs one call at a time.
 */
final class StrictBinaryProtocol extends TBinaryProtocol {
  static final int ENTRY_BYTES = 48;
  static final int ELEMENT_BYTES = 16;
  static final int STRING_BYTES = 56;
  /** The deepest that structs and containers may nest in a call (see {@link #checkNesting}). */
  static final int MAX_NESTING = 64;
  /** Taken from the pod's budget at least this much at a time, so small calls touch it once. */
  private static final long CHUNK = 256 << 10;

  /** Strict: malformed input is an error, never a replacement character. One per protocol. */
  private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT)
      .onUnmappableCharacter(CodingErrorAction.REPORT);
  private final DecodeBudget pod;
  private final long perCall;
  /** Heap counted for the call being decoded, and how much of the pod's budget it holds. */
  private long counted;
  private long held;
  /** Containers open around the element being read. */
  private int depth;
  /** Structs open around the element being read (the call's arguments are the first). */
  private int structs;
  /** True while the message header is read. */
  private boolean header;

  StrictBinaryProtocol(TTransport transport, DecodeBudget pod, long perCall) {
    super(transport, Limits.MAX_FRAME_BYTES, Limits.MAX_BATCH, false, true);
    this.pod = pod;
    this.perCall = perCall;
  }

  /** Makes a {@link StrictBinaryProtocol} for each server connection, all sharing {@code pod}. */
  static TProtocolFactory factory(DecodeBudget pod, long perCall) {
    return t -> new StrictBinaryProtocol(t, pod, perCall);
  }

  /** Gives back the pod's budget that the last call held. Idempotent. */
  void releaseDecoded() {
    if (held > 0) {
      pod.giveBack(held);
    }
    held = 0;
    counted = 0;
    depth = 0;
    structs = 0;
  }

  /** Counts {@code bytes} more for this call, taking them from the pod's budget first. */
  private void count(long bytes) throws TProtocolException {
    long want = counted + bytes;
    if (want > perCall) {
      throw new TProtocolException(TProtocolException.SIZE_LIMIT, "decoding this call would take more than "
          + (perCall >> 20) + " MiB of heap (kvpod.server.max.decode.bytes.per.call); send smaller batches");
    }
    if (want > held) {
      long need = want - held;
      long chunk = Math.min(Math.max(CHUNK, need), perCall - held);
      if (pod.tryTake(chunk)) {
        held += chunk;
      } else if (chunk > need && pod.tryTake(need)) { // short of a whole chunk: just what this call needs now
        held += need;
      } else {
        throw new DecodeBudget.Exhausted("the pod is decoding as many calls as its memory allows ("
            + (pod.limit() >> 20) + " MiB, kvpod.server.max.decode.bytes); nothing was applied: retry shortly");
      }
    }
    counted = want;
  }

  @Override
  public TMessage readMessageBegin() throws TException {
    releaseDecoded();
    header = true; // the method name is read uncounted: a refusal must know whom it answers
    try {
      return super.readMessageBegin();
    } finally {
      header = false;
    }
  }

  /** Counts a container of {@code size} elements at {@code bytesEach} as it opens. */
  private void opened(int size, int bytesEach) throws TProtocolException {
    count((long) size * bytesEach);
    depth++;
    checkNesting();
  }

  /**
   * Structs and containers may nest at most {@link #MAX_NESTING} deep. kvpod's own calls nest
   * four deep at most; deeper ones can only be unknown fields, which libthrift skips by
   * recursion, so a frame of 10,000 nested structs would otherwise overflow the stack of
   * the thread decoding it.
   */
  private void checkNesting() throws TProtocolException {
    if (depth + structs > MAX_NESTING) {
      throw new TProtocolException(TProtocolException.DEPTH_LIMIT, "structs and containers nested more than "
          + MAX_NESTING + " deep");
    }
  }

  @Override
  public TStruct readStructBegin() throws TException {
    structs++;
    checkNesting();
    return super.readStructBegin();
  }

  @Override
  public void readStructEnd() {
    structs--;
  }

  /*
   * libthrift checks a container's announced size against the bytes left of the frame before
   * it checks it against the container limit, and reports the first as a transport failure,
   * which ends the connection. These answer both as the call's refusal instead: a size over
   * MAX_BATCH is TOO_LARGE, a size the frame cannot hold is malformed.
   */

  @Override
  public void checkReadBytesAvailable(TMap map) throws TException {
    fits("a map", map.size, getMinSerializedSize(map.keyType) + getMinSerializedSize(map.valueType));
    super.checkReadBytesAvailable(map);
  }

  @Override
  public void checkReadBytesAvailable(TList list) throws TException {
    fits("a list", list.size, getMinSerializedSize(list.elemType));
    super.checkReadBytesAvailable(list);
  }

  @Override
  public void checkReadBytesAvailable(TSet set) throws TException {
    fits("a set", set.size, getMinSerializedSize(set.elemType));
    super.checkReadBytesAvailable(set);
  }

  /** Refuses a container over MAX_BATCH, or one whose elements cannot fit in the rest of the frame. */
  private void fits(String what, int size, int minBytesEach) throws TProtocolException {
    if (size > Limits.MAX_BATCH) {
      throw new TProtocolException(TProtocolException.SIZE_LIMIT, what + " of " + size + " elements");
    }
    int left = getTransport().getBytesRemainingInBuffer(); // the whole frame is in memory; -1 if not
    if (left >= 0 && (long) size * minBytesEach > left) {
      throw new TProtocolException(TProtocolException.INVALID_DATA, what + " of " + size
          + " elements announces more than the " + left + " bytes left of its frame");
    }
  }

  @Override
  public TMap readMapBegin() throws TException {
    TMap m = super.readMapBegin(); // size checked against MAX_BATCH and the bytes left
    if (depth > 0 && m.size > Limits.MAX_FIELDS) {
      throw new TProtocolException(TProtocolException.SIZE_LIMIT, "a value of " + m.size
          + " fields; a value holds at most MAX_FIELDS=" + Limits.MAX_FIELDS);
    }
    opened(m.size, ENTRY_BYTES);
    return m;
  }

  @Override
  public TList readListBegin() throws TException {
    TList l = super.readListBegin();
    opened(l.size, ELEMENT_BYTES);
    return l;
  }

  @Override
  public TSet readSetBegin() throws TException {
    TSet t = super.readSetBegin();
    opened(t.size, ELEMENT_BYTES);
    return t;
  }

  @Override
  public void readMapEnd() {
    depth--;
  }

  @Override
  public void readListEnd() {
    depth--;
  }

  @Override
  public void readSetEnd() {
    depth--;
  }

  @Override
  public String readString() throws TException {
    ByteBuffer bytes = readBinary(); // length-checked by the protocol before it reads
    int length = bytes.remaining();
    boolean ascii = isAscii(bytes);
    if (!header) {
      count(STRING_BYTES + (ascii ? length : 2L * length));
    }
    if (ascii) { // the common case: no decoder needed
      return new String(bytes.array(), bytes.arrayOffset() + bytes.position(), length, StandardCharsets.US_ASCII);
    }
    try {
      return utf8.reset().decode(bytes).toString();
    } catch (CharacterCodingException e) {
      throw new TProtocolException(TProtocolException.INVALID_DATA,
          "a string of " + length + " bytes is not valid UTF-8; keys, fields and values must be UTF-8 text");
    }
  }

  private static boolean isAscii(ByteBuffer b) {
    byte[] a = b.array();
    for (int i = b.arrayOffset() + b.position(), end = b.arrayOffset() + b.limit(); i < end; i++) {
      if (a[i] < 0) {
        return false;
      }
    }
    return true;
  }
}
