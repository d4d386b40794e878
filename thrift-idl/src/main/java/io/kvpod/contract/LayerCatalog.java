package io.kvpod.contract;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
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

  public static List<LayerMeta> liveLayers(FileSystem fs, TableLayout layout) throws IOException {
    FileStatus[] dirs;
    try {
      dirs = fs.listStatus(layout.layersDir());
    } catch (FileNotFoundException e) {
      return new ArrayList<>();
    }
    List<LayerMeta> all = new ArrayList<>();
    for (FileStatus st : dirs) {
      if (st.isDirectory() && LayerId.isValid(st.getPath().getName())) {
        LayerMeta m = LayerMeta.read(fs, st.getPath());
        if (!m.layerId.equals(st.getPath().getName())) {
          throw new CorruptionException(st.getPath() + " holds metadata of layer " + m.layerId);
        }
        all.add(m);
      }
    }
    Set<String> replaced = new HashSet<>();
    for (LayerMeta m : all) {
      replaced.addAll(m.replaces);
    }
    all.removeIf(m -> replaced.contains(m.layerId));
    all.sort(Comparator.comparing((LayerMeta m) -> m.layerId).reversed());
    return all;
  }
}
