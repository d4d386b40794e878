package io.kvpod.pod;

import io.kvpod.contract.LayerCatalog;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.TableLayout;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hbase.io.hfile.CacheConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the pod's {@link LayerSet} in step with the table's {@code layers/} directory:
 * polls it every interval, and refreshes at once when asked (a loader's refresh message).
 * A refresh opens new layers, keeps the readers of unchanged ones, and swaps the set
 * atomically; layers that left close after their in-flight gets finish.
 *
 * <p>If a refresh fails (a layer cannot be opened), the current set stays in place and the
 * error is kept for {@code status}; a pod never serves a partial set. Thread-safe.
 */
final class LayerWatcher implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(LayerWatcher.class);

  private final FileSystem fs;
  private final TableLayout layout;
  private final CacheConfig cache;
  private final Configuration conf;
  private final ScheduledExecutorService poller;
  private volatile LayerSet current = new LayerSet(List.of());
  private volatile String lastError;

  LayerWatcher(FileSystem fs, TableLayout layout, CacheConfig cache, Configuration conf) {
    this.fs = fs;
    this.layout = layout;
    this.cache = cache;
    this.conf = conf;
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
      live = LayerCatalog.liveLayers(fs, layout);
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
          next.add(LayerReader.open(fs, layout, m, cache, conf));
          LOG.info("opened layer {} ({} partitions, {} records)", m.layerId, m.partitions, m.records);
        }
      }
    } catch (IOException | RuntimeException e) {
      next.forEach(LayerReader::release);
      lastError = "cannot open layers: " + e;
      throw e;
    }
    current = new LayerSet(next);
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
