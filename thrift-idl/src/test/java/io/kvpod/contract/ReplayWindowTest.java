package io.kvpod.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class ReplayWindowTest {
  private static final long T = 1_000_000;
  private final ReplayWindow w = new ReplayWindow(30_000, 3);

  private ReplayWindow.Refusal accept(int pod, long sender, long seq) {
    return w.accept(pod, sender, seq, T, T);
  }

  @Test
  void eachNumberIsAcceptedOncePerSender() {
    assertNull(accept(1, 42, 1));
    assertNull(accept(1, 42, 2));
    assertEquals(ReplayWindow.Refusal.REPLAYED, accept(1, 42, 1));
    assertEquals(ReplayWindow.Refusal.REPLAYED, accept(1, 42, 2));
    assertNull(accept(1, 43, 1), "another sender (a restarted pod) has its own numbers");
    assertNull(accept(2, 42, 1), "and so has another pod");
  }

  @Test
  void numbersSkippedOverAreStillAcceptedOnceWithinTheWindow() {
    assertNull(accept(1, 7, 10));
    assertNull(accept(1, 7, 5)); // overtaken in flight
    assertNull(accept(1, 7, 9));
    assertEquals(ReplayWindow.Refusal.REPLAYED, accept(1, 7, 5));
    assertNull(accept(1, 7, 10 + ReplayWindow.WINDOW - 1));
    assertNull(accept(1, 7, 11), "still inside the window below the highest");
    assertEquals(ReplayWindow.Refusal.REPLAYED, accept(1, 7, 11));
  }

  @Test
  void aNumberAWholeWindowBelowTheHighestIsRefused() {
    assertNull(accept(1, 7, 1));
    assertNull(accept(1, 7, 1 + ReplayWindow.WINDOW));
    assertEquals(ReplayWindow.Refusal.TOO_OLD, accept(1, 7, 1));
    assertNull(accept(1, 7, 2), "one above: still in the window, and new");
  }

  @Test
  void aJumpOfMoreThanTheWindowForgetsWhatWasBelowIt() {
    assertNull(accept(1, 7, 3 * ReplayWindow.WINDOW + 5));
    assertNull(accept(1, 7, 5 * ReplayWindow.WINDOW + 5));
    assertNull(accept(1, 7, 5 * ReplayWindow.WINDOW + 5 - ReplayWindow.WINDOW + 1),
        "the ring slot of an old number is reused for a new one");
  }

  @Test
  void sendersAreForgottenOnlyOnceTheirMessagesAreOutsideTheTimeWindow() {
    assertNull(accept(1, 1, 1));
    assertNull(accept(1, 2, 1));
    assertNull(accept(1, 3, 1));
    assertEquals(ReplayWindow.Refusal.TOO_MANY_SENDERS, accept(1, 4, 1));
    assertEquals(ReplayWindow.Refusal.REPLAYED, w.accept(1, 1, 1, T, T + 30_000), "still inside the window");
    assertNull(w.accept(1, 4, 1, T + 31_000, T + 31_000), "the three are forgotten, so there is room");
    assertEquals(1, w.senders());
  }
}
