package io.kvpod.bench.hbase;

import java.io.File;
import java.io.IOException;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.HConstants;
import org.apache.hadoop.hbase.LocalHBaseCluster;
import org.apache.hadoop.hbase.client.Admin;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;
import org.apache.hadoop.hbase.master.HMaster;
import org.apache.hadoop.hbase.regionserver.HRegionServer;
import org.apache.hadoop.hbase.zookeeper.MiniZooKeeperCluster;

/**
 * HBase in this JVM: a {@link MiniZooKeeperCluster} and a {@link LocalHBaseCluster} with one
 * HMaster and one RegionServer (what HBase's own standalone mode runs), rooted on the local
 * filesystem, every socket on loopback.
 */
final class LocalHBase implements AutoCloseable {
  final Configuration conf;
  final float cacheFraction;
  final long heapMax;
  private MiniZooKeeperCluster zk;
  private LocalHBaseCluster cluster;

  private LocalHBase(Configuration conf, float cacheFraction, long heapMax) {
    this.conf = conf;
    this.cacheFraction = cacheFraction;
    this.heapMax = heapMax;
  }

  /**
   * The configuration of the cluster, the client and the MapReduce job. The block cache
   * fraction is chosen so that HBase's own computation, {@code (long) ((float) maxHeap *
   * fraction)}, comes out as close to {@code cacheBytes} as a float allows.
   */
  static LocalHBase configure(BenchOptions o, File work) {
    Configuration conf = HBaseConfiguration.create();
    String root = work.toURI().toString().replaceAll("/$", "");
    conf.set("fs.defaultFS", "file:///");
    conf.set(HConstants.HBASE_DIR, root + "/hbase");
    conf.set("hbase.tmp.dir", new File(work, "hbase-tmp").getAbsolutePath());
    conf.set("hbase.cluster.distributed", "false");
    // A local filesystem has no hflush/hsync: HBase's standalone mode sets this too.
    conf.setBoolean("hbase.unsafe.stream.capability.enforce", false);
    conf.set("hbase.wal.provider", "filesystem");
    conf.set("hbase.wal.meta_provider", "filesystem");
    // Loopback only, random ports, no web UIs (the shaded jar has no webapps).
    conf.set("hbase.zookeeper.quorum", "127.0.0.1");
    conf.set("hbase.master.hostname", "localhost");
    conf.set("hbase.unsafe.regionserver.hostname", "localhost");
    conf.set("hbase.master.ipc.address", "127.0.0.1");
    conf.set("hbase.regionserver.ipc.address", "127.0.0.1");
    conf.setInt(HConstants.MASTER_PORT, 0);
    conf.setInt(HConstants.REGIONSERVER_PORT, 0);
    conf.setInt(HConstants.MASTER_INFO_PORT, -1);
    conf.setInt(HConstants.REGIONSERVER_INFO_PORT, -1);
    // Memory: the block cache as asked, a small memstore (nothing here writes through it).
    long max = java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getMax();
    float fraction = cacheFraction(o.cacheBytes, max);
    float minFree = 0.2f;
    if (fraction + o.memstoreFraction + minFree > 1.0001f) {
      long need = (long) Math.ceil(o.cacheBytes / (1.0 - minFree - o.memstoreFraction));
      throw new IllegalArgumentException(String.format(
          "--cache-bytes %,d is %.1f%% of this JVM's max heap (%,d bytes); with the memstore's %.0f%% and"
              + " the 20%% HBase keeps free that is over 100%%. Give the JVM at least -Xmx%dm"
              + " (run.sh: HBASE_COMPARE_HEAP=%dm), or a smaller --cache-bytes.",
          o.cacheBytes, 100.0 * o.cacheBytes / max, max, 100.0 * o.memstoreFraction,
          need / (1 << 20) + 256, need / (1 << 20) + 256));
    }
    conf.setFloat(HConstants.HFILE_BLOCK_CACHE_SIZE_KEY, fraction);
    conf.setFloat("hbase.regionserver.global.memstore.size", o.memstoreFraction);
    conf.set("hfile.block.cache.policy", "LRU");
    // MapReduce on the local job runner, its files under --work; the tuning kvpod's loader
    // applies to its own job (LoaderJob.tune), so both loads run alike.
    conf.set("mapreduce.framework.name", "local");
    conf.set("hadoop.tmp.dir", new File(work, "hadoop-tmp").getAbsolutePath());
    conf.set("mapreduce.cluster.local.dir", new File(work, "mapred-local").getAbsolutePath());
    conf.set("mapreduce.jobtracker.staging.root.dir", new File(work, "mapred-staging").getAbsolutePath());
    conf.setBoolean("mapreduce.map.speculative", false);
    conf.setBoolean("mapreduce.reduce.speculative", false);
    conf.setBoolean("mapreduce.fileoutputcommitter.marksuccessfuljobs", false);
    conf.set("mapreduce.map.sort.spill.percent", "0.90");
    conf.setInt("mapreduce.task.io.sort.factor", 100);
    conf.setInt("mapreduce.local.map.tasks.maximum", o.parallelism);
    conf.setInt("mapreduce.local.reduce.tasks.maximum", o.parallelism);
    conf.set("mapreduce.reduce.shuffle.input.buffer.percent", "0.10");
    for (Map.Entry<String, String> e : o.conf.entrySet()) {
      conf.set(e.getKey(), e.getValue());
    }
    return new LocalHBase(conf, conf.getFloat(HConstants.HFILE_BLOCK_CACHE_SIZE_KEY, fraction), max);
  }

  /** The float f whose {@code (long) ((float) max * f)} is nearest to {@code bytes}. */
  static float cacheFraction(long bytes, long max) {
    float best = (float) ((double) bytes / max);
    float f = best;
    for (int i = 0; i < 64; i++) {
      f = Math.nextDown(f);
    }
    for (int i = 0; i < 128; i++, f = Math.nextUp(f)) {
      if (Math.abs((long) ((float) max * f) - bytes) < Math.abs((long) ((float) max * best) - bytes)) {
        best = f;
      }
    }
    return best;
  }

  void start(File work) throws IOException, InterruptedException {
    zk = new MiniZooKeeperCluster(conf);
    int port = zk.startup(new File(work, "zookeeper"));
    conf.setInt(HConstants.ZOOKEEPER_CLIENT_PORT, port);
    cluster = new LocalHBaseCluster(conf, 1, 1, HMaster.class, HRegionServer.class);
    cluster.startup();
    long deadline = System.currentTimeMillis() + 180_000;
    try (Connection c = ConnectionFactory.createConnection(conf); Admin admin = c.getAdmin()) {
      while (true) {
        HMaster m = cluster.getActiveMaster();
        if (m != null && m.isInitialized() && regionServer().isOnline()
            && admin.getClusterMetrics().getLiveServerMetrics().size() == 1) {
          break;
        }
        if (System.currentTimeMillis() > deadline) {
          throw new IOException("HBase did not come up in 180 s; see the log under --work");
        }
        Thread.sleep(200);
      }
    }
  }

  HRegionServer regionServer() {
    return cluster.getRegionServer(0);
  }

  @Override
  public void close() {
    if (cluster != null) {
      cluster.shutdown();
      cluster.join();
      cluster = null;
    }
    if (zk != null) {
      try {
        zk.shutdown();
      } catch (IOException e) {
        HBaseCompare.log("ZooKeeper shutdown: %s", e);
      }
      zk = null;
    }
  }
}
