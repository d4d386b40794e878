package io.kvpod.pod;

import java.io.IOException;
import java.util.List;

/**
 * An immutable snapshot of the live layers, newest first. A get runs against exactly one
 * snapshot, so it sees the old set or the new one, never a mix.
 *
 * <p>Reference counted: the {@link LayerWatcher} holds one reference while the set is
 * current, each get holds one while it runs. When the count reaches zero the set releases
 * its layers, which close once no other set holds them. Thread-safe.
 */
final class LayerSet {
  private final List<LayerReader> layers;
  private final RefCount refs = new RefCount();

  /** Takes over one reference to each layer from the caller. */
  LayerSet(List<LayerReader> layers) {
    this.layers = List.copyOf(layers);
  }

  List<LayerReader> layers() {
    return layers;
  }

  long records() {
    return layers.stream().mapToLong(l -> l.meta().records).sum();
  }

  /** The newest version of {@code key} across all layers, or null. Requires a retained set. */
  Found get(byte[] key) throws IOException {
    Found best = null;
    for (LayerReader l : layers) {
      best = Found.newer(best, l.get(key));
    }
    return best;
  }

  /**
   * The highest WAL sequence number of pod {@code podId} that these layers hold, or 0:
   * the pod's log entries up to it need not be read.
   */
  long walThrough(int podId) {
    long through = 0;
    for (LayerReader l : layers) {
      Long t = l.meta().walThrough.get(podId);
      if (t != null && t > through) {
        through = t;
      }
    }
    return through;
  }

  /** The highest record version these layers record for flushes and compactions, or 0. */
  long maxKnownVersion() {
    long v = 0;
    for (LayerReader l : layers) {
      if (l.meta().maxVersion != null) {
        v = Math.max(v, l.meta().maxVersion);
      }
    }
    return v;
  }

  boolean retain() {
    return refs.tryRetain();
  }

  void release() {
    if (refs.release()) {
      layers.forEach(LayerReader::release);
    }
  }

}
