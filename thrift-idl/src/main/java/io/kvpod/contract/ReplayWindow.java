package io.kvpod.contract;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * Remembers which signed requests a pod has already accepted, so that none is accepted
 * twice. Each signer draws a random 64-bit {@code sender} when it starts and numbers its
 * requests 1, 2, 3, ... ({@link PeerSigner}). Per {@code (fromPod, sender)} this keeps the
 * highest number accepted and, in a ring of {@link #WINDOW} bits, which of the numbers
 * below it were accepted (the anti-replay window of IPsec, RFC 4303 section 3.4.3):
 *
 * <pre>
 *   accept(seq)  iff  seq > highest                               (then highest := seq)
 *                 or  highest - WINDOW < seq <= highest and bit(seq) is clear
 *   bit(seq)     := ring[seq mod WINDOW], set once seq is accepted
 * </pre>
 *
 * Requests overtake each other in flight (many connections, many threads), so a number
 * below the highest is fine as long as it is new; {@link #WINDOW} numbers of overtaking is
 * seconds of traffic from one sender. Older numbers are refused: the sender's caller gets a
 * refusal, and the request was not applied.
 *
 * <p>A sender is forgotten once this pod's clock is past the newest {@code sentAtMillis} it
 * sent plus the time window: by then {@link PeerSigner} refuses every message it ever sent on
 * time alone. At most {@code maxSenders} are remembered; a new sender past that is refused
 * until old ones are forgotten (only holders of the cluster secret can make senders).
 *
 * <p>Thread-safe (one lock; each check is a few array operations).
 */
final class ReplayWindow {
  /** How far below the highest number a request may arrive and still be accepted. */
  static final int WINDOW = 1 << 16;

  /** What one sender has sent so far. */
  private static final class Seen {
    long highest;
    long newestSentAtMillis;
    final long[] ring = new long[WINDOW / 64];

    boolean isSet(long seq) {
      int i = (int) Math.floorMod(seq, (long) WINDOW);
      return (ring[i >>> 6] & (1L << (i & 63))) != 0;
    }

    void set(long seq) {
      int i = (int) Math.floorMod(seq, (long) WINDOW);
      ring[i >>> 6] |= 1L << (i & 63);
    }

    void clear(long seq) {
      int i = (int) Math.floorMod(seq, (long) WINDOW);
      ring[i >>> 6] &= ~(1L << (i & 63));
    }
  }

  /** Why a request was refused, or null if it was accepted. */
  enum Refusal { REPLAYED, TOO_OLD, TOO_MANY_SENDERS }

  private record SenderId(int fromPod, long sender) {}

  private final long windowMillis;
  private final int maxSenders;
  private final Map<SenderId, Seen> senders = new HashMap<>();
  /** Forgetting looks at every sender, so it runs at most this often. */
  private static final long SWEEP_EVERY_MILLIS = 1000;
  private long lastSweepMillis = Long.MIN_VALUE / 2;

  ReplayWindow(long windowMillis, int maxSenders) {
    this.windowMillis = windowMillis;
    this.maxSenders = maxSenders;
  }

  /**
   * Accepts request {@code seq} of {@code (fromPod, sender)}, sent at {@code sentAtMillis},
   * if it was not accepted before; returns null if accepted, else why not. Precondition:
   * the request's signature and time were verified.
   */
  synchronized Refusal accept(int fromPod, long sender, long seq, long sentAtMillis, long nowMillis) {
    forgetOlderThan(nowMillis - windowMillis);
    SenderId id = new SenderId(fromPod, sender);
    Seen s = senders.get(id);
    if (s == null) {
      if (senders.size() >= maxSenders) {
        return Refusal.TOO_MANY_SENDERS;
      }
      s = new Seen();
      senders.put(id, s);
    } else if (seq <= s.highest - WINDOW) {
      return Refusal.TOO_OLD;
    } else if (seq <= s.highest && s.isSet(seq)) {
      return Refusal.REPLAYED;
    }
    if (seq > s.highest) {
      if (seq - s.highest >= WINDOW) {
        Arrays.fill(s.ring, 0L);
      } else {
        for (long n = s.highest + 1; n < seq; n++) {
          s.clear(n); // numbers skipped over (sent to other pods, or still in flight): not seen yet
        }
      }
      s.highest = seq;
    }
    s.set(seq);
    s.newestSentAtMillis = Math.max(s.newestSentAtMillis, sentAtMillis);
    return null;
  }

  synchronized int senders() {
    return senders.size();
  }

  private void forgetOlderThan(long millis) {
    if (millis - lastSweepMillis < SWEEP_EVERY_MILLIS) {
      return;
    }
    lastSweepMillis = millis;
    for (Iterator<Seen> it = senders.values().iterator(); it.hasNext(); ) {
      if (it.next().newestSentAtMillis < millis) {
        it.remove();
      }
    }
  }
}
