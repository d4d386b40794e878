package io.kvpod.pod;

import io.kvpod.contract.Limits;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import org.apache.thrift.TException;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.protocol.TProtocol;
import org.apache.thrift.protocol.TProtocolException;
import org.apache.thrift.protocol.TProtocolFactory;
import org.apache.thrift.transport.TTransport;

/**
 * The binary protocol as pods read it: strings must be well-formed UTF-8, and strings and
 * containers are bounded before anything is allocated for them.
 *
 * <p>libthrift's own {@code readString} decodes malformed UTF-8 into U+FFFD replacement
 * characters, so two different byte keys could land on one record. Here a malformed string
 * fails the read with {@link TProtocolException#INVALID_DATA}; {@link ContractProcessor}
 * answers it as {@code INVALID_ARGUMENT}. kvpod keys and values are text: bytes that are not
 * UTF-8 are refused, never stored.
 *
 * <p>Bounds: a string at most one frame ({@link Limits#MAX_FRAME_BYTES}), a container at most
 * {@link Limits#MAX_BATCH} elements. Writing is libthrift's. Not thread-safe, like every
 * protocol: one per connection.
 */
final class StrictBinaryProtocol extends TBinaryProtocol {
  /** Strict: malformed input is an error, never a replacement character. One per protocol. */
  private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT)
      .onUnmappableCharacter(CodingErrorAction.REPORT);

  StrictBinaryProtocol(TTransport transport) {
    super(transport, Limits.MAX_FRAME_BYTES, Limits.MAX_BATCH, false, true);
  }

  /** Makes a {@link StrictBinaryProtocol} for each server connection. */
  static TProtocolFactory factory() {
    return StrictBinaryProtocol::new;
  }

  @Override
  public String readString() throws TException {
    ByteBuffer bytes = readBinary(); // length-checked by the protocol before it reads
    int length = bytes.remaining();
    if (isAscii(bytes)) { // the common case: no decoder needed
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
