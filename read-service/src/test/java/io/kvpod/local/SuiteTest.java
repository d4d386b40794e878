package io.kvpod.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The suite's cases as CI runs them: a real HDFS process with three DataNodes (replication 3,
 * as in production, so every WAL sync goes through a three-DataNode pipeline) and three pod
 * processes; case 1 (restart), case 2 (a link cut while writing), case 3 (a pod killed while
 * writing, taken over, then reclaimed), case 4 at 100K records, and case 5's bulk path
 * (generate, MapReduce load, pods reading with short-circuit reads) at 20K records with every
 * key read back. Every acknowledged record must read back, right, through random pods. The
 * tables have 8 buckets on the 3 pods, so a bucket is not a pod (`bin/kvpod suite` uses the
 * default, 64, which costs CI more time in pod starts and stops).
 *
 * <p>Case 4 runs the same path at 1M records in {@code bin/kvpod suite} (the default; docs/
 * performance.md has the figures); here 1M took 4.5 minutes of a CI run on a loaded machine,
 * most of it cold reads, which the 25-minute budget no longer fits beside the YARN test;
 * 300K made a CI run under a CPU hog take 24 minutes, so it was 150K, and 100K since the
 * ZooKeeper tests joined CI.
 */
class SuiteTest {
  @TempDir
  File tmp;

  @Test
  void everyCaseLosesNothingAndReadsNothingWrong() throws Exception {
    Suite suite = new Suite(new File(tmp, "suite"), 3, 4, "512m", System.out).dataNodes(3);
    suite.set("kvpod.table.buckets", "8");
    List<Suite.Result> results = suite.runCases(List.of(1, 2, 3, 4, 5), 10_000, 100_000, 20_000, 0);
    assertEquals(5, results.size());
    assertEquals(20_000, results.get(4).records());
    assertTrue(results.get(4).note().startsWith("read back every key with short-circuit reads"), results.get(4).note());
    for (Suite.Result r : results) {
      assertEquals(0, r.wrong(), "case " + r.kase() + " read wrong values");
      assertEquals(0, r.missing(), "case " + r.kase() + " lost acknowledged records");
      assertEquals(0, r.unacknowledged(), "case " + r.kase() + " had writes that were never acknowledged");
    }
  }

  @Test
  void aSettingIsRefusedUnlessPodsOrTheLoaderDeclareIt() {
    Suite suite = new Suite(new File(tmp, "unused"), 3, 1, "512m", System.out);
    suite.set("kvpod.load.block.size", "8192").set("kvpod.block.cache.bytes", "1048576")
        .set("dfs.client.read.shortcircuit", "false");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> suite.set("kvpod.load.blocksize", "8192"));
    assertTrue(e.getMessage().contains("kvpod.load.blocksize"), e.getMessage());
  }
}
