package io.kvpod.pod;

import io.kvpod.contract.Membership;
import io.kvpod.contract.TableLayout;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
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
 * Who holds each bucket, and which pods the table has, as recorded on HDFS. Bucket {@code b}
 * is the keys with {@code murmur3(key) mod buckets == b}; its first holder
 * ({@link Membership#firstHolder}) holds it unless a takeover recorded another pod. The
 * NameNode is the one arbiter: no coordination service is needed. The membership
 * ({@link Membership}) lives in the same directory, as {@code members-} files, so one listing
 * reads both.
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

  /**
   * The holdings of every bucket, as of {@code confirmedNanos} ({@link System#nanoTime()}),
   * and the membership in force then (null in views made by hand: the seed pods).
   */
  record View(Holding[] holdings, long confirmedNanos, Membership members) {
    View(Holding[] holdings, long confirmedNanos) {
      this(holdings, confirmedNanos, null);
    }

    Holding of(int bucket) {
      return holdings[bucket];
    }
  }

  private static final Pattern NAME = Pattern.compile("pod-(\\d+)\\.epoch-(\\d{12})");
  private static final Pattern MEMBERS = Pattern.compile("members-(\\d{12})");

  private final FileSystem fs;
  private final Path dir;
  private final int buckets;
  /** The newest membership read (or the seed); see {@link Membership}. */
  private volatile Membership members;
  private volatile Consumer<Membership> onMembers = m -> { };
  /** Record contents never change once written, so each is read once. */
  private final Map<String, Integer> holders = new ConcurrentHashMap<>();
  private volatile View view;
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Ownership.class);
  /** Unreadable records are logged at most once a second. */
  private final LogThrottle unreadable = new LogThrottle(1, java.util.concurrent.TimeUnit.SECONDS);

  /** Records of a table that started with {@code pods} pods and has had no other membership yet. */
  Ownership(FileSystem fs, TableLayout layout, int buckets, int pods) {
    this(fs, layout, seed(pods, buckets));
  }

  /** Records of a table whose newest known membership is {@code members}. */
  Ownership(FileSystem fs, TableLayout layout, Membership members) {
    this.fs = fs;
    this.dir = layout.ownersDir();
    this.buckets = members.buckets();
    this.members = members;
    this.view = new View(homes(), System.nanoTime() - 86_400_000_000_000L, members); // never confirmed
  }

  /** A seed membership of {@code pods} pods, for uses where addresses do not matter. */
  static Membership seed(int pods, int buckets) {
    List<String> addresses = new ArrayList<>();
    for (int p = 0; p < pods; p++) {
      addresses.add("pod" + p + ":0");
    }
    return Membership.seed(addresses, buckets);
  }

  /** Tells {@code listener} of each newer membership found by {@link #refresh}, on the refreshing thread. */
  void onMembers(Consumer<Membership> listener) {
    this.onMembers = listener;
  }

  /** The newest membership read. */
  Membership members() {
    return members;
  }

  /**
   * The filesystem to keep holder records on: for HDFS, a client of its own whose reads give
   * up after one short retry (100 ms window, 2 attempts in all) instead of HDFS's default of
   * three retries in growing windows of 3 s. A record can be unreadable for a moment while it
   * is being written, and the default retries held every refresh of the records, and so every
   * takeover decision, for about 37 s; now such a record counts as naming no holder until the
   * next poll. The local filesystem is used without its checksum files (a record read while it
   * is being written is partial, which its grammar tells, where the checksum layer logged a
   * stack trace). Other filesystems are used as they are. The client is closed with the others
   * when the process exits.
   */
  static FileSystem recordFileSystem(FileSystem fs) throws IOException {
    if (fs instanceof org.apache.hadoop.fs.LocalFileSystem local) {
      return local.getRaw();
    }
    if (!"hdfs".equals(fs.getUri().getScheme())) {
      return fs;
    }
    Configuration c = new Configuration(fs.getConf());
    c.setInt("dfs.client.retry.window.base", 100);
    c.setInt("dfs.client.max.block.acquire.failures", 1);
    return FileSystem.newInstance(fs.getUri(), c);
  }

  /** Epoch 0 of every bucket: its first holder ({@link Membership#firstHolder}). */
  private Holding[] homes() {
    Holding[] h = new Holding[buckets];
    for (int b = 0; b < buckets; b++) {
      h[b] = new Holding(members.firstHolder(b), 0);
    }
    return h;
  }

  int buckets() {
    return buckets;
  }

  /** Where {@code bucket} belongs now ({@link Membership#home}). */
  int home(int bucket) {
    return members.home(bucket);
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
    Path newestMembers = null;
    long membersVersion = members.version();
    for (FileStatus st : listed) {
      Matcher mm = MEMBERS.matcher(st.getPath().getName());
      if (mm.matches() && Long.parseLong(mm.group(1)) > membersVersion) {
        membersVersion = Long.parseLong(mm.group(1));
        newestMembers = st.getPath();
        continue;
      }
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
    if (newestMembers != null) {
      adopt(newestMembers);
    }
    synchronized (this) {
      View next = new View(h, started, members);
      if (started - view.confirmedNanos() > 0) {
        view = next;
      }
      return next;
    }
  }

  /**
   * Reads the membership file {@code p} and, if it is complete, well formed and newer than
   * the one in force, puts it in force and tells the listener. A file still being written is
   * left for the next refresh; a malformed one is logged and ignored.
   */
  private void adopt(Path p) throws IOException {
    Membership next;
    try {
      next = readMembers(fs, p);
    } catch (IllegalArgumentException e) {
      if (unreadable.count() > 0) {
        LOG.error("ignoring membership file {}: {}", p, e.getMessage());
      }
      return;
    }
    if (next == null || next.version() <= members.version()) {
      return;
    }
    if (next.buckets() != buckets || next.seed() != members.seed()) {
      LOG.error("ignoring membership file {}: it gives {} buckets and {} first pods, but the table has {} and {}", p,
          next.buckets(), next.seed(), buckets, members.seed());
      return;
    }
    LOG.info("membership version {} is in force: {}", next.version(), next.members());
    members = next;
    onMembers.accept(next);
  }

  /** The membership in file {@code p}; null if it is not complete, or gone. */
  private static Membership readMembers(FileSystem fs, Path p) throws IOException {
    try (InputStream in = fs.open(p)) {
      return Membership.parse(in.readAllBytes());
    } catch (FileNotFoundException e) {
      return null;
    }
  }

  /**
   * The newest complete membership recorded for the table under {@code layout}, or null if
   * none is. Malformed files throw IllegalArgumentException.
   */
  static Membership newestMembers(FileSystem fs, TableLayout layout) throws IOException {
    FileStatus[] listed;
    try {
      listed = fs.listStatus(layout.ownersDir());
    } catch (FileNotFoundException e) {
      return null;
    }
    List<Path> files = new ArrayList<>();
    for (FileStatus st : listed) {
      if (MEMBERS.matcher(st.getPath().getName()).matches()) {
        files.add(st.getPath());
      }
    }
    files.sort(Comparator.comparing(Path::getName).reversed()); // zero-padded: by name is by version
    for (Path p : files) {
      Membership m = readMembers(fs, p);
      if (m != null) {
        return m;
      }
    }
    return null;
  }

  /**
   * Records {@code next} as the table's membership, version {@code next.version()}. Returns
   * false if that version exists already (another writer won): re-read, and decide again.
   */
  static boolean publishMembers(FileSystem fs, TableLayout layout, Membership next) throws IOException {
    return createExclusive(fs, new Path(layout.ownersDir(), String.format("members-%012d", next.version())),
        next.format());
  }

  /**
   * Creates {@code p} holding {@code content} unless it exists; false if it does, or another
   * writer is creating it (HDFS: {@code AlreadyBeingCreatedException}).
   */
  private static boolean createExclusive(FileSystem fs, Path p, byte[] content) throws IOException {
    fs.mkdirs(p.getParent());
    try (FSDataOutputStream out = fs.create(p, false)) {
      out.write(content);
    } catch (FileAlreadyExistsException e) {
      return false;
    } catch (RemoteException e) {
      if (e.getClassName().endsWith(".AlreadyBeingCreatedException")
          || e.getClassName().endsWith(".FileAlreadyExistsException")) {
        return false;
      }
      throw e;
    }
    return true;
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
    if (!createExclusive(fs, p, ("holder=" + holder + "\n").getBytes(StandardCharsets.UTF_8))) {
      return false;
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
