package io.kvpod.loader;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvpod.contract.LayerCatalog;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.TableLayout;
import io.kvpod.contract.TableMeta;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
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
 * The table operations, on a root's directories (no pod needs to run):
 * <ul>
 *   <li>{@code table create}: records a new table and its bucket count ({@link TableMeta}),
 *       fixed for the table's life; refuses a table that exists;</li>
 *   <li>{@code table list}: each table under the root, with its buckets, live layers and records;</li>
 *   <li>{@code table describe}: one table: its buckets, layers, logs and staged or retired loads;</li>
 *   <li>{@code table drop}: moves the table's directory aside, to
 *       {@code <root>/dropped/<table>.<millis>}, by one rename: its layers, logs and holder
 *       records go together. Pods must stop serving the table first (take it out of
 *       {@code kvpod.table} and restart them); {@code --force} is needed while its logs still
 *       hold writes that no layer has (they would go with it). The directory stays until an
 *       operator deletes it.</li>
 * </ul>
 */
public class TableTool extends Configured implements Tool {
  public enum Mode { CREATE, LIST, DESCRIBE, DROP }

  /** A log segment's header, in bytes (the log's format, docs/formats.md): a longer segment holds writes. */
  private static final int WAL_HEADER_BYTES = 37;
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Mode mode;
  private final PrintStream out;

  public TableTool(Mode mode) {
    this(mode, System.out);
  }

  public TableTool(Mode mode, PrintStream out) {
    this.mode = mode;
    this.out = out;
  }

  private String cmd() {
    return "kvpod table " + mode.name().toLowerCase(java.util.Locale.ROOT);
  }

  private Options options() {
    Options o = new Options().addOption(Cli.flag("root", "URI", "kvpod root (required)"));
    if (mode != Mode.LIST) {
      o.addOption(Cli.flag("table", "NAME", "the table (required)"));
    }
    switch (mode) {
      case CREATE -> o.addOption(Cli.flag("buckets", "B", "buckets, fixed for the table's life (default: "
          + TableMeta.DEFAULT_BUCKETS + "; 1.." + TableMeta.MAX_BUCKETS + "). Each bucket is one write-ahead log and "
          + "one holder; a few per pod at the largest cluster size you plan for spreads a dead pod's keys widely"));
      case LIST, DESCRIBE -> o.addOption(Cli.flag("json", null, "print JSON instead of text"));
      case DROP -> o.addOption(Cli.flag("force", null, "drop a table whose logs still hold writes no layer has"));
    }
    return Cli.withHelp(o);
  }

  @Override
  public int run(String[] args) throws Exception {
    String summary = switch (mode) {
      case CREATE -> "Create a table: record its bucket count under the root.";
      case LIST -> "List the tables under a root.";
      case DESCRIBE -> "Describe one table: its buckets, layers and logs.";
      case DROP -> "Drop a table: move its directory aside (pods must stop serving it first).";
    };
    CommandLine cl = Cli.parse(cmd(), summary, options(), null, args);
    if (cl == null) {
      return 0;
    }
    String root = Cli.root(cl, getConf(), cmd());
    if (mode == Mode.LIST) {
      return list(root, cl.hasOption("json"));
    }
    String table = cl.getOptionValue("table");
    if (table == null) {
      throw new UsageException(cmd() + ": --table is required (see " + cmd() + " --help)");
    }
    TableLayout layout;
    try {
      layout = new TableLayout(root, table);
    } catch (IllegalArgumentException e) {
      throw new UsageException(cmd() + ": " + e.getMessage());
    }
    FileSystem fs = layout.tableDir().getFileSystem(getConf());
    return switch (mode) {
      case CREATE -> create(fs, layout, buckets(cl));
      case DESCRIBE -> describe(fs, layout, cl.hasOption("json"));
      case DROP -> drop(fs, layout, cl.hasOption("force"));
      case LIST -> throw new IllegalStateException("handled above");
    };
  }

  private int buckets(CommandLine cl) throws UsageException {
    String b = cl.getOptionValue("buckets", Integer.toString(TableMeta.DEFAULT_BUCKETS));
    try {
      int n = Integer.parseInt(b);
      TableMeta.checkBuckets(n);
      return n;
    } catch (IllegalArgumentException e) {
      throw new UsageException(cmd() + ": --buckets " + b + ": " + e.getMessage());
    }
  }

  private int create(FileSystem fs, TableLayout layout, int buckets) throws IOException {
    TableMeta existing = TableMeta.read(fs, layout);
    if (existing != null) {
      out.printf("table %s already exists (%d buckets, created %s); nothing changed%n", layout.table(),
          existing.buckets, Instant.ofEpochMilli(existing.createdAtMillis));
      return 1;
    }
    TableMeta made = TableMeta.createIfAbsent(fs, layout, new TableMeta(layout.table(), buckets,
        System.currentTimeMillis()));
    if (made.buckets != buckets) {
      out.printf("table %s was created by another process at the same time, with %d buckets%n", layout.table(),
          made.buckets);
      return 1;
    }
    out.printf("created table %s with %d buckets in %s%n", layout.table(), buckets, layout.tableDir());
    out.printf("serve it: add it to kvpod.table on every pod (e.g. -D kvpod.table=...,%s) and restart them%n",
        layout.table());
    return 0;
  }

