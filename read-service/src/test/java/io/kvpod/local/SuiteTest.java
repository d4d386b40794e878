package io.kvpod.local;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The suite's online cases as CI runs them: a real HDFS process and three pod processes;
 * case 1 (restart), case 2 (a link cut while writing), case 3 (a pod killed while writing,
 * taken over, then reclaimed) and case 4 at the 1M records. Every acknowledged
 * record must read back, right, through random pods.
 */
class SuiteTest {
  @TempDir
  File tmp;

  @Test
  void casesOneToFourLoseNothingAndReadNothingWrong() throws Exception {
    Suite suite = new Suite(new File(tmp, "suite"), 3, 4, "512m", System.out);
    List<Suite.Result> results = suite.runCases(List.of(1, 2, 3, 4), 10_000, 1_000_000, 0, 0);
    assertEquals(4, results.size());
    for (Suite.Result r : results) {
      assertEquals(0, r.wrong(), "case " + r.kase() + " read wrong values");
      assertEquals(0, r.missing(), "case " + r.kase() + " lost acknowledged records");
      assertEquals(0, r.unacknowledged(), "case " + r.kase() + " had writes that were never acknowledged");
    }
  }
}
