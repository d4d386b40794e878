package io.kvpod.yarn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.LayerCatalog;
import io.kvpod.contract.LayerMeta;
import io.kvpod.contract.RecordCodec;
import io.kvpod.contract.TableLayout;
import io.kvpod.loader.LoaderConfig;
import io.kvpod.loader.RecordGenerator;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hbase.Cell;
import org.apache.hadoop.hbase.CellUtil;
import org.apache.hadoop.hbase.io.hfile.CacheConfig;
import org.apache.hadoop.hbase.io.hfile.HFile;
import org.apache.hadoop.hbase.io.hfile.HFileScanner;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.mapreduce.v2.MiniMRYarnCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loader's job jar on a real YARN: a ResourceManager, a NodeManager and a JobHistory
 * server ({@link MiniMRYarnCluster}) over a real HDFS ({@link MiniDFSCluster}), in this JVM,
 * bound to 127.0.0.1. The job is submitted the way
 * {@code HADOOP_CONF_DIR=conf HADOOP_CLASSPATH=<jar> hadoop jar <jar> load ...} submits it:
 * Hadoop's {@code RunJar} in a process of its own, on the cluster's client configuration,
 * Hadoop's jars and the job jar, nothing else of kvpod. The ApplicationMaster and the tasks run
 * in containers that the NodeManager launches with the cluster's own classpath
 * ({@code mapreduce.application.classpath}, as on a real cluster), so the job jar must carry
 * everything of kvpod and HBase it uses. The published layer is then read back, record by
 * record, with the job jar's own classes.
 */
class LoaderOnYarnIT {
  private static final int RECORDS = 20_000;
  private static final long SEED = 23;

  @TempDir
  File tmp;

  @Test
  void jobJarSubmittedToYarnPublishesALayerWithEveryRecordInItsBucketsFile() throws Exception {
    MiniDFSCluster hdfs = new MiniDFSCluster.Builder(hdfsConf(new File(tmp, "dfs")), new File(tmp, "dfs"))
        .numDataNodes(1).build();
    try {
      hdfs.waitActive();
      String uri = "hdfs://127.0.0.1:" + hdfs.getNameNodePort();
      Configuration conf = new Configuration(hdfs.getConfiguration(0));
      conf.set("fs.defaultFS", uri);
      MiniMRYarnCluster yarn = new MiniMRYarnCluster("yarn-" + System.nanoTime(), 1);
      try {
        yarn.init(loopbackOnly(conf));
        yarn.start();
        File confDir = clientConf(yarn.getConfig());
        String in = uri + "/in/gen";
        String root = uri + "/kvpod";
        submit(confDir, "gen", "--records", Integer.toString(RECORDS), "--out", in, "--seed", Long.toString(SEED),
            "--fields", "4", "--value-bytes", "100", "--files", "2");
        String out = submit(confDir, "load", "-D", "mapreduce.framework.name=yarn",
            "--input", in, "--root", root, "--table", "onyarn", "--partitions", "3");
        assertTrue(out.contains("[load] done: 20,000 records"), out);
        assertTrue(out.matches("(?s).*Submitted application application_\\d+_\\d+.*"),
            "the job went to the ResourceManager, not the local runner:\n" + out);

        FileSystem fs = hdfs.getFileSystem();
        TableLayout layout = new TableLayout(root, "onyarn");
        List<LayerMeta> live = LayerCatalog.liveLayers(fs, layout);
        assertEquals(1, live.size());
        LayerMeta meta = live.get(0);
        assertEquals(RECORDS, meta.records);
        assertEquals(3, meta.partitions);
        Map<String, Integer> partitionOf = new HashMap<>();
        Map<String, Map<String, String>> got = new HashMap<>();
        for (LayerMeta.FileMeta f : meta.files) {
          try (HFile.Reader reader = HFile.createReader(fs, new Path(layout.layerDir(meta.layerId), f.name),
              CacheConfig.DISABLED, true, conf)) {
            HFileScanner s = reader.getScanner(conf, false, false);
            for (boolean more = s.seekTo(); more; more = s.next()) {
              Cell c = s.getCell();
              String key = new String(CellUtil.cloneRow(c), StandardCharsets.UTF_8);
              assertEquals(null, partitionOf.put(key, f.partition), key + " is in two files");
              got.put(key, RecordCodec.decode(CellUtil.cloneValue(c)));
            }
          }
        }
        assertEquals(RECORDS, got.size());
        RecordGenerator gen = new RecordGenerator(SEED, 4, 100);
        for (long i = 0; i < RECORDS; i++) {
          String key = gen.key(i);
          assertEquals(gen.value(i), got.get(key), "record " + i + ", " + key);
          assertEquals(KeyPartitioner.bucket(key, 3), partitionOf.get(key), "partition file of " + key);
        }
      } finally {
        yarn.stop();
        deleteRecursively(yarn.getTestWorkDir()); // under target/test/data
      }
    } finally {
      hdfs.shutdown(true);
    }
  }

