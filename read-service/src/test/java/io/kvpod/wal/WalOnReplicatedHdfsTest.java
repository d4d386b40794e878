package io.kvpod.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.kvpod.loader.MiniHdfs;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The WAL on a real HDFS with three DataNodes and replication 3: when a DataNode of the
 * segment's pipeline dies, the log keeps acknowledging writes (HDFS's pipeline recovery), and
 * every entry acknowledged before and after reads back in order.
 */
class WalOnReplicatedHdfsTest {
  @TempDir
  File tmp;
  private MiniHdfs hdfs;

  @BeforeEach
  void start() throws Exception {
    hdfs = new MiniHdfs(new File(tmp, "dfs"), 3);
  }

  @AfterEach
  void stop() {
    if (hdfs != null) {
      hdfs.close();
    }
  }

  private static byte[] body(String k, String v) {
    return new WalFormat.BodyBuilder().add(k.getBytes(StandardCharsets.UTF_8), v.getBytes(StandardCharsets.UTF_8))
        .build();
  }

  @Test
  void aDataNodeThatDiesUnderTheLogLosesNoAcknowledgedEntryAndStopsNoWrite() throws Exception {
    org.apache.hadoop.conf.Configuration conf = hdfs.conf();
    WriteAheadLog.applyClientDefaults(conf); // as a pod does
    FileSystem fs = FileSystem.newInstance(java.net.URI.create(hdfs.uri()), conf);
    Path dir = new Path("/kvpod/wal/bucket-0");
    List<String> acked = new ArrayList<>();
    try (WriteAheadLog wal = new WriteAheadLog(fs, dir, 0, WriteAheadLog.Durability.HFLUSH)) {
      wal.recover(0, e -> { }, (s, v, d) -> { }, 10_000);
      for (int i = 0; i < 100; i++) {
        long seq = wal.append(10, body("k" + i, "v" + i));
        wal.sync();
        acked.add(seq + ":k" + i);
      }
      hdfs.cluster().stopDataNode(0); // one of the three in the segment's pipeline
      for (int i = 100; i < 200; i++) {
        long seq = wal.append(10, body("k" + i, "v" + i));
        wal.sync(); // throws if the log cannot go on: the pod would refuse writes
        acked.add(seq + ":k" + i);
      }
    }
    List<String> replayed = new ArrayList<>();
    WalReplay.replay(fs, dir, 0, e -> e.forEachRecord((k, v) -> replayed.add(e.seq() + ":"
        + new String(k, StandardCharsets.UTF_8))), (seg, valid, dropped) -> { });
    assertEquals(acked, replayed);
    fs.close();
  }

  @Test
  void anOperatorsOwnReplacementSettingIsKept() {
    String key = "dfs.client.block.write.replace-datanode-on-failure.best-effort";
    org.apache.hadoop.conf.Configuration mine = new org.apache.hadoop.conf.Configuration();
    mine.set(key, "false");
    WriteAheadLog.applyClientDefaults(mine);
    assertEquals("false", mine.get(key));
    org.apache.hadoop.conf.Configuration defaults = new org.apache.hadoop.conf.Configuration();
    WriteAheadLog.applyClientDefaults(defaults);
    assertEquals("true", defaults.get(key), "hdfs-default.xml's false is not an operator's choice");
  }
}
