package io.kvpod.loader;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvpod.config.Durations;
import io.kvpod.contract.LayerCatalog;
import io.kvpod.contract.LayerId;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.TableLayout;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;
import org.apache.hadoop.conf.Configured;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.util.Tool;

/**
 * The layer operations:
 * <ul>
 *   <li>{@code layers}: lists a table's live layers, newest first ({@code --json} for tools);</li>
 *   <li>{@code rollback}: retires the newest live layer (or {@code --layer ID}) by one atomic
 *       rename into {@code retired/}; running pods stop reading it at their next refresh;</li>
 *   <li>{@code gc}: deletes retired layers, and staging directories left by killed loads,
 *       older than {@code --grace} (default 24h).</li>
 * </ul>
 */
public class LayerTool extends Configured implements Tool {
  public enum Mode { LIST, ROLLBACK, GC }

  private final Mode mode;
  private final PrintStream out;

  public LayerTool(Mode mode) {
    this(mode, System.out);
  }

  public LayerTool(Mode mode, PrintStream out) {
    this.mode = mode;
    this.out = out;
  }

  private String cmd() {
    return switch (mode) {
      case LIST -> "kvpod layers";
      case ROLLBACK -> "kvpod rollback";
      case GC -> "kvpod gc";
    };
  }

  private Options options() {
    Options o = new Options()
        .addOption(Cli.flag("root", "URI", "kvpod root (required)"))
        .addOption(Cli.flag("table", "NAME", "table (default: default)"));
    switch (mode) {
      case LIST -> o.addOption(Cli.flag("json", null, "print JSON instead of a table"));
      case ROLLBACK -> o.addOption(Cli.flag("layer", "ID", "the layer to retire (default: the newest)"))
          .addOption(Cli.flag("force", null, "retire a layer that holds online writes (a flush or compaction), "
              + "whose write-ahead log segments are gone: those writes are lost"))
          .addOption(Cli.flag("notify", "PODS", "host:port,... of pods to tell at once (secret: KVPOD_SECRET)"));
      case GC -> o.addOption(Cli.flag("grace", "DURATION", "keep what was retired or staged more recently (default: 24h)"));
    }
    return Cli.withHelp(o);
  }

  @Override
  public int run(String[] args) throws Exception {
    String summary = switch (mode) {
      case LIST -> "List the live layers of a table, newest first.";
      case ROLLBACK -> "Retire the newest live layer of a table (or the one given).";
      case GC -> "Delete retired layers and abandoned staging directories older than the grace period.";
    };
    CommandLine cl = Cli.parse(cmd(), summary, options(), null, args);
    if (cl == null) {
      return 0;
    }
    String root = Cli.root(cl, getConf(), cmd());
    TableLayout layout = new TableLayout(root, cl.getOptionValue("table", getConf().get(LoaderConfig.TABLE, "default")));
    FileSystem fs = layout.tableDir().getFileSystem(getConf());
    return switch (mode) {
      case LIST -> list(fs, layout, cl.hasOption("json"));
      case ROLLBACK -> {
        int rc = rollback(fs, layout, cl.getOptionValue("layer"), cl.hasOption("force"));
        String secret = getConf().get(LoaderConfig.SECRET, System.getenv("KVPOD_SECRET"));
        if (cl.hasOption("notify") && secret != null) {
          PodNotifier.refresh(cl.getOptionValue("notify"), secret, layout.table(), 5000, out);
        }
        yield rc;
      }
      case GC -> gc(fs, layout, Durations.parseMillis(cl.getOptionValue("grace", "24h")));
    };
  }

  private int list(FileSystem fs, TableLayout layout, boolean json) throws IOException {
    List<LayerMeta> live = LayerCatalog.liveLayers(fs, layout);
    if (json) {
      ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
      out.println(m.writeValueAsString(Map.of("table", layout.table(), "layers", live)));
      return 0;
    }
    out.printf("%-28s %-8s %10s %14s %12s  %s%n", "LAYER", "KIND", "PARTITIONS", "RECORDS", "BYTES", "CREATED");
    for (LayerMeta m : live) {
      out.printf("%-28s %-8s %10d %14d %12d  %s%n", m.layerId, m.kind, m.partitions, m.records, m.bytes,
          java.time.Instant.ofEpochMilli(m.createdAtMillis));
    }
    out.printf("%d live layers in table %s (%s)%n", live.size(), layout.table(), layout.tableDir());
    return 0;
  }

  private int rollback(FileSystem fs, TableLayout layout, String layer, boolean force)
      throws IOException, UsageException {
    List<LayerMeta> live = LayerCatalog.liveLayers(fs, layout);
    if (live.isEmpty()) {
      throw new IOException("table " + layout.table() + " has no live layers to roll back");
    }
    String id = layer == null ? live.get(0).layerId : LayerId.check(layer);
    LayerMeta meta = live.stream().filter(m -> m.layerId.equals(id)).findFirst().orElseThrow(
        () -> new IOException("layer " + id + " is not live in table " + layout.table()));
    if (!meta.walThrough.isEmpty() && !force) {
      throw new UsageException("layer " + id + " (" + meta.kind + ") holds acknowledged online writes (write-ahead "
          + "log entries through " + meta.walThrough + ", whose segments were deleted once it was published): "
          + "retiring it would lose them. Roll back a bulk load with --layer, or pass --force to lose them");
    }
    Path target = layout.retiredDir(id);
    fs.mkdirs(target.getParent());
    if (!fs.rename(layout.layerDir(id), target)) {
      throw new IOException("could not move " + layout.layerDir(id) + " to " + target);
    }
    // gc measures the grace period from the retirement, not from the layer's creation
    fs.setTimes(target, System.currentTimeMillis(), -1);
    out.printf("retired layer %s of table %s (now in %s)%n", id, layout.table(), target);
    return 0;
  }

  private int gc(FileSystem fs, TableLayout layout, long graceMillis) throws IOException {
    long cutoff = System.currentTimeMillis() - graceMillis;
    List<Path> deleted = new ArrayList<>();
    for (Path dir : List.of(layout.retiredDir(), layout.stagingDir())) {
      FileStatus[] entries;
      try {
        entries = fs.listStatus(dir);
      } catch (FileNotFoundException e) {
        continue;
      }
      for (FileStatus st : entries) {
        if (LayerId.isValid(st.getPath().getName()) && st.getModificationTime() <= cutoff
            && fs.delete(st.getPath(), true)) {
          deleted.add(st.getPath());
        }
      }
    }
    for (Path p : deleted) {
      out.println("deleted " + p);
    }
    out.printf("gc: deleted %d directories older than %d ms from table %s%n", deleted.size(), graceMillis,
        layout.table());
    return 0;
  }
}
