package io.kvpod.pod;

import io.kvpod.contract.TableLayout;
import io.kvpod.contract.TableMeta;
import java.io.FileNotFoundException;
import java.io.IOException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides a table's bucket count when a pod starts: the count recorded in the table's
 * {@link TableMeta}; or, for a table without one, the count recorded now: one bucket per pod
 * if the table already has logs or holder records (it was made before bucket counts were
 * recorded, when each pod had exactly one bucket, and its keys must stay where they are),
 * else {@code kvpod.table.buckets}. Stateless.
 */
final class TableBuckets {
  private static final Logger LOG = LoggerFactory.getLogger(TableBuckets.class);

  private TableBuckets() {}

  /**
   * The bucket count of {@code layout}'s table, served by {@code pods} pods.
   * {@code wanted} is {@code kvpod.table.buckets}; {@code wantedSet} says whether it was set,
   * so that a setting the table overrules is logged.
   */
  static int resolve(FileSystem fs, TableLayout layout, int pods, int wanted, boolean wantedSet) throws IOException {
    TableMeta meta = TableMeta.read(fs, layout);
    if (meta == null) {
      boolean legacy = hasEntries(fs, layout.walRoot()) || hasEntries(fs, layout.ownersDir());
      if (legacy) {
        LOG.info("table {} has logs or holder records but no {}: it was made with one bucket per pod, and keeps "
            + "{} buckets", layout.table(), layout.metaFile().getName(), pods);
      }
      meta = TableMeta.createIfAbsent(fs, layout,
          new TableMeta(layout.table(), legacy ? pods : wanted, System.currentTimeMillis()));
    }
    if (meta.buckets != wanted && wantedSet) {
      LOG.warn("{}={} is ignored: table {} was created with {} buckets, which is fixed for its life",
          PodConfig.TABLE_BUCKETS, wanted, layout.table(), meta.buckets);
    }
    return meta.buckets;
  }

  private static boolean hasEntries(FileSystem fs, Path dir) throws IOException {
    try {
      return fs.listStatus(dir).length > 0;
    } catch (FileNotFoundException e) {
      return false;
    }
  }
}
