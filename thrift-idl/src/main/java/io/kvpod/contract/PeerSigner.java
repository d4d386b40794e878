package io.kvpod.contract;

import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.SignedEnvelope;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.function.LongSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.thrift.TDeserializer;
import org.apache.thrift.TException;
import org.apache.thrift.TSerializer;
import org.apache.thrift.protocol.TCompactProtocol;

/**
 * Seals and opens the internal messages carried by {@code KvPod.process} (see
 * kvpod_internal.thrift for the wire format):
 *
 * <pre>
 *   input := compact(SignedEnvelope{body = compact(PeerRequest), sentAtMillis, fromPod, mac})
 *   mac   := HmacSHA256(secret, i64be(sentAtMillis) || i32be(fromPod) || body)
 * </pre>
 *
 * An envelope whose mac does not verify, or whose clock is more than {@code maxSkewMillis}
 * away, is refused with {@link ErrorCode#UNAUTHENTICATED}. Thread-safe (a Mac per call).
 */
public final class PeerSigner {
  private static final String ALGORITHM = "HmacSHA256";

  private final SecretKeySpec key;
  private final int fromPod;
  private final long maxSkewMillis;
  private final LongSupplier clock;

  public PeerSigner(String secret, int fromPod, long maxSkewMillis, LongSupplier clock) {
    if (secret == null || secret.length() < 8) {
      throw new IllegalArgumentException("the cluster secret (kvpod.secret or KVPOD_SECRET) must be set, "
          + "at least 8 characters");
    }
    this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), ALGORITHM);
    this.fromPod = fromPod;
    this.maxSkewMillis = maxSkewMillis;
    this.clock = clock;
  }

  public PeerSigner(String secret, int fromPod) {
    this(secret, fromPod, 5 * 60_000L, System::currentTimeMillis);
  }

  public byte[] seal(PeerRequest request) {
    try {
      byte[] body = new TSerializer(new TCompactProtocol.Factory()).serialize(request);
      long now = clock.getAsLong();
      SignedEnvelope env = new SignedEnvelope(ByteBuffer.wrap(body), now, fromPod,
          ByteBuffer.wrap(mac(now, fromPod, body)));
      return new TSerializer(new TCompactProtocol.Factory()).serialize(env);
    } catch (TException e) {
      throw new IllegalStateException("cannot encode a peer request", e);
    }
  }

  /** A verified request and the pod that signed it (-1 for a tool). */
  public record Opened(int fromPod, PeerRequest request) {}

  /** Verifies and decodes a sealed request; {@code UNAUTHENTICATED} if it is not genuine. */
  public PeerRequest open(byte[] input) {
    return openWithSender(input).request();
  }

  /** Like {@link #open}, also telling who signed the request. */
  public Opened openWithSender(byte[] input) {
    SignedEnvelope env = new SignedEnvelope();
    try {
      new TDeserializer(new TCompactProtocol.Factory()).deserialize(env, input);
      env.validate();
    } catch (TException | RuntimeException e) {
      throw new ContractViolation(ErrorCode.UNAUTHENTICATED,
          "process() input is not a signed kvpod envelope: " + e.getMessage());
    }
    byte[] body = env.getBody();
    byte[] want = mac(env.getSentAtMillis(), env.getFromPod(), body);
    if (!MessageDigest.isEqual(want, env.getMac())) {
      throw new ContractViolation(ErrorCode.UNAUTHENTICATED,
          "process() message from pod " + env.getFromPod() + " has a bad signature: is kvpod.secret the same on every pod?");
    }
    long skew = Math.abs(clock.getAsLong() - env.getSentAtMillis());
    if (skew > maxSkewMillis) {
      throw new ContractViolation(ErrorCode.UNAUTHENTICATED, "process() message from pod " + env.getFromPod()
          + " is " + skew + " ms away from this pod's clock (limit " + maxSkewMillis + " ms)");
    }
    PeerRequest req = new PeerRequest();
    try {
      new TDeserializer(new TCompactProtocol.Factory()).deserialize(req, body);
    } catch (TException e) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "process() body is not a PeerRequest: " + e.getMessage());
    }
    return new Opened(env.getFromPod(), req);
  }

  /** The bare encoding of a request (no envelope), as carried inside a relay. */
  public static byte[] encodeRequest(PeerRequest request) {
    try {
      return new TSerializer(new TCompactProtocol.Factory()).serialize(request);
    } catch (TException e) {
      throw new IllegalStateException("cannot encode a peer request", e);
    }
  }

  public static PeerRequest decodeRequest(byte[] bytes) {
    PeerRequest r = new PeerRequest();
    try {
      new TDeserializer(new TCompactProtocol.Factory()).deserialize(r, bytes);
    } catch (TException e) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "relayed bytes are not a PeerRequest: " + e.getMessage());
    }
    return r;
  }

  public static byte[] encode(PeerResponse response) {
    try {
      return new TSerializer(new TCompactProtocol.Factory()).serialize(response);
    } catch (TException e) {
      throw new IllegalStateException("cannot encode a peer response", e);
    }
  }

  public static PeerResponse decode(byte[] bytes) throws TException {
    PeerResponse r = new PeerResponse();
    new TDeserializer(new TCompactProtocol.Factory()).deserialize(r, bytes);
    return r;
  }

  private byte[] mac(long sentAt, int from, byte[] body) {
    try {
      Mac m = Mac.getInstance(ALGORITHM);
      m.init(key);
      m.update(ByteBuffer.allocate(12).putLong(sentAt).putInt(from).array());
      return m.doFinal(body);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(ALGORITHM + " is not available", e);
    }
  }
}
