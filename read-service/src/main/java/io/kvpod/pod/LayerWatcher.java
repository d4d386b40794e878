package io.kvpod.pod;

import io.kvpod.contract.LayerCatalog;
import io.kvpod.contract.LayerMeta;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the pod's {@link LayerSet} in step with the table's {@code layers/} directory:
 * polls it every interval, and refreshes at once when asked (a loader's refresh message).
 * A refresh opens new layers, keeps the readers of unchanged ones, and swaps the set
 * atomically; layers that left close after their in-flight gets finish.
 *
 * <p>The watcher also knows which buckets the pod holds ({@link #warm}, {@link #cool}): their
 * files open with the layer and are prefetched and cached; other buckets' files open only
 * when read ({@link LayerReader}).
 *
 * <p>If a refresh fails (a layer cannot be opened), the current set stays in place and the
 * error is kept for {@code status}; a pod never serves a partial set. Thread-safe.
 */
final class LayerWatcher implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(LayerWatcher.class);

  private final LayerReader.Opener opener;
  /** The buckets this pod holds, each with the token of the shard that holds it. */
  private final Map<Integer, Object> held = new ConcurrentHashMap<>();
  private final ScheduledExecutorService poller;
  private volatile LayerSet current;
  /** The metadata of the layers listed so far, by id; read once each (a layer never changes). Guarded by this. */
  private final Map<String, LayerMeta> metas = new HashMap<>();
  /**
   * Buckets whose files in {@link #current} are known prefetched, as of an eviction
   * generation ({@link EvictedFiles#generation}); replaced whenever that may change.
   */
  private volatile Prefetched prefetched = new Prefetched(-1);
  private volatile String lastError;

  LayerWatcher(LayerReader.Opener opener) {
    this.opener = opener;
    this.current = new LayerSet(List.of(), opener.buckets(), held::containsKey);
    this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "layer-watcher");
      t.setDaemon(true);
      return t;
    });
  }

  /** Loads the layers once (failing if that fails), then polls every {@code pollMillis}. */
  void start(long pollMillis) throws IOException {
    refresh();
    poller.scheduleWithFixedDelay(() -> {
      try {
        refresh();
      } catch (IOException | RuntimeException e) {
        LOG.error("layer refresh failed; still serving {} layers: {}", current.layers().size(), e.toString());
      }
    }, pollMillis, pollMillis, TimeUnit.MILLISECONDS);
  }

  /** Re-reads the live layers and swaps them in if they changed; returns the live ids, newest first. */
  synchronized List<String> refresh() throws IOException {
    List<LayerMeta> live;
    try {
      live = LayerCatalog.liveLayers(opener.fs(), opener.layout(), metas);
    } catch (IOException e) {
      lastError = e.toString();
      throw e;
    }
    List<String> ids = live.stream().map(m -> m.layerId).toList();
    LayerSet old = current;
    if (ids.equals(old.layers().stream().map(LayerReader::id).toList())) {
      lastError = null;
      return ids;
    }
    Map<String, LayerReader> have = new HashMap<>();
    old.layers().forEach(l -> have.put(l.id(), l));
    List<LayerReader> next = new ArrayList<>();
    try {
      for (LayerMeta m : live) {
        LayerReader r = have.get(m.layerId);
        if (r != null && r.retain()) {
          next.add(r);
        } else {
          LayerReader opened = LayerReader.open(opener, m, held::containsKey);
          next.add(opened);
          LOG.info("opened layer {} ({} partitions, {} records; {} files open now)", m.layerId, m.partitions,
              m.records, opened.openFiles());
        }
      }
    } catch (IOException | RuntimeException e) {
      next.forEach(LayerReader::release);
      lastError = "cannot open layers: " + e;
      throw e;
    }
    current = new LayerSet(next, opener.buckets(), held::containsKey);
    prefetched = new Prefetched(-1);
    old.release();
    lastError = null;
    LOG.info("serving {} layers: {}", ids.size(), ids);
    return ids;
  }

  /** The current set, retained; the caller must {@link LayerSet#release()} it. */
  LayerSet acquire() {
    while (true) {
      LayerSet s = current;
      if (s.retain()) {
        return s;
      }
    }
  }

  /**
   * Looks each key up in the current layers and keeps, per key, the newer of that and what
   * {@code found} already holds (which wins ties: callers pass records newer than any layer).
   */
  void mergeNewest(byte[][] keys, Found[] found) throws IOException {
    LayerSet s = acquire();
    try {
      for (int i = 0; i < keys.length; i++) {
        found[i] = Found.newer(found[i], s.get(keys[i]));
      }
    } finally {
      s.release();
    }
  }

  /**
   * Marks {@code bucket} as held by this pod (by the shard that {@code token} stands for)
   * and opens its files warm in every live layer, so that they are prefetched into the block
   * cache while the bucket's log replays. A file that fails to open is logged and kept as
   * the last error; the get that needs it opens it again and reports what is wrong.
   */
  synchronized void warm(int bucket, Object token) {
    held.put(bucket, token);
    prefetched = new Prefetched(-1);
    long start = System.nanoTime();
    int files = 0;
    for (LayerReader l : current.layers()) {
      try {
        l.warm(bucket);
        files++;
      } catch (IOException | RuntimeException e) {
        lastError = "cannot open the files of bucket " + bucket + " in layer " + l.id() + ": " + e;
        LOG.error("bucket {}: {}", bucket, lastError);
      }
    }
    LOG.info("bucket {}: files opened in {} layers in {} ms; prefetching them into the block cache", bucket, files,
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
  }

  /**
   * Marks {@code bucket} as no longer held, if {@code token}'s shard is the one that held
   * it, and sets its files aside and drops their blocks from the cache in every live layer.
   */
  synchronized void cool(int bucket, Object token) {
    if (held.remove(bucket, token)) {
      current.layers().forEach(l -> l.cool(bucket));
      prefetched = new Prefetched(-1); // after: a check in between may have found the files still warm
      LOG.info("bucket {}: its layer files are set aside and their blocks dropped from the block cache", bucket);
    }
  }

  /**
   * True if the live layers' files of {@code bucket} are all prefetched into the block
   * cache ({@link LayerReader#prefetched}). Cheap once true: the answer is kept until the
   * layers or the held buckets change, or the cache evicts blocks of another file.
   */
  boolean prefetched(int bucket) {
    long generation = opener.evicted().generation(); // read before checking the files
    Prefetched known = prefetched; // read before the set: a refresh swaps the set first
    if (known.generation == generation && known.buckets.contains(bucket)) {
      return true;
    }
    if (known.generation != generation) {
      Prefetched fresh = new Prefetched(generation);
      known = fresh;
      prefetched = fresh; // a refresh racing this may be undone: that only costs a recheck
    }
    LayerSet s = acquire();
    try {
      if (!s.prefetched(bucket)) {
        return false;
      }
    } finally {
      s.release();
    }
    known.buckets.add(bucket);
    return true;
  }

  /** Buckets known prefetched while the cache's eviction generation stays {@code generation}. */
  private record Prefetched(long generation, Set<Integer> buckets) {
    Prefetched(long generation) {
      this(generation, ConcurrentHashMap.newKeySet());
    }
  }

  /** Layer data files open now, over the live layers. */
  int openFiles() {
    LayerSet s = acquire();
    try {
      return s.openFiles();
    } finally {
      s.release();
    }
  }

  /** How many layers are live now. */
  int liveLayerCount() {
    LayerSet s = acquire();
    try {
      return s.layers().size();
    } finally {
      s.release();
    }
  }

  String lastError() {
    return lastError;
  }

  @Override
  public void close() {
    poller.shutdownNow();
    synchronized (this) {
      current.release();
    }
  }
}
