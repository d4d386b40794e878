package io.kvpod.cli;

import io.kvpod.client.TlsConfig;
import io.kvpod.loader.Cli;
import io.kvpod.loader.UsageException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.Base64;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/**
 * {@code kvpod tls init}: makes a small certificate authority and the stores a trial cluster
 * needs, with the JDK's {@code keytool}:
 * <pre>
 *   DIR/ca.p12       the authority's key and certificate (keep it to sign more; pods never read it)
 *   DIR/trust.p12    the authority's certificate: every pod's and client's trust store
 *   DIR/pod.p12      a pod key and certificate signed by the authority, naming --hosts
 *   DIR/client.p12   a client key and certificate signed by the authority (CN=kvpod-client)
 *   DIR/ca.pem, DIR/client-cert.pem, DIR/client-key.pem
 *                    the same in PEM, for clients in other languages (Python's ssl module)
 *   DIR/pod-tls.properties     the kvpod.tls.* settings for pods (with client certificates required)
 *   DIR/client-tls.properties  the same for clients: bin/kvpod get KEY --tls DIR/client-tls.properties
 * </pre>
 * All pods may share {@code pod.p12} when its certificate names all their hosts. For
 * production, have your own authority sign a certificate per pod; kvpod only needs the stores.
 * Keys are EC P-256; stores are PKCS#12 with one password.
 */
public final class TlsInit {
  private static final long KEYTOOL_SECONDS = 120;

  private TlsInit() {}

  static Options options() {
    return new Options()
        .addOption(Cli.flag("dir", "DIR", "where to write the stores (made if missing; must hold no stores yet)"))
        .addOption(Cli.flag("hosts", "H,H...", "host names and IP addresses the pods' certificate names "
            + "(default: 127.0.0.1,localhost)"))
        .addOption(Cli.flag("password", "P", "password of every store and key (default: $KVPOD_TLS_PASSWORD, "
            + "else 'changeit')"))
        .addOption(Cli.flag("days", "N", "validity of the certificates (default: 365)"));
  }

  public static int run(String[] args) throws Exception {
    Cli.Command usage = new Cli.Command("kvpod tls init --dir DIR [--hosts H,H...] [--password P]",
        "Make a certificate authority, a pod certificate and a client certificate for a trial cluster with TLS.");
    CommandLine cl;
    try {
      cl = Cli.parse(usage, options(), args, false);
    } catch (UsageException e) {
      System.err.println(e.getMessage());
      return KvPodCli.USAGE_ERROR;
    }
    if (cl == null) {
      return KvPodCli.OK;
    }
    if (!cl.hasOption("dir")) {
      System.err.println("kvpod tls init: say where: --dir DIR");
      return KvPodCli.USAGE_ERROR;
    }
    String env = System.getenv("KVPOD_TLS_PASSWORD");
    String password = cl.getOptionValue("password", env == null || env.isEmpty() ? "changeit" : env);
    List<String> hosts = List.of(cl.getOptionValue("hosts", "127.0.0.1,localhost").split(","));
    Path dir = Path.of(cl.getOptionValue("dir"));
    create(dir, hosts, password, Integer.parseInt(cl.getOptionValue("days", "365")));
    System.out.println("wrote " + dir + "/{ca,trust,pod,client}.p12 and " + dir + "/{pod,client}-tls.properties");
    System.out.println("local pods: bin/kvpod cluster start --root URI --table T --tls " + dir
        + "   (other pods: kvpod pod run --config " + dir.resolve("pod-tls.properties") + " -D ...)");
    System.out.println("clients:    bin/kvpod get KEY --tls " + dir.resolve("client-tls.properties")
        + "   (or export KVPOD_TLS_CONFIG=that file)");
    return KvPodCli.OK;
  }

