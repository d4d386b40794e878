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
 *   /tables/&lt;table&gt;/members            persistent: the membership, in {@link Membership}'s own grammar
 *   /tables/&lt;table&gt;/holders/&lt;bucket&gt;   persistent: holder   := "epoch=" epoch "\n" "holder=" pod "\n"
 *   /tables/&lt;table&gt;/pods/&lt;id&gt;          ephemeral:  pod      := "address=" host ":" port "\n"
 *                                                                 "state=" ("active" | "joining" | "leaving") "\n"
 *                                                                 "holds=" [bucket ("," bucket)*] "\n"
 * </pre>
 *
 * Mirrors only move forward: a {@code members} node is replaced only by a higher version, a
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
