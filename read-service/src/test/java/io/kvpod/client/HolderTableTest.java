package io.kvpod.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.kvpod.contract.KeyPartitioner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/** The client's table of bucket holders, without pods: statuses are made up, lookups are counted. */
class HolderTableTest {
  private static final int PODS = 3;
  private static final int BUCKETS = 8;

  private final List<Integer> asked = new ArrayList<>();
  private final List<List<String>> learnedMembers = new ArrayList<>();
  /** The pods the client knows: {@link #PODS}, or as many as the last membership passed on named. */
  private int knownPods = PODS;

  private static PodStatus status(int[] holders, long[] epochs) {
    PodStatus st = new PodStatus(0, PODS, "t", 0, List.of());
    List<Integer> h = new ArrayList<>();
    List<Long> e = new ArrayList<>();
    for (int i = 0; i < holders.length; i++) {
      h.add(holders[i]);
      e.add(epochs[i]);
    }
    return st.setHolders(h).setHolderEpochs(e);
  }

  /** Every bucket at its home pod (b mod 3), at {@code epoch}. */
  private static PodStatus homes(long epoch) {
    int[] h = new int[BUCKETS];
    long[] e = new long[BUCKETS];
    for (int b = 0; b < BUCKETS; b++) {
      h[b] = b % PODS;
      e[b] = epoch;
    }
    return status(h, e);
  }

  private HolderTable table(IntFunction<PodStatus> answers) {
    return new HolderTable(() -> knownPods, pod -> {
      asked.add(pod);
      PodStatus st = answers.apply(pod);
      if (st == null) {
        throw new KvPodException(ErrorCode.UNAVAILABLE, "pod " + pod + " is down");
      }
      return st;
    }, Runnable::run, members -> {
      learnedMembers.add(members);
      knownPods = members.size();
    });
  }

  /** A key of bucket {@code b} (of {@link #BUCKETS}). */
  private static byte[] keyOf(int b) {
    for (int i = 0; ; i++) {
      byte[] k = ("key-" + i).getBytes(StandardCharsets.UTF_8);
      if (KeyPartitioner.bucket(k, BUCKETS) == b) {
        return k;
      }
    }
  }

  @Test
  void untilAPodAnswersAKeyGoesToItsHomePod() {
    HolderTable t = table(pod -> null);
    byte[] k = "some-key".getBytes(StandardCharsets.UTF_8);

    assertEquals(KeyPartitioner.bucket(k, PODS), t.ownerOf(k));
    assertEquals(0, t.buckets(), "no pod said how many buckets there are");
  }

  @Test
  void theFirstLookupAsksThePodsInTurnUntilOneAnswers() {
    HolderTable t = table(pod -> pod == 1 ? homes(1) : null);

    assertEquals(5 % PODS, t.ownerOf(keyOf(5)));
    assertEquals(List.of(0, 1), asked, "pod 0 failed, pod 1 answered, pod 2 was not asked");
    assertEquals(BUCKETS, t.buckets());
  }

  @Test
  void aNewerHoldingWinsAndAnOlderAnswerNeverUndoesIt() {
    HolderTable t = table(pod -> homes(1));
    t.learn(homes(1));
    int[] moved = {0, 1, 2, 0, 1, 0, 0, 1}; // bucket 5 taken over by pod 0
    long[] epochs = {1, 1, 1, 1, 1, 2, 1, 1};

    t.learn(status(moved, epochs));
    assertEquals(0, t.ownerOf(keyOf(5)));

    t.learn(homes(1)); // a pod that has not heard of the takeover yet
    assertEquals(0, t.ownerOf(keyOf(5)), "epoch 2 stands against epoch 1");
    assertEquals(2, t.ownerOf(keyOf(2)));
  }

  @Test
  void aStatusWithoutHoldersChangesNothing() {
    HolderTable t = table(pod -> homes(1));
    t.learn(homes(3));

    t.learn(new PodStatus(0, PODS, "t", 0, List.of()));

    assertEquals(BUCKETS, t.buckets());
    assertEquals(4 % PODS, t.ownerOf(keyOf(4)));
  }

  @Test
  void relearningAfterFailuresAsksAtMostTwiceASecond() {
    HolderTable t = table(pod -> homes(1));
    t.learn(homes(1));
    asked.clear();

    t.relearn(2);
    t.relearn(2);
    t.relearn(0);

    assertEquals(List.of(0), asked, "one relearning, from the pod after the failed one");
  }

  @Test
  void aFreshTableTakesEvenTheHoldersWithoutARecordFromThePod() {
    HolderTable t = table(pod -> null);
    int[] firstHolders = new int[BUCKETS];
    for (int b = 0; b < BUCKETS; b++) {
      firstHolders[b] = b % 2; // a table that started with 2 pods; this client was given 3
    }

    t.learn(status(firstHolders, new long[BUCKETS]));

    assertEquals(1, t.ownerOf(keyOf(5)), "epoch 0 (no record) means the pod's own first holder, not 5 mod 3");
    assertEquals(0, t.ownerOf(keyOf(2)));
  }

  @Test
  void aNewerMembershipIsPassedOnBeforeItsHoldersAndAnOlderOneIsIgnored() {
    HolderTable t = table(pod -> null);
    int[] h = {0, 1, 2, 3, 1, 2, 3, 3}; // bucket 3, 6 and 7 at pod 3, which joined
    List<String> four = List.of("h:1", "h:2", "h:3", "h:4");
    t.learn(status(h, new long[] {0, 0, 0, 2, 0, 0, 2, 2}).setMembers(four).setMembersVersion(1));

    assertEquals(List.of(four), learnedMembers);
    assertEquals(3, t.ownerOf(keyOf(7)), "pod 3 is known by the time its buckets are routed to it");

    t.learn(homes(0).setMembers(List.of("h:1", "h:2", "h:3")).setMembersVersion(0));
    assertEquals(List.of(four), learnedMembers, "version 0 is older than version 1: not passed on");
    assertEquals(3, t.ownerOf(keyOf(7)));
  }

  @Test
  void aTableNotRefreshedForTheIntervalAsksAgainAndOnlyThen() {
    HolderTable t = table(pod -> homes(1));
    t.learn(homes(1));
    asked.clear();

    t.refreshIfOlderThan(10_000); // nothing learned by asking yet: ask
    int first = asked.size();
    t.refreshIfOlderThan(10_000); // just asked: not again

    assertEquals(1, first, "one pod asked (it answered)");
    assertEquals(1, asked.size(), "no second ask within the interval");
  }
}
