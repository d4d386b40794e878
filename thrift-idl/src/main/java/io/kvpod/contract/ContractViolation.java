package io.kvpod.contract;

import io.kvpod.thrift.ErrorCode;

/**
 * A request or input record that breaks the contract: an empty or oversized key, an
 * oversized value, a malformed record. Carries the public {@link ErrorCode} so a pod can
 * answer with it unchanged, and a message that names the limit that was broken.
 */
public class ContractViolation extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;
  private final ErrorCode code;

  public ContractViolation(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }
}
