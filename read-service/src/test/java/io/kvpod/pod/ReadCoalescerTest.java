package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Forwarded reads merged per holder: a holder's first message is held open by the test, the
 * reads that queue meanwhile go out as one message, and every caller gets its own answers.
 */
class ReadCoalescerTest {
  private final ExecutorService callers = Executors.newCachedThreadPool();
  /** Each message sent: its holder and keys. */
  private final List<String> sent = new CopyOnWriteArrayList<>();
  private final CountDownLatch firstInFlight = new CountDownLatch(1);
  private final CountDownLatch releaseFirst = new CountDownLatch(1);
  private final AtomicReference<KvPodException> failNext = new AtomicReference<>();

  @AfterEach
  void stopCallers() {
    callers.shutdownNow();
  }

  private static byte[][] keys(String... ks) {
    byte[][] out = new byte[ks.length][];
    for (int i = 0; i < ks.length; i++) {
      out[i] = ks[i].getBytes(StandardCharsets.UTF_8);
    }
    return out;
  }

  /** A holder that answers each key with the value "<key>@<holder>"; its first message waits for the test. */
  private Found[] answer(int holder, byte[][] keys) throws KvPodException {
    List<String> names = new ArrayList<>();
    for (byte[] k : keys) {
      names.add(new String(k, StandardCharsets.UTF_8));
    }
    sent.add(holder + ":" + String.join(",", names));
    if (sent.size() == 1) {
      firstInFlight.countDown();
      try {
        releaseFirst.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    KvPodException f = failNext.getAndSet(null);
    if (f != null) {
      throw f;
    }
    Found[] out = new Found[keys.length];
    for (int i = 0; i < keys.length; i++) {
      out[i] = new Found(i, (names.get(i) + "@" + holder).getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }

  private static String text(Found f) {
    return new String(f.value(), StandardCharsets.UTF_8);
  }

  private Future<Found[]> readAsync(ReadCoalescer c, int holder, String... ks) {
    return callers.submit(() -> c.read(holder, keys(ks)));
  }

  @Test
  void aLoneReadGoesAtOnceInAMessageOfItsOwn() throws Exception {
    releaseFirst.countDown();
    ReadCoalescer c = new ReadCoalescer(3, 100, this::answer);
    Found[] f = c.read(1, keys("a", "b"));
    assertEquals("a@1", text(f[0]));
    assertEquals("b@1", text(f[1]));
    assertEquals(List.of("1:a,b"), sent);
  }

  @Test
  void readsQueuedBehindAMessageInFlightGoOutAsOneAndEachGetsItsOwnAnswers() throws Exception {
    ReadCoalescer c = new ReadCoalescer(3, 100, this::answer);
    Future<Found[]> first = readAsync(c, 1, "k0");
    assertTrue(firstInFlight.await(30, TimeUnit.SECONDS));
    List<Future<Found[]>> queued = new ArrayList<>();
    for (int i = 1; i <= 5; i++) {
      queued.add(readAsync(c, 1, "k" + i, "x" + i));
    }
    Future<Found[]> other = readAsync(c, 2, "elsewhere"); // another holder's lane is not held up
    assertEquals("elsewhere@2", text(other.get(30, TimeUnit.SECONDS)[0]));
    PodCluster.await("five reads queue behind the first message", 30_000, () -> c.queued(1) == 5);
    releaseFirst.countDown();
    assertEquals("k0@1", text(first.get(30, TimeUnit.SECONDS)[0]));
    for (int i = 1; i <= 5; i++) {
      Found[] f = queued.get(i - 1).get(30, TimeUnit.SECONDS);
      assertEquals(List.of("k" + i + "@1", "x" + i + "@1"), List.of(text(f[0]), text(f[1])));
    }
    long toHolder1 = sent.stream().filter(m -> m.startsWith("1:")).count();
    assertEquals(2, toHolder1, "the first message, then one for all five queued reads: " + sent);
    assertTrue(sent.stream().anyMatch(m -> m.startsWith("1:") && m.split(",").length == 10), sent.toString());
  }

  @Test
  void aFailedMessageFailsEveryReadItCarried() throws Exception {
    ReadCoalescer c = new ReadCoalescer(3, 100, this::answer);
    Future<Found[]> first = readAsync(c, 0, "a");
    assertTrue(firstInFlight.await(30, TimeUnit.SECONDS));
    Future<Found[]> second = readAsync(c, 0, "b");
    PodCluster.await("b queues", 30_000, () -> c.queued(0) == 1); // then c: the message's order is known
    Future<Found[]> third = readAsync(c, 0, "c");
    PodCluster.await("two reads queue", 30_000, () -> c.queued(0) == 2);
    KvPodException down = new KvPodException(ErrorCode.UNAVAILABLE, "pod 0 went away");
    failNext.set(down);
    releaseFirst.countDown();
    ExecutionException e1 = assertThrows(ExecutionException.class, () -> first.get(30, TimeUnit.SECONDS));
    assertSame(down, e1.getCause(), "the first message failed");
    // the queued reads were not in the failed message: they go out next, together
    assertEquals("b@0", text(second.get(30, TimeUnit.SECONDS)[0]));
    assertEquals("c@0", text(third.get(30, TimeUnit.SECONDS)[0]));
    assertEquals(List.of("0:a", "0:b,c"), sent);
  }

  @Test
  void aMergedMessageNeverCarriesMoreThanMaxKeysAndABigReadGoesAlone() throws Exception {
    ReadCoalescer c = new ReadCoalescer(2, 4, this::answer);
    Future<Found[]> first = readAsync(c, 1, "a");
    assertTrue(firstInFlight.await(30, TimeUnit.SECONDS));
    List<Future<Found[]>> queued = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      queued.add(readAsync(c, 1, "q" + i, "r" + i, "s" + i)); // 3 keys each: one per message
    }
    Found[] big = c.read(1, keys("b1", "b2", "b3", "b4", "b5")); // at the limit: alone, not queued
    assertEquals("b5@1", text(big[4]));
    PodCluster.await("the queued reads wait", 30_000, () -> c.queued(1) == 5);
    releaseFirst.countDown();
    first.get(30, TimeUnit.SECONDS);
    for (int i = 0; i < 5; i++) {
      assertEquals("s" + i + "@1", text(queued.get(i).get(30, TimeUnit.SECONDS)[2]));
    }
    for (String m : sent) {
      assertTrue(m.substring(2).split(",").length <= 5, "no merged message over the limit: " + sent);
    }
  }

  @Test
  void aReadInterruptedWhileQueuedThrowsAndIsNotAnsweredLater() throws Exception {
    ReadCoalescer c = new ReadCoalescer(2, 100, this::answer);
    Future<Found[]> first = readAsync(c, 1, "a");
    assertTrue(firstInFlight.await(30, TimeUnit.SECONDS));
    Future<Found[]> waiting = readAsync(c, 1, "gone");
    PodCluster.await("the second read waits", 30_000, () -> c.queued(1) == 1);
    waiting.cancel(true); // interrupts it
    PodCluster.await("the interrupted read leaves the queue", 30_000, () -> c.queued(1) == 0);
    releaseFirst.countDown();
    first.get(30, TimeUnit.SECONDS);
    assertArrayEquals(new String[] {"1:a"}, sent.toArray(new String[0]), "the interrupted read was never sent");
  }
}
