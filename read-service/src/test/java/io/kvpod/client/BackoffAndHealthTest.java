package io.kvpod.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BackoffAndHealthTest {

  @Test
  void ceilingDoublesUpToTheCap() {
    Backoff b = new Backoff(20, 1000);
    assertEquals(20, b.ceilingMillis(0));
    assertEquals(40, b.ceilingMillis(1));
    assertEquals(640, b.ceilingMillis(5));
    assertEquals(1000, b.ceilingMillis(6));
    assertEquals(1000, b.ceilingMillis(80), "no overflow for large attempts");
  }

  @Test
  void delayIsJitteredWithinTheCeiling() {
    Backoff b = new Backoff(20, 1000);
    long min = Long.MAX_VALUE;
    long max = 0;
    for (int i = 0; i < 2000; i++) {
      long d = b.delayMillis(3);
      assertTrue(d >= 0 && d <= 160, "delay " + d);
      min = Math.min(min, d);
      max = Math.max(max, d);
    }
    assertTrue(max - min > 80, "delays should spread over the range, saw " + min + ".." + max);
  }

  @Test
  void badBackoffIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> new Backoff(10, 5));
    assertThrows(IllegalArgumentException.class, () -> new Backoff(-1, 5));
  }

  @Test
  void failedPodIsSkippedUntilItsWindowPasses() throws Exception {
    PodHealth h = new PodHealth(3, new Backoff(200, 200));
    boolean[] tried = new boolean[3];
    assertEquals(1, h.pick(1, tried));
    h.failed(1);
    assertEquals(2, h.pick(1, tried), "a failed pod is skipped");
    Thread.sleep(250);
    assertEquals(1, h.pick(1, tried), "and tried again after its window");
    h.failed(1);
    h.succeeded(1);
    assertEquals(1, h.pick(1, tried), "a success clears it");
  }

  @Test
  void whenEveryPodFailedTheUntriedOnesAreStillTried() {
    PodHealth h = new PodHealth(3, new Backoff(10_000, 10_000));
    h.failed(0);
    h.failed(1);
    h.failed(2);
    boolean[] tried = {true, false, false};
    assertEquals(1, h.pick(0, tried));
    tried[1] = true;
    tried[2] = true;
    assertEquals(0, h.pick(0, tried), "all tried: the caller backs off and starts over");
  }
}
