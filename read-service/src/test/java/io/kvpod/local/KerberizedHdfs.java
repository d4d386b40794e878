package io.kvpod.local;

import java.io.File;
import java.io.IOException;
import java.io.Writer;
import java.nio.file.Files;
import java.security.PrivilegedExceptionAction;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.minikdc.MiniKdc;
import org.apache.hadoop.security.UserGroupInformation;

/**
 * A Kerberos-secured HDFS on 127.0.0.1 with its own KDC, in a process of its own, so that the
 * test JVM's process-wide Hadoop login stays untouched: {@link #start} launches it and waits
 * until it serves.
 *
 * <p>The KDC is Hadoop's MiniKdc (Apache Kerby), realm {@code EXAMPLE.COM}. The NameNode and the
 * DataNode log in as {@code hdfs/localhost} and accept only Kerberos (and delegation tokens);
 * block reads and writes carry block access tokens. The DataNode listens on an unprivileged
 * port without SASL on data transfer ({@code ignore.secure.ports.for.testing}), which a
 * production cluster would not do. {@code /kvpod} belongs to {@code kvpod}, the short name
 * of {@link #USER_PRINCIPAL}, whose key is in {@link Secured#keytab}.
 */
public final class KerberizedHdfs {
  /** The principal pods and the loader log in as; the NameNode maps it to user {@code kvpod}. */
  public static final String USER_PRINCIPAL = "kvpod/localhost";
  static final String SERVICE_PRINCIPAL = "hdfs/localhost";
  private static final String FACTS = "kerberos.properties";

  private KerberizedHdfs() {}

  /** What a client needs to reach the cluster: its URI, realm, krb5.conf and the user's keytab. */
  public record Secured(LocalHdfs hdfs, String realm, File krb5conf, File keytab) implements AutoCloseable {
    public String userPrincipal() {
      return USER_PRINCIPAL + "@" + realm;
    }

    /** The Hadoop settings every client of this cluster needs, without a login of its own. */
    public Map<String, String> clientSettings() {
      return Map.of("hadoop.security.authentication", "kerberos",
          "dfs.namenode.kerberos.principal", SERVICE_PRINCIPAL + "@" + realm,
          // the renewer a job's delegation tokens name, as a secured cluster's yarn-site.xml gives it
          "yarn.resourcemanager.principal", "yarn/localhost@" + realm);
    }

    @Override
    public void close() throws InterruptedException {
      hdfs.close();
    }
  }

  /** Launches the KDC and the secured HDFS under {@code dir} and waits until they serve. */
  public static Secured start(File dir) throws IOException, InterruptedException {
    LocalHdfs hdfs = LocalHdfs.launch(dir, PodProcess.classpath() + File.pathSeparator + LocalHdfs.hdfsLib(),
        KerberizedHdfs.class.getName(), List.of(dir.getAbsolutePath()));
    Properties facts = new Properties();
    try (var in = Files.newBufferedReader(new File(dir, FACTS).toPath())) {
      facts.load(in);
    }
    return new Secured(hdfs, facts.getProperty("realm"), new File(facts.getProperty("krb5conf")),
        new File(facts.getProperty("keytab")));
  }

  /** Runs the KDC and the cluster until the process is stopped; {@code args[0]}: the directory. */
  public static void main(String[] args) throws Exception {
    File dir = new File(args[0]).getAbsoluteFile();
    Properties kdcConf = MiniKdc.createConf();
    MiniKdc kdc = new MiniKdc(kdcConf, new File(dir, "kdc"));
    kdc.start(); // also points this JVM's java.security.krb5.conf at the KDC's krb5.conf
    String realm = kdc.getRealm();
    File serviceKeytab = new File(dir, "hdfs.keytab");
    kdc.createPrincipal(serviceKeytab, SERVICE_PRINCIPAL, "HTTP/localhost");
    File userKeytab = new File(dir, "kvpod.keytab");
    kdc.createPrincipal(userKeytab, USER_PRINCIPAL);

    File base = new File(dir, "data");
    Configuration conf = LocalHdfs.conf(base, 1);
    conf.set("hadoop.security.authentication", "kerberos");
    conf.setBoolean("dfs.block.access.token.enable", true);
    conf.set("dfs.namenode.kerberos.principal", SERVICE_PRINCIPAL + "@" + realm);
    conf.set("dfs.namenode.keytab.file", serviceKeytab.getPath());
    conf.set("dfs.datanode.kerberos.principal", SERVICE_PRINCIPAL + "@" + realm);
    conf.set("dfs.datanode.keytab.file", serviceKeytab.getPath());
    conf.set("dfs.web.authentication.kerberos.principal", "HTTP/localhost@" + realm);
    conf.set("dfs.web.authentication.kerberos.keytab", serviceKeytab.getPath());
    conf.setBoolean("ignore.secure.ports.for.testing", true);
    UserGroupInformation.setConfiguration(conf);
    UserGroupInformation hdfsUser =
        UserGroupInformation.loginUserFromKeytabAndReturnUGI(SERVICE_PRINCIPAL + "@" + realm, serviceKeytab.getPath());
    MiniDFSCluster cluster = hdfsUser.doAs((PrivilegedExceptionAction<MiniDFSCluster>) () -> {
      MiniDFSCluster c = new MiniDFSCluster.Builder(conf, base).numDataNodes(1).format(true).build();
      c.waitActive();
      FileSystem fs = c.getFileSystem();
      fs.mkdirs(new Path("/kvpod"));
      fs.setOwner(new Path("/kvpod"), "kvpod", "kvpod");
      return c;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      cluster.shutdown(false);
      kdc.stop();
    }));
    Properties facts = new Properties();
    facts.setProperty("realm", realm);
    facts.setProperty("krb5conf", kdc.getKrb5conf().getAbsolutePath());
    facts.setProperty("keytab", userKeytab.getPath());
    try (Writer w = Files.newBufferedWriter(new File(dir, FACTS).toPath())) {
      facts.store(w, "the secured HDFS of KerberizedHdfs");
    }
    System.out.println(LocalHdfs.READY + "hdfs://127.0.0.1:" + cluster.getNameNodePort());
    System.out.flush();
    Thread.currentThread().join();
  }
}
