package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.Membership;
import io.kvpod.contract.TableLayout;
import java.io.File;
import java.net.InetSocketAddress;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a starting pod makes of the table's membership, on the local filesystem. */
class TableMembersTest {
  @TempDir
  File tmp;
  private FileSystem fs;
  private TableLayout layout;

  @BeforeEach
  void setUp() throws Exception {
    fs = FileSystem.getLocal(new Configuration()).getRaw();
    layout = new TableLayout(new Path(tmp.toURI().toString()).toString(), "t");
  }

  private static List<InetSocketAddress> pods(int... ports) {
    return java.util.Arrays.stream(ports).mapToObj(p -> InetSocketAddress.createUnresolved("h", p)).toList();
  }

  @Test
  void theFirstPodRecordsVersionZeroAndTheOthersFindIt() throws Exception {
    Membership m = TableMembers.atStart(fs, layout, pods(1, 2, 3), 0, 8);
    assertEquals(0, m.version());
    assertEquals(List.of("h:1", "h:2", "h:3"), m.addresses());
    assertEquals(m.members(), TableMembers.atStart(fs, layout, pods(1, 2, 3), 2, 8).members());
  }

  @Test
  void aPodGivenAnotherNumberOfPodsIsRefusedWithTheRecordedList() throws Exception {
    TableMembers.atStart(fs, layout, pods(1, 2, 3), 0, 8);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TableMembers.atStart(fs, layout, pods(1, 2), 1, 8));
    assertTrue(e.getMessage().contains("give every pod the same list"), e.getMessage());
  }

  @Test
  void aPodThatIsNotAMemberIsRefusedAndToldHowToJoin() throws Exception {
    TableMembers.atStart(fs, layout, pods(1, 2), 0, 8);
    TableMembers.change(fs, layout, m -> m.join("h:3")); // pod 2 joins...
    TableMembers.change(fs, layout, m -> m.leave(2));
    TableMembers.change(fs, layout, m -> m.without(2)); // ...and leaves
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TableMembers.atStart(fs, layout, pods(1, 2, 3), 2, 8));
    assertTrue(e.getMessage().contains("kvpod pod add"), e.getMessage());
  }

  @Test
  void aPodThatMovedRecordsItsNewAddress() throws Exception {
    TableMembers.atStart(fs, layout, pods(1, 2), 0, 8);
    Membership m = TableMembers.atStart(fs, layout, pods(1, 9), 1, 8);
    assertEquals(1, m.version());
    assertEquals(List.of("h:1", "h:9"), TableMembers.newest(fs, layout).addresses());
  }

  @Test
  void theMembersCommandHelpsAndRefusesAWrongCommandLine() throws Exception {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    assertEquals(MembersCommand.OK, MembersCommand.run(new String[] {"--help"}, new java.io.PrintStream(out)));
    assertEquals(MembersCommand.USAGE_ERROR, MembersCommand.run(new String[] {"show"}, System.out), "no --root");
    String root = new Path(tmp.toURI().toString()).toString();
    assertEquals(MembersCommand.USAGE_ERROR, MembersCommand.run(new String[] {"show", "--root", root, "--table", "none"},
        System.out), "a table no pod has started: said so, exit 2");
    TableMembers.atStart(fs, layout, pods(1, 2), 0, 8);
    assertEquals(MembersCommand.USAGE_ERROR, MembersCommand.run(new String[] {"leave", "--id", "7", "--root", root,
        "--table", "t"}, System.out), "no pod 7");
    assertEquals(MembersCommand.OK, MembersCommand.run(new String[] {"show", "--root", root, "--table", "t"},
        System.out));
  }
}
