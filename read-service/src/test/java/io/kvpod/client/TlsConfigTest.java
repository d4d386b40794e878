package io.kvpod.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.kvpod.cli.TlsInit;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.conscrypt.Conscrypt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The client side of TLS with each implementation ({@code kvpod.tls.provider}): the JDK's and
 * BoringSSL through Conscrypt. Both must check the server's certificate the same way, its
 * authority and the host name dialled, against a JDK TLS server on loopback whose certificate
 * (from {@code kvpod tls init}) names only {@code localhost}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TlsConfigTest {
  private static final String PASSWORD = "tls-config-test";

  private Path dir;
  private TlsConfig client;
  private SSLServerSocket server;
  private final ExecutorService acceptor = Executors.newSingleThreadExecutor();

  @BeforeAll
  void startServer() throws Exception {
    dir = java.nio.file.Files.createTempDirectory("tls-config-test");
    TlsInit.create(dir, List.of("localhost"), PASSWORD, 1);
    client = TlsConfig.load(dir.resolve("client-tls.properties"));
    TlsConfig pod = TlsConfig.load(dir.resolve("pod-tls.properties"));
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(pod.keyManagers().getKeyManagers(), pod.trustManagers().getTrustManagers(), null);
    server = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket(0, 50,
        InetAddress.getLoopbackAddress());
    server.setNeedClientAuth(true);
  }

  @AfterAll
  void stopServer() throws IOException {
    acceptor.shutdownNow();
    try {
      server.close();
    } finally {
      org.apache.hadoop.fs.FileUtil.fullyDelete(dir.toFile());
    }
  }

  /** Accepts one connection and echoes one byte on it (a failed handshake ends it). */
  private Future<?> echoOnce() {
    return acceptor.submit(() -> {
      try (SSLSocket s = (SSLSocket) server.accept()) {
        s.setSoTimeout(60_000);
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        out.write(in.read());
        out.flush();
      }
      return null;
    });
  }

  private TlsConfig withProvider(String provider) throws IOException {
    if (provider.equals("openssl")) {
      assumeTrue(Conscrypt.isAvailable(), "Conscrypt's BoringSSL does not load on this platform");
    }
    return client.withProvider(provider);
  }

  @ParameterizedTest
  @ValueSource(strings = {"jdk", "openssl"})
  void eachProviderTalksToAServerWhoseCertificateNamesTheHostDialled(String provider) throws Exception {
    TlsConfig tls = withProvider(provider);
    Future<?> served = echoOnce();
    try (Socket s = tls.connect(new InetSocketAddress("localhost", server.getLocalPort()), 30_000, 60_000)) {
      s.getOutputStream().write(42);
      s.getOutputStream().flush();
      assertEquals(42, s.getInputStream().read(), "the byte came back through TLS");
    }
    served.get(60, TimeUnit.SECONDS);
  }

  @ParameterizedTest
  @ValueSource(strings = {"jdk", "openssl"})
  void eachProviderRefusesACertificateThatDoesNotNameTheHostDialled(String provider) throws Exception {
    TlsConfig tls = withProvider(provider);
    Future<?> served = echoOnce();
    // the certificate names localhost, not 127.0.0.1
    SSLException e = assertThrows(SSLException.class,
        () -> tls.connect(new InetSocketAddress("127.0.0.1", server.getLocalPort()), 30_000, 60_000).close());
    StringBuilder why = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      why.append(t).append('\n');
    }
    assertTrue(why.toString().toLowerCase(java.util.Locale.ROOT).contains("subject"),
        "refused for the names in the certificate:\n" + why);
    assertThrows(Exception.class, () -> served.get(60, TimeUnit.SECONDS), "the server saw no handshake succeed");
  }

  @Test
  void autoIsBoringSslWhereItLoadsAndJdkIsTheJdks() throws Exception {
    assertEquals(Conscrypt.isAvailable() ? "BoringSSL (Conscrypt)" : "the JDK's", client.implementation());
    assertEquals("the JDK's", client.withProvider("jdk").implementation());
  }

  @Test
  void anUnknownProviderIsRefusedWithTheKeyNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TlsConfig.from(Map.of(TlsConfig.ENABLED, "true", TlsConfig.TRUSTSTORE,
            dir.resolve("trust.p12").toString(), TlsConfig.TRUSTSTORE_PASSWORD, PASSWORD,
            TlsConfig.PROVIDER, "gnutls")));
    assertTrue(e.getMessage().contains(TlsConfig.PROVIDER) && e.getMessage().contains("gnutls"), e.getMessage());
  }
}
