package io.kvpod.contract;

import org.apache.thrift.TBase;
import org.apache.thrift.TException;
import org.apache.thrift.TSerializer;
import org.apache.thrift.protocol.TSimpleJSONProtocol;

/**
 * A Thrift struct as plain JSON, for people and scripts (libthrift's simple JSON protocol):
 * fields by their IDL names, lists as arrays, maps as objects, enums as their numbers, unset
 * optional fields left out. Write-only: it is not meant to be read back as Thrift.
 */
public final class ThriftJson {
  private ThriftJson() {}

  public static String of(TBase<?, ?> struct) {
    try {
      return new TSerializer(new TSimpleJSONProtocol.Factory()).toString(struct);
    } catch (TException e) {
      throw new IllegalStateException("cannot write " + struct.getClass().getSimpleName() + " as JSON", e);
    }
  }
}
