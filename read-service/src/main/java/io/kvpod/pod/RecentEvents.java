package io.kvpod.pod;

import io.kvpod.thrift.PodEvent;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The most recent things in a pod that an operator should see, for its status: buckets it
 * took over ({@link #TAKEOVER}), buckets it gave up to a later holder ({@link #DROPPED}), and
 * calls that failed for a reason other than the caller's ({@link #ERROR}), and each newer
 * membership it read ({@link #MEMBERS}: a pod joined, is leaving, left or moved). Keeps the newest
 * {@link #CAPACITY}; older ones are in the log. Thread-safe.
 */
final class RecentEvents {
  static final int CAPACITY = 50;
  static final String TAKEOVER = "TAKEOVER";
  static final String DROPPED = "DROPPED";
  static final String ERROR = "ERROR";
  static final String MEMBERS = "MEMBERS";

  private final ArrayDeque<PodEvent> events = new ArrayDeque<>(CAPACITY);

  synchronized void add(String kind, String text) {
    if (events.size() == CAPACITY) {
      events.removeFirst();
    }
    events.addLast(new PodEvent(System.currentTimeMillis(), kind, text));
  }

  /** The events kept, oldest first. */
  synchronized List<PodEvent> list() {
    return new ArrayList<>(events);
  }
}
