package io.kvpod.cli;

import io.kvpod.loader.LoaderMain;
import io.kvpod.pod.PodMain;
import java.util.Arrays;
import org.apache.hadoop.util.Tool;

/** The single entry point behind bin/kvpod: dispatches to the loader, the pod, or the client tools. */
public final class KvPodMain {
  private KvPodMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: kvpod <command> ...; see bin/kvpod help");
      System.exit(2);
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    switch (args[0]) {
      case "pod" -> PodMain.main(rest);
      case "bench-get" -> System.exit(BenchGet.run(rest));
      case "tls-init" -> System.exit(TlsInit.run(rest));
      case "members" -> System.exit(io.kvpod.pod.MembersCommand.run(rest, System.out));
      case "bench-put" -> System.exit(BenchPut.run(rest));
      case "hdfs-status" -> System.exit(hdfsStatus(rest));
      case "suite" -> System.exit(io.kvpod.local.SuiteMain.run(rest));
      case "chaos" -> System.exit(io.kvpod.chaos.Chaos.run(rest));
      case "get", "put", "remove", "status", "ping", "refresh", "sample", "fault" -> System.exit(KvPodCli.run(args));
      default -> {
        Tool tool = LoaderMain.tool(args[0]);
        if (tool == null) {
          System.err.println("kvpod: unknown command '" + args[0] + "'; see bin/kvpod help");
          System.exit(2);
        }
        System.exit(LoaderMain.run(tool, rest));
      }
    }
  }

  /** {@code bin/kvpod hdfs status}'s report on the HDFS at {@code args[0]}; 3 if it does not answer. */
  private static int hdfsStatus(String[] args) {
    try {
      System.out.print(io.kvpod.local.LocalHdfs.describe(args[0]));
      return 0;
    } catch (java.io.IOException e) {
      System.err.println("kvpod: HDFS at " + args[0] + " does not answer: " + e.getMessage());
      return 3;
    }
  }
}
