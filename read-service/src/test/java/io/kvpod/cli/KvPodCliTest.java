package io.kvpod.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvpod.thrift.Lookup;
import io.kvpod.thrift.Record;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What {@code bin/kvpod get --json} prints, for scripts. */
class KvPodCliTest {
  @Test
  void aFoundRecordPrintsAsJsonThatParsesBackWhateverItsTextHolds() throws Exception {
    Map<String, String> value = Map.of("a", "x, y=z", "b\"", "{\"nested\": 1}\n");
    String json = KvPodCli.lookupJson("k, 1", new Lookup(true).setRecord(new Record(value).setVersion(42)));
    Map<?, ?> back = new ObjectMapper().readValue(json, Map.class);
    assertEquals("k, 1", back.get("key"));
    assertEquals(true, back.get("found"));
    assertEquals(42, back.get("version"));
    assertEquals(value, back.get("value"), json);
  }

  @Test
  void aMissingKeyPrintsFoundFalseAndNoValue() throws Exception {
    assertEquals("{\"key\":\"nobody\",\"found\":false}", KvPodCli.lookupJson("nobody", new Lookup(false)));
  }

  @Test
  void exitCodesTellAUsageErrorFromARefusalFromAnUnreachablePod() throws Exception {
    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    String pods = "127.0.0.1:" + closed; // nothing listens there
    assertEquals(KvPodCli.USAGE_ERROR, KvPodCli.run(new String[] {"--no-such-option"}));
    assertEquals(KvPodCli.USAGE_ERROR, KvPodCli.run(new String[] {"get", "--pods", pods}), "get without a key");
    assertEquals(KvPodCli.REFUSED, KvPodCli.run(new String[] {"get", "", "--pods", pods}), "an empty key");
    assertEquals(KvPodCli.UNAVAILABLE, KvPodCli.run(new String[] {"ping", "--pods", pods}), "no pod listens");
    assertEquals(KvPodCli.OK, KvPodCli.run(new String[] {"--help"}));
  }
}
