package io.kvpod.wal;

import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LeaseRecoverable;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One bucket's write-ahead log as written by its holder in one epoch: a directory of
 * segments in {@link WalFormat}, of which the newest is open for appending.
 *
 * <p>Contract:
 * <ul>
 *   <li>{@link #recover} runs once, before anything else. It lists the segments, ends every
 *       other writer's HDFS lease on each of them (so a previous holder that is still alive
 *       can no longer make anything durable in them), replays what the layers do not cover,
 *       and starts a fresh segment named with this log's epoch. It never deletes, truncates
 *       or rewrites a segment, and it gives up with a {@link SupersededException} if any
 *       segment carries a later epoch than its own.</li>
 *   <li>{@link #append} buffers an entry; {@link #sync} makes every appended entry durable
 *       ({@code hflush}: in every DataNode's memory; {@code hsync}: on their disks). An
 *       entry may be acknowledged only after a sync that followed it returned.</li>
 *   <li>After any failed append, sync or roll the log is <em>failed</em> for good: every
 *       later call throws, because whether the failed bytes reached HDFS is unknown. Its
 *       holder must stop writing it and recover the log anew, in a later epoch.</li>
 *   <li>{@link #retireThrough} deletes only segments that are closed (by this log, or fenced
 *       by its recovery) and whose every entry is at or below the given sequence number,
 *       which a published layer must hold.</li>
 * </ul>
 *
 * <p>Who writes which file: segment names carry the epoch of their writer, and this log
 * creates segments only in its own epoch, with {@code create(overwrite=false)}; so two
 * holders never write a file of the same name. Every new segment is shown to the
 * {@link SegmentGuard} after it is created and before any entry goes into it.
 *
 * <p>Threading: {@link #append}, {@link #sync} and {@link #roll} belong to one thread (the
 * group committer); {@link #retireThrough} and the getters may be called from any thread.
 */
public final class WriteAheadLog implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(WriteAheadLog.class);

  /** How far a sync goes. */
  public enum Durability { HFLUSH, HSYNC }

  /**
   * Checked after each new segment is created and before any entry goes into it; throws
   * (a {@link SupersededException}) to refuse the segment, which fails the log. A takeover
   * uses it to fence an old holder that starts a segment the new holder did not list: the
   * new holder records its claim <em>before</em> it lists the segments, so a segment created
   * later finds the claim here.
   */
  @FunctionalInterface
  public interface SegmentGuard {
    void check(Path segment) throws IOException;
  }

  /** Test hook: runs in {@link #recover} after the segments are listed and before they are fenced. */
  @FunctionalInterface
  public interface RecoveryHook {
    void listed(List<Path> segments) throws IOException;
  }

  /** Identifies a log's writer: the bucket, the writer's epoch, and the pod that writes. */
  public record Writer(int bucket, long epoch, int pod) {}

  private final FileSystem fs;
  private final Path dir;
  private final Writer writer;
  private final Durability durability;
  private final SegmentGuard guard;
  /** Closed segments in name order, each with its last sequence number; not the active one. */
  private final List<WalSegment> closed = new ArrayList<>();
  private volatile RecoveryHook recoveryHook = segments -> { };
  private FSDataOutputStream out;
  private Path active;
  private SegmentName activeName;
  private long activeBytes;
  private long nextSeq = 1;
  private volatile long durableSeq;
  private volatile IOException failure;

  /** A log written in epoch 0 by pod {@code podId} for bucket {@code podId}, with no guard: for tools and tests. */
  public WriteAheadLog(FileSystem fs, Path dir, int podId, Durability durability) {
    this(fs, dir, new Writer(podId, 0, podId), durability, segment -> { });
  }

  public WriteAheadLog(FileSystem fs, Path dir, Writer writer, Durability durability, SegmentGuard guard) {
    this.fs = walFileSystem(fs);
    this.dir = dir;
    this.writer = writer;
    this.durability = durability;
    this.guard = guard;
  }

  /**
   * HDFS client settings a log needs, set in {@code conf} unless a site file or the caller
   * set them already (Hadoop's own defaults do not count): when a
   * DataNode of a segment's pipeline dies and HDFS has no spare DataNode to put in its place
   * (a cluster of three, with replication 3), the pipeline goes on with the DataNodes left
   * ({@code dfs.client.block.write.replace-datanode-on-failure.best-effort}). Without it the
   * segment's next sync fails, and the pod refuses writes to the bucket until it restarts:
   * one DataNode lost stopped every write (see {@code WalOnReplicatedHdfsTest}).
   */
  public static void applyClientDefaults(Configuration conf) {
    String key = "dfs.client.block.write.replace-datanode-on-failure.best-effort";
    String[] from = conf.getPropertySources(key); // hdfs-default.xml's false does not count as set
    if (from == null || java.util.Arrays.stream(from).allMatch(f -> f.endsWith("-default.xml"))) {
      conf.set(key, "true", "kvpod: WriteAheadLog.applyClientDefaults");
    }
  }

  /**
   * The filesystem to keep logs on: HDFS as given; for {@code file://} the raw local
   * filesystem, whose {@code hflush} reaches the OS and whose {@code hsync} is fsync (the
   * checksummed local filesystem buffers both).
   */
  public static FileSystem walFileSystem(FileSystem fs) {
    return fs instanceof LocalFileSystem l ? l.getRawFileSystem() : fs;
  }

  /** For tests: runs {@code hook} at the given point of {@link #recover}. */
  public void setRecoveryHook(RecoveryHook hook) {
    this.recoveryHook = hook;
  }

  /**
   * Recovers the log and opens a new segment in this log's epoch. {@code coveredThrough} is
   * the highest sequence number the published layers hold for this bucket; entries above
   * it go to {@code sink}. Fails with a {@link SupersededException} if a later epoch wrote
   * here, and with a {@link io.kvpod.contract.CorruptionException} on damage; a
   * {@link java.io.FileNotFoundException} means a segment was retired meanwhile (a previous
   * holder published a flush): recover again, on a fresh view of the layers.
   */
  public synchronized WalReplay.Result recover(long coveredThrough, WalReplay.Sink sink,
      WalReplay.Reporter reporter, long leaseTimeoutMillis) throws IOException {
    fs.mkdirs(dir);
    List<Path> found = WalReplay.segments(fs, dir);
    SegmentName newest = null;
    for (Path p : found) {
      SegmentName n = SegmentName.parse(p.getName());
      newest = newest == null || n.epoch() > newest.epoch() ? n : newest;
    }
    if (newest != null && newest.epoch() > writer.epoch()) {
      throw new SupersededException("bucket " + writer.bucket() + "'s log has segment " + newest.fileName()
          + " of epoch " + newest.epoch() + ", later than this holder's epoch " + writer.epoch()
          + ": another pod holds the bucket now; nothing was fenced or written");
    }
    recoveryHook.listed(found);
    recoverLeases(fs, found, leaseTimeoutMillis);
    WalReplay.Result r = WalReplay.replay(fs, dir, found, coveredThrough, sink, reporter);
    closed.addAll(r.segments());
    nextSeq = r.nextSeq();
    durableSeq = nextSeq - 1;
    openSegment();
    return r;
  }

  /**
   * Ends any other writer's lease on {@code file} (HDFS), which also fixes the file's final
   * length. Polls, since the NameNode answers false until block recovery is done.
   */
  public static void recoverLease(FileSystem fs, Path file, long timeoutMillis) throws IOException {
    recoverLeases(fs, List.of(file), timeoutMillis);
  }

  /**
   * {@link #recoverLease} for every file of {@code files} at once: asks for each, then polls
   * those not yet recovered, at most 200 ms apart (block recovery completes on a DataNode
   * heartbeat; a takeover waits for it). A file deleted meanwhile needs no fencing.
   */
  public static void recoverLeases(FileSystem fs, List<Path> files, long timeoutMillis) throws IOException {
    if (!(fs instanceof LeaseRecoverable lr)) {
      return;
    }
    long deadline = System.currentTimeMillis() + timeoutMillis;
    List<Path> pending = new ArrayList<>(files);
    long pause = 50;
    while (true) {
      for (Iterator<Path> it = pending.iterator(); it.hasNext(); ) {
        Path p = it.next();
        try {
          if (lr.recoverLease(p)) {
            it.remove();
          }
        } catch (java.io.FileNotFoundException e) {
          it.remove();
        }
      }
      if (pending.isEmpty()) {
        return;
      }
      if (System.currentTimeMillis() > deadline) {
        throw new IOException("could not recover the HDFS lease on " + pending + " within " + timeoutMillis + " ms");
      }
      try {
        Thread.sleep(pause);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while recovering the lease on " + pending);
      }
      pause = Math.min(200, pause * 2);
    }
  }

  private void openSegment() throws IOException {
    SegmentName name = new SegmentName(nextSeq, writer.epoch());
    Path p = new Path(dir, name.fileName());
    FSDataOutputStream o = null;
    try {
      o = fs.create(p, false);
      o.write(WalFormat.header(writer.bucket(), nextSeq, writer.epoch(), writer.pod()));
      o.hflush();
      guard.check(p);
      out = o;
      active = p;
      activeName = name;
      activeBytes = WalFormat.HEADER_BYTES;
    } catch (IOException e) {
      if (o != null) {
        try {
          o.close();
        } catch (IOException closing) {
          e.addSuppressed(closing);
        }
      }
      IOException f = fail("cannot start segment " + p, e);
      throw e instanceof SupersededException ? e : f;
    }
  }

  /** Buffers one entry; returns its sequence number. Not durable until {@link #sync}. */
  public long append(long version, byte[] body) throws IOException {
    checkHealthy();
    long seq = nextSeq;
    byte[] e = WalFormat.entry(seq, version, body);
    try {
      out.write(e);
    } catch (IOException ex) {
      throw fail("cannot append to " + active, ex);
    }
    nextSeq++;
    activeBytes += e.length;
    return seq;
  }

  /** Makes every appended entry durable. */
  public void sync() throws IOException {
    checkHealthy();
    try {
      if (durability == Durability.HSYNC) {
        out.hsync();
      } else {
        out.hflush();
      }
    } catch (IOException e) {
      throw fail("cannot " + durability.name().toLowerCase() + " " + active, e);
    }
    durableSeq = nextSeq - 1;
  }

  /**
   * Closes the active segment and starts the next one; returns the last sequence number
   * logged. Does nothing while the active segment holds no entry.
   */
  public long roll() throws IOException {
    checkHealthy();
    long last = nextSeq - 1;
    if (activeBytes == WalFormat.HEADER_BYTES) {
      return last;
    }
    try {
      out.close();
    } catch (IOException e) {
      throw fail("cannot close " + active, e);
    }
    synchronized (closed) {
      closed.add(new WalSegment(active, activeName, last));
    }
    openSegment();
    return last;
  }

  /**
   * Deletes every closed segment whose entries all have sequence numbers at or below
   * {@code seq}: call only after a published layer holds those entries. The active segment
   * is never deleted. Returns how many segments were deleted.
   */
  public int retireThrough(long seq) throws IOException {
    List<WalSegment> doomed = new ArrayList<>();
    synchronized (closed) {
      for (WalSegment s : closed) {
        if (s.lastSeq() <= seq) {
          doomed.add(s);
        }
      }
      closed.removeAll(doomed);
    }
    for (WalSegment s : doomed) {
      fs.delete(s.path(), false);
    }
    if (!doomed.isEmpty()) {
      LOG.info("retired {} WAL segments of bucket {} through sequence {}", doomed.size(), writer.bucket(), seq);
    }
    return doomed.size();
  }

  /** The last sequence number known durable. */
  public long durableSeq() {
    return durableSeq;
  }

  /** Bytes in the active segment. Group committer thread only. */
  public long activeBytes() {
    return activeBytes;
  }

  /** Segments this log knows of, the active one included. */
  public int segmentCount() {
    synchronized (closed) {
      return closed.size() + (active == null ? 0 : 1);
    }
  }

  public Path dir() {
    return dir;
  }

  /** Why the log failed, or null while it is healthy. */
  public IOException failure() {
    return failure;
  }

  private void checkHealthy() throws IOException {
    if (out == null) {
      throw new IOException("the WAL is not open");
    }
    IOException f = failure;
    if (f != null) {
      throw new IOException("the WAL failed earlier and refuses writes until it is recovered anew: " + f.getMessage(), f);
    }
  }

  private IOException fail(String what, IOException cause) {
    IOException f = new IOException(what + ": " + cause, cause);
    if (failure == null) {
      failure = f;
      if (cause instanceof SupersededException) {
        LOG.info("WAL {} (epoch {}) is superseded; refusing writes: {}", dir, writer.epoch(), cause.getMessage());
      } else {
        LOG.error("WAL {} (epoch {}) failed; refusing writes from now on", dir, writer.epoch(), cause);
      }
    }
    return f;
  }

  /** Closes the active segment. Safe to call more than once. */
  @Override
  public synchronized void close() throws IOException {
    if (out != null) {
      FSDataOutputStream o = out;
      out = null;
      if (failure == null) {
        o.close();
      } else {
        try {
          o.close();
        } catch (IOException e) {
          LOG.debug("closing a failed WAL segment: {}", e.toString());
        }
      }
    }
  }
}
