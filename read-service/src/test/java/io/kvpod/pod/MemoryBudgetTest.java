package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/** The pod-wide memtable threshold: below it nobody flushes for the pod; above it the largest do. */
class MemoryBudgetTest {
  @Test
  void belowThePodThresholdNoBucketFlushesForThePod() {
    MemoryBudget b = new MemoryBudget(1000);
    b.join(() -> 400);
    b.join(() -> 500);
    assertFalse(b.shouldFlush(500));
  }

  @Test
  void aboveItBucketsAtOrAboveTheMeanFlushAndSmallerOnesWait() {
    MemoryBudget b = new MemoryBudget(1000);
    b.join(() -> 100);
    b.join(() -> 300);
    b.join(() -> 800); // total 1200, mean 400
    assertTrue(b.shouldFlush(800));
    assertFalse(b.shouldFlush(300));
    assertFalse(b.shouldFlush(100));
  }

  @Test
  void aBucketThatLeftNoLongerCounts() {
    MemoryBudget b = new MemoryBudget(1000);
    AtomicLong big = new AtomicLong(900);
    LongSupplier member = b.join(big::get);
    b.join(() -> 200);
    assertTrue(b.shouldFlush(900));
    b.leave(member);
    assertFalse(b.shouldFlush(200), "200 alone is below the threshold");
    assertFalse(b.shouldFlush(0), "an empty bucket never flushes");
  }
}
