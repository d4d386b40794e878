package io.kvpod.contract;

import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.SignedEnvelope;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.thrift.TDeserializer;
import org.apache.thrift.TException;
import org.apache.thrift.TSerializer;
import org.apache.thrift.protocol.TCompactProtocol;

/**
 * Seals and opens the internal messages carried by {@code KvPod.process}, requests and
 * replies (kvpod_internal.thrift has the grammar):
 *
 * <pre>
 *   request := compact(SignedEnvelope{body = compact(PeerRequest), sentAtMillis, fromPod,
 *                                     toPod, sender, seq, mac = mac("Q", ...)})
 *   reply   := compact(SignedEnvelope{body = compact(PeerResponse), sentAtMillis,
 *                                     fromPod = the answering pod, toPod = the requester,
 *                                     sender, seq = the request's, mac = mac("R", ...)})
 *   mac(k)  := HmacSHA256(secret, k || i64be(sentAtMillis) || i32be(fromPod) || i32be(toPod)
 *                                   || i64be(sender) || i64be(seq) || tableField || body)
 *   tableField := ""                                 (a request with no table: k = "Q"; a reply)
 *               | i32be(len(utf8(table))) || utf8(table)   (a request naming a table: k = "T")
 * </pre>
 *
 * A request about a table other than the receiver's default one names it; the distinct
 * {@code k} keeps the two forms apart, so no table can be added to, removed from or changed
 * in a signed request.
 *
 * A receiver ({@link #open}) refuses with {@link ErrorCode#UNAUTHENTICATED} a request whose
 * mac does not verify, that is addressed to another pod, that was sent more than the time
 * window away from its clock, or that it accepted before ({@link ReplayWindow}). A caller
 * ({@link #openReply}) accepts only a reply from the pod it asked, bound to its own request.
 * So a captured message cannot be replayed, re-targeted or answered by anyone without the
 * secret. Each signer draws its {@code sender} at random and numbers its requests from 1.
 * Thread-safe: each thread keeps its own keyed Mac and Thrift codecs (making them per call
 * was a quarter of the CPU a forwarded read cost each pod).
 */
public final class PeerSigner {
  private static final String ALGORITHM = "HmacSHA256";
  /** The most senders a pod remembers at once (each is 8 KB; see {@link ReplayWindow}). */
  private static final int MAX_SENDERS = 1024;
  private static final byte REQUEST = 'Q';
  private static final byte REPLY = 'R';
  private static final byte TABLE_REQUEST = 'T';

  private final SecretKeySpec key;
  private final int self;
  private final long windowMillis;
  private final LongSupplier clock;
  private final long sender = new SecureRandom().nextLong();
  private final AtomicLong seq = new AtomicLong();
  private final ReplayWindow seen;
  /** This thread's Mac, keyed once: a Mac is not thread-safe, and getInstance+init per call was costly. */
  private final ThreadLocal<Mac> macs;
  private static final ThreadLocal<TSerializer> SERIALIZER = ThreadLocal.withInitial(() -> {
    try {
      return new TSerializer(new TCompactProtocol.Factory());
    } catch (TException e) {
      throw new IllegalStateException("cannot make a Thrift serializer", e);
    }
  });
  private static final ThreadLocal<TDeserializer> DESERIALIZER = ThreadLocal.withInitial(() -> {
    try {
      return new TDeserializer(new TCompactProtocol.Factory());
    } catch (TException e) {
      throw new IllegalStateException("cannot make a Thrift deserializer", e);
    }
  });

