package io.kvpod.chaos;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks a chaos run's {@link History} against what kvpod promises, key by key. A key's
 * values are written by one writer in order, so value {@code n+1} was invoked only after
 * {@code n} completed. Then:
 * <ul>
 *   <li><b>lost</b>: the final read (after every pod was restarted) must not be older than
 *       the last acknowledged value, nor absent if any value was acknowledged;</li>
 *   <li><b>phantom</b>: a read (final or during the run) must return a value that was
 *       written, and not one whose write was refused as not applied;</li>
 *   <li><b>stale</b>: a read during the run must not return a value older than the last
 *       one acknowledged before the read was invoked, nor one invoked only after the read
 *       completed;</li>
 *   <li><b>diverged</b>: every pod must give the same final answer.</li>
 * </ul>
 * Failed and timed-out writes may or may not have taken effect, so they are allowed, as
 * long as they do not overtake a later acknowledged value (which "lost" catches).
 * Stateless.
 */
final class Checker {
  /** One broken promise on one key, seen at {@code atNanos} (the read's invocation; the end of the run for final reads). */
  record Violation(String kind, String key, String detail, long atNanos) {}

  private Checker() {}

  /**
   * Checks every key of {@code history}. {@code finalReads.get(key)[pod]} is the value
   * number pod {@code pod} returned for the key after the run (-1: absent); a key with no
   * entry was not read back, which is itself a violation if any of its writes was acknowledged.
   */
  static List<Violation> check(History history, Map<String, long[]> finalReads) {
    List<Violation> out = new ArrayList<>();
    for (Map.Entry<String, History.KeyHistory> e : history.byKey().entrySet()) {
      checkKey(e.getKey(), e.getValue(), finalReads.get(e.getKey()), out);
    }
    return out;
  }

  private static void checkKey(String key, History.KeyHistory h, long[] finals, List<Violation> out) {
    List<History.Write> writes = h.writes();
    long lastAcked = -1;
    Set<Long> invoked = new HashSet<>();
    Set<Long> refused = new HashSet<>();
    for (History.Write w : writes) {
      invoked.add(w.n());
      if (w.outcome() == History.Outcome.OK) {
        lastAcked = Math.max(lastAcked, w.n());
      } else if (w.outcome() == History.Outcome.FAILED) {
        refused.add(w.n());
      }
    }
    for (History.Read r : h.reads()) {
      long ackedBefore = -1;
      for (History.Write w : writes) {
        if (w.outcome() == History.Outcome.OK && w.completeNanos() < r.invokeNanos()) {
          ackedBefore = Math.max(ackedBefore, w.n());
        }
      }
      if (r.n() < ackedBefore) {
        out.add(new Violation("stale", key, "read via " + r.via() + " at " + seconds(r.invokeNanos()) + " returned "
            + name(r.n()) + ", but n=" + ackedBefore + " had been acknowledged before the read began", r.invokeNanos()));
      } else if (r.n() >= 0 && !written(r.n(), invoked, refused, writes, r.completeNanos())) {
        out.add(new Violation("phantom", key, "read via " + r.via() + " at " + seconds(r.invokeNanos())
            + " returned n=" + r.n() + ", which no write had carried by then (or whose write was refused)",
            r.invokeNanos()));
      }
    }
    if (finals == null) {
      if (lastAcked >= 0) {
        out.add(new Violation("lost", key, "n=" + lastAcked + " was acknowledged but the key was not read back",
            Long.MAX_VALUE));
      }
      return;
    }
    for (int pod = 0; pod < finals.length; pod++) {
      long n = finals[pod];
      if (n < lastAcked) {
        out.add(new Violation("lost", key, "pod " + pod + " reads " + name(n) + " after the run, but n=" + lastAcked
            + " was acknowledged", Long.MAX_VALUE));
      } else if (n >= 0 && !written(n, invoked, refused, writes, Long.MAX_VALUE)) {
        out.add(new Violation("phantom", key, "pod " + pod + " reads n=" + n + " after the run, which no write "
            + "carried (or whose write was refused)", Long.MAX_VALUE));
      }
      if (finals[pod] != finals[0]) {
        out.add(new Violation("diverged", key, "pod " + pod + " reads " + name(finals[pod]) + ", pod 0 "
            + name(finals[0]), Long.MAX_VALUE));
      }
    }
  }

  /** Whether value {@code n} was carried by a write invoked before {@code byNanos} and not refused. */
  private static boolean written(long n, Set<Long> invoked, Set<Long> refused, List<History.Write> writes,
                                 long byNanos) {
    if (!invoked.contains(n) || refused.contains(n)) {
      return false;
    }
    for (History.Write w : writes) {
      if (w.n() == n && w.invokeNanos() < byNanos) {
        return true;
      }
    }
    return false;
  }

  private static String name(long n) {
    return n < 0 ? "nothing" : "n=" + n;
  }

  private static String seconds(long nanos) {
    return String.format("%.3f s", nanos / 1e9);
  }
}
