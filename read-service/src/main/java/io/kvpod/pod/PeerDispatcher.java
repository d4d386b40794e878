package io.kvpod.pod;

import io.kvpod.contract.ContractViolation;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.Limits;
import io.kvpod.contract.PeerSigner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.FoundRecord;
import io.kvpod.thrift.internal.KeyValue;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.PingReply;
import io.kvpod.thrift.internal.ReadReply;
import io.kvpod.thrift.internal.RefreshReply;
import io.kvpod.thrift.internal.WriteReply;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Answers the internal messages that arrive through {@code process()}: verifies the
 * envelope's signature ({@link PeerSigner}), refuses senders whose link is cut
 * ({@link PeerFaults}), then dispatches on the request type. A relay is passed on once to
 * its target. Forwarded
 * writes and reads are served from this pod's {@link LocalStore} only, never forwarded
 * again, and only for keys this pod owns. Thread-safe.
 */
final class PeerDispatcher {
  private final PeerSigner signer;
  private final int podId;
  private final int pods;
  private final LocalStore store;
  private final String table;
  private final LongSupplier uptime;
  private final PeerFaults faults;
  private final PeerClient relay;

  PeerDispatcher(PeerSigner signer, int podId, int pods, String table, LocalStore store, LongSupplier uptime,
                 PeerFaults faults, PeerClient relay) {
    this.faults = faults;
    this.relay = relay;
    this.signer = signer;
    this.podId = podId;
    this.pods = pods;
    this.table = table;
    this.store = store;
    this.uptime = uptime;
  }

  byte[] handle(byte[] input) throws IOException, InterruptedException, KvPodException {
    PeerSigner.Opened opened = signer.openWithSender(input);
    PeerRequest req = opened.request();
    if (opened.fromPod() >= 0) {
      faults.onMessageFrom(opened.fromPod());
    }
    PeerResponse resp = switch (req.getSetField()) {
      case PING -> PeerResponse.ping(new PingReply(podId, uptime.getAsLong()));
      case REFRESH -> {
        String t = req.getRefresh().getTable();
        if (t != null && !t.equals(table)) {
          throw new ContractViolation(ErrorCode.INVALID_ARGUMENT,
              "refresh for table " + t + " sent to a pod serving " + table);
        }
        yield PeerResponse.refresh(new RefreshReply(store.layers().refresh()));
      }
      case WRITE -> PeerResponse.write(write(req.getWrite().getRecords()));
      case READ -> PeerResponse.read(read(req.getRead().getKeys()));
      case FAULT -> PeerResponse.fault(faults.apply(req.getFault()));
      case RELAY -> relay(req.getRelay().getTarget(), PeerSigner.decodeRequest(req.getRelay().getRequest()));
    };
    return PeerSigner.encode(resp);
  }

  /** Passes a request on to its target, once; the target's refusal or silence goes back to the sender. */
  private PeerResponse relay(int target, PeerRequest inner) throws KvPodException {
    if (inner.isSetRelay() || target == podId || target < 0 || target >= pods) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "cannot relay to pod " + target
          + (inner.isSetRelay() ? ": a relay may not carry another relay" : ""));
    }
    return relay.write(target, inner);
  }

  private WriteReply write(List<KeyValue> records) throws IOException, InterruptedException {
    Limits.checkBatchSize(records.size());
    byte[][] keys = new byte[records.size()][];
    byte[][] values = new byte[records.size()][];
    for (int i = 0; i < keys.length; i++) {
      keys[i] = owned(records.get(i).getKey());
      values[i] = records.get(i).getValue();
      Limits.checkValueLength(values[i].length);
    }
    GroupCommitter.Committed c = store.write(keys, values);
    return new WriteReply(c.seq(), c.version());
  }

  private ReadReply read(List<ByteBuffer> keyBuffers) throws IOException {
    Limits.checkBatchSize(keyBuffers.size());
    byte[][] keys = new byte[keyBuffers.size()][];
    for (int i = 0; i < keys.length; i++) {
      ByteBuffer b = keyBuffers.get(i).duplicate();
      keys[i] = new byte[b.remaining()];
      b.get(keys[i]);
      owned(keys[i]);
    }
    Found[] found = store.get(keys);
    List<FoundRecord> out = new ArrayList<>(found.length);
    for (Found f : found) {
      out.add(f == null ? new FoundRecord() : new FoundRecord().setVersion(f.version()).setValue(f.value()));
    }
    return new ReadReply(out);
  }

  private byte[] owned(byte[] key) {
    Limits.checkKeyLength(key.length);
    int owner = KeyPartitioner.bucket(key, pods);
    if (owner != podId) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "pod " + podId + " was sent a key owned by pod "
          + owner + "; do all pods list the same kvpod.pods?");
    }
    return key;
  }
}
