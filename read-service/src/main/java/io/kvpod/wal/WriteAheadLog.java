package io.kvpod.wal;

import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LeaseRecoverable;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pod's write-ahead log: a directory of segments in {@link WalFormat}, of which the
 * newest is open for appending.
 *
 * <p>Contract:
 * <ul>
 *   <li>{@link #recover} runs once, before anything else: it takes over the lease on the
 *       last segment (so a previous incarnation that is still alive can no longer write
 *       to it), replays what the layers do not cover, and opens a fresh segment.</li>
 *   <li>{@link #append} buffers an entry; {@link #sync} makes every appended entry durable
 *       ({@code hflush}: in every DataNode's memory; {@code hsync}: on their disks). An
 *       entry may be acknowledged only after a sync that followed it returned.</li>
 *   <li>After any failed append, sync or roll the log is <em>failed</em> for good: every
 *       later call throws, because whether the failed bytes reached HDFS is unknown. A pod
 *       with a failed log refuses writes until it restarts and recovers.</li>
 * </ul>
 * Threading: {@link #append}, {@link #sync} and {@link #roll} belong to one thread (the
 * group committer); {@link #retireThrough} and the getters may be called from any thread.
 */
public final class WriteAheadLog implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(WriteAheadLog.class);

  /** How far a sync goes. */
  public enum Durability { HFLUSH, HSYNC }

  /**
   * Checked after each new segment is created and before any entry goes into it; throws to
   * refuse the segment (the log then fails). A takeover uses it to fence an old writer that
   * starts a segment the new holder did not see: the holder records its claim <em>before</em>
   * it lists the segments, so a segment created later finds the claim here.
   */
  @FunctionalInterface
  public interface SegmentGuard {
    void check(Path segment) throws IOException;
  }

  private final FileSystem fs;
  private final Path dir;
  private final int podId;
  private final Durability durability;
  private final SegmentGuard guard;
  private final List<Path> segments = new ArrayList<>();
  private FSDataOutputStream out;
  private Path active;
  private long activeBytes;
  private long nextSeq = 1;
  private volatile long durableSeq;
  private volatile IOException failure;

  public WriteAheadLog(FileSystem fs, Path dir, int podId, Durability durability) {
    this(fs, dir, podId, durability, segment -> { });
  }

  /** {@code logId} names the log in each segment header: the home pod of the keys it holds. */
  public WriteAheadLog(FileSystem fs, Path dir, int logId, Durability durability, SegmentGuard guard) {
    this.fs = walFileSystem(fs);
    this.dir = dir;
    this.podId = logId;
    this.durability = durability;
    this.guard = guard;
  }

  /**
   * The filesystem to keep logs on: HDFS as given; for {@code file://} the raw local
   * filesystem, whose {@code hflush} reaches the OS and whose {@code hsync} is fsync (the
   * checksummed local filesystem buffers both).
   */
  public static FileSystem walFileSystem(FileSystem fs) {
    return fs instanceof LocalFileSystem l ? l.getRawFileSystem() : fs;
  }

  /**
   * Recovers the log and opens a new segment. {@code coveredThrough} is the highest
   * sequence number the published layers hold for this pod; entries above it go to
   * {@code sink}. Fails with a {@link io.kvpod.contract.CorruptionException} on damage.
   */
  public synchronized WalReplay.Result recover(long coveredThrough, WalReplay.Sink sink,
      WalReplay.Reporter reporter, long leaseTimeoutMillis) throws IOException {
    fs.mkdirs(dir);
    List<Path> found = WalReplay.segments(fs, dir);
    if (!found.isEmpty()) {
      recoverLease(fs, found.get(found.size() - 1), leaseTimeoutMillis);
    }
    WalReplay.Result r = WalReplay.replay(fs, dir, coveredThrough, sink, reporter);
    segments.addAll(r.segments());
    if (!segments.isEmpty() && r.lastSegmentEntries() == 0) {
      Path empty = segments.remove(segments.size() - 1);
      if (WalFormat.firstSeqOf(empty.getName()) == r.nextSeq()) {
        fs.delete(empty, false); // holds no entry, and the new segment takes its name
      } else {
        segments.add(empty);
      }
    }
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
    if (!(fs instanceof LeaseRecoverable lr)) {
      return;
    }
    long deadline = System.currentTimeMillis() + timeoutMillis;
    long pause = 50;
    while (!lr.recoverLease(file)) {
      if (System.currentTimeMillis() > deadline) {
        throw new IOException("could not recover the HDFS lease on " + file + " within " + timeoutMillis + " ms");
      }
      try {
        Thread.sleep(pause);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while recovering the lease on " + file);
      }
      pause = Math.min(1000, pause * 2);
    }
  }

  private void openSegment() throws IOException {
    Path p = new Path(dir, WalFormat.segmentName(nextSeq));
    FSDataOutputStream o = null;
    try {
      o = fs.create(p, false);
      o.write(WalFormat.header(podId, nextSeq));
      o.hflush();
      guard.check(p);
      out = o;
      active = p;
      activeBytes = WalFormat.HEADER_BYTES;
      synchronized (segments) {
        segments.add(p);
      }
    } catch (IOException e) {
      if (o != null) {
        try {
          o.close();
        } catch (IOException closing) {
          e.addSuppressed(closing);
        }
      }
      throw fail("cannot start segment " + p, e);
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
    openSegment();
    return last;
  }

  /**
   * Deletes every closed segment whose entries all have sequence numbers at or below
   * {@code seq}: call only after a published layer holds those entries. Returns how many
   * segments were deleted.
   */
  public int retireThrough(long seq) throws IOException {
    List<Path> doomed = new ArrayList<>();
    synchronized (segments) {
      for (int i = 0; i + 1 < segments.size(); i++) {
        long lastOfSegment = WalFormat.firstSeqOf(segments.get(i + 1).getName()) - 1;
        if (lastOfSegment <= seq) {
          doomed.add(segments.get(i));
        }
      }
      segments.removeAll(doomed);
    }
    for (Path p : doomed) {
      fs.delete(p, false);
    }
    if (!doomed.isEmpty()) {
      LOG.info("retired {} WAL segments through sequence {}", doomed.size(), seq);
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

  public int segmentCount() {
    synchronized (segments) {
      return segments.size();
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
      throw new IOException("the WAL failed earlier and refuses writes until the pod restarts: " + f.getMessage(), f);
    }
  }

  private IOException fail(String what, IOException cause) {
    IOException f = new IOException(what + ": " + cause, cause);
    if (failure == null) {
      failure = f;
      LOG.error("WAL {} failed; refusing writes from now on", dir, cause);
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
