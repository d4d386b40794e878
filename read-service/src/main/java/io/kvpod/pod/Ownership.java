package io.kvpod.pod;

import io.kvpod.contract.BucketHomes;
import io.kvpod.contract.TableLayout;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.ipc.RemoteException;

/**
 * Who holds each bucket, as recorded on HDFS. Bucket {@code b} is the keys with
 * {@code murmur3(key) mod buckets == b}; its home pod ({@link BucketHomes#home}) holds it
 * unless a takeover recorded another pod. The NameNode is the one arbiter: no coordination
 * service is needed.
 *
 * <p>Record grammar, one file per claim, in {@link TableLayout#ownersDir()}:
 * <pre>
 *   name    := "pod-" bucket ".epoch-" epoch        epoch: 12 decimal digits, zero-padded
 *   content := "holder=" pod "\n"
 * </pre>
 * A claim is created with {@code create(overwrite=false)}, so of the pods that claim the
 * same (bucket, epoch) exactly one succeeds. The highest epoch of a bucket is in force;
 * epoch 0, with no file, is the home pod. A record whose content is not written yet counts
 * for its epoch with holder -1 (unknown: retry shortly).
 *
 * <p>A {@link View} is <em>confirmed</em> as of the moment its listing started: nothing
 * recorded after that instant can be missing from it. Holders use that to stop serving a
 * bucket within {@code kvpod.ownership.lease} of losing it (see {@link ShardSet}).
 * Thread-safe.
 */
final class Ownership {
  /** Who holds a bucket, from which epoch on. */
  record Holding(int holder, long epoch) {}

  /** The holdings of every bucket, as of {@code confirmedNanos} ({@link System#nanoTime()}). */
  record View(Holding[] holdings, long confirmedNanos) {
    Holding of(int bucket) {
      return holdings[bucket];
    }
  }

  private static final Pattern NAME = Pattern.compile("pod-(\\d+)\\.epoch-(\\d{12})");

