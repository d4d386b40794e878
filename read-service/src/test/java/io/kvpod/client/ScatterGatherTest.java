package io.kvpod.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The scatter-gather that the client and the pods share. */
class ScatterGatherTest {
  @Test
  void resultsComeBackByShareAndEveryFailureIsReported() throws Exception {
    try (ScatterGather g = new ScatterGather("sg-test", 4)) {
      ScatterGather.Outcome<String> got = g.run(List.of(7, 8, 9, 10), id -> {
        if (id % 2 == 0) {
          throw new IllegalArgumentException("share " + id);
        }
        return "r" + id;
      });
      assertEquals(Arrays.asList("r7", null, "r9", null), got.results());
      assertTrue(got.failed());
      assertEquals(List.of("share 8", "share 10"), got.failures().stream().map(Throwable::getMessage).toList(),
          "the calling thread's share first, then the others in order");
    }
  }

  @Test
  void theFirstShareRunsOnTheCallerAndNoMoreThanMaxThreadsOnThePool() throws Exception {
    Thread caller = Thread.currentThread();
    CountDownLatch callerRan = new CountDownLatch(1);
    Map<Integer, Thread> ranOn = new ConcurrentHashMap<>();
    try (ScatterGather g = new ScatterGather("sg-test", 2)) {
      ScatterGather.Outcome<Integer> got = g.run(List.of(0, 1, 2, 3, 4), id -> {
        ranOn.put(id, Thread.currentThread());
        if (Thread.currentThread() == caller) {
          callerRan.countDown();
        } else {
          assertTrue(callerRan.await(1, TimeUnit.MINUTES), "a share ran on the caller while the pool was full");
        }
        return id;
      });
      assertEquals(List.of(0, 1, 2, 3, 4), got.results());
      assertSame(caller, ranOn.get(0), "the first share runs on the calling thread");
      assertNotSame(caller, ranOn.get(1));
      assertNotSame(caller, ranOn.get(2));
      assertSame(caller, ranOn.get(3), "with both pool threads busy, the next share runs on the caller");
      Set<Thread> pool = ConcurrentHashMap.newKeySet();
      ranOn.values().stream().filter(t -> t != caller).forEach(pool::add);
      assertTrue(pool.size() <= 2, "at most two pool threads: " + pool);
    }
  }
}
