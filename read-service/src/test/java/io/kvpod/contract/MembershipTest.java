package io.kvpod.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Membership changes: balance, fewest moves, first holders that never change, and the file grammar. */
class MembershipTest {
  private static final List<String> THREE = List.of("a:1", "b:1", "c:1");

  private static int[] counts(Membership m) {
    int[] c = new int[m.slots()];
    for (int b = 0; b < m.buckets(); b++) {
      c[m.home(b)]++;
    }
    return c;
  }

  private static int moved(Membership from, Membership to) {
    int n = 0;
    for (int b = 0; b < from.buckets(); b++) {
      n += from.home(b) != to.home(b) ? 1 : 0;
    }
    return n;
  }

  @Test
  void aJoiningPodGetsItsShareAndOnlyThatMoves() {
    Membership three = Membership.seed(THREE, 64);
    Membership four = three.join("d:1");

    assertEquals(1, four.version());
    assertEquals(3, four.member(3).id());
    assertEquals(Membership.State.JOINING, four.member(3).state());
    assertEquals(16, counts(four)[3], "floor(64 / 4)");
    assertEquals(16, moved(three, four), "only the new pod's buckets move");
    assertTrue(Arrays.stream(counts(four)).max().getAsInt() <= 16, Arrays.toString(counts(four)));
  }

  @Test
  void aLeavingPodsBucketsGoToTheLeastLoaded() {
    Membership four = Membership.seed(List.of("a:1", "b:1", "c:1", "d:1"), 64);
    Membership three = four.leave(1);

    assertEquals(Membership.State.LEAVING, three.member(1).state());
    assertEquals(List.of(), three.homesOf(1));
    assertEquals(16, moved(four, three));
    int[] c = counts(three);
    assertTrue(c[0] <= 22 && c[2] <= 22 && c[3] <= 22, "at most ceil(64 / 3) each: " + Arrays.toString(c));

    Membership gone = three.without(1);
    assertNull(gone.member(1));
    assertEquals(4, gone.slots(), "the id stays used");
    assertEquals(4, gone.join("e:1").member(4).id(), "a new pod never takes a gone pod's id");
  }

  @Test
  void firstHoldersNeverChangeWithTheHomes() {
    Membership three = Membership.seed(THREE, 10);
    Membership four = three.join("d:1");
    for (int b = 0; b < 10; b++) {
      assertEquals(b % 3, four.firstHolder(b), "bucket " + b);
    }
  }

  @Test
  void refusedChangesSayWhy() {
    Membership one = Membership.seed(List.of("a:1"), 4);
    assertThrows(IllegalArgumentException.class, () -> one.leave(0), "the last pod cannot leave");
    assertThrows(IllegalArgumentException.class, () -> one.without(0), "only a leaving pod can be removed");
    assertThrows(IllegalArgumentException.class, () -> one.join("a:1"), "an address already used");
    assertThrows(IllegalArgumentException.class, () -> one.leave(5), "no such pod");
  }

  @Test
  void aFileRoundTripsAndAnUnfinishedOneReadsAsNotThereYet() {
    Membership m = Membership.seed(THREE, 8).join("d:1").leave(0);
    byte[] file = m.format();

    Membership back = Membership.parse(file);
    assertEquals(m.version(), back.version());
    assertEquals(m.members(), back.members());
    for (int b = 0; b < 8; b++) {
      assertEquals(m.home(b), back.home(b));
    }
    assertNull(Membership.parse(Arrays.copyOf(file, file.length - 3)), "no end line yet");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Membership.parse("version=x\nend\n".getBytes(StandardCharsets.UTF_8)));
    assertTrue(e.getMessage().contains("malformed"), e.getMessage());
  }

  @Test
  void aWorkedExample() {
    String text = new String(Membership.seed(List.of("h0:7000", "h1:7000"), 4).join("h2:7000").format(),
        StandardCharsets.UTF_8);
    assertEquals("version=1\nseed=2\nslots=3\npod.0=h0:7000 active\npod.1=h1:7000 active\npod.2=h2:7000 joining\n"
        + "homes=0,1,2,1\nend\n", text);
  }
}