  /** What describe and list say of one table. */
  private static Map<String, Object> summary(FileSystem fs, TableLayout layout) throws IOException {
    TableMeta meta = TableMeta.read(fs, layout);
    List<LayerMeta> live = LayerCatalog.liveLayers(fs, layout);
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("table", layout.table());
    s.put("buckets", meta == null ? null : meta.buckets);
    s.put("createdAt", meta == null ? null : Instant.ofEpochMilli(meta.createdAtMillis).toString());
    s.put("layers", live.size());
    s.put("records", live.stream().mapToLong(m -> m.records).sum());
    s.put("bytes", live.stream().mapToLong(m -> m.bytes).sum());
    return s;
  }

  private int list(String root, boolean json) throws IOException {
    Path tables = new Path(new Path(root), "tables");
    FileSystem fs = tables.getFileSystem(getConf());
    List<Map<String, Object>> all = new ArrayList<>();
    for (FileStatus st : children(fs, tables)) {
      if (st.isDirectory()) {
        all.add(summary(fs, new TableLayout(root, st.getPath().getName())));
      }
    }
    if (json) {
      out.println(JSON.writeValueAsString(Map.of("root", root, "tables", all)));
      return 0;
    }
    out.printf("%-24s %8s %7s %14s %14s  %s%n", "TABLE", "BUCKETS", "LAYERS", "RECORDS", "BYTES", "CREATED");
    for (Map<String, Object> t : all) {
      out.printf("%-24s %8s %7d %14d %14d  %s%n", t.get("table"), t.get("buckets") == null ? "-" : t.get("buckets"),
          t.get("layers"), t.get("records"), t.get("bytes"), t.get("createdAt") == null ? "-" : t.get("createdAt"));
    }
    out.printf("%d tables under %s%n", all.size(), tables);
    return 0;
  }

  private int describe(FileSystem fs, TableLayout layout, boolean json) throws IOException {
    if (!fs.exists(layout.tableDir())) {
      throw new FileNotFoundException("no table " + layout.table() + " under " + layout.root()
          + " (bin/kvpod table list --root " + layout.root() + ")");
    }
    Map<String, Object> d = summary(fs, layout);
    d.put("directory", layout.tableDir().toString());
    d.put("layerIds", LayerCatalog.liveLayers(fs, layout).stream().map(m -> m.layerId + " (" + m.kind + ", "
        + m.records + " records)").toList());
    d.put("walSegments", walSegments(fs, layout));
    d.put("staging", children(fs, layout.stagingDir()).size());
    d.put("retired", children(fs, layout.retiredDir()).size());
    if (json) {
      out.println(JSON.writeValueAsString(d));
      return 0;
    }
    d.forEach((k, v) -> {
      if (v instanceof List<?> l) {
        out.printf("%-12s %d%n", k, l.size());
        l.forEach(x -> out.printf("  %s%n", x));
      } else {
        out.printf("%-12s %s%n", k, v == null ? "-" : v);
      }
    });
    return 0;
  }

  /** Log segments not yet retired that hold entries (more than a header), over every bucket: writes that may not be in a layer yet. */
  private static int walSegments(FileSystem fs, TableLayout layout) throws IOException {
    int n = 0;
    for (FileStatus bucket : children(fs, layout.walRoot())) {
      if (bucket.isDirectory()) {
        for (FileStatus f : children(fs, bucket.getPath())) {
          n += f.isFile() && f.getLen() > WAL_HEADER_BYTES ? 1 : 0;
        }
      }
    }
    return n;
  }

  private int drop(FileSystem fs, TableLayout layout, boolean force) throws IOException, UsageException {
    if (!fs.exists(layout.tableDir())) {
      throw new FileNotFoundException("no table " + layout.table() + " under " + layout.root());
    }
    int segments = walSegments(fs, layout);
    if (segments > 0 && !force) {
      throw new UsageException(cmd() + ": table " + layout.table() + " has " + segments + " write-ahead log "
          + "segments, which may hold acknowledged writes no layer has yet. Stop the pods serving it cleanly (a "
          + "clean stop flushes them), or pass --force to drop those writes with the table");
    }
    Path target = new Path(new Path(layout.root(), "dropped"), layout.table() + "." + System.currentTimeMillis());
    fs.mkdirs(target.getParent());
    if (!fs.rename(layout.tableDir(), target)) {
      throw new IOException("could not move " + layout.tableDir() + " to " + target);
    }
    out.printf("dropped table %s: its directory is now %s (delete it to free the space)%n", layout.table(), target);
    return 0;
  }

  private static List<FileStatus> children(FileSystem fs, Path dir) throws IOException {
    try {
      return List.of(fs.listStatus(dir));
    } catch (FileNotFoundException e) {
      return List.of();
    }
  }
}
