package io.kvpod.pod;

import java.util.concurrent.atomic.AtomicLong;
import org.apache.thrift.protocol.TProtocolException;

/**
 * The heap that decoded call arguments may take at once, over all connections of one pod
 * ({@code kvpod.server.max.decode.bytes}). A frame is at most 16 MB on the wire, but the
 * Strings and maps decoded from it can take twenty times that: a {@code batchPut} of
 * millions of empty fields. Each connection's {@link StrictBinaryProtocol} takes from this
 * budget as it decodes, before it allocates, and gives it all back when the call is
 * answered. A call that finds the budget spent is refused with {@link Exhausted}, answered as
 * a retriable {@code BUSY}: nothing was applied, and the pod keeps the memory it needs for
 * the calls it is already serving.
 *
 * <p>The amounts are estimates of heap use, not exact sizes ({@link StrictBinaryProtocol}
 * says how it counts). Thread-safe.
 */
final class DecodeBudget {
  /** Refusal of a call because the pod's budget is spent by other calls. */
  static final class Exhausted extends TProtocolException {
    Exhausted(String message) {
      super(TProtocolException.UNKNOWN, message);
    }
  }

  private final long limit;
  private final AtomicLong used = new AtomicLong();

  DecodeBudget(long limit) {
    if (limit <= 0) {
      throw new IllegalArgumentException("a decode budget must be positive: " + limit);
    }
    this.limit = limit;
  }

  /** Takes {@code bytes} if the budget has them; false (taking nothing) if not. */
  boolean tryTake(long bytes) {
    while (true) {
      long now = used.get();
      if (now + bytes > limit) {
        return false;
      }
      if (used.compareAndSet(now, now + bytes)) {
        return true;
      }
    }
  }

  /** Gives back {@code bytes} taken earlier. */
  void giveBack(long bytes) {
    used.addAndGet(-bytes);
  }

  /** Bytes taken now, over all connections. */
  long used() {
    return used.get();
  }

  long limit() {
    return limit;
  }
}
