package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.Limits;
import io.kvpod.local.PodProcess;
import java.io.DataOutputStream;
import java.io.File;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pod process attacked with frames that are announced and never sent, or sent in part.
 * The pod reserves memory only for the bytes that arrived, so it goes on serving others
 * meanwhile, and it ends those connections once their frame is late
 * ({@code kvpod.server.frame.timeout}).
 */
class StalledFrameTest {
  @TempDir
  File tmp;

  @Test
  void framesAnnouncedButNotSentHoldNoMemoryAndOtherClientsAreServedMeanwhile() throws Exception {
    String root = TestLayers.rootWithOneRecord(tmp, "stall");
    int port = PodProcess.freePort();
    Map<String, String> cfg = PodProcess.baseConfig("127.0.0.1:" + port, 0, root, "stall", "stall-test-secret");
    // room for two of the largest frames: before, two announced ones took all of it until they timed out
    cfg.put(PodConfig.MAX_READ_BUFFER_BYTES, Long.toString(2L * Limits.MAX_FRAME_BYTES));
    cfg.put(PodConfig.FRAME_TIMEOUT, "10m"); // longer than the test: only the staging can keep the pod serving
    PodProcess pod = PodProcess.start(0, cfg, new File("target/pod-logs/StalledFrameTest"));
    List<Socket> stalled = new ArrayList<>();
    try (KvPodClient client = KvPodClient.builder("127.0.0.1:" + port).callTimeoutMs(60_000).deadlineMs(60_000)
        .build()) {
      assertEquals(Map.of("name", "choke"), client.get("user:1"));
      for (int i = 0; i < 40; i++) {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        out.writeInt(Limits.MAX_FRAME_BYTES - 4); // a header announcing the largest frame...
        if (i % 2 == 1) {
          out.write(new byte[100_000]); // ...and, on every other socket, the start of its body
        }
        out.flush();
        stalled.add(s);
      }
      for (int i = 0; i < 20; i++) {
        assertEquals(Map.of("name", "choke"), client.get("user:1"), "served while 40 frames are announced");
        client.put("user:" + (100 + i), Map.of("i", Integer.toString(i)));
      }
      for (int i = 0; i < 20; i++) {
        assertEquals(Map.of("i", Integer.toString(i)), client.get("user:" + (100 + i)));
      }
      client.ping(0);
    } finally {
      for (Socket s : stalled) {
        s.close();
      }
      pod.stop();
    }
  }

  @Test
  void connectionsThatAnnounceFramesAndSendNothingAreEndedAndThePodServesAgain() throws Exception {
    String root = TestLayers.rootWithOneRecord(tmp, "stall");
    int port = PodProcess.freePort();
    Map<String, String> cfg = PodProcess.baseConfig("127.0.0.1:" + port, 0, root, "stall", "stall-test-secret");
    // room for two of the largest frames: two announced ones take all of it
    cfg.put(PodConfig.MAX_READ_BUFFER_BYTES, Long.toString(2L * Limits.MAX_FRAME_BYTES));
    cfg.put(PodConfig.FRAME_TIMEOUT, "2s");
    PodProcess pod = PodProcess.start(0, cfg, new File("target/pod-logs/StalledFrameTest"));
    List<Socket> stalled = new ArrayList<>();
    try (KvPodClient client = KvPodClient.builder("127.0.0.1:" + port).callTimeoutMs(60_000).deadlineMs(120_000)
        .build()) {
      assertEquals(Map.of("name", "choke"), client.get("user:1"));
      for (int i = 0; i < 3; i++) {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        out.writeInt(Limits.MAX_FRAME_BYTES - 4); // a frame header, and then nothing
        out.flush();
        stalled.add(s);
      }
      // the server holds its whole read budget for frames that never come, until it ends them
      for (Socket s : stalled) {
        s.setSoTimeout(60_000);
        assertEquals(-1, s.getInputStream().read(), "the pod ended the connection that left its frame unfinished");
      }
      assertTrue(pod.logText().contains("was not finished within 2000 ms"), "the pod says why it ended them");
      assertEquals(Map.of("name", "choke"), client.get("user:1"), "and it reads requests again");
    } finally {
      for (Socket s : stalled) {
        s.close();
      }
      pod.stop();
    }
  }
}