  /**
   * @param self          this pod's id, or -1 for a tool (which sends but never receives)
   * @param windowMillis  how far from this signer's clock a received request's sending time may be
   * @param clock         wall-clock milliseconds
   */
  public PeerSigner(String secret, int self, long windowMillis, LongSupplier clock) {
    if (secret == null || secret.length() < 8) {
      throw new IllegalArgumentException("the cluster secret (kvpod.secret or KVPOD_SECRET) must be set, "
          + "at least 8 characters");
    }
    this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), ALGORITHM);
    this.self = self;
    this.windowMillis = windowMillis;
    this.clock = clock;
    this.seen = new ReplayWindow(windowMillis, MAX_SENDERS);
    SecretKeySpec k = this.key;
    this.macs = ThreadLocal.withInitial(() -> {
      try {
        Mac m = Mac.getInstance(ALGORITHM);
        m.init(k);
        return m;
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException(ALGORITHM + " is not available", e);
      }
    });
  }

  /** A tool's signer: it sends requests and opens their replies. */
  public static PeerSigner tool(String secret) {
    return new PeerSigner(secret, -1, 30_000, System::currentTimeMillis);
  }

  /** A sealed request, with what its reply must be bound to. */
  public record Sealed(byte[] bytes, int toPod, long sender, long seq) {}

  /** Seals {@code request} for pod {@code toPod}'s default table, under this signer's next number. */
  public Sealed seal(PeerRequest request, int toPod) {
    return seal(request, toPod, null);
  }

  /**
   * Seals {@code request} about {@code table} (null: the receiver's default table) for pod
   * {@code toPod}, under this signer's next number.
   */
  public Sealed seal(PeerRequest request, int toPod, String table) {
    byte[] body = encodeRequest(request);
    long n = seq.incrementAndGet();
    SignedEnvelope env = envelope(table == null ? REQUEST : TABLE_REQUEST, body, self, toPod, sender, n, table);
    if (table != null) {
      env.setTable(table);
    }
    return new Sealed(serialize(env), toPod, sender, n);
  }

  /**
   * A verified request: who sent it, and under which number (its reply is bound to them),
   * and the table it is about (null: the receiver's default table).
   */
  public record Opened(int fromPod, long sender, long seq, PeerRequest request, String table) {
    public Opened(int fromPod, long sender, long seq, PeerRequest request) {
      this(fromPod, sender, seq, request, null);
    }
  }

  /**
   * Verifies and decodes a request sent to this pod, and remembers it so that it is never
   * accepted again; {@code UNAUTHENTICATED} if it is not genuine, not for this pod, out of
   * the time window, or seen before.
   */
  public Opened open(byte[] input) {
    SignedEnvelope env = parse(input, "process() input");
    if (!env.isSetToPod() || !env.isSetSender() || !env.isSetSeq() || env.getSeq() < 1) {
      throw new ContractViolation(ErrorCode.UNAUTHENTICATED, "process() message from pod " + env.getFromPod()
          + " carries no target, sender or number: is every pod and tool the same kvpod version?");
    }
    verify(env.isSetTable() ? TABLE_REQUEST : REQUEST, env, "process() message from pod " + env.getFromPod());
    if (env.getToPod() != self) {
      throw new ContractViolation(ErrorCode.UNAUTHENTICATED, "process() message from pod " + env.getFromPod()
          + " is addressed to pod " + env.getToPod() + ", not to this pod (" + self + ")");
    }
    long now = clock.getAsLong();
    long skew = Math.abs(now - env.getSentAtMillis());
    if (skew > windowMillis) {
      throw new ContractViolation(ErrorCode.UNAUTHENTICATED, "process() message from pod " + env.getFromPod()
          + " is " + skew + " ms away from this pod's clock (limit " + windowMillis + " ms)");
    }
    ReplayWindow.Refusal r = seen.accept(env.getFromPod(), env.getSender(), env.getSeq(), env.getSentAtMillis(), now);
    if (r != null) {
      throw new ContractViolation(ErrorCode.UNAUTHENTICATED, "process() message " + env.getSeq() + " from pod "
          + env.getFromPod() + " refused: " + switch (r) {
            case REPLAYED -> "it was accepted before (a replay)";
            case TOO_OLD -> "it arrived after " + ReplayWindow.WINDOW + " later messages of its sender";
            case TOO_MANY_SENDERS -> "this pod already remembers " + MAX_SENDERS + " senders";
          });
    }
    PeerRequest req = new PeerRequest();
    try {
      DESERIALIZER.get().deserialize(req, env.getBody());
    } catch (TException e) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "process() body is not a PeerRequest: " + e.getMessage());
    }
    return new Opened(env.getFromPod(), env.getSender(), env.getSeq(), req, env.getTable());
  }

  /** Seals the reply to {@code request}, which this pod opened. */
  public byte[] sealReply(Opened request, PeerResponse response) {
    return serialize(envelope(REPLY, encode(response), self, request.fromPod(), request.sender(), request.seq(),
        null));
  }

  /**
   * Verifies and decodes the reply to {@code request}: it must come from the pod the request
   * was sealed for and be bound to that request; else {@code UNAUTHENTICATED}.
   */
  public PeerResponse openReply(Sealed request, byte[] reply) {
    String what = "the reply of pod " + request.toPod();
    SignedEnvelope env = parse(reply, what);
    if (!env.isSetToPod() || !env.isSetSender() || !env.isSetSeq()) {
      throw new ContractViolation(ErrorCode.UNAUTHENTICATED, what + " is not bound to a request: is every pod "
          + "the same kvpod version?");
    }
    verify(REPLY, env, what);
    if (env.getFromPod() != request.toPod() || env.getToPod() != self || env.getSender() != request.sender()
        || env.getSeq() != request.seq()) {
      throw new ContractViolation(ErrorCode.UNAUTHENTICATED, what + " answers another request (from pod "
          + env.getFromPod() + " to " + env.getToPod() + ", number " + env.getSeq() + ")");
    }
    PeerResponse r = new PeerResponse();
    try {
      DESERIALIZER.get().deserialize(r, env.getBody());
    } catch (TException e) {
      throw new ContractViolation(ErrorCode.INTERNAL, what + " is not a PeerResponse: " + e.getMessage());
    }
    return r;
  }

  private SignedEnvelope envelope(byte kind, byte[] body, int from, int to, long senderId, long n, String table) {
    long now = clock.getAsLong();
    return new SignedEnvelope(ByteBuffer.wrap(body), now, from,
        ByteBuffer.wrap(mac(kind, now, from, to, senderId, n, table, body)))
        .setToPod(to).setSender(senderId).setSeq(n);
  }

  private static SignedEnvelope parse(byte[] input, String what) {
    SignedEnvelope env = new SignedEnvelope();
    try {
      DESERIALIZER.get().deserialize(env, input);
      env.validate();
    } catch (TException | RuntimeException e) {
      throw new ContractViolation(ErrorCode.UNAUTHENTICATED, what + " is not a signed kvpod envelope: "
          + e.getMessage());
    }
    return env;
  }

  private void verify(byte kind, SignedEnvelope env, String what) {
    byte[] want = mac(kind, env.getSentAtMillis(), env.getFromPod(), env.getToPod(), env.getSender(), env.getSeq(),
        env.getTable(), env.getBody());
    if (!MessageDigest.isEqual(want, env.getMac())) {
      throw new ContractViolation(ErrorCode.UNAUTHENTICATED, what + " has a bad signature: is kvpod.secret the "
          + "same on every pod?");
    }
  }

  private static byte[] serialize(SignedEnvelope env) {
    try {
      return SERIALIZER.get().serialize(env);
    } catch (TException e) {
      throw new IllegalStateException("cannot encode a signed envelope", e);
    }
  }

  /** The bare encoding of a request (no envelope), as carried inside a relay. */
  public static byte[] encodeRequest(PeerRequest request) {
    try {
      return SERIALIZER.get().serialize(request);
    } catch (TException e) {
      throw new IllegalStateException("cannot encode a peer request", e);
    }
  }

  public static PeerRequest decodeRequest(byte[] bytes) {
    PeerRequest r = new PeerRequest();
    try {
      DESERIALIZER.get().deserialize(r, bytes);
    } catch (TException e) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "relayed bytes are not a PeerRequest: " + e.getMessage());
    }
    return r;
  }

  private static byte[] encode(PeerResponse response) {
    try {
      return SERIALIZER.get().serialize(response);
    } catch (TException e) {
      throw new IllegalStateException("cannot encode a peer response", e);
    }
  }

  private byte[] mac(byte kind, long sentAt, int from, int to, long senderId, long n, String table, byte[] body) {
    Mac m = macs.get(); // doFinal leaves it reset, keyed, for the next message
    m.update(ByteBuffer.allocate(33).put(kind).putLong(sentAt).putInt(from).putInt(to).putLong(senderId)
        .putLong(n).array());
    if (kind == TABLE_REQUEST) {
      byte[] t = table.getBytes(StandardCharsets.UTF_8);
      m.update(ByteBuffer.allocate(4).putInt(t.length).array());
      m.update(t);
    }
    return m.doFinal(body);
  }
}
