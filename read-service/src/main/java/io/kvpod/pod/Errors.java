package io.kvpod.pod;

import io.kvpod.contract.ContractViolation;
import io.kvpod.contract.CorruptionException;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import java.io.IOException;

/** Maps internal failures to the public {@link KvPodException}, with its numbered code. */
final class Errors {
  private Errors() {}

  static KvPodException of(ErrorCode code, String message, boolean retriable) {
    KvPodException e = new KvPodException(code, message);
    e.setRetriable(retriable);
    return e;
  }

  static KvPodException from(Exception e) {
    if (e instanceof KvPodException k) {
      return k;
    }
    if (e instanceof ContractViolation v) {
      return of(v.code(), v.getMessage(), false);
    }
    if (e instanceof PodUnavailable u) {
      return of(u.code(), u.getMessage(), u.code() != ErrorCode.EXPIRED);
    }
    if (e instanceof CorruptionException) {
      return of(ErrorCode.CORRUPTION, "stored data is corrupt: " + e.getMessage(), false);
    }
    if (e instanceof IOException) {
      return of(ErrorCode.UNAVAILABLE, "storage error: " + e, true);
    }
    return of(ErrorCode.INTERNAL, String.valueOf(e), false);
  }
}
