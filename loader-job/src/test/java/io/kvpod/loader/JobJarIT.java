package io.kvpod.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded job jar, run the way
 * {@code HADOOP_CLASSPATH=<jar> HADOOP_CLIENT_SKIP_UNJAR=true hadoop jar <jar> load ...} runs
 * it: Hadoop's {@code RunJar} on a classpath of Hadoop's client jars plus the job jar, and
 * nothing else of kvpod. Proves the jar is complete, finds its Main-Class, and does not
 * bundle Hadoop. (Without HADOOP_CLIENT_SKIP_UNJAR, RunJar first unpacks the 65 MB jar:
 * about 30 s per command here, for classes that are on the classpath already.)
 */
class JobJarIT {
  @TempDir
  File tmp;

  private static String jobJar() {
    String jar = System.getProperty("kvpod.job.jar");
    assertTrue(jar != null && new File(jar).isFile(), "job jar not built: " + jar);
    return jar;
  }

  private static String run(String... args) throws Exception {
    String jar = jobJar();
    List<String> cmd = new ArrayList<>(List.of(new File(System.getProperty("java.home"), "bin/java").getPath(),
        "-Xmx1g", "-cp", System.getProperty("kvpod.hadoop.classpath") + File.pathSeparator + jar,
        "org.apache.hadoop.util.RunJar", jar));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("HADOOP_CLIENT_SKIP_UNJAR", "true");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "timed out");
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  @Test
  void jobJarCarriesKvpodAndHBaseButNotHadoop() throws Exception {
    try (ZipFile z = new ZipFile(jobJar())) {
      assertTrue(z.getEntry("io/kvpod/loader/LoaderJob.class") != null);
      assertTrue(z.getEntry("org/apache/hadoop/hbase/regionserver/StoreFileWriter.class") != null);
      assertTrue(z.stream().noneMatch(e -> e.getName().startsWith("org/apache/hadoop/conf/")
          || e.getName().startsWith("org/apache/hadoop/fs/") || e.getName().startsWith("org/apache/hadoop/mapreduce/")),
          "the job jar must leave Hadoop to the cluster");
      String manifest = new String(z.getInputStream(z.getEntry("META-INF/MANIFEST.MF")).readAllBytes(),
          StandardCharsets.UTF_8);
      assertTrue(manifest.contains("Main-Class: io.kvpod.loader.LoaderMain"), manifest);
    }
  }

  @Test
  void hadoopJarStyleGenLoadAndListWork() throws Exception {
    String in = new File(tmp, "in").toURI().toString();
    String root = new File(tmp, "root").toURI().toString();
    run("gen", "--records", "20000", "--out", in, "--seed", "5");
    String out = run("load", "-D", "mapreduce.framework.name=local", "-D", "kvpod.load.sort.mb=32",
        "-D", "hadoop.tmp.dir=" + new File(tmp, "hadoop-tmp").getAbsolutePath(),
        "-D", "mapreduce.jobtracker.staging.root.dir=" + new File(tmp, "hadoop-tmp/staging").getAbsolutePath(),
        "--input", in, "--root", root, "--table", "jar", "--partitions", "3");
    assertTrue(out.contains("[load] done: 20,000 records"), out);
    String listing = run("layers", "--root", root, "--table", "jar", "--json");
    assertTrue(listing.contains("\"records\" : 20000"), listing);
    assertTrue(listing.contains("\"partitions\" : 3"), listing);
  }
}
