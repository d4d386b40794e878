package io.kvpod.pod;

import io.kvpod.contract.PeerSigner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.PingReply;
import io.kvpod.thrift.internal.RefreshReply;
import java.io.IOException;
import java.util.function.LongSupplier;

/**
 * Answers the internal messages that arrive through {@code process()}: verifies the
 * envelope's signature ({@link PeerSigner}), then dispatches on the request type.
 * Thread-safe.
 */
final class PeerDispatcher {
  private final PeerSigner signer;
  private final int podId;
  private final LayerWatcher layers;
  private final String table;
  private final LongSupplier uptime;

  PeerDispatcher(PeerSigner signer, int podId, String table, LayerWatcher layers, LongSupplier uptime) {
    this.signer = signer;
    this.podId = podId;
    this.table = table;
    this.layers = layers;
    this.uptime = uptime;
  }

  byte[] handle(byte[] input) throws IOException {
    PeerRequest req = signer.open(input);
    PeerResponse resp = switch (req.getSetField()) {
      case PING -> PeerResponse.ping(new PingReply(podId, uptime.getAsLong()));
      case REFRESH -> {
        String t = req.getRefresh().getTable();
        if (t != null && !t.equals(table)) {
          throw new io.kvpod.contract.ContractViolation(ErrorCode.INVALID_ARGUMENT,
              "refresh for table " + t + " sent to a pod serving " + table);
        }
        yield PeerResponse.refresh(new RefreshReply(layers.refresh()));
      }
    };
    return PeerSigner.encode(resp);
  }
}