  /** Writes the stores and settings files described above into {@code dir}. */
  public static void create(Path dir, List<String> hosts, String password, int days)
      throws IOException, InterruptedException {
    if (password.length() < 6) {
      throw new IllegalArgumentException("a PKCS#12 store password needs at least 6 characters");
    }
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------")); // keys and their passwords
    for (String f : List.of("ca.p12", "trust.p12", "pod.p12", "client.p12")) {
      if (Files.exists(dir.resolve(f))) {
        throw new IllegalArgumentException(dir.resolve(f) + " exists already; choose an empty --dir");
      }
    }
    String validity = Integer.toString(days);
    keytool(dir, "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=kvpod-ca",
        "-ext", "bc:c", "-validity", validity, "-keystore", "ca.p12", "-storetype", "PKCS12", "-storepass", password);
    keytool(dir, "-exportcert", "-rfc", "-alias", "ca", "-keystore", "ca.p12", "-storepass", password,
        "-file", "ca.crt");
    keytool(dir, "-importcert", "-noprompt", "-alias", "kvpod-ca", "-file", "ca.crt", "-keystore", "trust.p12",
        "-storetype", "PKCS12", "-storepass", password);
    List<String> san = new ArrayList<>();
    for (String h : hosts) {
      String host = h.trim();
      san.add((host.matches("[0-9.]+") || host.contains(":") ? "ip:" : "dns:") + host);
    }
    signed(dir, "pod", "CN=kvpod-pod", "SAN=" + String.join(",", san), password, validity);
    signed(dir, "client", "CN=kvpod-client", null, password, validity);
    String common = TlsConfig.ENABLED + "=true\n"
        + TlsConfig.TRUSTSTORE + "=" + dir.toAbsolutePath().resolve("trust.p12") + "\n"
        + TlsConfig.TRUSTSTORE_PASSWORD + "=" + password + "\n"
        + TlsConfig.KEYSTORE_PASSWORD + "=" + password + "\n";
    Files.writeString(dir.resolve("pod-tls.properties"), "# kvpod pods: TLS with client certificates required\n"
        + common + TlsConfig.KEYSTORE + "=" + dir.toAbsolutePath().resolve("pod.p12") + "\n"
        + "kvpod.tls.client.auth=require\n", StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("client-tls.properties"),
        "# kvpod clients: bin/kvpod get KEY --tls THIS-FILE (or KVPOD_TLS_CONFIG=THIS-FILE)\n"
        + common + TlsConfig.KEYSTORE + "=" + dir.toAbsolutePath().resolve("client.p12") + "\n",
        StandardCharsets.UTF_8);
    writePem(dir, password);
    for (String f : List.of("ca.crt", "pod.csr", "pod.crt", "client.csr", "client.crt")) {
      Files.deleteIfExists(dir.resolve(f));
    }
  }

  /** ca.pem, client-cert.pem (the client's chain) and client-key.pem (PKCS#8, readable by the owner only). */
  private static void writePem(Path dir, String password) throws IOException {
    try {
      KeyStore client = KeyStore.getInstance(dir.resolve("client.p12").toFile(), password.toCharArray());
      StringBuilder chain = new StringBuilder();
      for (Certificate c : client.getCertificateChain("client")) {
        chain.append(pem("CERTIFICATE", c.getEncoded()));
      }
      Files.writeString(dir.resolve("client-cert.pem"), chain, StandardCharsets.US_ASCII);
      Key key = client.getKey("client", password.toCharArray());
      Path keyFile = dir.resolve("client-key.pem");
      Files.writeString(keyFile, pem("PRIVATE KEY", key.getEncoded()), StandardCharsets.US_ASCII);
      Files.setPosixFilePermissions(keyFile, PosixFilePermissions.fromString("rw-------"));
      KeyStore ca = KeyStore.getInstance(dir.resolve("ca.p12").toFile(), password.toCharArray());
      Files.writeString(dir.resolve("ca.pem"), pem("CERTIFICATE", ca.getCertificate("ca").getEncoded()),
          StandardCharsets.US_ASCII);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot write the PEM files: " + e.getMessage(), e);
    }
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  /** {@code NAME.p12}: a key whose certificate the authority signed, stored with the authority's. */
  private static void signed(Path dir, String name, String dname, String ext, String password, String validity)
      throws IOException, InterruptedException {
    String store = name + ".p12";
    keytool(dir, "-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", dname,
        "-validity", validity, "-keystore", store, "-storetype", "PKCS12", "-storepass", password);
    keytool(dir, "-certreq", "-alias", name, "-keystore", store, "-storepass", password, "-file", name + ".csr");
    List<String> sign = new ArrayList<>(List.of("-gencert", "-rfc", "-alias", "ca", "-keystore", "ca.p12",
        "-storepass", password, "-infile", name + ".csr", "-outfile", name + ".crt", "-validity", validity));
    if (ext != null) {
      sign.addAll(List.of("-ext", ext));
    }
    keytool(dir, sign.toArray(new String[0]));
    keytool(dir, "-importcert", "-noprompt", "-alias", "kvpod-ca", "-file", "ca.crt", "-keystore", store,
        "-storepass", password);
    keytool(dir, "-importcert", "-alias", name, "-file", name + ".crt", "-keystore", store, "-storepass", password);
  }

  /** Runs the JDK's keytool in {@code dir} with {@code args}; fails with its output if it fails. */
  public static void keytool(Path dir, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile(dir, "keytool", ".out");
    try {
      Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
          .redirectOutput(out.toFile()).start();
      if (!p.waitFor(KEYTOOL_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("keytool " + args[0] + " did not finish in " + KEYTOOL_SECONDS + " s");
      }
      if (p.exitValue() != 0) {
        throw new IOException("keytool " + args[0] + " failed (exit " + p.exitValue() + "): "
            + Files.readString(out).trim());
      }
    } finally {
      Files.deleteIfExists(out);
    }
  }
}
