package io.kvpod.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.RefreshRequest;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class PeerSignerTest {
  private final AtomicLong now = new AtomicLong(1_000_000);

  private PeerSigner signer(String secret) {
    return new PeerSigner(secret, 2, 1000, now::get);
  }

  @Test
  void sealedRequestOpensWithTheSameSecret() {
    PeerRequest req = PeerRequest.refresh(new RefreshRequest().setTable("t"));
    assertEquals(req, signer("s3cret-value").open(signer("s3cret-value").seal(req)));
  }

  @Test
  void wrongSecretIsRefused() {
    byte[] sealed = signer("s3cret-value").seal(PeerRequest.refresh(new RefreshRequest()));
    ContractViolation e = assertThrows(ContractViolation.class, () -> signer("other-secret").open(sealed));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.code());
    assertTrue(e.getMessage().contains("bad signature"), e.getMessage());
  }

  @Test
  void tamperedBodyIsRefused() {
    byte[] sealed = signer("s3cret-value").seal(PeerRequest.refresh(new RefreshRequest().setTable("aaaa")));
    for (int i = 0; i < sealed.length; i++) {
      if (sealed[i] == 'a') {
        sealed[i] = 'b';
        break;
      }
    }
    assertThrows(ContractViolation.class, () -> signer("s3cret-value").open(sealed));
  }

  @Test
  void staleMessageIsRefused() {
    byte[] sealed = signer("s3cret-value").seal(PeerRequest.refresh(new RefreshRequest()));
    now.addAndGet(5000);
    ContractViolation e = assertThrows(ContractViolation.class, () -> signer("s3cret-value").open(sealed));
    assertTrue(e.getMessage().contains("away from this pod's clock"), e.getMessage());
  }

  @Test
  void garbageIsRefusedNotCrashed() {
    ContractViolation e = assertThrows(ContractViolation.class,
        () -> signer("s3cret-value").open(new byte[] {1, 2, 3, 4, 5}));
    assertEquals(ErrorCode.UNAUTHENTICATED, e.code());
    assertThrows(ContractViolation.class, () -> signer("s3cret-value").open(new byte[0]));
  }

  @Test
  void shortOrMissingSecretIsAConfigurationError() {
    assertThrows(IllegalArgumentException.class, () -> new PeerSigner(null, 0));
    assertThrows(IllegalArgumentException.class, () -> new PeerSigner("short", 0));
  }
}