  private final FileSystem fs;
  private final Path dir;
  private final int buckets;
  private final int pods;
  /** Record contents never change once written, so each is read once. */
  private final Map<String, Integer> holders = new ConcurrentHashMap<>();
  private volatile View view;
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Ownership.class);
  /** Unreadable records are logged at most once a second. */
  private final LogThrottle unreadable = new LogThrottle(1, java.util.concurrent.TimeUnit.SECONDS);

  Ownership(FileSystem fs, TableLayout layout, int buckets, int pods) {
    this.fs = fs;
    this.dir = layout.ownersDir();
    this.buckets = buckets;
    this.pods = pods;
    this.view = new View(homes(), System.nanoTime() - 86_400_000_000_000L); // never confirmed
  }

  /**
   * The filesystem to keep holder records on: for HDFS, a client of its own whose reads give
   * up after one short retry (100 ms window, 2 attempts in all) instead of HDFS's default of
   * three retries in growing windows of 3 s. A record can be unreadable for a moment while it
   * is being written, and the default retries held every refresh of the records, and so every
   * takeover decision, for about 37 s; now such a record counts as naming no holder until the
   * next poll. Other filesystems are used as they are. The client is closed with the others
   * when the process exits.
   */
  static FileSystem recordFileSystem(FileSystem fs) throws IOException {
    if (!"hdfs".equals(fs.getUri().getScheme())) {
      return fs;
    }
    Configuration c = new Configuration(fs.getConf());
    c.setInt("dfs.client.retry.window.base", 100);
    c.setInt("dfs.client.max.block.acquire.failures", 1);
    return FileSystem.newInstance(fs.getUri(), c);
  }

  /** Epoch 0 of every bucket: its home pod. */
  private Holding[] homes() {
    Holding[] h = new Holding[buckets];
    for (int b = 0; b < buckets; b++) {
      h[b] = new Holding(home(b), 0);
    }
    return h;
  }

  int buckets() {
    return buckets;
  }

  /** The pod that holds {@code bucket} in epoch 0, before any takeover. */
  int home(int bucket) {
    return BucketHomes.home(bucket, pods);
  }

  static Path recordPath(Path dir, int bucket, long epoch) {
    return new Path(dir, String.format("pod-%d.epoch-%012d", bucket, epoch));
  }

  /** The last view read; may be older than the lease (see {@link View#confirmedNanos}). */
  View view() {
    return view;
  }

  /** Reads the records again and returns the new view. */
  View refresh() throws IOException {
    long started = System.nanoTime();
    Holding[] h = homes();
    FileStatus[] listed;
    try {
      listed = fs.listStatus(dir);
    } catch (FileNotFoundException e) {
      listed = new FileStatus[0];
    }
    // Only each bucket's newest record is read: older ones decide nothing, and a claim may be
    // pruning them right now (a record deleted between open and read leaves the HDFS client
    // retrying a missing block for tens of seconds, and this pod's view ageing meanwhile).
    Path[] newest = new Path[buckets];
    for (FileStatus st : listed) {
      Matcher m = NAME.matcher(st.getPath().getName());
      if (!m.matches()) {
        continue;
      }
      int bucket = Integer.parseInt(m.group(1));
      long epoch = Long.parseLong(m.group(2));
      if (bucket >= buckets || epoch <= h[bucket].epoch()) {
        continue; // not a bucket of this table, or an older epoch
      }
      h[bucket] = new Holding(-1, epoch);
      newest[bucket] = st.getPath();
    }
    for (int b = 0; b < buckets; b++) {
      if (newest[b] != null) {
        h[b] = new Holding(holderIn(newest[b]), h[b].epoch());
      }
    }
    synchronized (this) {
      View next = new View(h, started);
      if (started - view.confirmedNanos() > 0) {
        view = next;
      }
      return next;
    }
  }

  private int holderIn(Path record) throws IOException {
    Integer cached = holders.get(record.getName());
    if (cached != null) {
      return cached;
    }
    byte[] buf = new byte[64];
    int n = 0;
    try (InputStream in = fs.open(record)) {
      int r;
      while (n < buf.length && (r = in.read(buf, n, buf.length - n)) > 0) {
        n += r;
      }
    } catch (FileNotFoundException e) {
      return -1; // pruned meanwhile; a newer record exists
    } catch (IOException e) {
      // A record being written can be unreadable for a moment: its block is moving from
      // "being written" to "finalized" on the DataNode, and the HDFS client gives up with a
      // BlockMissingException. 1,024 buckets claimed by 3 pods at once hit it, and the pod
      // reading the record failed to start. Its holder is unknown until the next refresh,
      // as for a record still being written (never cached).
      long seen = unreadable.count();
      if (seen > 0) {
        LOG.warn("could not read holder record {} ({}); its holder counts as unknown until the next refresh "
            + "({} unreadable so far)", record.getName(), e.toString(), seen);
      }
      return -1;
    }
    String text = new String(buf, 0, n, StandardCharsets.UTF_8);
    if (!text.startsWith("holder=") || !text.endsWith("\n")) {
      return -1; // still being written
    }
    int holder = Integer.parseInt(text.substring(7, text.length() - 1));
    holders.put(record.getName(), holder);
    return holder;
  }

  /**
   * Records {@code holder} as the holder of {@code bucket} from {@code epoch} on. Returns
   * false if that epoch was already claimed (by anyone): re-read, and claim a later one only
   * if there is still reason to.
   */
  boolean claim(int bucket, long epoch, int holder) throws IOException {
    Path p = recordPath(dir, bucket, epoch);
    fs.mkdirs(dir);
    try (FSDataOutputStream out = fs.create(p, false)) {
      out.write(("holder=" + holder + "\n").getBytes(StandardCharsets.UTF_8));
    } catch (FileAlreadyExistsException e) {
      return false;
    } catch (RemoteException e) {
      if (e.getClassName().endsWith(".AlreadyBeingCreatedException")
          || e.getClassName().endsWith(".FileAlreadyExistsException")) {
        return false; // HDFS: another pod is creating, or has created, the same record
      }
      throw e;
    }
    holders.put(p.getName(), holder);
    return true;
  }

  /** Deletes the records of {@code bucket} older than {@code epoch} - 2 (they decide nothing). */
  void prune(int bucket, long epoch) throws IOException {
    for (long e = epoch - 3; e > 0; e--) {
      if (!fs.delete(recordPath(dir, bucket, e), false)) {
        break;
      }
    }
  }

}
