package io.kvpod.cli;

import io.kvpod.client.KvPodClient;
import io.kvpod.loader.Cli;
import io.kvpod.loader.UsageException;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/**
 * How client commands ({@code get}, {@code status}, {@code bench ...}) find the pods: a pod
 * list ({@code --pods}), or a ZooKeeper registry and a table ({@code --zk}, {@code --table}),
 * each falling back to the environment that {@code bin/kvpod cluster start} leaves
 * ({@code KVPOD_PODS}; {@code KVPOD_ZK} and {@code KVPOD_TABLE}). With a pod list, {@code --table}
 * picks one of the tables the pods serve (default: their default table). Flags win over the
 * environment, and a registry wins over a pod list from the environment.
 */
final class ClientFlags {
  private ClientFlags() {}

  /** Adds {@code --pods}, {@code --zk} and {@code --table} to {@code o}. */
  static Options add(Options o) {
    return o.addOption(Cli.flag("pods", "host:port,...", "the cluster's pods in id order (default: $KVPOD_PODS)"))
        .addOption(Cli.flag("zk", "host:port,...[/root]", "find the pods in this ZooKeeper registry instead "
            + "(pods run with kvpod.coordination=zookeeper; default: $KVPOD_ZK); give --table too"))
        .addOption(Cli.flag("table", "T", "the table (default: with --pods, each pod's default table, the first "
            + "it serves; with --zk, the first of $KVPOD_TABLE)"));
  }

  /**
   * A client builder for the pods that {@code cl} and the environment name.
   *
   * @throws UsageException if they name none, or name a registry but no table
   */
  static KvPodClient.Builder builder(CommandLine cl, String command) throws UsageException {
    String pods = cl.getOptionValue("pods");
    String zk = cl.getOptionValue("zk");
    if (pods != null && zk != null) {
      throw new UsageException(command + ": give --pods or --zk, not both");
    }
    if (pods == null && zk == null) {
      zk = System.getenv("KVPOD_ZK");
      pods = zk == null || zk.isBlank() ? System.getenv("KVPOD_PODS") : null;
    }
    if (zk != null && !zk.isBlank()) {
      // KVPOD_TABLE of a local cluster lists every table it serves: the first is its default
      String env = System.getenv("KVPOD_TABLE");
      String table = cl.getOptionValue("table", env == null ? null : env.split(",", -1)[0].trim());
      if (table == null || table.isBlank()) {
        throw new UsageException(command + ": with --zk, say which table: --table T");
      }
      try {
        return KvPodClient.builder().zookeeper(zk).table(table);
      } catch (IllegalArgumentException e) {
        throw new UsageException(command + ": " + e.getMessage());
      }
    }
    if (pods == null || pods.isBlank()) {
      throw new UsageException(command + ": say which pods: --pods host:port,... or --zk host:port --table T "
          + "(or start a local cluster: bin/kvpod cluster start)");
    }
    return KvPodClient.builder(pods).table(cl.getOptionValue("table"));
  }

  /**
   * Builds the client, or prints why it cannot be (ZooKeeper did not answer, or has no such
   * table) and returns null: the command then exits {@link KvPodCli#UNAVAILABLE}.
   */
  static KvPodClient build(KvPodClient.Builder b, String command) {
    try {
      return b.build();
    } catch (IllegalStateException e) {
      System.err.println(command + ": " + e.getMessage());
      return null;
    }
  }
}
