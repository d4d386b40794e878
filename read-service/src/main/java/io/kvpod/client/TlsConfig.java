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
import java.security.Provider;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.conscrypt.Conscrypt;

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
 * <p>The TLS itself is BoringSSL through Conscrypt where it loads ({@code kvpod.tls.provider}
 * {@code auto}, the default, or {@code openssl}), else the JDK's ({@code jdk}): both speak the
 * same TLS 1.3/1.2 and check the same things, the certificate's authority and the host name
 * dialled (each with its own trust manager), but a BoringSSL record costs a fraction of a JDK
 * one, which is most of what TLS adds to a small call.
 *
 * <p>Immutable; {@link #connect} may be called from any thread.
 */
public final class TlsConfig {
  public static final String ENABLED = "kvpod.tls.enabled";
  public static final String KEYSTORE = "kvpod.tls.keystore";
  public static final String KEYSTORE_PASSWORD = "kvpod.tls.keystore.password";
  public static final String TRUSTSTORE = "kvpod.tls.truststore";
  public static final String TRUSTSTORE_PASSWORD = "kvpod.tls.truststore.password";
  /** Whose TLS: {@code auto} (BoringSSL where it loads, else the JDK's), {@code openssl} or {@code jdk}. */
  public static final String PROVIDER = "kvpod.tls.provider";
  /** The values {@link #PROVIDER} takes. */
  public static final List<String> PROVIDERS = List.of("auto", "openssl", "jdk");
  /** The TLS versions kvpod speaks; older ones are refused. */
  public static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

  private final Path keystore;
  private final String keystorePassword;
  private final Path truststore;
  private final String truststorePassword;
  private final String provider;
  /** Null: the JDK's TLS. */
  private final Provider boringSsl;
  private final SSLContext context;

  private TlsConfig(Path keystore, String keystorePassword, Path truststore, String truststorePassword,
                    String provider) throws IOException {
    if (truststore == null) {
      throw new IllegalArgumentException(TRUSTSTORE + " is required with " + ENABLED + "=true");
    }
    if (!PROVIDERS.contains(provider)) {
      throw new IllegalArgumentException(PROVIDER + " must be one of " + PROVIDERS + ", not '" + provider + "'");
    }
    this.keystore = keystore;
    this.keystorePassword = keystorePassword == null ? "" : keystorePassword;
    this.truststore = truststore;
    this.truststorePassword = truststorePassword == null ? "" : truststorePassword;
    this.provider = provider;
    this.boringSsl = provider.equals("jdk") ? null : BoringSsl.provider();
    if (boringSsl == null && provider.equals("openssl")) {
      throw new IOException(PROVIDER + "=openssl, but Conscrypt's BoringSSL does not load on this platform ("
          + System.getProperty("os.name") + " " + System.getProperty("os.arch") + "): use auto or jdk");
    }
    try {
      KeyManagerFactory keys = keyManagers();
      context = boringSsl == null ? SSLContext.getInstance("TLS") : SSLContext.getInstance("TLS", boringSsl);
      context.init(keys == null ? null : keys.getKeyManagers(), trustManagers(boringSsl).getTrustManagers(), null);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot set up TLS from " + this + ": " + e.getMessage(), e);
    }
  }

  /**
   * Settings with a trust store and, if {@code keystore} is not null, a certificate to show;
   * BoringSSL where it loads.
   */
  public static TlsConfig of(Path keystore, String keystorePassword, Path truststore, String truststorePassword)
      throws IOException {
    return new TlsConfig(keystore, keystorePassword, truststore, truststorePassword, "auto");
  }

  /** The same stores, with the TLS of {@code provider} (one of {@link #PROVIDERS}). */
  public TlsConfig withProvider(String provider) throws IOException {
    return new TlsConfig(keystore, keystorePassword, truststore, truststorePassword, provider);
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
        ts == null || ts.isBlank() ? null : Path.of(ts), values.get(TRUSTSTORE_PASSWORD),
        values.getOrDefault(PROVIDER, "auto").trim());
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
    return new TlsConfig(null, null, truststore, truststorePassword, provider);
  }

  /** Whose TLS this side speaks: "BoringSSL (Conscrypt)" or "the JDK's". */
  public String implementation() {
    return boringSsl == null ? "the JDK's" : "BoringSSL (Conscrypt)";
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

  /** The certificates this side trusts, checked by the JDK's trust manager. */
  public TrustManagerFactory trustManagers() throws IOException, GeneralSecurityException {
    return trustManagers(null);
  }

  /**
   * The certificates this side trusts, checked by {@code tls}'s trust manager (null: the
   * JDK's). BoringSSL needs Conscrypt's: it checks the host name as the JDK's does, and knows
   * the authentication type "GENERIC" that Conscrypt gives for TLS 1.3, which the JDK's refuses.
   */
  private TrustManagerFactory trustManagers(Provider tls) throws IOException, GeneralSecurityException {
    TrustManagerFactory f = tls == null ? TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm())
        : TrustManagerFactory.getInstance("PKIX", tls);
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

  /** Conscrypt's provider, made once; null where its native library does not load. */
  private static final class BoringSsl {
    private static final Provider PROVIDER = Conscrypt.isAvailable() ? Conscrypt.newProvider() : null;

    static Provider provider() {
      return PROVIDER;
    }
  }
}
