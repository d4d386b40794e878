package io.kvpod.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A seeded 75-second chaos run in CI: a real HDFS process and three pod processes, every
 * kind of fault, then every key read back through every pod. The long soak is
 * {@code bin/kvpod chaos --duration 30m}, run by hand.
 */
class ChaosTest {
  @Test
  void aSeededSeventyFiveSecondRunOfEveryKindOfFaultLosesNoAcknowledgedWrite() throws Exception {
    File work = new File("target/chaos-test").getAbsoluteFile();
    try (ChaosCluster cluster = new ChaosCluster(work, 3, "384m", Map.of(), System.out)) {
      Chaos chaos = new Chaos(cluster, System.out, 42, 6, 40, 4000, EnumSet.allOf(Nemesis.Kind.class));
      Chaos.Outcome o = chaos.run(75_000); // 90 s until the ZooKeeper tests joined CI's 25 minutes
      // How many faults fit in 75 s depends on the machine: each restart and recovery is waited
      // out, and on a busy machine one restart took 35 s. So this checks that faults of
      // several kinds were injected, not how many.
      long kinds = o.faults().stream().map(Nemesis.Fault::kind).distinct().count();
      assertTrue(o.faults().size() >= 4 && kinds >= 3, "faults of several kinds were injected: " + o.faults());
      assertTrue(o.acked() > 1000, "writes were acknowledged: " + o.acked());
      assertEquals(List.of(), o.violations());
      assertEquals(List.of(), o.unexpectedErrors());
      boolean stoppedAPod = o.faults().stream().anyMatch(f -> !f.buckets().isEmpty());
      assertEquals(stoppedAPod, !o.outages().isEmpty(), "the probe measured write unavailability of the faults that "
          + "stopped a pod: " + o.outages());
    }
  }
}
