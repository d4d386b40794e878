package io.kvpod.client;

import java.io.IOException;
import java.io.Reader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * The TLS settings of a pod or a client: which certificate it shows (a key store) and which
 * certificates it trusts (a trust store). Pods serve TLS with these when
 * {@code kvpod.tls.enabled=true}, and use the same stores as clients of each other, so that
 * pod-to-pod calls are mutually authenticated too.
 *
 * <p>Stores are files in any format {@link KeyStore#getInstance(java.io.File, char[])} reads
 * (PKCS#12 or JKS). A client needs a trust store, and a key store only if the pods require
 * client certificates ({@code kvpod.tls.client.auth=require}); a pod needs both. A client
 * checks that a pod's certificate names the address it dialled (its subject alternative
 * names, as HTTPS does), so certificates must carry the pods' host names or IP addresses.
 *
 * <p>Immutable; {@link #connect} may be called from any thread.
 */
public final class TlsConfig {
  public static final String ENABLED = "kvpod.tls.enabled";
  public static final String KEYSTORE = "kvpod.tls.keystore";
  public static final String KEYSTORE_PASSWORD = "kvpod.tls.keystore.password";
  public static final String TRUSTSTORE = "kvpod.tls.truststore";
  public static final String TRUSTSTORE_PASSWORD = "kvpod.tls.truststore.password";
  /** The TLS versions kvpod speaks; older ones are refused. */
  public static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

  private final Path keystore;
  private final String keystorePassword;
  private final Path truststore;
  private final String truststorePassword;
  private final SSLContext context;

  private TlsConfig(Path keystore, String keystorePassword, Path truststore, String truststorePassword)
      throws IOException {
    if (truststore == null) {
      throw new IllegalArgumentException(TRUSTSTORE + " is required with " + ENABLED + "=true");
    }
    this.keystore = keystore;
    this.keystorePassword = keystorePassword == null ? "" : keystorePassword;
    this.truststore = truststore;
    this.truststorePassword = truststorePassword == null ? "" : truststorePassword;
    try {
      KeyManagerFactory keys = keyManagers();
      context = SSLContext.getInstance("TLS");
      context.init(keys == null ? null : keys.getKeyManagers(), trustManagers().getTrustManagers(), null);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot set up TLS from " + this + ": " + e.getMessage(), e);
    }
  }

  /** Settings with a trust store and, if {@code keystore} is not null, a certificate to show. */
  public static TlsConfig of(Path keystore, String keystorePassword, Path truststore, String truststorePassword)
      throws IOException {
    return new TlsConfig(keystore, keystorePassword, truststore, truststorePassword);
  }

  /**
   * The settings under the {@code kvpod.tls.*} keys of {@code values}, or null if
   * {@code kvpod.tls.enabled} is not {@code true}. Stores are opened and checked now: a
   * missing file or a wrong password fails here, with the file's name.
   */
  public static TlsConfig from(Map<String, String> values) throws IOException {
    if (!Boolean.parseBoolean(values.getOrDefault(ENABLED, "false").trim())) {
      return null;
    }
    String ks = values.get(KEYSTORE);
    String ts = values.get(TRUSTSTORE);
    return new TlsConfig(ks == null || ks.isBlank() ? null : Path.of(ks), values.get(KEYSTORE_PASSWORD),
        ts == null || ts.isBlank() ? null : Path.of(ts), values.get(TRUSTSTORE_PASSWORD));
  }

  /** {@link #from} the {@code kvpod.tls.*} keys of a properties file (a pod's config file will do). */
  public static TlsConfig load(Path file) throws IOException {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      p.load(r);
    }
    Map<String, String> values = new HashMap<>();
    p.stringPropertyNames().forEach(k -> values.put(k, p.getProperty(k)));
    TlsConfig tls = from(values);
    if (tls == null) {
      throw new IllegalArgumentException(file + " does not set " + ENABLED + "=true");
    }
    return tls;
  }

  /** The same trust, showing no certificate. */
  public TlsConfig withoutCertificate() throws IOException {
    return new TlsConfig(null, null, truststore, truststorePassword);
  }

  /** Whether this side shows a certificate (clients need one when pods require them). */
  public boolean hasCertificate() {
    return keystore != null;
  }

  /** The certificate this side shows, or null if it shows none. */
  public KeyManagerFactory keyManagers() throws IOException, GeneralSecurityException {
    if (keystore == null) {
      return null;
    }
    KeyManagerFactory f = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    f.init(open(keystore, keystorePassword, KEYSTORE), keystorePassword.toCharArray());
    return f;
  }

  /** The certificates this side trusts. */
  public TrustManagerFactory trustManagers() throws IOException, GeneralSecurityException {
    TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    f.init(open(truststore, truststorePassword, TRUSTSTORE));
    return f;
  }

  private static KeyStore open(Path file, String password, String key) throws IOException, GeneralSecurityException {
    if (!Files.isReadable(file)) {
      throw new IOException(key + ": cannot read " + file);
    }
    try {
      return KeyStore.getInstance(file.toFile(), password.toCharArray());
    } catch (IOException e) {
      throw new IOException(key + ": cannot open " + file + " (wrong password, or not a key store?): "
          + e.getMessage(), e);
    }
  }

  /**
   * A TLS connection to {@code addr}, handshaken, whose peer showed a certificate that this
   * side trusts and that names {@code addr}'s host. Reads time out after {@code readTimeoutMs}.
   */
  public Socket connect(InetSocketAddress addr, int connectTimeoutMs, int readTimeoutMs) throws IOException {
    return connect(addr, null, connectTimeoutMs, readTimeoutMs);
  }

  /** {@link #connect(InetSocketAddress, int, int)} from the local address {@code from} (null: any). */
  public Socket connect(InetSocketAddress addr, InetAddress from, int connectTimeoutMs, int readTimeoutMs)
      throws IOException {
    InetSocketAddress to = addr.isUnresolved() ? new InetSocketAddress(addr.getHostString(), addr.getPort()) : addr;
    Socket plain = new Socket();
    SSLSocket s = null;
    try {
      if (from != null) {
        plain.bind(new InetSocketAddress(from, 0));
      }
      plain.setTcpNoDelay(true);
      plain.connect(to, connectTimeoutMs);
      plain.setSoTimeout(readTimeoutMs > 0 ? readTimeoutMs : connectTimeoutMs);
      // the host as dialled: what the pod's certificate must name (and the SNI sent)
      s = (SSLSocket) context.getSocketFactory().createSocket(plain, addr.getHostString(), addr.getPort(), true);
      SSLParameters p = s.getSSLParameters();
      p.setEndpointIdentificationAlgorithm("HTTPS");
      p.setProtocols(PROTOCOLS.toArray(new String[0]));
      s.setSSLParameters(p);
      s.startHandshake();
      s.setSoTimeout(readTimeoutMs);
      return s;
    } catch (IOException e) {
      (s != null ? s : plain).close();
      throw e;
    }
  }

  @Override
  public String toString() {
    return "TLS (key store " + (keystore == null ? "none" : keystore) + ", trust store " + truststore + ")";
  }
}
