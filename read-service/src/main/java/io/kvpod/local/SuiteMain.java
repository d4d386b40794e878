package io.kvpod.local;

import io.kvpod.cli.BenchPhase;
import io.kvpod.loader.Cli;
import io.kvpod.loader.UsageException;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/** {@code bin/kvpod suite}'s command line: parses it, runs the {@link Suite}, reports. */
public final class SuiteMain {
  private SuiteMain() {}

  static Options options() {
    return Cli.withHelp(new Options()
        .addOption(Cli.flag("cases", "1,2,3,4,5", "which cases to run (default: all five)"))
        .addOption(Cli.flag("records", "N", "records in cases 1-3 (default: 10000)"))
        .addOption(Cli.flag("big", "N", "records in case 4 (default: 1000000)"))
        .addOption(Cli.flag("bulk", "N", "records in case 5, through the bulk loader (default: 100000000)"))
        .addOption(Cli.flag("sample", "N", "case 5 reads back this many random keys; 0: every key (default: 1000000)"))
        .addOption(Cli.flag("threads", "T", "client threads for writes and reads (default: 4)"))
        .addOption(Cli.flag("pod-heap", "SIZE", "heap of each pod (default: 1g)"))
        .addOption(Cli.flag("datanodes", "N", "DataNodes of the local HDFS; files get replication min(N, 3) "
            + "(default: 1)"))
        .addOption(Cli.flag("coordination", "MODE", "hdfs, or zookeeper: also run a ZooKeeper server, have the pods "
            + "register in it and the client find them there (default: hdfs)"))
        .addOption(BenchPhase.JSON)
        .addOption(Cli.flag("work", "DIR", "where HDFS and the logs go; emptied first, and HDFS's data deleted at the end (default: run/suite)"))
        .addOption(Cli.defines("a setting for every pod and for the loader, e.g. -D kvpod.load.block.size=16384")));
  }

  public static int run(String[] args) throws Exception {
    CommandLine cl;
    try {
      cl = Cli.parse("kvpod suite", "Run the contest's five cases against a local HDFS and pod processes, and "
          + "print a table of the results (--json: as one JSON object). Exit status: 0 nothing lost or wrong, 1 "
          + "records lost or read wrong, 2 usage error.", options(), null, args);
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      return 2;
    }
    if (cl == null) {
      return 0;
    }
    List<Integer> cases = new ArrayList<>();
    for (String c : cl.getOptionValue("cases", "1,2,3,4,5").split(",")) {
      int k = Integer.parseInt(c.trim());
      if (k < 1 || k > 5) {
        System.err.println("kvpod suite: there is no case " + k + "; cases are 1 to 5");
        return 2;
      }
      cases.add(k);
    }
    File work = new File(cl.getOptionValue("work", "run/suite")).getAbsoluteFile();
    boolean json = cl.hasOption("json");
    Suite s = new Suite(work, 3, Integer.parseInt(cl.getOptionValue("threads", "4")),
        cl.getOptionValue("pod-heap", "1g"), json ? System.err : System.out)
        .dataNodes(Integer.parseInt(cl.getOptionValue("datanodes", "1")));
    try {
      s.coordination(cl.getOptionValue("coordination", "hdfs"));
      cl.getOptionProperties("D").forEach((k, v) -> s.set((String) k, (String) v));
    } catch (IllegalArgumentException e) {
      System.err.println("kvpod suite: " + e.getMessage());
      return 2;
    }
    List<Suite.Result> results = s.runCases(cases, Long.parseLong(cl.getOptionValue("records", "10000")),
        Long.parseLong(cl.getOptionValue("big", "1000000")), Long.parseLong(cl.getOptionValue("bulk", "100000000")),
        Long.parseLong(cl.getOptionValue("sample", "1000000")));
    boolean passed = results.stream().allMatch(r -> r.wrong() == 0 && r.missing() == 0);
    if (json) {
      BenchPhase.printJson(Map.of("cases", results, "passed", passed));
    }
    return passed ? 0 : 1;
  }
}
