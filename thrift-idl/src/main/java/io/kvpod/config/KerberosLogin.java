package io.kvpod.config;

import io.kvpod.config.ConfigDef.Type;
import java.io.File;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.CommonConfigurationKeysPublic;
import org.apache.hadoop.security.SecurityUtil;
import org.apache.hadoop.security.UserGroupInformation;

/**
 * Logs a process in to a Kerberos-secured Hadoop before it touches HDFS: pods, the loader and
 * every command that reads or writes a table.
 *
 * <p>Hadoop decides whether security is on: {@code hadoop.security.authentication=kerberos},
 * from {@code core-site.xml} on the classpath or a {@code -D}. When it is on:
 * <ul>
 *   <li>with {@link #PRINCIPAL} and {@link #KEYTAB} set, the process logs in from the keytab
 *       ({@link SecurityUtil#login}: {@code _HOST} in the principal becomes this host's
 *       canonical name), and Hadoop renews the ticket from the keytab before it ends
 *       ({@code hadoop.kerberos.keytab.login.autorenewal.enabled}, turned on unless set);
 *   <li>with neither set, it uses the ticket cache that {@code kinit} filled, and fails at once,
 *       naming both keys, when that holds no ticket.
 * </ul>
 * When security is off, setting either key is an error rather than a keytab silently ignored.
 *
 * <p>Not thread-safe: call once, from the process's main thread, before any
 * {@code FileSystem} is made. It sets Hadoop's process-wide login user.
 */
public final class KerberosLogin {
  public static final String PRINCIPAL = "kvpod.kerberos.principal";
  public static final String KEYTAB = "kvpod.kerberos.keytab";

  private KerberosLogin() {}

  /** Declares {@link #PRINCIPAL} and {@link #KEYTAB} in {@code def}, so that its usage lists them. */
  public static ConfigDef define(ConfigDef def) {
    return def
        .define(PRINCIPAL, Type.STRING, null,
            "Kerberos principal to log in as when hadoop.security.authentication=kerberos, e.g. "
                + "kvpod/_HOST@EXAMPLE.COM (_HOST: this host's name); unset: use the ticket cache (kinit)")
        .define(KEYTAB, Type.STRING, null, "keytab file holding the key of " + PRINCIPAL);
  }

  /**
   * Logs in as {@code conf} says; returns who the process now acts as (e.g.
   * {@code kvpod/host@REALM from keytab /etc/kvpod.keytab}), or null when security is off.
   *
   * @throws IllegalArgumentException when the settings contradict each other or the keytab
   *     cannot be read
   * @throws IOException when the KDC refuses the login, or there is no ticket to use
   */
  public static String login(Configuration conf) throws IOException {
    String principal = trimmed(conf.get(PRINCIPAL));
    String keytab = trimmed(conf.get(KEYTAB));
    if ((principal == null) != (keytab == null)) {
      throw new IllegalArgumentException("set both " + PRINCIPAL + " and " + KEYTAB + ", or neither (to use kinit's "
          + "ticket cache); only " + (principal != null ? PRINCIPAL : KEYTAB) + " is set");
    }
    boolean secure = "kerberos".equalsIgnoreCase(
        conf.get(CommonConfigurationKeysPublic.HADOOP_SECURITY_AUTHENTICATION, "simple").trim());
    if (!secure) {
      if (keytab != null) {
        throw new IllegalArgumentException(KEYTAB + " is set but hadoop.security.authentication is '"
            + conf.get(CommonConfigurationKeysPublic.HADOOP_SECURITY_AUTHENTICATION, "simple")
            + "': set it to kerberos (in core-site.xml or with -D), or unset " + KEYTAB);
      }
      return null;
    }
    if (keytab != null) {
      File file = new File(keytab);
      if (!file.isFile() || !file.canRead()) {
        throw new IllegalArgumentException(KEYTAB + ": cannot read " + file.getAbsolutePath());
      }
      Configuration c = new Configuration(conf);
      c.set(PRINCIPAL, principal);
      c.set(KEYTAB, file.getAbsolutePath());
      if (!setByUser(c, CommonConfigurationKeysPublic.HADOOP_KERBEROS_KEYTAB_LOGIN_AUTORENEWAL_ENABLED)) {
        c.setBoolean(CommonConfigurationKeysPublic.HADOOP_KERBEROS_KEYTAB_LOGIN_AUTORENEWAL_ENABLED, true);
      }
      UserGroupInformation.setConfiguration(c);
      SecurityUtil.login(c, KEYTAB, PRINCIPAL);
      return UserGroupInformation.getLoginUser().getUserName() + " from keytab " + file.getAbsolutePath();
    }
    UserGroupInformation.setConfiguration(conf);
    UserGroupInformation user = UserGroupInformation.getLoginUser();
    if (!user.hasKerberosCredentials()) {
      throw new IOException("hadoop.security.authentication is kerberos but " + user.getUserName()
          + " has no Kerberos ticket: run kinit, or set " + PRINCIPAL + " and " + KEYTAB);
    }
    return user.getUserName() + " from the ticket cache";
  }

  /** Whether {@code key} has a value from anywhere but Hadoop's own defaults. */
  private static boolean setByUser(Configuration conf, String key) {
    String[] sources = conf.getPropertySources(key);
    return sources != null && !(sources.length == 1 && sources[0].equals("core-default.xml"));
  }

  private static String trimmed(String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }
}
