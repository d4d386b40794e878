package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.cli.TlsInit;
import io.kvpod.client.KvPodClient;
import io.kvpod.client.TlsConfig;
import io.kvpod.contract.BucketHomes;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPod;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.net.ssl.SSLException;
import org.apache.thrift.protocol.TMessageType;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The abuse matrix against two pods that serve TLS and require client certificates
 * ({@code kvpod.tls.client.auth=require}), through {@link NettyServer}, pod 0 with BoringSSL
 * (where it loads) and pod 1 with the JDK's TLS: every case of
 * {@link AbuseMatrixTest} again, its raw frames sent inside TLS with a trusted client
 * certificate, and then the cases of TLS itself ({@link #tlsCases}): plaintext against the
 * TLS port, no client certificate, a certificate or a trust store of another authority, a
 * handshake never finished, and pod-to-pod calls over mutual TLS. The stores come from
 * {@code kvpod tls init} ({@link TlsInit}), whose authority the pods trust, and a stranger's
 * self-signed certificate, which they do not.
 */
class TlsAbuseMatrixTest extends AbuseMatrixTest {
  private static final String PASSWORD = "matrix-secret";
  /** Long enough for the 10,000-connection crowd to be all open at once before the handshake timeout ends them. */
  private static final long FRAME_TIMEOUT_MILLIS = 5_000;

  private Path ours;
  private Path stranger;
  private TlsConfig clientTls;

  @Override
  void beforePods() throws Exception {
    ours = tmp.toPath().resolve("tls");
    stranger = tmp.toPath().resolve("stranger");
    TlsInit.create(ours, List.of("127.0.0.1", "localhost"), PASSWORD, 2);
    // a stranger: a self-signed certificate that gives itself our authority's name (so that a JDK client
    // shows it when the pod asks for certificates issued by that name), and a trust store of only it
    java.nio.file.Files.createDirectories(stranger);
    TlsInit.keytool(stranger, "-genkeypair", "-alias", "client", "-keyalg", "EC", "-groupname", "secp256r1",
        "-dname", "CN=kvpod-ca", "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-keystore", "client.p12",
        "-storetype", "PKCS12", "-storepass", PASSWORD);
    TlsInit.keytool(stranger, "-exportcert", "-alias", "client", "-keystore", "client.p12", "-storepass", PASSWORD,
        "-file", "client.crt");
    TlsInit.keytool(stranger, "-importcert", "-noprompt", "-alias", "stranger", "-file", "client.crt", "-keystore",
        "trust.p12", "-storetype", "PKCS12", "-storepass", PASSWORD);
    clientTls = TlsConfig.load(ours.resolve("client-tls.properties"));
  }

  @Override
  int podCount() {
    return 2;
  }

  /** Pod 0 (which the raw cases talk to) serves TLS with BoringSSL where it loads, pod 1 with the JDK's. */
  @Override
  Map<String, String> extraConfig(int id) {
    return Map.of(PodConfig.TLS_ENABLED, "true", PodConfig.TLS_KEYSTORE, ours.resolve("pod.p12").toString(),
        PodConfig.TLS_KEYSTORE_PASSWORD, PASSWORD, PodConfig.TLS_TRUSTSTORE, ours.resolve("trust.p12").toString(),
        PodConfig.TLS_TRUSTSTORE_PASSWORD, PASSWORD, PodConfig.TLS_CLIENT_AUTH, "require",
        PodConfig.TLS_PROVIDER, id == 0 ? "auto" : "jdk");
  }

  @Override
  KvPodClient.Builder clientBuilder(String podList) {
    return KvPodClient.builder(podList).tls(clientTls);
  }

  @Override
  long frameTimeoutMillis() {
    return FRAME_TIMEOUT_MILLIS;
  }

  @Override
  Socket connect() throws IOException {
    return clientTls.connect(new InetSocketAddress("127.0.0.1", port), 30_000, 60_000);
  }

  /** One case of TLS itself. */
  interface TlsAbuse {
    void run(TlsAbuseMatrixTest t) throws Exception;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("tlsCases")
  void eachTlsAbuseGetsAClearAnswerAndThePodGoesOnServing(TlsAbuse abuse) throws Exception {
    abuse.run(this);
    thePodStillServes();
  }

  static Stream<Named<TlsAbuse>> tlsCases() {
    List<Named<TlsAbuse>> c = new ArrayList<>();
    c.add(Named.of("a plaintext call on the TLS port is ended unanswered", t -> {
      double before = t.metric("kvpod_tls_handshake_failures_total");
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", t.port), 30_000);
        s.setSoTimeout(60_000);
        writeFrame(new DataOutputStream(s.getOutputStream()), message("ping", TMessageType.CALL,
            new KvPod.ping_args()));
        assertEnded(s);
      }
      PodCluster.await("the pod counts the failed handshake", 30_000,
          () -> t.metric("kvpod_tls_handshake_failures_total") == before + 1);
    }));
    c.add(Named.of("the Java client without TLS gets a retriable UNAVAILABLE", t -> {
      try (KvPodClient plain = KvPodClient.builder("127.0.0.1:" + t.port).maxAttempts(1).deadlineMs(10_000)
          .callTimeoutMs(4_000).build()) {
        KvPodException e = assertThrows(KvPodException.class, () -> plain.getVia(0, "user:1"));
        assertEquals(ErrorCode.UNAVAILABLE, e.getCode(), e.getMessage());
      }
    }));
    c.add(Named.of("a TLS client without a certificate gets UNAUTHENTICATED, and its put is not applied", t -> {
      TlsConfig anonymous = TlsConfig.of(null, null, t.ours.resolve("trust.p12"), PASSWORD);
      try (KvPodClient noCert = KvPodClient.builder("127.0.0.1:" + t.port).tls(anonymous).maxAttempts(1)
          .build()) {
        KvPodException get = assertThrows(KvPodException.class, () -> noCert.getVia(0, "user:1"));
        assertEquals(ErrorCode.UNAUTHENTICATED, get.getCode(), get.getMessage());
        assertFalse(get.isRetriable(), "sending it again will not help");
        assertTrue(get.getMessage().contains("client certificate"), get.getMessage());
        KvPodException put = assertThrows(KvPodException.class,
            () -> noCert.putVia(0, "anonymous-put", Map.of("f", "v")));
        assertEquals(ErrorCode.UNAUTHENTICATED, put.getCode(), put.getMessage());
      }
      assertFalse(t.client.getRecord("anonymous-put").isFound(), "the unauthenticated put was not applied");
    }));
    c.add(Named.of("a raw TLS call without a certificate is answered as the method's UNAUTHENTICATED", t -> {
      TlsConfig anonymous = TlsConfig.of(null, null, t.ours.resolve("trust.p12"), PASSWORD);
      try (Socket s = anonymous.connect(new InetSocketAddress("127.0.0.1", t.port), 30_000, 60_000)) {
        KvPod.multiGet_result r = new KvPod.multiGet_result();
        call(s, "multiGet", new KvPod.multiGet_args(List.of("user:1"), null), r);
        assertRefusal(ErrorCode.UNAUTHENTICATED, r);
      }
    }));
    c.add(Named.of("a client certificate that names our authority but is not signed by it fails the handshake", t -> {
      TlsConfig foreign = TlsConfig.of(t.stranger.resolve("client.p12"), PASSWORD, t.ours.resolve("trust.p12"),
          PASSWORD);
      double before = t.metric("kvpod_tls_handshake_failures_total");
      assertNeverAnswered(() -> foreign.connect(new InetSocketAddress("127.0.0.1", t.port), 30_000, 60_000));
      PodCluster.await("the pod counts the refused handshake", 30_000,
          () -> t.metric("kvpod_tls_handshake_failures_total") == before + 1);
    }));
    c.add(Named.of("a client that trusts another authority refuses the pod's certificate", t -> {
      TlsConfig wrongTrust = TlsConfig.of(t.ours.resolve("client.p12"), PASSWORD,
          t.stranger.resolve("trust.p12"), PASSWORD);
      SSLException e = assertThrows(SSLException.class,
          () -> wrongTrust.connect(new InetSocketAddress("127.0.0.1", t.port), 30_000, 60_000).close());
      assertTrue(String.valueOf(e.getMessage()).contains("certification path")
          || String.valueOf(e.getMessage()).contains("PKIX"), e.toString());
    }));
    c.add(Named.of("a TLS handshake begun and never finished is ended at the frame timeout", t -> {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", t.port), 30_000);
        s.setSoTimeout(60_000);
        // a TLS record header announcing a 512-byte handshake message, and 5 bytes of it
        s.getOutputStream().write(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc, 0x03});
        s.getOutputStream().flush();
        long start = System.nanoTime();
        assertEnded(s);
        assertTrue(System.nanoTime() - start >= (t.frameTimeoutMillis() / 2) * 1_000_000L,
            "ended by the timeout, not at once");
      }
    }));
    c.add(Named.of("a key the other pod holds is written and read through pod 0, pod to pod over mutual TLS "
        + "(to the JDK's TLS)", t -> {
      int buckets = BUCKETS;
      String key = null;
      for (int i = 0; key == null; i++) {
        String k = "forwarded-" + i;
        if (BucketHomes.home(KeyPartitioner.bucket(k, buckets), 2) == 1) {
          key = k;
        }
      }
      int bucket = KeyPartitioner.bucket(key, buckets);
      PodCluster.await("pod 1 holds its home buckets, in pod 0's view", 60_000, () -> {
        PodStatus st = t.client.status(0);
        return st.getHolders().get(bucket) == 1;
      });
      t.client.putVia(0, key, Map.of("via", "pod 0"));
      assertEquals(Map.of("via", "pod 0"), t.client.getVia(0, key), "read through pod 0");
      assertEquals(Map.of("via", "pod 0"), t.client.getVia(1, key), "read at its holder");
      assertEquals(1, t.client.status(0).getHolders().get(bucket), "pod 1 still holds it: pods heard each other");
    }));
    return c.stream();
  }

  /** A call on the connection {@code open} makes must never be answered: refused at the handshake, or ended. */
  private static void assertNeverAnswered(Opener open) throws Exception {
    Socket s;
    try {
      s = open.open();
    } catch (SSLException | java.net.SocketException refused) {
      return; // refused during the handshake
    }
    try (s) {
      writeFrame(new DataOutputStream(s.getOutputStream()), message("ping", TMessageType.CALL,
          new KvPod.ping_args()));
      byte[] reply = readFrame(new DataInputStream(s.getInputStream()));
      assertEquals(null, reply, "a call over a refused certificate must not be answered");
    } catch (SSLException | java.net.SocketException refused) {
      assertNotNull(refused.getMessage()); // TLS 1.3: the pod's refusal arrives after the client's handshake ends
    }
  }

  @FunctionalInterface
  interface Opener {
    Socket open() throws IOException;
  }
}
