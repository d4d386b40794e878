package io.kvpod.pod;

import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.FaultReply;
import io.kvpod.thrift.internal.FaultRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Injected network faults between this pod and its peers, set by signed
 * {@link FaultRequest}s (tests, {@code kvpod fault}, the suite). A blocked link fails both
 * ways at once, like the contest harness's cut links: calls to the peer fail before
 * anything is sent, and calls from it are refused. Calls to other peers may also be
 * dropped or delayed at random. Faults last until changed or until the pod restarts.
 * Thread-safe.
 */
final class PeerFaults {
  private final AtomicIntegerArray blocked;
  private volatile double dropProbability;
  private volatile double delayProbability;
  private volatile int delayMillis;

  PeerFaults(int pods) {
    this.blocked = new AtomicIntegerArray(pods);
  }

  synchronized FaultReply apply(FaultRequest req) {
    if (req.isClear()) {
      for (int i = 0; i < blocked.length(); i++) {
        blocked.set(i, 0);
      }
      dropProbability = 0;
      delayProbability = 0;
      delayMillis = 0;
    }
    if (req.isSetBlock()) {
      req.getBlock().forEach(p -> blocked.set(check(p), 1));
    }
    if (req.isSetUnblock()) {
      req.getUnblock().forEach(p -> blocked.set(check(p), 0));
    }
    if (req.isSetDropProbability()) {
      dropProbability = probability(req.getDropProbability());
    }
    if (req.isSetDelayProbability()) {
      delayProbability = probability(req.getDelayProbability());
    }
    if (req.isSetDelayMillis()) {
      delayMillis = Math.max(0, req.getDelayMillis());
    }
    List<Integer> b = new ArrayList<>();
    for (int i = 0; i < blocked.length(); i++) {
      if (blocked.get(i) == 1) {
        b.add(i);
      }
    }
    return new FaultReply(b, dropProbability, delayProbability, delayMillis);
  }

  private int check(int pod) {
    if (pod < 0 || pod >= blocked.length()) {
      throw new io.kvpod.contract.ContractViolation(ErrorCode.INVALID_ARGUMENT,
          "no pod " + pod + " (cluster has " + blocked.length() + ")");
    }
    return pod;
  }

  private static double probability(double p) {
    if (p < 0 || p > 1 || Double.isNaN(p)) {
      throw new io.kvpod.contract.ContractViolation(ErrorCode.INVALID_ARGUMENT, "probability " + p + " is not in 0..1");
    }
    return p;
  }

  boolean isBlocked(int pod) {
    return pod >= 0 && pod < blocked.length() && blocked.get(pod) == 1;
  }

  /** Called before each call to {@code pod}: fails it, delays it, or lets it through. */
  void beforeCall(int pod) throws KvPodException {
    if (isBlocked(pod)) {
      throw Errors.of(ErrorCode.UNAVAILABLE, "the link to pod " + pod + " is cut (injected fault)", true);
    }
    ThreadLocalRandom r = ThreadLocalRandom.current();
    if (dropProbability > 0 && r.nextDouble() < dropProbability) {
      throw Errors.of(ErrorCode.UNAVAILABLE, "the call to pod " + pod + " was dropped (injected fault)", true);
    }
    if (delayProbability > 0 && r.nextDouble() < delayProbability) {
      try {
        Thread.sleep(delayMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw Errors.of(ErrorCode.UNAVAILABLE, "interrupted during an injected delay", true);
      }
    }
  }

  /** Called when a peer's message arrives: refused if the link to its sender is cut. */
  void onMessageFrom(int pod) throws KvPodException {
    if (isBlocked(pod)) {
      throw Errors.of(ErrorCode.UNAVAILABLE, "the link from pod " + pod + " is cut (injected fault)", true);
    }
  }
}
