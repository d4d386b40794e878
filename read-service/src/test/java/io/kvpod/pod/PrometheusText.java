package io.kvpod.pod;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * For tests: reads Prometheus' text exposition format (0.0.4) strictly, failing on any line
 * the format does not allow, and on a sample whose metric family has no {@code # TYPE} line
 * before it.
 * <pre>
 * line   := "# HELP " name " " text | "# TYPE " name " " type | sample | ""
 * sample := name ["{" label ("," label)* [","] "}"] " " value [" " timestamp]
 * label  := lname "=\"" escaped "\""
 * </pre>
 */
final class PrometheusText {
  private static final String NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  private static final Pattern HELP = Pattern.compile("# HELP (" + NAME + ") .*");
  private static final Pattern TYPE = Pattern.compile("# TYPE (" + NAME + ") (counter|gauge|summary|histogram|untyped)");
  private static final Pattern SAMPLE = Pattern.compile(
      "(" + NAME + ")(?:\\{((?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\",?)*)\\})? "
          + "([-+]?(?:[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))(?: -?[0-9]+)?");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

  /** One sample: its metric name, labels and value. */
  record Sample(String name, Map<String, String> labels, double value) {}

  private PrometheusText() {}

  /** The samples of {@code text}; throws AssertionError at the first line the format does not allow. */
  static List<Sample> parse(String text) {
    Set<String> typed = new HashSet<>();
    List<Sample> samples = new ArrayList<>();
    int n = 0;
    for (String line : text.split("\n", -1)) {
      n++;
      Matcher m;
      if (line.isEmpty() || HELP.matcher(line).matches()) {
        continue;
      }
      if ((m = TYPE.matcher(line)).matches()) {
        typed.add(m.group(1));
      } else if ((m = SAMPLE.matcher(line)).matches()) {
        String name = m.group(1);
        String family = name.replaceFirst("_(count|sum|bucket|total|created)$", "");
        if (!typed.contains(name) && !typed.contains(family)) {
          throw new AssertionError("line " + n + ": sample of " + name + " before its # TYPE line: " + line);
        }
        Map<String, String> labels = new TreeMap<>();
        if (m.group(2) != null) {
          Matcher l = LABEL.matcher(m.group(2));
          while (l.find()) {
            labels.put(l.group(1), l.group(2));
          }
        }
        samples.add(new Sample(name, labels, Double.parseDouble(m.group(3).replace("Inf", "Infinity"))));
      } else {
        throw new AssertionError("line " + n + " is not Prometheus text: " + line);
      }
    }
    return samples;
  }

  /** The value of the one sample of {@code name} whose labels include {@code labels} (name, value, ...). */
  static double value(List<Sample> samples, String name, String... labels) {
    List<Sample> found = new ArrayList<>();
    for (Sample s : samples) {
      boolean match = s.name().equals(name);
      for (int i = 0; match && i < labels.length; i += 2) {
        match = labels[i + 1].equals(s.labels().get(labels[i]));
      }
      if (match) {
        found.add(s);
      }
    }
    if (found.size() != 1) {
      throw new AssertionError(found.size() + " samples of " + name + " with " + List.of(labels) + ": " + found);
    }
    return found.get(0).value();
  }
}
