package io.kvpod.contract;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Reads which layers of a table are live: every well-formed directory under
 * {@code layers/}, minus those a live layer {@linkplain LayerMeta#replaces replaces},
 * newest first. Directories with other names are ignored; a layer directory whose
 * metadata is missing or malformed is corruption (publishing is atomic, so it cannot be a
 * load in progress). Stateless; thread-safe.
 */
public final class LayerCatalog {
  private LayerCatalog() {}

  /**
   * The live layers, newest first. A layer directory that vanishes between the listing and
   * the read of its metadata was retired meanwhile (a compaction or rollback); the listing
   * is then taken again, because a compaction's merged layer may be missing from it.
   */
  public static List<LayerMeta> liveLayers(FileSystem fs, TableLayout layout) throws IOException {
    return liveLayers(fs, layout, new HashMap<>());
  }

  /**
   * As {@link #liveLayers(FileSystem, TableLayout)}, reading only the metadata of layers not
   * in {@code known}: a published layer never changes, so a watcher that lists the layers
   * every few seconds reads each layer's metadata once, not at every listing. {@code known}
   * (layer id to metadata) is brought up to date: layers read are added, layers no longer
   * listed are dropped. Not thread-safe as to {@code known}.
   */
  public static List<LayerMeta> liveLayers(FileSystem fs, TableLayout layout, Map<String, LayerMeta> known)
      throws IOException {
    for (int attempt = 1; ; attempt++) {
      List<LayerMeta> live = list(fs, layout, known);
      if (live != null) {
        return live;
      }
      if (attempt >= 5) {
        throw new IOException("layers of " + layout + " keep changing while being listed; try again");
      }
    }
  }

  /** The live layers, or null if a listed layer directory vanished while being read. */
  private static List<LayerMeta> list(FileSystem fs, TableLayout layout, Map<String, LayerMeta> known)
      throws IOException {
    FileStatus[] dirs;
    try {
      dirs = fs.listStatus(layout.layersDir());
    } catch (FileNotFoundException e) {
      known.clear();
      return new ArrayList<>();
    }
    List<LayerMeta> all = new ArrayList<>();
    Set<String> listed = new HashSet<>();
    for (FileStatus st : dirs) {
      String id = st.getPath().getName();
      if (st.isDirectory() && LayerId.isValid(id)) {
        listed.add(id);
        LayerMeta m = known.get(id);
        if (m != null) {
          all.add(m);
          continue;
        }
        try {
          m = LayerMeta.read(fs, st.getPath());
        } catch (CorruptionException e) {
          if (e.getCause() instanceof FileNotFoundException && !fs.exists(st.getPath())) {
            return null; // retired meanwhile
          }
          throw e;
        }
        if (!m.layerId.equals(id)) {
          throw new CorruptionException(st.getPath() + " holds metadata of layer " + m.layerId);
        }
        known.put(id, m);
        all.add(m);
      }
    }
    known.keySet().retainAll(listed);
    Set<String> replaced = new HashSet<>();
    for (LayerMeta m : all) {
      replaced.addAll(m.replaces);
    }
    all.removeIf(m -> replaced.contains(m.layerId));
    all.sort(Comparator.comparing((LayerMeta m) -> m.layerId).reversed());
    return all;
  }
}
