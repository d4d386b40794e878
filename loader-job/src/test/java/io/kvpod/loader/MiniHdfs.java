package io.kvpod.loader;

import java.io.File;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;

/**
 * A real HDFS (NameNode + DataNode, in-process) on loopback for tests, under a temp
 * directory. Close it to stop the cluster; the caller's temp directory removes the files.
 */
public final class MiniHdfs implements AutoCloseable {
  private final MiniDFSCluster cluster;
  private final Configuration conf;

  public MiniHdfs(File baseDir, int dataNodes) throws IOException {
    Configuration c = new Configuration();
    c.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, baseDir.getAbsolutePath());
    c.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
    c.set("dfs.datanode.address", "127.0.0.1:0");
    c.set("dfs.datanode.http.address", "127.0.0.1:0");
    c.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    c.set("dfs.namenode.http-address", "127.0.0.1:0");
    c.setLong("dfs.blocksize", 16L << 20);
    // lease recovery (how a takeover fences the old holder) waits for a DataNode heartbeat
    c.setInt("dfs.heartbeat.interval", 1);
    // the local job runner's scratch (default /tmp/hadoop-<user>) goes with the cluster's files
    c.set("hadoop.tmp.dir", new File(baseDir, "hadoop-tmp").getAbsolutePath());
    // the local runner's job staging (on the local filesystem; default /tmp/hadoop/mapred/staging)
    c.set("mapreduce.jobtracker.staging.root.dir", new File(baseDir, "hadoop-tmp/staging").getAbsolutePath());
    cluster = new MiniDFSCluster.Builder(c, baseDir).numDataNodes(dataNodes).build();
    cluster.waitActive();
    conf = new Configuration(cluster.getConfiguration(0));
    conf.set("fs.defaultFS", uri());
  }

  public String uri() {
    return "hdfs://127.0.0.1:" + cluster.getNameNodePort();
  }

  /** A new Configuration pointing at this cluster. */
  public Configuration conf() {
    return new Configuration(conf);
  }

  public FileSystem fs() throws IOException {
    return new Path(uri() + "/").getFileSystem(conf);
  }

  public MiniDFSCluster cluster() {
    return cluster;
  }

  @Override
  public void close() {
    cluster.shutdown(true);
  }
}
