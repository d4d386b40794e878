package io.kvpod.contract;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The pods of a table, and the home pod of each of its buckets: which pod each bucket
 * belongs to when every pod is up. The pods, the client and the operator tools share it.
 * Immutable and thread-safe.
 *
 * <p>Each version is one file next to the holder records, named {@code members-} and the
 * version in 12 zero-padded digits, created exclusively, so of two writers of the same
 * version exactly one wins; the highest complete version is in force. Grammar:
 * <pre>
 *   file    := "version=" N "\n" "seed=" S "\n" "slots=" K "\n" member* "homes=" home ("," home)* "\n" "end\n"
 *   member  := "pod." id "=" host ":" port " " state "\n"         ids in increasing order
 *   state   := "active" | "joining" | "leaving"
 * </pre>
 * A pod's id is its slot: it never changes, and a pod that left leaves its slot empty (no
 * {@code member} line), so ids are never reused; {@code K} counts the slots. Without any file, a table's membership is
 * {@link #seed} of the pods the pods were started with (version 0).
 *
 * <p>Two functions of a bucket {@code b}:
 * <ul>
 *   <li>{@link #home}{@code (b)}: where the bucket belongs now. A pod that is not the holder
 *       of one of its home buckets takes it back, one bucket at a time, through the usual
 *       flush-then-fenced takeover.</li>
 *   <li>{@link #firstHolder}{@code (b)} = {@code b mod seed}: who holds the bucket in epoch 0,
 *       before any holder record exists. Fixed for the table's life, so a change of homes
 *       never moves a bucket without a claim.</li>
 * </ul>
 * Homes change only as pods join ({@link #join}: the new pod gets {@code floor(B/n)} buckets,
 * each taken from the pod with the most) and leave ({@link #leave}: the leaving pod's buckets
 * go, in bucket order, each to the pod with the fewest). So each change moves the fewest
 * buckets it can, and no pod is home to more than {@code ceil(B/n)} of them.
 */
public final class Membership {
  /** Pod ids are below this, over a table's whole life (ids are never reused). */
  public static final int MAX_PODS = 1024;

  /** What a pod is doing in the table. */
  public enum State {
    /** Serves, takes its home buckets at start. */
    ACTIVE,
    /** New: takes its home buckets one at a time from their holders, never all at start. */
    JOINING,
    /** Being decommissioned: home to no bucket; hands its buckets over, then stops. */
    LEAVING;

    String text() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** One pod: its id, address ({@code host:port}) and state. */
  public record Member(int id, String address, State state) {}

  private final long version;
  private final int seed;
  /** By id; null where no pod is (it left). */
  private final Member[] slots;
  private final int[] homes;

  private Membership(long version, int seed, Member[] slots, int[] homes) {
    this.version = version;
    this.seed = seed;
    this.slots = slots;
    this.homes = homes;
    check();
  }

  /** Version 0: {@code addresses} (pod i at index i), all active, bucket b's home is {@code b mod pods}. */
  public static Membership seed(List<String> addresses, int buckets) {
    Member[] m = new Member[addresses.size()];
    for (int i = 0; i < m.length; i++) {
      m[i] = new Member(i, addresses.get(i), State.ACTIVE);
    }
    int[] h = new int[buckets];
    for (int b = 0; b < buckets; b++) {
      h[b] = BucketHomes.home(b, m.length);
    }
    return new Membership(0, m.length, m, h);
  }

  public long version() {
    return version;
  }

  /** The number of pods the table started with; bucket b's epoch-0 holder is {@code b mod seed}. */
  public int seed() {
    return seed;
  }

  /** One more than the highest id ever given: ids are {@code 0 .. slots() - 1}, some of them empty. */
  public int slots() {
    return slots.length;
  }

  public int buckets() {
    return homes.length;
  }

  /** The pod with id {@code id}, or null if there is none (it left, or never was). */
  public Member member(int id) {
    return id >= 0 && id < slots.length ? slots[id] : null;
  }

  /** The pods, by increasing id. */
  public List<Member> members() {
    List<Member> out = new ArrayList<>();
    for (Member m : slots) {
      if (m != null) {
        out.add(m);
      }
    }
    return out;
  }

  /** Whether {@code id} is a pod that may be given buckets: present and not leaving. */
  public boolean takesBuckets(int id) {
    Member m = member(id);
    return m != null && m.state() != State.LEAVING;
  }

  /** Where bucket {@code b} belongs now. */
  public int home(int bucket) {
    return homes[bucket];
  }

  /** Who holds bucket {@code b} in epoch 0 (no holder record): {@code b mod seed}. */
  public int firstHolder(int bucket) {
    return BucketHomes.home(bucket, seed);
  }

  /** The buckets whose home is {@code id}, in increasing order. */
  public List<Integer> homesOf(int id) {
    List<Integer> out = new ArrayList<>();
    for (int b = 0; b < homes.length; b++) {
      if (homes[b] == id) {
        out.add(b);
      }
    }
    return out;
  }

  /** The pods' addresses by id, with null for empty slots. */
  public List<String> addresses() {
    List<String> out = new ArrayList<>();
    for (Member m : slots) {
      out.add(m == null ? null : m.address());
    }
    return out;
  }

  /**
   * The next version, with a new pod at {@code address} (id {@link #slots()}, joining) that is
   * home to {@code floor(B/n)} buckets of the {@code n} pods that take buckets. Each of them
   * is taken from the pod that is home to the most (the lowest id of equals), its
   * highest-numbered bucket.
   */
  public Membership join(String address) {
    for (Member m : slots) {
      if (m != null && m.address().equals(address)) {
        throw new IllegalArgumentException("pod " + m.id() + " already has address " + address);
      }
    }
    int id = slots.length;
    if (id >= MAX_PODS) {
      throw new IllegalArgumentException("the table has used all " + MAX_PODS + " pod ids");
    }
    Member[] m = Arrays.copyOf(slots, id + 1);
    m[id] = new Member(id, address, State.JOINING);
    int[] h = homes.clone();
    int[] count = counts(h, id + 1);
    int takers = 1;
    for (int p = 0; p < id; p++) {
      takers += takesBuckets(p) ? 1 : 0;
    }
    for (int want = h.length / takers; count[id] < want; ) {
      int donor = -1;
      for (int p = 0; p < id; p++) {
        if (count[p] > 0 && (donor < 0 || count[p] > count[donor])) {
          donor = p;
        }
      }
      int b = lastHomeOf(h, donor);
      h[b] = id;
      count[donor]--;
      count[id]++;
    }
    return new Membership(version + 1, seed, m, h);
  }

  /**
   * The next version, with pod {@code id} leaving: its home buckets go, in increasing order,
   * each to the pod taking buckets that is home to the fewest (the lowest id of equals).
   */
  public Membership leave(int id) {
    Member old = member(id);
    if (old == null) {
      throw new IllegalArgumentException("there is no pod " + id + " (pods: " + ids() + ")");
    }
    Member[] m = slots.clone();
    m[id] = new Member(id, old.address(), State.LEAVING);
    int[] h = homes.clone();
    int[] count = counts(h, m.length);
    for (int b = 0; b < h.length; b++) {
      if (h[b] != id) {
        continue;
      }
      int to = -1;
      for (int p = 0; p < m.length; p++) {
        if (p != id && m[p] != null && m[p].state() != State.LEAVING && (to < 0 || count[p] < count[to])) {
          to = p;
        }
      }
      if (to < 0) {
        throw new IllegalArgumentException("pod " + id + " is the last pod that takes buckets; it cannot leave");
      }
      h[b] = to;
      count[to]++;
    }
    return new Membership(version + 1, seed, m, h);
  }

  /** The next version, with pod {@code id} in state {@code state} and homes unchanged. */
  public Membership withState(int id, State state) {
    Member old = member(id);
    if (old == null) {
      throw new IllegalArgumentException("there is no pod " + id + " (pods: " + ids() + ")");
    }
    Member[] m = slots.clone();
    m[id] = new Member(id, old.address(), state);
    return new Membership(version + 1, seed, m, homes.clone());
  }

  /** The next version, with pod {@code id} at {@code address} (it moved) and all else unchanged. */
  public Membership withAddress(int id, String address) {
    Member old = member(id);
    if (old == null) {
      throw new IllegalArgumentException("there is no pod " + id + " (pods: " + ids() + ")");
    }
    Member[] m = slots.clone();
    m[id] = new Member(id, address, old.state());
    return new Membership(version + 1, seed, m, homes.clone());
  }

  /** The next version, without pod {@code id}, which must be leaving (home to no bucket). */
  public Membership without(int id) {
    Member old = member(id);
    if (old == null || old.state() != State.LEAVING) {
      throw new IllegalArgumentException("pod " + id + " is not leaving; decommission it first");
    }
    Member[] m = slots.clone();
    m[id] = null;
    return new Membership(version + 1, seed, m, homes.clone());
  }

  private List<Integer> ids() {
    return members().stream().map(Member::id).toList();
  }

  private static int[] counts(int[] homes, int slots) {
    int[] c = new int[slots];
    for (int h : homes) {
      c[h]++;
    }
    return c;
  }

  private static int lastHomeOf(int[] homes, int pod) {
    for (int b = homes.length - 1; b >= 0; b--) {
      if (homes[b] == pod) {
        return b;
      }
    }
    throw new IllegalStateException("pod " + pod + " is home to no bucket");
  }

  /** Every home is a pod that takes buckets; the seed is within the slots. */
  private void check() {
    if (seed <= 0 || seed > slots.length) {
      throw new IllegalArgumentException("seed " + seed + " is not within 1.." + slots.length);
    }
    for (int b = 0; b < homes.length; b++) {
      if (!takesBuckets(homes[b])) {
        throw new IllegalArgumentException("bucket " + b + "'s home, pod " + homes[b] + ", is not a pod that takes "
            + "buckets");
      }
    }
    for (int i = 0; i < slots.length; i++) {
      if (slots[i] != null && slots[i].id() != i) {
        throw new IllegalArgumentException("pod " + slots[i].id() + " is in slot " + i);
      }
    }
  }

  /** This version in the file grammar (see the class comment). */
  public byte[] format() {
    StringBuilder s = new StringBuilder();
    s.append("version=").append(version).append('\n').append("seed=").append(seed).append('\n')
        .append("slots=").append(slots.length).append('\n');
    for (Member m : slots) {
      if (m != null) {
        s.append("pod.").append(m.id()).append('=').append(m.address()).append(' ').append(m.state().text())
            .append('\n');
      }
    }
    s.append("homes=");
    for (int b = 0; b < homes.length; b++) {
      s.append(b == 0 ? "" : ",").append(homes[b]);
    }
    s.append("\nend\n");
    return s.toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Parses a file of the grammar. Returns null if it is not complete yet (no {@code end} line:
   * being written); throws IllegalArgumentException, saying what is wrong, if it is malformed.
   */
  public static Membership parse(byte[] file) {
    String text = new String(file, StandardCharsets.UTF_8);
    if (!text.endsWith("\nend\n")) {
      return null;
    }
    String[] lines = text.substring(0, text.length() - "\nend\n".length()).split("\n");
    try {
      long version = Long.parseLong(field(lines[0], "version="));
      int seed = Integer.parseInt(field(lines[1], "seed="));
      int slotCount = Integer.parseInt(field(lines[2], "slots="));
      List<Member> members = new ArrayList<>();
      for (int i = 3; i < lines.length - 1; i++) {
        String line = field(lines[i], "pod.");
        int eq = line.indexOf('=');
        int sp = line.lastIndexOf(' ');
        if (eq < 0 || sp < eq) {
          throw new IllegalArgumentException("malformed line '" + lines[i] + "'");
        }
        members.add(new Member(Integer.parseInt(line.substring(0, eq)), line.substring(eq + 1, sp),
            State.valueOf(line.substring(sp + 1).toUpperCase(Locale.ROOT))));
      }
      Member[] slots = new Member[slotCount];
      for (Member m : members) {
        slots[m.id()] = m;
      }
      String[] h = field(lines[lines.length - 1], "homes=").split(",");
      int[] homes = new int[h.length];
      for (int b = 0; b < h.length; b++) {
        homes[b] = Integer.parseInt(h[b]);
      }
      return new Membership(version, seed, slots, homes);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("malformed membership file: " + e.getMessage(), e);
    }
  }

  private static String field(String line, String prefix) {
    if (!line.startsWith(prefix)) {
      throw new IllegalArgumentException("expected '" + prefix + "...', found '" + line + "'");
    }
    return line.substring(prefix.length());
  }

  @Override
  public String toString() {
    return "membership v" + version + " " + members();
  }
}
