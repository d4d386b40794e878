package io.kvpod.pod;

import io.kvpod.client.Backoff;
import io.kvpod.client.KvPodClient;
import io.kvpod.client.PodHealth;
import io.kvpod.contract.ContractViolation;
import io.kvpod.contract.Membership;
import io.kvpod.contract.PeerSigner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.PingReply;
import io.kvpod.thrift.internal.PingRequest;
import java.io.Closeable;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * Calls other pods' {@code process()} with signed internal messages. Reads use a short
 * timeout, because a reader has somewhere else to go (the owner's WAL on HDFS); writes use
 * the normal peer timeout; heartbeats their own. Every answer is reported to the
 * {@link PeerLiveness}, and {@link #abort} gives up the calls in flight to a pod that it
 * found silent, so that no caller waits out a full timeout on a frozen pod.
 *
 * <p>A peer that failed to answer a read is <em>skipped</em> for {@code downWindowMillis}:
 * reads go straight to the fallback instead of each waiting out the timeout, so a blocked
 * link slows one read per window, not every read. Thread-safe.
 */
final class PeerClient implements Closeable {
  private final PeerSigner signer;
  private final KvPodClient readCalls;
  private final KvPodClient writeCalls;
  private final KvPodClient pingCalls;
  private final PodHealth readHealth;
  private final PeerFaults faults;
  private final PeerLiveness liveness;
  private final PodMetrics metrics;

  /** The table this client's messages are about (each is signed with it). */
  private final String table;

  PeerClient(List<InetSocketAddress> pods, PeerSigner signer, String table, int readTimeoutMillis,
             int writeTimeoutMillis, int pingTimeoutMillis, long downWindowMillis, PeerFaults faults,
             PeerLiveness liveness, PodMetrics metrics, io.kvpod.client.TlsConfig tls) {
    this.metrics = metrics;
    this.faults = faults;
    this.signer = signer;
    this.table = table;
    this.liveness = liveness;
    // one attempt each, and no holder learning: a pod routes by its own view of the records; over TLS
    // (with this pod's certificate) when the pods serve TLS
    this.pingCalls = KvPodClient.builder(pods).tls(tls).connectTimeoutMs(pingTimeoutMillis)
        .callTimeoutMs(pingTimeoutMillis).maxAttempts(1).backoff(new Backoff(0, 0)).maxIdlePerPod(2).silentAfterMs(0).build();
    this.readCalls = KvPodClient.builder(pods).tls(tls).connectTimeoutMs(readTimeoutMillis)
        .callTimeoutMs(readTimeoutMillis).maxAttempts(1).backoff(new Backoff(0, 0)).silentAfterMs(0).build();
    this.writeCalls = KvPodClient.builder(pods).tls(tls).connectTimeoutMs(Math.min(writeTimeoutMillis, 1000))
        .callTimeoutMs(writeTimeoutMillis).maxAttempts(1).backoff(new Backoff(0, 0)).silentAfterMs(0).build();
    this.readHealth = new PodHealth(Membership.MAX_PODS, new Backoff(downWindowMillis, downWindowMillis));
  }

  /** The pods are now {@code byId} (null where there is none): calls to a new pod, or a new address, connect anew. */
  void addresses(List<InetSocketAddress> byId) {
    pingCalls.addresses(byId);
    readCalls.addresses(byId);
    writeCalls.addresses(byId);
  }

  /** True while reads should not try {@code pod} directly. */
  boolean readsSkip(int pod) {
    return readHealth.skipped(pod);
  }

  /**
   * Sends a read to {@code pod}. A failure to reach it marks it skipped for reads and comes
   * back as a retriable {@code UNAVAILABLE}; the pod's own refusals come back unchanged.
   */
  PeerResponse read(int pod, PeerRequest req) throws KvPodException {
    try {
      PeerResponse r = send(readCalls, pod, req, new KvPodClient.Delivery());
      readHealth.succeeded(pod);
      return r;
    } catch (KvPodException e) {
      if (e.isRetriable()) {
        readHealth.failed(pod);
      }
      throw e;
    }
  }

  /** Sends a write (or any other message) to {@code pod}, one attempt. */
  PeerResponse write(int pod, PeerRequest req) throws KvPodException {
    return send(writeCalls, pod, req, new KvPodClient.Delivery());
  }

  /**
   * {@link #write(int, PeerRequest)}, telling {@code delivery} whether a failed message may
   * have reached the pod (a message refused by an injected fault never left).
   */
  PeerResponse write(int pod, PeerRequest req, KvPodClient.Delivery delivery) throws KvPodException {
    return send(writeCalls, pod, req, delivery);
  }

  /** A heartbeat: pings {@code pod} and returns its view of who it hears from ({@link PeerLiveness#view}). */
  List<Long> ping(int pod) throws KvPodException {
    PeerRequest req = PeerRequest.ping(new PingRequest());
    PingReply r = send(pod, "ping", new KvPodClient.Delivery(),
        () -> pingCalls.heartbeat(pod, () -> signer.seal(req, pod, table))).getPing();
    return r.isSetSilentMillis() ? r.getSilentMillis() : null;
  }

  /** Gives up every call in flight to {@code pod}; they fail at once with a retriable UNAVAILABLE. */
  void abort(int pod) {
    readCalls.abort(pod);
    writeCalls.abort(pod);
  }

  private PeerResponse send(KvPodClient via, int pod, PeerRequest req, KvPodClient.Delivery delivery)
      throws KvPodException {
    return send(pod, req.getSetField().getFieldName(), delivery,
        () -> via.process(pod, () -> signer.seal(req, pod, table), delivery));
  }

  /** A call that sends a sealed message and returns the exchange. */
  @FunctionalInterface
  private interface Call {
    KvPodClient.Exchange send() throws KvPodException;
  }

  /** Sends a message of kind {@code kind} with {@code call}, and opens the answer; records it in the metrics. */
  private PeerResponse send(int pod, String kind, KvPodClient.Delivery delivery, Call call)
      throws KvPodException {
    long started = System.nanoTime();
    ErrorCode error = ErrorCode.INTERNAL;
    try {
      PeerResponse r = sendAndOpen(pod, delivery, call);
      error = null;
      return r;
    } catch (KvPodException e) {
      error = e.getCode();
      throw e;
    } finally {
      metrics.peerCalled(kind, System.nanoTime() - started, error);
    }
  }

  private PeerResponse sendAndOpen(int pod, KvPodClient.Delivery delivery, Call call) throws KvPodException {
    faults.beforeCall(pod);
    KvPodClient.Exchange answer;
    try {
      answer = call.send();
    } catch (KvPodException e) {
      if (e.getCode() != ErrorCode.UNAVAILABLE) {
        liveness.heard(pod); // it answered, if only to refuse (UNAVAILABLE also stands for no answer, or a cut link)
      }
      throw e;
    }
    try {
      PeerResponse r = signer.openReply(answer.sent(), answer.reply());
      liveness.heard(pod);
      return r;
    } catch (ContractViolation e) {
      delivery.distrustAnswer(); // the request may have taken effect; a forged answer says nothing of it
      throw Errors.of(ErrorCode.UNAVAILABLE, "pod " + pod + " sent an answer that does not verify: " + e.getMessage(),
          true);
    }
  }

  @Override
  public void close() {
    readCalls.close();
    writeCalls.close();
    pingCalls.close();
  }
}
