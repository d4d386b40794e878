package io.kvpod.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.loader.UsageException;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.junit.jupiter.api.Test;

/** How client commands are told where the pods are: flags only (the environment is the caller's). */
class ClientFlagsTest {
  private static CommandLine parse(String... args) throws Exception {
    return DefaultParser.builder().get().parse(ClientFlags.add(new org.apache.commons.cli.Options()), args);
  }

  @Test
  void podsOrARegistryWithATableMakeABuilder() throws Exception {
    try (io.kvpod.client.KvPodClient c = ClientFlags.builder(parse("--pods", "127.0.0.1:1,127.0.0.1:2"), "kvpod get")
        .build()) {
      assertEquals(2, c.pods(), "the pods given"); // a client connects lazily: no pod needs to run
    }
    assertNotNull(ClientFlags.builder(parse("--zk", "127.0.0.1:2181/kvpod", "--table", "users"), "kvpod get"));
  }

  @Test
  void contradictoryOrIncompleteFlagsAreUsageErrorsThatSayWhatToGive() throws Exception {
    UsageException both = assertThrows(UsageException.class,
        () -> ClientFlags.builder(parse("--pods", "h:1", "--zk", "h:2181", "--table", "t"), "kvpod get"));
    assertTrue(both.getMessage().contains("not both"), both.getMessage());
    UsageException bad = assertThrows(UsageException.class,
        () -> ClientFlags.builder(parse("--zk", "zk1", "--table", "t"), "kvpod get"));
    assertTrue(bad.getMessage().startsWith("kvpod get: bad ZooKeeper server"), bad.getMessage());
    if (System.getenv("KVPOD_TABLE") == null) {
      UsageException noTable = assertThrows(UsageException.class,
          () -> ClientFlags.builder(parse("--zk", "zk1:2181"), "kvpod get"));
      assertTrue(noTable.getMessage().contains("--table"), noTable.getMessage());
    }
  }
}
