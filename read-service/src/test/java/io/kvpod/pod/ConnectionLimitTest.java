package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.client.KvPodClient;
import io.kvpod.local.PodProcess;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pod process with {@code kvpod.server.max.connections.per.address=4} and six idle
 * sockets from one address: the connections over the bound are closed as soon as they are
 * accepted, those within it stay open, the pod says why, and once the sockets close a new
 * client is served.
 */
class ConnectionLimitTest {
  private static final int LIMIT = 4;
  private static final int SOCKETS = 6;

  @TempDir
  File tmp;

  @Test
  void connectionsOverThePerAddressLimitAreClosedAtOnceAndThoseWithinItStayOpen() throws Exception {
    String root = TestLayers.rootWithOneRecord(tmp, "limits");
    int port = PodProcess.freePort();
    Map<String, String> cfg = PodProcess.baseConfig("127.0.0.1:" + port, 0, root, "limits", "limits-test-secret");
    cfg.put(PodConfig.MAX_CONNECTIONS_PER_ADDRESS, Integer.toString(LIMIT));
    cfg.put(PodConfig.TABLE_BUCKETS, "4");
    PodProcess pod = PodProcess.start(0, cfg, new File("target/pod-logs/ConnectionLimitTest"));
    List<Socket> sockets = new ArrayList<>();
    try {
      for (int i = 0; i < SOCKETS; i++) {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        sockets.add(s);
      }
      List<Socket> closed = new ArrayList<>();
      PodCluster.await("the pod closes the connections over its limit", 60_000, () -> {
        for (Socket s : sockets) {
          if (!closed.contains(s) && readsEndOfStream(s)) {
            closed.add(s);
          }
        }
        return closed.size() >= SOCKETS - LIMIT;
      });
      int kept = 0;
      for (Socket s : sockets) {
        kept += closed.contains(s) || readsEndOfStream(s) ? 0 : 1;
      }
      assertTrue(kept >= 1 && kept <= LIMIT, kept + " of " + SOCKETS + " idle connections stayed open");
      assertTrue(pod.logText().contains("refused a connection from"), "the pod says why it closed them");
    } finally {
      for (Socket s : sockets) {
        s.close();
      }
    }
    try (KvPodClient client = KvPodClient.builder("127.0.0.1:" + port).callTimeoutMs(10_000).deadlineMs(20_000)
        .build()) {
      PodCluster.await("a new client is served once the idle sockets are gone", 60_000,
          () -> Map.of("name", "choke").equals(client.getVia(0, "user:1")));
    } finally {
      pod.stop();
    }
  }

  /** Whether the pod has closed {@code s}: a read sees end-of-stream (not data, not silence). */
  private static boolean readsEndOfStream(Socket s) throws IOException {
    s.setSoTimeout(200);
    try {
      return s.getInputStream().read() == -1;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true; // reset by the pod
    }
  }
}
