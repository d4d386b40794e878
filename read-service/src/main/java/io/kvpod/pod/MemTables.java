package io.kvpod.pod;

import java.util.ArrayList;
import java.util.List;

/**
 * The active memtable and the frozen ones still waiting for their flush, newest first.
 *
 * <p>Reading contract: look up the memtables first and the layers after (see
 * {@link #get}); the flusher publishes a layer and refreshes the layer view <em>before</em>
 * it drops the frozen memtable, so a record is always in one of the two places a read
 * looks. Thread-safe: the group committer swaps the active memtable, the flusher drops
 * frozen ones, readers read concurrently.
 */
final class MemTables {
  /** A frozen memtable and the last WAL sequence number it holds. */
  record Frozen(MemTable table, long throughSeq) {}

  private volatile MemTable active = new MemTable();
  private volatile List<Frozen> frozen = List.of();

  MemTable active() {
    return active;
  }

  /** The newest record of {@code key} in memory, or null. */
  Found get(byte[] key) {
    Found best = active.get(key);
    for (Frozen f : frozen) {
      best = Found.newer(best, f.table().get(key));
    }
    return best;
  }

  /**
   * Freezes the active memtable and starts a new one. Call only from the group committer,
   * between WAL entries, with {@code throughSeq} the last sequence number logged.
   */
  synchronized Frozen freeze(long throughSeq) {
    Frozen f = new Frozen(active, throughSeq);
    List<Frozen> next = new ArrayList<>();
    next.add(f);
    next.addAll(frozen);
    frozen = List.copyOf(next);
    active = new MemTable();
    return f;
  }

  /** Frozen memtables, oldest first (the order to flush them in). */
  List<Frozen> frozenOldestFirst() {
    List<Frozen> l = new ArrayList<>(frozen);
    java.util.Collections.reverse(l);
    return l;
  }

  /** Forgets a frozen memtable once a live layer holds its records. */
  synchronized void drop(Frozen f) {
    List<Frozen> next = new ArrayList<>(frozen);
    next.remove(f);
    frozen = List.copyOf(next);
  }

  long records() {
    long n = active.size();
    for (Frozen f : frozen) {
      n += f.table().size();
    }
    return n;
  }

  long bytes() {
    long n = active.bytes();
    for (Frozen f : frozen) {
      n += f.table().bytes();
    }
    return n;
  }
}
