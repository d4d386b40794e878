package io.kvpod.contract;

import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.kvpodConstants;

/**
 * The bounds on keys and values, as declared in kvpod.thrift, and the checks that
 * enforce them. The loader, the pods and the Java client call the same checks, so a
 * record is either accepted everywhere or rejected everywhere with the same message.
 */
public final class Limits {
  public static final int MAX_KEY_BYTES = kvpodConstants.MAX_KEY_BYTES;
  public static final int MAX_VALUE_BYTES = kvpodConstants.MAX_VALUE_BYTES;
  public static final int MAX_FIELDS = kvpodConstants.MAX_FIELDS;
  public static final int MAX_BATCH = kvpodConstants.MAX_BATCH;
  public static final int MAX_FRAME_BYTES = kvpodConstants.MAX_FRAME_BYTES;

  private Limits() {}

  /** Checks a key given as its UTF-8 length. */
  public static void checkKeyLength(int utf8Length) {
    if (utf8Length == 0) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "key is empty; keys must be 1.."
          + MAX_KEY_BYTES + " UTF-8 bytes");
    }
    if (utf8Length > MAX_KEY_BYTES) {
      throw new ContractViolation(ErrorCode.TOO_LARGE, "key is " + utf8Length
          + " UTF-8 bytes; the limit is MAX_KEY_BYTES=" + MAX_KEY_BYTES);
    }
  }

  /** Checks an encoded value's size (see {@link RecordCodec}). */
  public static void checkValueLength(int encodedLength) {
    if (encodedLength > MAX_VALUE_BYTES) {
      throw new ContractViolation(ErrorCode.TOO_LARGE, "value encodes to " + encodedLength
          + " bytes; the limit is MAX_VALUE_BYTES=" + MAX_VALUE_BYTES);
    }
  }

  public static void checkFieldCount(int fields) {
    if (fields > MAX_FIELDS) {
      throw new ContractViolation(ErrorCode.TOO_LARGE, "value has " + fields
          + " fields; the limit is MAX_FIELDS=" + MAX_FIELDS);
    }
  }

  public static void checkBatchSize(int n) {
    if (n > MAX_BATCH) {
      throw new ContractViolation(ErrorCode.TOO_LARGE, "batch has " + n
          + " entries; the limit is MAX_BATCH=" + MAX_BATCH);
    }
  }
}
