package io.kvpod.pod;

import io.kvpod.contract.KeyPartitioner;
import java.io.IOException;
import java.util.List;
import java.util.function.IntPredicate;

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
  private final int buckets;
  private final IntPredicate held;
  private final RefCount refs = new RefCount();

  /**
   * Takes over one reference to each layer from the caller. {@code buckets} is the table's
   * bucket count; {@code held} tells the buckets this pod holds, whose blocks a get caches.
   */
  LayerSet(List<LayerReader> layers, int buckets, IntPredicate held) {
    this.layers = List.copyOf(layers);
    this.buckets = buckets;
    this.held = held;
  }

  List<LayerReader> layers() {
    return layers;
  }

  long records() {
    return layers.stream().mapToLong(l -> l.meta().records).sum();
  }

  /**
   * The newest version of {@code key} across the layers that may hold its bucket, or null.
   * The key is hashed once for all of them. Requires a retained set.
   */
  Found get(byte[] key) throws IOException {
    long hash = KeyPartitioner.hash(key, 0, key.length);
    int bucket = KeyPartitioner.bucketOfHash(hash, buckets);
    boolean cache = held.test(bucket);
    Found best = null;
    for (LayerReader l : layers) {
      if (l.mayHold(bucket)) {
        best = Found.newer(best, l.get(key, hash, cache));
      }
    }
    return best;
  }

  /** True if every layer's files of {@code bucket} are prefetched ({@link LayerReader#prefetched}). */
  boolean prefetched(int bucket) {
    for (LayerReader l : layers) {
      if (!l.prefetched(bucket)) {
        return false;
      }
    }
    return true;
  }

  /** Data files open now, over all layers. */
  int openFiles() {
    return layers.stream().mapToInt(LayerReader::openFiles).sum();
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
