package io.kvpod.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;
import org.junit.jupiter.api.Test;

class CliTest {
  private static Options options() {
    return Cli.withHelp(new Options()
        .addOption(Cli.flag("records", "N", "how many records (default: 10)"))
        .addOption(Cli.flag("json", null, "print JSON"))
        .addOption(Cli.defines("a setting")));
  }

  @Test
  void flagsSwitchesAndDefinesParse() throws Exception {
    CommandLine cl = Cli.parse("kvpod x", "Do x.", options(), null,
        new String[] {"--records", "5", "--json", "-D", "a.b=c", "-Dd.e=f"});
    assertEquals("5", cl.getOptionValue("records"));
    assertTrue(cl.hasOption("json"));
    assertEquals("c", cl.getOptionProperties("D").getProperty("a.b"));
    assertEquals("f", cl.getOptionProperties("D").getProperty("d.e"));
  }

  @Test
  void anUnknownOptionOrAStrayArgumentIsAUsageErrorNamingTheCommand() {
    UsageException unknown = assertThrows(UsageException.class,
        () -> Cli.parse("kvpod x", "Do x.", options(), null, new String[] {"--recs", "5"}));
    assertTrue(unknown.getMessage().startsWith("kvpod x: ") && unknown.getMessage().contains("--recs"),
        unknown.getMessage());
    UsageException stray = assertThrows(UsageException.class,
        () -> Cli.parse("kvpod x", "Do x.", options(), null, new String[] {"oops"}));
    assertTrue(stray.getMessage().contains("unexpected argument 'oops'"), stray.getMessage());
  }

  @Test
  void argumentsStayWhereACommandTakesThem() throws Exception {
    Cli.Command cmd = new Cli.Command("kvpod (get KEY | put KEY f=v...) [options]", "Talk to pods.");
    CommandLine cl = Cli.parse(cmd, options(), new String[] {"get", "--json", "k1"}, false);
    assertEquals(List.of("get", "k1"), cl.getArgList());
    assertThrows(UsageException.class, () -> Cli.parse(cmd, options(), new String[] {"get", "--bogus"}, false));
  }

  @Test
  void helpListsEveryOptionTheConfigKeysAndTheFooterWithoutParsingFurther() throws Exception {
    PrintStream was = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      assertNull(Cli.parse(new Cli.Command("kvpod load [options]", "Load.", LoaderConfig.DEF, "Exit codes: 0 ok."),
          options(), new String[] {"--help", "--records", "not-checked"}, false));
    } finally {
      System.setOut(was);
    }
    String help = buf.toString(StandardCharsets.UTF_8);
    for (String s : List.of("usage:", "kvpod load [options]", "Load.", "--records <N>", "how many records",
        "--json", "-D <key=value>", "-h, --help", LoaderConfig.SORT_MB, "Exit codes: 0 ok.")) {
      assertTrue(help.contains(s), "help shows " + s + ":\n" + help);
    }
  }
}
