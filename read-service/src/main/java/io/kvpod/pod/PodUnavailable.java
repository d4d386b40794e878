package io.kvpod.pod;

import io.kvpod.thrift.ErrorCode;
import java.io.IOException;

/**
 * The pod cannot do this now, for a reason a retry may fix (shutting down, memory full, an
 * owner out of reach, a holder still recovering). Carries the public code to answer with;
 * retriable, except {@code EXPIRED} (the write's own deadline passed: retrying it as it is
 * cannot succeed).
 */
final class PodUnavailable extends IOException {
  private static final long serialVersionUID = 1L;
  private final ErrorCode code;

  PodUnavailable(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  ErrorCode code() {
    return code;
  }
}
