package io.kvpod.chaos;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Prints what a chaos run found: the faults by kind (and how many landed during a
 * recovery), the operations, the write unavailability per fault, and every violation with
 * its key's full history.
 *
 * <p><b>Write unavailability</b> of a fault that stopped a pod (kill, restart, freeze): from
 * the moment it took effect until the first acknowledgement of a {@link WriteProbe} put,
 * invoked after that moment, to a bucket the pod held just before. A fault after which no such write was
 * acknowledged before the run ended is left out. Stateless.
 */
final class ChaosReport {
  private ChaosReport() {}

  /** How long one pod-stopping fault kept its pod's buckets from taking writes. */
  record Outage(Nemesis.Fault fault, String group, long millis) {}

  /**
   * The outage of each pod-stopping fault, with its group: its kind, whether the restart was
   * held up on purpose, and whether another fault was in effect before the writes came back
   * (then the two together are measured). Faults after which no write of the pod's buckets
   * was acknowledged are left out.
   */
  static List<Outage> outages(List<Nemesis.Fault> faults, List<WriteProbe.Ack> acks) {
    List<Outage> out = new ArrayList<>();
    for (Nemesis.Fault f : faults) {
      if (f.buckets().isEmpty()) {
        continue;
      }
      long best = Long.MAX_VALUE;
      for (WriteProbe.Ack a : acks) {
        if (a.invokeNanos() >= f.startNanos() && f.buckets().contains(a.bucket())) {
          best = Math.min(best, a.completeNanos() - f.startNanos());
        }
      }
      if (best == Long.MAX_VALUE) {
        continue;
      }
      long back = f.startNanos() + best;
      boolean alone = true;
      for (Nemesis.Fault g : faults) {
        alone &= g == f || g.endNanos() < f.startNanos() || g.startNanos() > back;
      }
      String group = f.kind().name().toLowerCase() + (f.heldUpMillis() > 0 ? ", restart held up" : "")
          + (alone ? ", alone" : ", with another fault");
      out.add(new Outage(f, group, best / 1_000_000));
    }
    return out;
  }

  /** The outages' millis by group, each list sorted. */
  static Map<String, List<Long>> byGroup(List<Outage> outages) {
    Map<String, List<Long>> out = new TreeMap<>();
    for (Outage o : outages) {
      out.computeIfAbsent(o.group(), k -> new ArrayList<>()).add(o.millis());
    }
    out.values().forEach(Collections::sort);
    return out;
  }

  /** The faults a single stopped pod causes on its own: alone, and restarted at full speed. */
  static boolean natural(String group) {
    return group.endsWith(", alone") && !group.contains("held up");
  }

  /** The {@code q}-quantile (0..1) of sorted values, nearest rank. */
  static long quantile(List<Long> sorted, double q) {
    int rank = (int) Math.ceil(q * sorted.size());
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
  }

