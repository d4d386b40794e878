package io.kvpod.pod;

import io.kvpod.thrift.CallLatency;
import io.kvpod.thrift.LayerStatus;
import io.kvpod.thrift.PodEvent;
import io.kvpod.thrift.PodStatus;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A pod's status as one HTML page, for people: what {@code /status.json} says, laid out as
 * tables (summary, call latencies, recent events, buckets, layers). No script, no external
 * resources; well-formed XHTML, so a test can read it with an XML parser. Stateless.
 */
final class StatusPage {
  private StatusPage() {}

  static String render(PodStatus s) {
    StringBuilder h = new StringBuilder(16_384);
    String title = "kvpod pod " + s.getPodId() + " of " + s.getPods() + ", table " + s.getTable();
    h.append("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head>")
        .append("<meta charset=\"utf-8\"/><title>").append(esc(title)).append("</title><style>")
        .append("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}")
        .append("td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}th{background:#eee}")
        .append(".here{font-weight:bold}.recovering{background:#fed}")
        .append("</style></head><body>\n<h1>").append(esc(title)).append("</h1>\n");

    h.append("<h2>Summary</h2><table id=\"summary\">");
    row(h, "state", s.getState());
    row(h, "up", String.format("%.0f s", s.getUptimeMillis() / 1000.0));
    if (s.getTablesSize() > 1) {
      StringBuilder links = new StringBuilder();
      for (String t : s.getTables()) {
        links.append(links.length() == 0 ? "" : ", ").append(t.equals(s.getTable()) ? "<b>" + esc(t) + "</b>"
            : "<a href=\"/?table=" + esc(t) + "\">" + esc(t) + "</a>");
      }
      rawRow(h, "tables", links.toString());
    }
    row(h, "buckets", s.getHoldersSize() + " (" + count(s.getHolders(), s.getPodId()) + " held here)");
    if (s.isSetMembers() && s.isSetMemberStates()) {
      StringBuilder pods = new StringBuilder();
      for (int p = 0; p < s.getMembersSize(); p++) {
        if (!s.getMembers().get(p).isEmpty()) {
          pods.append(pods.length() == 0 ? "" : ", ").append(p).append(" at ").append(s.getMembers().get(p))
              .append(" (").append(s.getMemberStates().get(p)).append(')');
        }
      }
      row(h, "pods", pods + " (membership version " + s.getMembersVersion() + ")");
    }
    row(h, "layers", s.getLayersSize() + " (" + s.getLayerRecords() + " records)");
    row(h, "gets, puts", s.getGets() + ", " + s.getPuts());
    row(h, "block cache", String.format("%.1f MB, hit ratio %.1f%%", s.getBlockCacheBytes() / 1e6,
        100 * s.getBlockCacheHitRatio()));
    row(h, "memtables", s.getMemtableRecords() + " records");
    row(h, "WAL", s.getWalSegments() + " segments; " + s.getFlushes() + " flushes; " + s.getCompactions()
        + " compactions");
    row(h, "writes waiting on other pods", s.getWaitingWrites() + " of at most " + s.getWaitingWritesMax() + "; "
        + s.getBusyWrites() + " refused as BUSY, " + s.getExpiredWrites() + " as EXPIRED");
    if (s.isSetHttpPort()) {
      h.append("<tr><th>metrics</th><td><a href=\"/metrics\">/metrics</a>, <a href=\"/status.json\">")
          .append("/status.json</a></td></tr>");
    }
    h.append("</table>\n");

    h.append("<h2>Call latency (ms, last two minutes)</h2><table id=\"latency\"><tr><th>call</th><th>count</th>")
        .append("<th>p50</th><th>p99</th><th>p99.9</th><th>max</th></tr>");
    if (s.isSetLatencies()) {
      for (Map.Entry<String, CallLatency> e : s.getLatencies().entrySet()) {
        CallLatency l = e.getValue();
        h.append("<tr><td>").append(esc(e.getKey())).append("</td><td>").append(l.getCount()).append("</td>");
        for (double v : new double[] {l.getP50Millis(), l.getP99Millis(), l.getP999Millis(), l.getMaxMillis()}) {
          h.append("<td>").append(String.format("%.2f", v)).append("</td>");
        }
        h.append("</tr>");
      }
    }
    h.append("</table>\n");

    h.append("<h2>Recent events</h2><table id=\"events\"><tr><th>when (UTC)</th><th>kind</th><th>what</th></tr>");
    if (s.isSetEvents()) {
      List<PodEvent> events = s.getEvents();
      for (int i = events.size() - 1; i >= 0; i--) { // newest first
        PodEvent e = events.get(i);
        h.append("<tr><td>").append(Instant.ofEpochMilli(e.getAtMillis())).append("</td><td>")
            .append(esc(e.getKind())).append("</td><td>").append(esc(e.getText())).append("</td></tr>");
      }
    }
    h.append("</table>\n");

    h.append("<h2>Buckets</h2><table id=\"buckets\"><tr><th>bucket</th><th>holder</th><th>epoch</th></tr>");
    for (int b = 0; b < s.getHoldersSize(); b++) {
      int holder = s.getHolders().get(b);
      boolean recovering = s.isSetRecovering() && s.getRecovering().contains(b);
      h.append("<tr id=\"bucket-").append(b).append("\" class=\"")
          .append(recovering ? "recovering" : holder == s.getPodId() ? "here" : "elsewhere").append("\"><td>")
          .append(b).append("</td><td>").append(holder < 0 ? "(none)" : "pod " + holder)
          .append(recovering ? " (recovering here)" : "").append("</td><td>")
          .append(s.isSetHolderEpochs() ? s.getHolderEpochs().get(b) : "").append("</td></tr>");
    }
    h.append("</table>\n");

    h.append("<h2>Layers (newest first)</h2><table id=\"layers\"><tr><th>layer</th><th>kind</th>")
        .append("<th>partitions</th><th>records</th></tr>");
    for (LayerStatus l : s.getLayers()) {
      h.append("<tr><td>").append(esc(l.getLayerId())).append("</td><td>")
          .append(esc(l.isSetKind() ? l.getKind() : "")).append("</td><td>").append(l.getPartitions())
          .append("</td><td>").append(l.getRecords()).append("</td></tr>");
    }
    h.append("</table>\n</body></html>\n");
    return h.toString();
  }

  private static void row(StringBuilder h, String name, String value) {
    rawRow(h, name, esc(value));
  }

  /** A row whose value is HTML already escaped. */
  private static void rawRow(StringBuilder h, String name, String html) {
    h.append("<tr><th>").append(esc(name)).append("</th><td>").append(html).append("</td></tr>");
  }

  private static int count(List<Integer> holders, int pod) {
    return holders == null ? 0 : (int) holders.stream().filter(h -> h == pod).count();
  }

  /** {@code text} with the characters HTML gives a meaning escaped. */
  static String esc(String text) {
    if (text == null) {
      return "";
    }
    StringBuilder out = new StringBuilder(text.length());
    for (char c : text.toCharArray()) {
      switch (c) {
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '&' -> out.append("&amp;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        default -> out.append(c);
      }
    }
    return out.toString();
  }
}
