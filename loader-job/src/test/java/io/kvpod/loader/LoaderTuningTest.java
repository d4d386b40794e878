package io.kvpod.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.mapred.JobConf;
import org.junit.jupiter.api.Test;

class LoaderTuningTest {

  @Test
  void tuningOverridesHadoopsDefaultFilesButNotTheUser() {
    JobConf conf = new JobConf(); // loads mapred-default.xml, which sets all of these keys
    assertEquals("0.70", conf.get("mapreduce.reduce.shuffle.input.buffer.percent"));
    conf.set("mapreduce.task.io.sort.factor", "7"); // the user's choice
    LoaderJob.tune(conf);
    assertEquals("0.10", conf.get("mapreduce.reduce.shuffle.input.buffer.percent"));
    assertEquals("100", conf.get("mapreduce.task.io.sort.mb"), "Hadoop's sort buffer unless kvpod.load.sort.mb");
    assertEquals("0.90", conf.get("mapreduce.map.sort.spill.percent"));
    assertEquals("7", conf.get("mapreduce.task.io.sort.factor"), "a user's value wins");
  }

  @Test
  void loaderSortBufferSettingFeedsHadoops() {
    Configuration conf = new JobConf();
    conf.set(LoaderConfig.SORT_MB, "64");
    LoaderJob.tune(conf);
    assertEquals("64", conf.get("mapreduce.task.io.sort.mb"));
  }

  @Test
  void clusterModeGetsNoLocalRunnerSettings() {
    Configuration conf = new JobConf();
    conf.set("mapreduce.framework.name", "yarn");
    LoaderJob.tune(conf);
    assertEquals("0.70", conf.get("mapreduce.reduce.shuffle.input.buffer.percent"));
    assertEquals(null, conf.get("mapreduce.local.map.tasks.maximum"));
  }
}
