package io.kvpod.pod;

import io.kvpod.thrift.KvPodException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Merges forwarded reads bound for the same pod that wait at the same time into one message.
 * Under load a pod forwards many single-key gets to each holder at once; each round trip costs
 * both pods syscalls, wake-ups and a signature, and on a loaded machine most of a forwarded
 * get's cost was the kernel's, not kvpod's. So, per holder:
 * <ul>
 *   <li>a read that finds no message to that holder in flight sends its own keys at once (it
 *       becomes the <em>leader</em>): no added latency when the pod is not busy;</li>
 *   <li>a read that finds one in flight queues its keys and waits; when the message in flight
 *       returns, one of the waiters becomes the next leader and sends every queued read (up to
 *       {@code maxKeys} keys) as one message, and hands each caller its share of the answer.</li>
 * </ul>
 * No thread is added: leaders are callers. A failed message fails every read it carried, with
 * the same exception, and each caller falls back as it would have alone. Thread-safe.
 */
final class ReadCoalescer {
  /** Sends one forwarded read of {@code keys} to {@code holder}; the answers are index for index. */
  @FunctionalInterface
  interface Sender {
    Found[] send(int holder, byte[][] keys) throws KvPodException;
  }

  /** One caller's read: its keys, and, once a leader has sent them, its answer or failure. */
  private static final class Pending {
    final byte[][] keys;
    Found[] found;
    KvPodException failure;
    RuntimeException bug;
    boolean done;

    Pending(byte[][] keys) {
      this.keys = keys;
    }
  }

  /** The reads queued for one holder, and whether a message to it is in flight. */
  private static final class Lane {
    final ArrayDeque<Pending> queued = new ArrayDeque<>();
    boolean sending;
  }

  private final Sender sender;
  private final int maxKeys;
  private final Lane[] lanes;

  /**
   * @param pods    how many pods there are (holders are 0 to pods - 1)
   * @param maxKeys the most keys one merged message carries; a read with more goes alone
   */
  ReadCoalescer(int pods, int maxKeys, Sender sender) {
    this.sender = sender;
    this.maxKeys = maxKeys;
    this.lanes = new Lane[pods];
    for (int i = 0; i < pods; i++) {
      lanes[i] = new Lane();
    }
  }

  /** Reads {@code keys} from {@code holder}, alone or in one message with other callers' reads. */
  Found[] read(int holder, byte[][] keys) throws KvPodException, InterruptedException {
    if (keys.length >= maxKeys) {
      return sender.send(holder, keys);
    }
    Lane lane = lanes[holder];
    Pending mine = new Pending(keys);
    synchronized (lane) {
      lane.queued.add(mine);
    }
    while (true) {
      List<Pending> batch;
      synchronized (lane) {
        try {
          while (!mine.done && lane.sending) {
            lane.wait(); // bounded by the message in flight, which has a call timeout
          }
        } catch (InterruptedException e) {
          lane.queued.remove(mine); // not sent yet (or sent, and its answer is dropped)
          throw e;
        }
        if (mine.done) {
          return answer(mine);
        }
        lane.sending = true; // this caller leads; its own read goes in this message or, behind a full one, the next
        batch = take(lane);
      }
      try {
        send(holder, lane, batch);
      } finally {
        synchronized (lane) {
          lane.sending = false;
          lane.notifyAll();
        }
      }
    }
  }

  /** How many reads wait for {@code holder}, not yet sent (for tests). */
  int queued(int holder) {
    Lane lane = lanes[holder];
    synchronized (lane) {
      return lane.queued.size();
    }
  }

  /** Takes queued reads, oldest first, up to {@link #maxKeys} keys (at least one read). */
  private List<Pending> take(Lane lane) {
    List<Pending> batch = new ArrayList<>();
    int keys = 0;
    while (!lane.queued.isEmpty() && (batch.isEmpty() || keys + lane.queued.peek().keys.length <= maxKeys)) {
      Pending p = lane.queued.poll();
      batch.add(p);
      keys += p.keys.length;
    }
    return batch;
  }

  /** Sends {@code batch} as one message and settles each of its reads, whatever happens. */
  private void send(int holder, Lane lane, List<Pending> batch) {
    byte[][] keys = batch.size() == 1 ? batch.get(0).keys : concat(batch);
    Found[] found = null;
    KvPodException failure = null;
    RuntimeException bug = null;
    try {
      found = sender.send(holder, keys);
    } catch (KvPodException e) {
      failure = e;
    } catch (RuntimeException e) {
      bug = e;
    } finally {
      if (found == null && failure == null && bug == null) { // an Error: it goes on up the leader's stack
        bug = new IllegalStateException("the forwarded read that carried this one failed");
      }
      settle(lane, batch, found, failure, bug);
    }
  }

  private static void settle(Lane lane, List<Pending> batch, Found[] found, KvPodException failure,
      RuntimeException bug) {
    synchronized (lane) { // waiters read these under the same lock
      int at = 0;
      for (Pending p : batch) {
        if (found != null) {
          p.found = Arrays.copyOfRange(found, at, at + p.keys.length);
        }
        p.failure = failure;
        p.bug = bug;
        p.done = true;
        at += p.keys.length;
      }
    }
  }

  private static byte[][] concat(List<Pending> batch) {
    int n = 0;
    for (Pending p : batch) {
      n += p.keys.length;
    }
    byte[][] keys = new byte[n][];
    int at = 0;
    for (Pending p : batch) {
      System.arraycopy(p.keys, 0, keys, at, p.keys.length);
      at += p.keys.length;
    }
    return keys;
  }

  private static Found[] answer(Pending p) throws KvPodException {
    if (p.failure != null) {
      throw p.failure;
    }
    if (p.bug != null) {
      throw p.bug;
    }
    return p.found;
  }
}
