package io.kvpod.pod;

import io.kvpod.contract.Membership;
import io.kvpod.contract.TableLayout;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.apache.hadoop.fs.FileSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A table's membership ({@link Membership}) as the pods and the operator tools read and change
 * it on HDFS, through {@link Ownership}'s {@code members-} files. Stateless.
 */
public final class TableMembers {
  private static final Logger LOG = LoggerFactory.getLogger(TableMembers.class);
  /** Changes that lose this many races in a row to other writers give up. */
  private static final int MAX_RACES = 20;

  private TableMembers() {}

  /**
   * The membership a starting pod {@code self}, configured with the pods {@code configured},
   * serves under. The first pod of a table to start records {@code configured} as version 0.
   * A pod whose configured address is not the one recorded for its id records its new
   * address (it moved), and the others follow. Refuses a pod that is not a member, and one
   * given another number of pods than the table started with while no pod has joined or left
   * (the pods would disagree on who holds what).
   */
  static Membership atStart(FileSystem fs, TableLayout layout, List<InetSocketAddress> configured, int self,
                            int buckets) throws IOException {
    List<String> mine = new ArrayList<>();
    configured.forEach(a -> mine.add(text(a)));
    Membership m = Ownership.newestMembers(fs, layout);
    if (m == null) {
      Membership seed = Membership.seed(mine, buckets);
      if (Ownership.publishMembers(fs, layout, seed)) {
        LOG.info("table {}: recorded its first membership (version 0): {}", layout.table(), seed.members());
      }
      m = Ownership.newestMembers(fs, layout);
      if (m == null) {
        throw new IOException("could not read table " + layout.table() + "'s membership just recorded in "
            + layout.ownersDir());
      }
    }
    if (m.buckets() != buckets) {
      throw new IllegalArgumentException("table " + layout.table() + "'s membership gives " + m.buckets()
          + " buckets, its metadata " + buckets);
    }
    if (m.slots() == m.seed() && m.seed() != mine.size()) {
      throw new IllegalArgumentException("table " + layout.table() + " has " + m.seed() + " pods " + m.addresses()
          + ", but this pod was given " + mine.size() + " in kvpod.pods " + mine
          + "; give every pod the same list (pods join with 'kvpod pod add')");
    }
    Membership.Member me = m.member(self);
    if (me == null) {
      throw new IllegalArgumentException("pod " + self + " is not a pod of table " + layout.table()
          + " (membership version " + m.version() + ": " + m.members() + "); add a pod with 'kvpod pod add'");
    }
    String at = self < mine.size() ? mine.get(self) : null;
    if (at != null && !me.address().equals(at)) {
      LOG.warn("pod {} of table {} was recorded at {}; recording its new address {}", self, layout.table(),
          me.address(), at);
      m = change(fs, layout, now -> now.withAddress(self, at));
    }
    return m;
  }

  /**
   * Applies {@code change} to the newest membership and records the result as the next
   * version, again from the newest if another writer recorded that version first. Returns
   * what was recorded. {@code change} may throw IllegalArgumentException to refuse.
   */
  public static Membership change(FileSystem fs, TableLayout layout, UnaryOperator<Membership> change)
      throws IOException {
    for (int race = 0; race < MAX_RACES; race++) {
      Membership now = Ownership.newestMembers(fs, layout);
      if (now == null) {
        throw new IllegalStateException("table " + layout.table() + " has no membership recorded under "
            + layout.ownersDir() + ": start its pods once first");
      }
      Membership next = change.apply(now);
      if (Ownership.publishMembers(fs, layout, next)) {
        return next;
      }
    }
    throw new IOException("another writer changed table " + layout.table() + "'s membership " + MAX_RACES
        + " times while this change was being made; try again");
  }

  /** The newest membership recorded for the table, or null if none is (no pod has started). */
  public static Membership newest(FileSystem fs, TableLayout layout) throws IOException {
    return Ownership.newestMembers(fs, layout);
  }

  /** The pods' addresses by id, null where no pod is. */
  static List<InetSocketAddress> addresses(Membership m) {
    List<InetSocketAddress> out = new ArrayList<>();
    for (String a : m.addresses()) {
      out.add(a == null ? null : PodConfig.parsePods(a).get(0));
    }
    return out;
  }

  /** The ids of the pods, in increasing order. */
  static int[] ids(Membership m) {
    return m.members().stream().mapToInt(Membership.Member::id).toArray();
  }

  /** {@code host:port}, as membership files hold addresses. */
  static String text(InetSocketAddress a) {
    return a.getHostString() + ":" + a.getPort();
  }
}