  static void print(PrintStream out, Chaos.Outcome o, History history, long durationMillis) {
    out.println();
    out.printf("## Chaos run: %d s of faults%n%n", durationMillis / 1000);
    out.println("| fault | injected | during a recovery |");
    out.println("| --- | --- | --- |");
    Map<Nemesis.Kind, int[]> byKind = new EnumMap<>(Nemesis.Kind.class);
    for (Nemesis.Fault f : o.faults()) {
      int[] c = byKind.computeIfAbsent(f.kind(), k -> new int[2]);
      c[0]++;
      c[1] += f.duringRecovery() ? 1 : 0;
    }
    int during = 0;
    for (Map.Entry<Nemesis.Kind, int[]> e : byKind.entrySet()) {
      out.printf("| %s | %d | %d |%n", e.getKey().name().toLowerCase().replace('_', '-'), e.getValue()[0],
          e.getValue()[1]);
      during += e.getValue()[1];
    }
    out.printf("| all | %d | %d (%.0f%%) |%n%n", o.faults().size(), during,
        o.faults().isEmpty() ? 0.0 : 100.0 * during / o.faults().size());
    out.printf("Writes (one per key written): %,d acknowledged, %,d refused (not applied), %,d failed or timed out "
        + "(may or may not be applied); %,d reads checked during the run.%n%n", o.acked(), o.failed(), o.unknown(),
        o.reads());
    Map<String, List<Long>> u = byGroup(o.outages());
    if (!u.isEmpty()) {
      out.println("| write unavailability of the stopped pod's buckets | faults | p50 ms | p99 ms | max ms |");
      out.println("| --- | --- | --- | --- | --- |");
      List<Long> natural = new ArrayList<>();
      for (Map.Entry<String, List<Long>> e : u.entrySet()) {
        List<Long> v = e.getValue();
        if (natural(e.getKey())) {
          natural.addAll(v);
        }
        out.printf("| %s | %d | %d | %d | %d |%n", e.getKey(), v.size(), quantile(v, 0.5), quantile(v, 0.99),
            v.get(v.size() - 1));
      }
      if (!natural.isEmpty()) {
        Collections.sort(natural);
        out.printf("| **one pod stopped, alone, restarted at full speed** | %d | %d | %d | %d |%n", natural.size(),
            quantile(natural, 0.5), quantile(natural, 0.99), natural.get(natural.size() - 1));
      }
      out.println();
      List<String> slowest = new ArrayList<>();
      o.outages().stream().filter(x -> natural(x.group()))
          .sorted((a, b) -> Long.compare(b.millis(), a.millis())).limit(3)
          .forEach(x -> slowest.add(String.format("fault %d (%s %s at %.1f s): %d ms", x.fault().id(),
              x.fault().kind(), x.fault().target(), x.fault().startNanos() / 1e9, x.millis())));
      if (!slowest.isEmpty()) {
        out.println("Slowest of those alone (their pods' logs tell why): " + String.join("; ", slowest) + "\n");
      }
    }
    List<String> notes = new ArrayList<>();
    for (Nemesis.Fault f : o.faults()) {
      if (!f.note().isEmpty() && f.note().contains("fail")) {
        notes.add("fault " + f.id() + " (" + f.kind() + " " + f.target() + "): " + f.note());
      }
    }
    if (!notes.isEmpty()) {
      out.println("Faults that did not go as planned:\n  " + String.join("\n  ", notes) + "\n");
    }
    if (!o.unexpectedErrors().isEmpty()) {
      out.printf("%d errors that no fault explains, e.g.: %s%n%n", o.unexpectedErrors().size(),
          o.unexpectedErrors().get(0));
    }
    if (o.violations().isEmpty()) {
      out.println("No violations: every acknowledged write was read back through every pod, and no read was "
          + "stale or invented.");
      return;
    }
    out.printf("%d VIOLATIONS%n", o.violations().size());
    for (Checker.Violation v : o.violations()) {
      out.printf("  %s %s: %s%n", v.kind(), v.key(), v.detail());
    }
    Map<String, History.KeyHistory> all = history.byKey();
    for (Checker.Violation v : o.violations()) {
      out.println(History.describe(v.key(), all.get(v.key()), v.atNanos(), 30, 5));
    }
    out.println("(every operation of every key is in history.txt)");
  }

  static void writeJson(File file, Chaos.Outcome o, long durationMillis) throws IOException {
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("durationMillis", durationMillis);
    Map<String, Map<String, Integer>> faults = new LinkedHashMap<>();
    for (Nemesis.Fault f : o.faults()) {
      Map<String, Integer> c = faults.computeIfAbsent(f.kind().name().toLowerCase(), k -> new LinkedHashMap<>());
      c.merge("injected", 1, Integer::sum);
      c.merge("duringRecovery", f.duringRecovery() ? 1 : 0, Integer::sum);
    }
    j.put("faults", faults);
    j.put("writesAcknowledged", o.acked());
    j.put("writesRefused", o.failed());
    j.put("writesUnknown", o.unknown());
    j.put("readsChecked", o.reads());
    Map<String, Map<String, Long>> unavailable = new LinkedHashMap<>();
    byGroup(o.outages()).forEach((k, v) -> unavailable.put(k, Map.of("faults", (long) v.size(),
        "p50Millis", quantile(v, 0.5), "p99Millis", quantile(v, 0.99), "maxMillis", v.get(v.size() - 1))));
    j.put("writeUnavailability", unavailable);
    List<Map<String, Object>> each = new ArrayList<>();
    for (Outage x : o.outages()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("fault", x.fault().id());
      m.put("kind", x.fault().kind().name().toLowerCase());
      m.put("target", x.fault().target());
      m.put("atMillis", x.fault().startNanos() / 1_000_000);
      m.put("group", x.group());
      m.put("millis", x.millis());
      each.add(m);
    }
    j.put("outages", each);
    j.put("violations", o.violations());
    j.put("unexpectedErrors", o.unexpectedErrors().size());
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file, j);
  }
}
