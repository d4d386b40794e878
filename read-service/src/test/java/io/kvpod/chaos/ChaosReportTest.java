package io.kvpod.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** How write unavailability is read off the probe's acknowledgements. */
class ChaosReportTest {
  private static final long MS = 1_000_000;

  private static Nemesis.Fault freeze(int id, long startMs, long endMs, List<Integer> buckets) {
    return new Nemesis.Fault(id, Nemesis.Kind.FREEZE, "pod 1", startMs * MS, endMs * MS, false, buckets, 0, "");
  }

  private static WriteProbe.Ack ack(int bucket, long invokedMs, long completedMs) {
    return new WriteProbe.Ack(bucket, invokedMs * MS, completedMs * MS);
  }

  @Test
  void anOutageEndsAtTheFirstAcknowledgementOfAPutInvokedAfterTheFaultToTheStoppedPodsBucket() {
    Nemesis.Fault f = freeze(1, 10_000, 16_000, List.of(1));
    List<WriteProbe.Ack> acks = List.of(
        ack(1, 9_900, 13_500),   // invoked before the fault: says nothing about it
        ack(0, 10_100, 10_110),  // another bucket
        ack(1, 12_800, 12_900),  // the first put to bucket 1 invoked after the fault to be acknowledged
        ack(1, 12_500, 14_000)); // invoked earlier, acknowledged later
    List<ChaosReport.Outage> out = ChaosReport.outages(List.of(f), acks);
    assertEquals(1, out.size());
    assertEquals(2_900, out.get(0).millis());
    assertEquals("freeze, alone", out.get(0).group());
  }

  @Test
  void aFaultAfterWhichNoPutWasAcknowledgedIsLeftOutAndOverlappingFaultsAreGroupedTogether() {
    Nemesis.Fault first = freeze(1, 10_000, 16_000, List.of(1));
    Nemesis.Fault second = freeze(2, 11_000, 12_000, List.of(2));
    Nemesis.Fault never = freeze(3, 30_000, 31_000, List.of(0));
    List<ChaosReport.Outage> out = ChaosReport.outages(List.of(first, second, never),
        List.of(ack(1, 13_000, 13_100), ack(2, 12_000, 12_050)));
    assertEquals(2, out.size());
    assertEquals("freeze, with another fault", out.get(0).group());
    assertEquals(3_100, out.get(0).millis());
    assertEquals("freeze, with another fault", out.get(1).group());
  }
}
