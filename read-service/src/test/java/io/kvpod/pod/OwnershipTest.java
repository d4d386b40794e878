package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.Membership;
import io.kvpod.contract.TableLayout;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FilterFileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading the holder records and the membership, on the local filesystem. */
class OwnershipTest {
  @TempDir
  File tmp;

  /** The local filesystem, whose reads of files named {@code failing} fail while it is set. */
  private static final class FlakyReads extends FilterFileSystem {
    volatile String failing;

    FlakyReads(FileSystem fs) {
      super(fs);
    }

    @Override
    public FSDataInputStream open(Path f, int bufferSize) throws IOException {
      if (f.getName().equals(failing)) {
        throw new IOException("Could not obtain block: No live nodes contain current block (as HDFS says "
            + "while the block of a record being written moves to finalized)");
      }
      return super.open(f, bufferSize);
    }
  }

  @Test
  void aRecordThatCannotBeReadYetLeavesItsHolderUnknownUntilItCanBe() throws Exception {
    Configuration conf = new Configuration();
    FlakyReads fs = new FlakyReads(FileSystem.getLocal(conf));
    TableLayout layout = new TableLayout(new Path(tmp.toURI().toString()).toString(), "t");
    assertTrue(new Ownership(fs, layout, 4, 2).claim(1, 3, 0), "pod 0 takes bucket 1 over at epoch 3");
    Ownership reader = new Ownership(fs, layout, 4, 2);

    fs.failing = "pod-1.epoch-000000000003";
    Ownership.View unreadable = reader.refresh(); // must not throw: the pod would not start

    assertEquals(3, unreadable.holdings()[1].epoch());
    assertEquals(-1, unreadable.holdings()[1].holder(), "unknown, not the old holder");
    assertEquals(0, unreadable.holdings()[2].holder(), "the other buckets are read as usual");

    fs.failing = null;
    assertEquals(0, reader.refresh().holdings()[1].holder(), "read once it can be");
  }

  @Test
  void aNewerMembershipIsPutInForceWithTheRecordsAndAnUnfinishedOrMalformedOneIsNot() throws Exception {
    FileSystem fs = FileSystem.getLocal(new Configuration()).getRaw();
    TableLayout layout = new TableLayout(new Path(tmp.toURI().toString()).toString(), "m");
    Membership v0 = Membership.seed(List.of("a:1", "b:1"), 4);
    assertTrue(Ownership.publishMembers(fs, layout, v0));
    assertFalse(Ownership.publishMembers(fs, layout, v0), "one writer per version");
    Ownership reader = new Ownership(fs, layout, v0);
    List<Membership> told = new ArrayList<>();
    reader.onMembers(told::add);

    Membership v1 = v0.join("c:1");
    try (var out = fs.create(new Path(layout.ownersDir(), "members-000000000001"))) {
      out.write(Arrays.copyOf(v1.format(), 20)); // being written: no end line yet
    }
    assertEquals(0, reader.refresh().members().version(), "an unfinished file is skipped");
    try (var out = fs.create(new Path(layout.ownersDir(), "members-000000000002"))) {
      out.write("version=2\nnonsense\nend\n".getBytes(StandardCharsets.UTF_8));
    }
    assertEquals(0, reader.refresh().members().version(), "a malformed one is ignored");

    fs.delete(new Path(layout.ownersDir(), "members-000000000002"), false);
    fs.delete(new Path(layout.ownersDir(), "members-000000000001"), false);
    assertTrue(Ownership.publishMembers(fs, layout, v1));
    Ownership.View v = reader.refresh();
    assertEquals(1, v.members().version());
    assertEquals(List.of(v1.members()), told.stream().map(Membership::members).toList(), "the listener is told once");
    assertEquals(0, v.of(2).holder(), "bucket 2's home moved to pod 2, but pod 0 holds it until pod 2 claims it");
    assertEquals(2, reader.home(2));
  }
}
