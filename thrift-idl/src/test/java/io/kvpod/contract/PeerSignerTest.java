package io.kvpod.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.internal.FlushReply;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.RefreshRequest;
import io.kvpod.thrift.internal.SignedEnvelope;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.thrift.TDeserializer;
import org.apache.thrift.TSerializer;
import org.apache.thrift.protocol.TCompactProtocol;
import org.junit.jupiter.api.Test;

class PeerSignerTest {
  private static final String SECRET = "s3cret-value";
  private final AtomicLong now = new AtomicLong(1_000_000);

  /** Pod {@code self}'s signer, with a 1 s window. */
  private PeerSigner pod(int self, String secret) {
    return new PeerSigner(secret, self, 1000, now::get);
  }

  private static PeerRequest refresh(String table) {
    return PeerRequest.refresh(new RefreshRequest().setTable(table));
  }

  private static ContractViolation refused(PeerSigner receiver, byte[] input) {
    ContractViolation e = assertThrows(ContractViolation.class, () -> receiver.open(input));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.code());
    return e;
  }

  @Test
  void sealedRequestOpensAtItsTargetWithItsSender() {
    PeerSigner.Opened o = pod(2, SECRET).open(pod(1, SECRET).seal(refresh("t"), 2).bytes());
    assertEquals(refresh("t"), o.request());
    assertEquals(1, o.fromPod());
    assertEquals(1, o.seq());
  }

  @Test
  void requestAboutATableOpensWithItsTableAndOneWithoutHasNone() {
    PeerSigner.Opened named = pod(2, SECRET).open(pod(1, SECRET).seal(refresh("t"), 2, "users").bytes());
    assertEquals("users", named.table());
    assertEquals(refresh("t"), named.request());
    assertEquals(null, pod(2, SECRET).open(pod(1, SECRET).seal(refresh("t"), 2).bytes()).table());
  }

  @Test
  void tableCannotBeChangedAddedOrRemovedInASignedRequest() throws Exception {
    SignedEnvelope toUsers = envelope(pod(1, SECRET).seal(refresh(null), 2, "users").bytes());
    SignedEnvelope noTable = envelope(pod(1, SECRET).seal(refresh(null), 2).bytes());
    byte[] moved = sealed(toUsers.deepCopy().setTable("orders"));
    byte[] stripped = sealed(toUsers.deepCopy().setTable(null));
    byte[] added = sealed(noTable.deepCopy().setTable("users"));
    for (byte[] forged : List.of(moved, stripped, added)) {
      assertTrue(refused(pod(2, SECRET), forged).getMessage().contains("bad signature"));
    }
  }

  private static SignedEnvelope envelope(byte[] bytes) throws Exception {
    SignedEnvelope e = new SignedEnvelope();
    new TDeserializer(new TCompactProtocol.Factory()).deserialize(e, bytes);
    return e;
  }

  private static byte[] sealed(SignedEnvelope e) throws Exception {
    return new TSerializer(new TCompactProtocol.Factory()).serialize(e);
  }

  @Test
  void wrongSecretIsRefused() {
    byte[] sealed = pod(1, SECRET).seal(refresh(null), 2).bytes();
    assertTrue(refused(pod(2, "other-secret"), sealed).getMessage().contains("bad signature"));
  }

  @Test
  void tamperedBodyIsRefused() {
    byte[] sealed = pod(1, SECRET).seal(refresh("aaaa"), 2).bytes();
    for (int i = 0; i < sealed.length; i++) {
      if (sealed[i] == 'a') {
        sealed[i] = 'b';
        break;
      }
    }
    assertTrue(refused(pod(2, SECRET), sealed).getMessage().contains("bad signature"));
  }

  @Test
  void aReplayedRequestIsRefusedEvenInsideTheTimeWindow() {
    PeerSigner receiver = pod(2, SECRET);
    byte[] sealed = pod(1, SECRET).seal(refresh("t"), 2).bytes();
    receiver.open(sealed);
    assertTrue(refused(receiver, sealed).getMessage().contains("a replay"));
  }

  @Test
  void requestsThatOvertakeEachOtherAreEachAcceptedOnce() {
    PeerSigner sender = pod(1, SECRET);
    PeerSigner receiver = pod(2, SECRET);
    byte[] first = sender.seal(refresh("a"), 2).bytes();
    byte[] second = sender.seal(refresh("b"), 2).bytes();
    receiver.open(second);
    receiver.open(first); // arrived late, but new
    refused(receiver, first);
    refused(receiver, second);
  }

  @Test
  void aRequestSealedForAnotherPodIsRefused() {
    byte[] toPod0 = pod(1, SECRET).seal(refresh("t"), 0).bytes();
    assertTrue(refused(pod(2, SECRET), toPod0).getMessage().contains("addressed to pod 0"));
  }

  @Test
  void aRequestOutsideTheTimeWindowIsRefused() {
    byte[] sealed = pod(1, SECRET).seal(refresh(null), 2).bytes();
    now.addAndGet(5000);
    assertTrue(refused(pod(2, SECRET), sealed).getMessage().contains("away from this pod's clock"));
  }

  @Test
  void aReplyOpensOnlyForItsOwnRequestFromThePodAsked() {
    PeerSigner caller = pod(1, SECRET);
    PeerSigner pod2 = pod(2, SECRET);
    PeerSigner.Sealed first = caller.seal(refresh("a"), 2);
    PeerSigner.Sealed second = caller.seal(refresh("b"), 2);
    PeerResponse answer = PeerResponse.flush(new FlushReply(7));
    byte[] reply = pod2.sealReply(pod2.open(first.bytes()), answer);
    assertEquals(answer, caller.openReply(first, reply));
    ContractViolation e = assertThrows(ContractViolation.class, () -> caller.openReply(second, reply));
    assertTrue(e.getMessage().contains("answers another request"), e.getMessage());
    PeerSigner.Sealed toPod0 = caller.seal(refresh("c"), 0);
    PeerSigner pod0 = pod(0, SECRET);
    byte[] fromPod0 = pod0.sealReply(pod0.open(toPod0.bytes()), answer);
    PeerSigner.Sealed alsoNumbered = new PeerSigner.Sealed(toPod0.bytes(), 2, toPod0.sender(), toPod0.seq());
    assertThrows(ContractViolation.class, () -> caller.openReply(alsoNumbered, fromPod0));
  }

  @Test
  void aForgedReplyIsRefused() {
    PeerSigner caller = pod(1, SECRET);
    PeerSigner.Sealed req = caller.seal(refresh("a"), 2);
    PeerSigner impostor = pod(2, "not-the-secret");
    byte[] forged = impostor.sealReply(new PeerSigner.Opened(1, req.sender(), req.seq(), refresh("a")),
        PeerResponse.flush(new FlushReply(1)));
    ContractViolation e = assertThrows(ContractViolation.class, () -> caller.openReply(req, forged));
    assertTrue(e.getMessage().contains("bad signature"), e.getMessage());
    assertThrows(ContractViolation.class, () -> caller.openReply(req, new byte[] {1, 2, 3}));
  }

  @Test
  void garbageIsRefusedNotCrashed() {
    refused(pod(2, SECRET), new byte[] {1, 2, 3, 4, 5});
    refused(pod(2, SECRET), new byte[0]);
  }

  @Test
  void shortOrMissingSecretIsAConfigurationError() {
    assertThrows(IllegalArgumentException.class, () -> PeerSigner.tool(null));
    assertThrows(IllegalArgumentException.class, () -> PeerSigner.tool("short"));
  }
}
