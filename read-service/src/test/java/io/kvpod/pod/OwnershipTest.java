package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.TableLayout;
import java.io.File;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FilterFileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading the holder records, on the local filesystem. */
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
}
