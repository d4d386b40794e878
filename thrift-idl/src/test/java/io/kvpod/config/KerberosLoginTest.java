package io.kvpod.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The settings {@link KerberosLogin} refuses before it tries a login. The logins themselves,
 * from a keytab and from no ticket at all, are proven against a KDC and a secured HDFS in
 * the pod module's {@code KerberosHdfsTest}.
 */
class KerberosLoginTest {
  @TempDir
  File tmp;

  private static Configuration conf(String auth) {
    Configuration c = new Configuration(false);
    c.set("hadoop.security.authentication", auth);
    return c;
  }

  @Test
  void withoutSecurityAndWithoutAKeytabNothingHappens() throws Exception {
    assertNull(KerberosLogin.login(conf("simple")));
  }

  @Test
  void aKeytabWithoutKerberosAuthenticationIsRefusedRatherThanIgnored() throws Exception {
    File keytab = new File(tmp, "k.keytab");
    assertTrue(keytab.createNewFile());
    Configuration c = conf("simple");
    c.set(KerberosLogin.PRINCIPAL, "kvpod/_HOST@EXAMPLE.COM");
    c.set(KerberosLogin.KEYTAB, keytab.getPath());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KerberosLogin.login(c));
    assertTrue(e.getMessage().contains("set it to kerberos"), e.getMessage());
  }

  @Test
  void aPrincipalWithoutAKeytabIsRefused() {
    Configuration c = conf("kerberos");
    c.set(KerberosLogin.PRINCIPAL, "kvpod/_HOST@EXAMPLE.COM");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KerberosLogin.login(c));
    assertEquals("set both kvpod.kerberos.principal and kvpod.kerberos.keytab, or neither (to use kinit's ticket "
        + "cache); only kvpod.kerberos.principal is set", e.getMessage());
  }

  @Test
  void aKeytabThatCannotBeReadIsNamed() {
    Configuration c = conf("kerberos");
    c.set(KerberosLogin.PRINCIPAL, "kvpod/_HOST@EXAMPLE.COM");
    c.set(KerberosLogin.KEYTAB, new File(tmp, "missing.keytab").getPath());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KerberosLogin.login(c));
    assertTrue(e.getMessage().startsWith("kvpod.kerberos.keytab: cannot read ")
        && e.getMessage().endsWith("missing.keytab"), e.getMessage());
  }

  @Test
  void bothKeysAreDeclaredForUsage() {
    ConfigDef def = KerberosLogin.define(new ConfigDef());
    assertTrue(def.usage().contains(KerberosLogin.PRINCIPAL) && def.usage().contains(KerberosLogin.KEYTAB));
  }
}
