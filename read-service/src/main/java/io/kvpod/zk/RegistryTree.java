package io.kvpod.zk;

import io.kvpod.contract.Membership;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The znodes of one table in kvpod's registry, under the root of its {@link ZkAddress}, and
 * what each holds. The registry is a mirror of what HDFS records, plus who is alive; it is
 * never the authority. A bucket's holder is decided, and a stale holder fenced, by the
 * exclusive-create records and the WAL lease recovery on HDFS; ZooKeeper only lets clients and
 * pods hear of a change at once instead of polling for it.
 *
 * <pre>
 *   /tables/&lt;table&gt;/identity           persistent: identity := "table=" tableDirUri "\n" "created=" millis "\n"
 *   /tables/&lt;table&gt;/members            persistent: the membership, in {@link Membership}'s own grammar
 *   /tables/&lt;table&gt;/holders/&lt;bucket&gt;   persistent: holder   := "epoch=" epoch "\n" "holder=" pod "\n"
 *   /tables/&lt;table&gt;/pods/&lt;id&gt;          ephemeral:  pod      := "address=" host ":" port "\n"
 *                                                                 "state=" ("active" | "joining" | "leaving") "\n"
 *                                                                 "holds=" [bucket ("," bucket)*] "\n"
 * </pre>
 *
 * The identity says whose registry it is: pods of a table mirror only into their own, take
 * over one left by an older table of the same directory, and leave one of another table
 * alone. Mirrors only move forward: a {@code members} node is replaced only by a higher version, a
 * holder node only by a higher epoch (compare-and-set on the znode's version), so pods that
 * mirror the same change, or an old change late, never undo a newer one. A pod's node is
 * ephemeral: it goes when the pod's session ends, which tells clients to stop calling that pod,
 * and tells other pods to suspect it, never to assume it has stopped writing.
 */
public final class RegistryTree {
  /** What a pod's node says: where it serves, its state, and the buckets it holds. */
  public record PodNode(String address, String state, List<Integer> holds) {
    public byte[] format() {
      StringBuilder sb = new StringBuilder("address=").append(address).append("\nstate=")
          .append(state.toLowerCase(Locale.ROOT)).append("\nholds=");
      for (int i = 0; i < holds.size(); i++) {
        sb.append(i == 0 ? "" : ",").append(holds.get(i));
      }
      return sb.append('\n').toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The node's content, or null if it is not in this grammar. */
    public static PodNode parse(byte[] data) {
      Matcher m = POD.matcher(new String(data, StandardCharsets.UTF_8));
      if (!m.matches()) {
        return null;
      }
      List<Integer> holds = new ArrayList<>();
      if (!m.group(3).isEmpty()) {
        for (String b : m.group(3).split(",")) {
          holds.add(Integer.parseInt(b));
        }
      }
      return new PodNode(m.group(1), m.group(2), holds);
    }
  }

  /** What a holder node says: {@code holder} holds the bucket from {@code epoch} on. */
  public record HolderNode(long epoch, int holder) {
    public byte[] format() {
      return ("epoch=" + epoch + "\nholder=" + holder + "\n").getBytes(StandardCharsets.UTF_8);
    }

    /** The node's content, or null if it is not in this grammar. */
    public static HolderNode parse(byte[] data) {
      Matcher m = HOLDER.matcher(new String(data, StandardCharsets.UTF_8));
      return m.matches() ? new HolderNode(Long.parseLong(m.group(1)), Integer.parseInt(m.group(2))) : null;
    }
  }

  /** The identity node's content for a table whose directory and creation time are {@code identity} ("dir@millis"). */
  public static byte[] identity(String identity) {
    int at = identity.lastIndexOf('@');
    return ("table=" + identity.substring(0, at) + "\ncreated=" + identity.substring(at + 1) + "\n")
        .getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Whether a registry whose identity node holds {@code there} may be taken over by the table
   * whose identity content is {@code ours}: {@code there} is not in the grammar, or names the
   * same directory with an older creation time.
   */
  public static boolean replaces(String ours, String there) {
    Matcher o = IDENTITY.matcher(ours);
    Matcher t = IDENTITY.matcher(there);
    if (!t.matches()) {
      return true;
    }
    return o.matches() && o.group(1).equals(t.group(1)) && Long.parseLong(o.group(2)) > Long.parseLong(t.group(2));
  }

  /** The membership a {@code members} node holds; null if it is incomplete or not in the grammar. */
  public static Membership parseMembers(byte[] data) {
    try {
      return Membership.parse(data);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static final Pattern IDENTITY = Pattern.compile("table=(\\S+)\ncreated=(\\d{1,19})\n");
  private static final Pattern POD = Pattern.compile("address=([^\\s]+:\\d+)\nstate=(active|joining|leaving)\n"
      + "holds=((?:\\d+(?:,\\d+)*)?)\n");
  private static final Pattern HOLDER = Pattern.compile("epoch=(\\d{1,18})\nholder=(\\d{1,9})\n");

  private final String table;

  public RegistryTree(String table) {
    this.table = table;
  }

  /** The table's node; everything else of the table is under it. */
  public String tablePath() {
    return "/tables/" + table;
  }

  public String identityPath() {
    return tablePath() + "/identity";
  }

  public String membersPath() {
    return tablePath() + "/members";
  }

  public String holdersPath() {
    return tablePath() + "/holders";
  }

  public String holderPath(int bucket) {
    return holdersPath() + "/" + bucket;
  }

  public String podsPath() {
    return tablePath() + "/pods";
  }

  public String podPath(int id) {
    return podsPath() + "/" + id;
  }

  /** The bucket whose holder node {@code path} is, or -1 if it is not one. */
  public int bucketOf(String path) {
    return childNumber(holdersPath(), path);
  }

  /** The pod whose node {@code path} is, or -1 if it is not one. */
  public int podOf(String path) {
    return childNumber(podsPath(), path);
  }

  private static int childNumber(String parent, String path) {
    if (!path.startsWith(parent + "/")) {
      return -1;
    }
    String name = path.substring(parent.length() + 1);
    if (name.isEmpty() || name.length() > 9 || !name.chars().allMatch(Character::isDigit)) {
      return -1;
    }
    return Integer.parseInt(name);
  }
}