  private static Configuration hdfsConf(File base) {
    Configuration c = new Configuration();
    c.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getAbsolutePath());
    c.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
    c.set("dfs.datanode.address", "127.0.0.1:0");
    c.set("dfs.datanode.http.address", "127.0.0.1:0");
    c.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    c.set("dfs.namenode.http-address", "127.0.0.1:0");
    c.set("hadoop.tmp.dir", new File(base, "hadoop-tmp").getAbsolutePath());
    return c;
  }

  /** Every YARN and JobHistory server of the mini cluster listens on 127.0.0.1 only. */
  private static Configuration loopbackOnly(Configuration c) {
    for (String key : List.of("yarn.resourcemanager.bind-host", "yarn.nodemanager.bind-host",
        "yarn.timeline-service.bind-host", "mapreduce.jobhistory.bind-host")) {
      c.set(key, "127.0.0.1");
    }
    c.set("yarn.nodemanager.hostname", "127.0.0.1");
    c.set("yarn.resourcemanager.hostname", "127.0.0.1");
    // one NodeManager runs the ApplicationMaster and the tasks one or two at a time
    c.setInt("yarn.nodemanager.resource.memory-mb", 4096);
    c.setInt("yarn.app.mapreduce.am.resource.mb", 768);
    c.setInt("mapreduce.map.memory.mb", 768);
    c.setInt("mapreduce.reduce.memory.mb", 768);
    c.set("mapreduce.map.java.opts", "-Xmx512m");
    c.set("mapreduce.reduce.java.opts", "-Xmx512m");
    c.set("yarn.app.mapreduce.am.command-opts", "-Xmx512m");
    c.set(LoaderConfig.SORT_MB, "32");
    return c;
  }

  /**
   * The cluster's client configuration, as an operator hands it out in HADOOP_CONF_DIR. Like a
   * real cluster's, it gives containers the cluster's Hadoop ({@code mapreduce.application.classpath});
   * the submitter's own classpath does not travel ({@code yarn.is.minicluster=false}).
   */
  private File clientConf(Configuration cluster) throws IOException {
    Configuration running = new Configuration(cluster);
    running.setBoolean("yarn.is.minicluster", false);
    running.set("mapreduce.application.classpath", hadoopClasspath());
    File dir = new File(tmp, "conf");
    dir.mkdirs();
    for (String site : List.of("core-site.xml", "hdfs-site.xml", "yarn-site.xml", "mapred-site.xml")) {
      try (OutputStream o = new FileOutputStream(new File(dir, site))) {
        running.writeXml(o);
      }
    }
    return dir;
  }

  /** Runs {@code hadoop jar <job jar> args...} in a new process against {@code confDir}. */
  private String submit(File confDir, String... args) throws Exception {
    String jar = System.getProperty("kvpod.job.jar");
    assertTrue(jar != null && new File(jar).isFile(), "job jar not built: " + jar);
    List<String> cmd = new ArrayList<>(List.of(new File(System.getProperty("java.home"), "bin/java").getPath(),
        "-Xmx512m", "-cp",
        confDir.getPath() + File.pathSeparator + hadoopClasspath() + File.pathSeparator + jar,
        "org.apache.hadoop.util.RunJar", jar));
    cmd.addAll(List.of(args));
    File log = new File(tmp, "submit-" + args[0] + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log);
    pb.environment().put("HADOOP_CLIENT_SKIP_UNJAR", "true");
    Process p = pb.start();
    try {
      // a YARN job on a busy 2-core machine: container starts dominate; 10 minutes is a hang
      assertTrue(p.waitFor(10, TimeUnit.MINUTES), "timed out: " + args[0]);
    } finally {
      p.destroyForcibly();
    }
    String out = Files.readString(log.toPath(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  /** Hadoop's jars, as an installation provides them: this JVM's classpath less the test's and kvpod's. */
  private static String hadoopClasspath() {
    return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
        .filter(e -> e.endsWith(".jar") && !new File(e).getName().startsWith("kvpod-")
            && !new File(e).getName().startsWith("junit-jupiter") && !new File(e).getName().startsWith("surefire"))
        .collect(Collectors.joining(File.pathSeparator));
  }

  private static void deleteRecursively(File f) {
    File[] kids = f.listFiles();
    if (kids != null) {
      for (File k : kids) {
        deleteRecursively(k);
      }
    }
    f.delete();
  }
}
