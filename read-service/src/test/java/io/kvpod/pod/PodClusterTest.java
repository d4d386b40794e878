package io.kvpod.pod;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvpod.client.KvPodClient;
import io.kvpod.contract.KeyPartitioner;
import io.kvpod.contract.Limits;
import io.kvpod.contract.PeerSigner;
import io.kvpod.loader.GenTool;
import io.kvpod.loader.LayerTool;
import io.kvpod.loader.LoaderConfig;
import io.kvpod.loader.LoaderJob;
import io.kvpod.loader.MiniHdfs;
import io.kvpod.loader.RecordGenerator;
import io.kvpod.local.PodProcess;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PingRequest;
import io.kvpod.thrift.internal.RefreshRequest;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.util.ToolRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three pods as separate OS processes, serving a table on real HDFS (MiniDFSCluster), over
 * Thrift on loopback. The tests run in order against the same cluster; the last one kills
 * a pod with SIGKILL.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PodClusterTest {
  private static final int RECORDS = 30_000;
  private static final long SEED = 3;
  private static final String SECRET = "test-cluster-secret";
  private static final String TABLE = "users";

  @TempDir
  static File tmp; // static: injected before @BeforeAll (an instance field was still null there)
  private MiniHdfs hdfs;
  private String root;
  private final List<PodProcess> pods = new ArrayList<>();
  private String podList;
  private KvPodClient client;
  private final RecordGenerator gen = new RecordGenerator(SEED, 4, 100);
  /** What every key must read as, after the loads so far. */
  private final Map<String, Map<String, String>> expected = new ConcurrentHashMap<>();
  private final ByteArrayOutputStream toolOutput = new ByteArrayOutputStream();

  @BeforeAll
  void startCluster() throws Exception {
    hdfs = new MiniHdfs(new File(tmp, "dfs"), 1);
    root = hdfs.uri() + "/kvpod";
    assertEquals(0, ToolRunner.run(hdfs.conf(), new GenTool(new PrintStream(toolOutput, true)), new String[] {
        "--records", Integer.toString(RECORDS), "--out", hdfs.uri() + "/in/first", "--seed", Long.toString(SEED)}));
    load(hdfs.uri() + "/in/first", null);
    for (long i = 0; i < RECORDS; i++) {
      expected.put(gen.key(i), gen.value(i));
    }
    podList = PodProcess.loopbackPodList(3);
    for (int id = 0; id < 3; id++) {
      pods.add(PodProcess.start(id, podConfig(id), new File("target/pod-logs/" + getClass().getSimpleName())));
    }
    // generous limits: they bound a failure on a busy machine, they measure nothing
    client = KvPodClient.builder(podList).callTimeoutMs(30_000).deadlineMs(60_000).build();
  }

  /** Pods 0 and 1 effectively never poll (they learn of changes by refresh); pod 2 polls every 500 ms. */
  private Map<String, String> podConfig(int id) {
    Map<String, String> c = PodProcess.baseConfig(podList, id, root, TABLE, SECRET);
    c.put(PodConfig.TABLE_BUCKETS, "3"); // one bucket per pod: bucket b's home is pod b
    c.put(PodConfig.BLOCK_CACHE_BYTES, Long.toString(32L << 20));
    c.put(PodConfig.WORKER_THREADS, "8");
    c.put(PodConfig.LAYERS_POLL, id == 2 ? "500ms" : "1h");
    return c;
  }

  @AfterAll
  void stopCluster() throws Exception {
    if (client != null) {
      client.close();
    }
    PodProcess.stopAll(pods);
    if (hdfs != null) {
      hdfs.close();
    }
  }

  private LoaderJob.LoadResult load(String input, String notify, String... extra) throws Exception {
    Configuration conf = hdfs.conf();
    conf.set("mapreduce.framework.name", "local");
    conf.set(LoaderConfig.SORT_MB, "32");
    conf.set(LoaderConfig.SECRET, SECRET);
    List<String> args = new ArrayList<>(List.of("--root", root, "--table", TABLE, "--input", input,
        "--partitions", "3"));
    if (notify != null) {
      args.addAll(List.of("--notify", notify));
    }
    args.addAll(List.of(extra));
    LoaderJob job = new LoaderJob(new PrintStream(toolOutput, true));
    assertEquals(0, ToolRunner.run(conf, job, args.toArray(new String[0])));
    return job.result();
  }

  /** Reads every expected key, each through a random pod; returns the keys that read wrong. */
  private List<String> wrongThroughRandomPods(int[] allowedPods) throws Exception {
    List<String> keys = new ArrayList<>(expected.keySet());
    List<String> wrong = java.util.Collections.synchronizedList(new ArrayList<>());
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> fs = new ArrayList<>();
      int slice = keys.size() / 4 + 1;
      for (int t = 0; t < 4; t++) {
        List<String> mine = keys.subList(Math.min(keys.size(), t * slice), Math.min(keys.size(), (t + 1) * slice));
        int seed = t;
        fs.add(pool.submit(() -> {
          Random r = new Random(seed);
          for (String k : mine) {
            int pod = allowedPods[r.nextInt(allowedPods.length)];
            if (!expected.get(k).equals(client.getVia(pod, k))) {
              wrong.add(k + "@pod" + pod);
            }
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    return wrong;
  }

  @Test
  @Order(1)
  void everyKeyReadsBackThroughRandomPods() throws Exception {
    List<String> wrong = wrongThroughRandomPods(new int[] {0, 1, 2});
    assertTrue(wrong.isEmpty(), wrong.size() + " keys read wrong, e.g. " + wrong.subList(0, Math.min(5, wrong.size())));
    assertEquals(Map.of(), client.get("no-such-key"));
    // multiGet: found keys present, missing keys absent
    List<String> some = new ArrayList<>(List.of(gen.key(1), gen.key(2), "missing-1"));
    Map<String, Map<String, String>> got = client.multiGet(some);
    assertEquals(Map.of(gen.key(1), gen.value(1), gen.key(2), gen.value(2)), got);
    PodStatus st = client.status(0);
    assertEquals(1, st.getLayersSize());
    assertEquals(RECORDS, st.getLayerRecords());
  }

  @Test
  @Order(2)
  void secondLoadIsVisibleOnEveryPodAtOnceWhenNotified() throws Exception {
    // Overwrite 500 keys with an explicit higher version, and add 200 new ones.
    StringBuilder sb = new StringBuilder();
    Map<String, Map<String, String>> changes = new HashMap<>();
    for (int i = 0; i < 500; i++) {
      changes.put(gen.key(i), Map.of("v", "second-" + i));
    }
    for (int i = 0; i < 200; i++) {
      changes.put("new-" + i, Map.of("v", "added-" + i));
    }
    changes.forEach((k, v) -> sb.append("{\"key\":\"").append(k).append("\",\"value\":{\"v\":\"")
        .append(v.get("v")).append("\"}}\n"));
    try (OutputStream o = hdfs.fs().create(new Path(hdfs.uri() + "/in/second/a.jsonl"))) {
      o.write(sb.toString().getBytes(StandardCharsets.UTF_8));
    }
    load(hdfs.uri() + "/in/second", podList);
    expected.putAll(changes);
    for (int pod = 0; pod < 3; pod++) {
      for (String k : List.of(gen.key(7), "new-13", gen.key(499))) {
        assertEquals(expected.get(k), client.getVia(pod, k), "pod " + pod + " key " + k);
      }
      assertEquals(2, client.status(pod).getLayersSize());
    }
    assertEquals(gen.value(500), client.get(gen.key(500)), "untouched keys still read from the first layer");
  }

  /** One of the keys the second load added, owned by {@code pod}. */
  private static String addedKeyOwnedBy(int pod) {
    for (int i = 0; i < 200; i++) {
      if (io.kvpod.contract.KeyPartitioner.bucket("new-" + i, 3) == pod) {
        return "new-" + i;
      }
    }
    throw new IllegalStateException("no added key is owned by pod " + pod);
  }

  @Test
  @Order(3)
  void rollbackIsNoticedByPollingAndByRefresh() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(0, ToolRunner.run(hdfs.conf(), new LayerTool(LayerTool.Mode.ROLLBACK, new PrintStream(out, true)),
        new String[] {"--root", root, "--table", TABLE}));
    // Pod 2 polls: it drops the rolled-back layer by itself.
    long deadline = System.currentTimeMillis() + 60_000;
    while (client.status(2).getLayersSize() != 1) {
      assertTrue(System.currentTimeMillis() < deadline, "pod 2 did not notice the rollback by polling");
      Thread.sleep(100);
    }
    // A key is answered by its owner's view: pod 2's own keys show the rollback through any
    // pod, while pods 0 and 1 (which do not poll: interval 1h) still serve both layers.
    String ownedBy2 = addedKeyOwnedBy(2);
    String ownedBy0 = addedKeyOwnedBy(0);
    for (int via = 0; via < 3; via++) {
      assertEquals(Map.of(), client.getVia(via, ownedBy2), "via pod " + via);
      assertEquals(expected.get(ownedBy0), client.getVia(via, ownedBy0), "via pod " + via);
    }
    assertEquals(2, client.status(0).getLayersSize());
    PeerSigner tool = PeerSigner.tool(SECRET);
    for (int pod : new int[] {0, 1}) {
      client.process(pod, tool, PeerRequest.refresh(new RefreshRequest().setTable(TABLE)));
      assertEquals(1, client.status(pod).getLayersSize());
      assertEquals(gen.value(7), client.getVia(pod, gen.key(7)));
    }
    assertEquals(Map.of(), client.getVia(2, ownedBy0));
    for (int i = 0; i < 500; i++) {
      expected.put(gen.key(i), gen.value(i));
    }
    for (int i = 0; i < 200; i++) {
      expected.remove("new-" + i);
    }
    List<String> wrong = wrongThroughRandomPods(new int[] {0, 1, 2});
    assertTrue(wrong.isEmpty(), wrong.size() + " keys read wrong after rollback, e.g. "
        + wrong.subList(0, Math.min(5, wrong.size())));
  }

  @Test
  @Order(4)
  void badRequestsGetClearErrorsAndThePodKeepsServing() throws Exception {
    KvPodException e = assertThrows(KvPodException.class, () -> client.getVia(0, ""));
    assertEquals(ErrorCode.INVALID_ARGUMENT, e.getCode());
    assertTrue(e.getMessage().contains("key is empty"), e.getMessage());
    String longKey = "k".repeat(Limits.MAX_KEY_BYTES + 1);
    e = assertThrows(KvPodException.class, () -> client.getVia(0, longKey));
    assertEquals(ErrorCode.TOO_LARGE, e.getCode());

    // The same checks on the server, bypassing the client's own validation.
    try (RawThrift raw = new RawThrift(port(0))) {
      KvPodException se = assertThrows(KvPodException.class, () -> raw.client().get(longKey, null));
      assertEquals(ErrorCode.TOO_LARGE, se.getCode());
      assertTrue(se.getMessage().contains("MAX_KEY_BYTES"), se.getMessage());
      se = assertThrows(KvPodException.class, () -> raw.client().get("", null));
      assertEquals(ErrorCode.INVALID_ARGUMENT, se.getCode());
      // process() without a valid signature
      se = assertThrows(KvPodException.class,
          () -> raw.client().process(ByteBuffer.wrap("hello".getBytes(StandardCharsets.UTF_8))));
      assertEquals(ErrorCode.UNAUTHENTICATED, se.getCode());
      byte[] forged = PeerSigner.tool("not-the-cluster-secret").seal(PeerRequest.ping(new PingRequest()), 0).bytes();
      se = assertThrows(KvPodException.class, () -> raw.client().process(ByteBuffer.wrap(forged)));
      assertEquals(ErrorCode.UNAUTHENTICATED, se.getCode());
      assertTrue(se.getMessage().contains("bad signature"), se.getMessage());
      // heartbeat() takes a signed PING and nothing else: no other work runs on its lane
      byte[] refresh = PeerSigner.tool(SECRET).seal(PeerRequest.refresh(new RefreshRequest()), 0).bytes();
      se = assertThrows(KvPodException.class, () -> raw.client().heartbeat(ByteBuffer.wrap(refresh)));
      assertEquals(ErrorCode.INVALID_ARGUMENT, se.getCode());
      assertTrue(se.getMessage().contains("only a PING"), se.getMessage());
      byte[] ping = PeerSigner.tool(SECRET).seal(PeerRequest.ping(new PingRequest()), 0).bytes();
      assertTrue(raw.client().heartbeat(ByteBuffer.wrap(ping)).remaining() > 0, "a signed PING is answered");
      // writes are checked like reads: an empty key, a null value
      se = assertThrows(KvPodException.class, () -> raw.client().put("", Map.of("a", "b"), null, null));
      assertEquals(ErrorCode.INVALID_ARGUMENT, se.getCode());
      se = assertThrows(KvPodException.class, () -> raw.client().batchPut(Map.of("k", Map.of("a",
          "x".repeat(Limits.MAX_VALUE_BYTES))), null, null));
      assertEquals(ErrorCode.TOO_LARGE, se.getCode());
      // a batch one record over MAX_BATCH is refused while it is decoded, as a KvPodException
      Map<String, Map<String, String>> tooMany = new HashMap<>();
      for (int i = 0; i <= Limits.MAX_BATCH; i++) {
        tooMany.put("b" + i, Map.of("a", "b"));
      }
      se = assertThrows(KvPodException.class, () -> raw.client().batchPut(tooMany, null, null));
      assertEquals(ErrorCode.TOO_LARGE, se.getCode());
      assertTrue(se.getMessage().contains("MAX_BATCH"), se.getMessage());
      // a key that is not UTF-8 is refused, not stored under U+FFFD
      KvPodException notUtf8 = raw.putWithRawKey(new byte[] {(byte) 0xff, 'z', 'z'});
      assertEquals(ErrorCode.INVALID_ARGUMENT, notUtf8 == null ? null : notUtf8.getCode());
      assertTrue(notUtf8.getMessage().contains("not valid UTF-8"), notUtf8.getMessage());
      assertEquals(Map.of(), raw.client().get("\uFFFDzz", null));
    }

    // Garbage bytes, an oversized frame, a half-sent frame, a bad message in a good frame.
    assertClosedByPod(new byte[] {0x47, 0x45, 0x54, 0x20, 0x2f, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f}, false);
    assertClosedByPod(ByteBuffer.allocate(8).putInt(100_000_000).putInt(0).array(), false);
    assertClosedByPod(ByteBuffer.allocate(14).putInt(100).put(new byte[10]).array(), true);
    assertClosedByPod(ByteBuffer.allocate(24).putInt(20).put(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
        11, 12, 13, 14, 15, 16, 17, 18, 19, 20}).array(), false);
    String log = pods.get(0).logText();
    assertTrue(log.contains("bigger than the maximum allowable frame size"), "the pod logs why it closed");

    assertTrue(pods.get(0).alive());
    client.ping(0);
    assertEquals(gen.value(600), client.getVia(0, gen.key(600)));
  }

  private int port(int pod) {
    return Integer.parseInt(podList.split(",")[pod].split(":")[1]);
  }

  /** Sends bytes to pod 0 and expects the pod to close the connection without harm. */
  private void assertClosedByPod(byte[] bytes, boolean halfClose) throws Exception {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port(0)), 2000);
      s.setSoTimeout(10_000);
      s.getOutputStream().write(bytes);
      s.getOutputStream().flush();
      if (halfClose) {
        s.shutdownOutput();
      }
      InputStream in = s.getInputStream();
      int r;
      try {
        do {
          r = in.read();
        } while (r >= 0);
      } catch (java.net.SocketException reset) {
        r = -1; // a reset is a close too
      }
      assertEquals(-1, r, "the pod should close the connection");
    }
    client.ping(0);
  }

  /**
   * Each pod serves its meters over HTTP as Prometheus text (every line checked against the
   * format): pod 0's gets and its WAL's group commits are there, with their p99, right after
   * it served them.
   */
  @Test
  @Order(5)
  void eachPodServesItsMetricsAsPrometheusTextOverHttp() throws Exception {
    String key = null;
    for (int i = 0; key == null; i++) {
      key = KeyPartitioner.bucket("metrics-" + i, 3) == 0 ? "metrics-" + i : null; // pod 0's bucket
    }
    assertTrue(client.putVia(0, key, Map.of("f", "v")));
    expected.put(key, Map.of("f", "v"));
    for (int i = 0; i < 20; i++) {
      assertEquals(Map.of("f", "v"), client.getVia(0, key));
    }
    int port = client.status(0).getHttpPort();
    String text = metricsText(port);
    // Pod 0's bucket is held there and its files prefetched long ago: its gets are answered on the
    // selector thread, unless pod 0's view of the holders was stale at that moment (a busy machine)
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (PrometheusText.value(PrometheusText.parse(text), "kvpod_gets_inline_total") == 0
        && System.nanoTime() < deadline) {
      assertEquals(Map.of("f", "v"), client.getVia(0, key));
      text = metricsText(port);
    }
    List<PrometheusText.Sample> s = PrometheusText.parse(text);
    assertTrue(PrometheusText.value(s, "kvpod_gets_inline_total") > 0, "gets answered on the selector thread");
    promtoolAccepts(text);
    assertTrue(PrometheusText.value(s, "kvpod_calls_seconds_count", "call", "get", "pod", "0") >= 20);
    assertTrue(PrometheusText.value(s, "kvpod_calls_seconds", "call", "get", "quantile", "0.99") > 0, "get p99");
    assertTrue(PrometheusText.value(s, "kvpod_wal_sync_seconds", "quantile", "0.99") > 0, "WAL sync p99");
    assertEquals(1, PrometheusText.value(s, "kvpod_buckets_held"), "pod 0 holds its one bucket");
    assertOpensOnlyItsBucketsFiles(s, client.status(0));
    java.net.HttpURLConnection other = (java.net.HttpURLConnection) new java.net.URL(
        "http://127.0.0.1:" + port + "/nothing-here").openConnection();
    assertEquals(404, other.getResponseCode());

    // the status as JSON, over HTTP and from the CLI
    java.net.HttpURLConnection st = (java.net.HttpURLConnection) new java.net.URL(
        "http://127.0.0.1:" + port + "/status.json").openConnection();
    assertEquals(200, st.getResponseCode());
    Map<?, ?> status;
    try (var in = st.getInputStream()) {
      status = new com.fasterxml.jackson.databind.ObjectMapper().readValue(in, Map.class);
    }
    assertEquals(0, status.get("podId"));
    assertEquals(List.of(0, 1, 2), status.get("holders"), "pod b holds bucket b");
    assertEquals(port, status.get("httpPort"));
    List<Object> layerIds = client.status(0).getLayers().stream().map(l -> (Object) l.getLayerId()).toList();
    assertEquals(layerIds, ((List<?>) status.get("layers")).stream().map(l -> ((Map<?, ?>) l).get("layerId")).toList());
    assertTrue(((Number) ((Map<?, ?>) ((Map<?, ?>) status.get("latencies")).get("get")).get("count")).longValue() >= 20,
        "the gets' latency: " + status.get("latencies"));
    assertTrue(((List<?>) status.get("events")).stream().map(e -> (Map<?, ?>) e).anyMatch(e -> "TAKEOVER".equals(
        e.get("kind")) && String.valueOf(e.get("text")).startsWith("bucket 0: claimed epoch")),
        "pod 0's claim of its bucket at start is a recent event: " + status.get("events"));

    // the status page: well-formed XHTML, with the bucket held here and the newest layer
    java.net.HttpURLConnection page = (java.net.HttpURLConnection) new java.net.URL(
        "http://127.0.0.1:" + port + "/").openConnection();
    assertEquals(200, page.getResponseCode());
    assertEquals(HttpEndpoint.HTML, page.getContentType());
    org.w3c.dom.Document html;
    try (var in = page.getInputStream()) {
      html = javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(in);
    }
    javax.xml.xpath.XPath xpath = javax.xml.xpath.XPathFactory.newInstance().newXPath();
    assertEquals("pod 0", xpath.evaluate("//*[@id='bucket-0']/*[2]", html).trim(), "bucket 0's holder");
    assertEquals("here", xpath.evaluate("//*[@id='bucket-0']/@class", html));
    assertEquals(layerIds.get(0), xpath.evaluate("//*[@id='layers']/*[2]/*[1]", html), "the newest layer first");
    List<String> lines = stdoutOf(() -> io.kvpod.cli.KvPodCli.run(new String[] {"status", "--json", "--pods", podList}))
        .lines().toList();
    assertEquals(3, lines.size(), "one JSON object per pod: " + lines);
    for (int pod = 0; pod < 3; pod++) {
      Map<?, ?> one = new com.fasterxml.jackson.databind.ObjectMapper().readValue(lines.get(pod), Map.class);
      assertEquals(pod, one.get("podId"));
      assertEquals(List.of(0, 1, 2), one.get("holders"));
    }

    // bench get --json: one JSON object on stdout, the progress elsewhere; with an attack phase
    String bench = stdoutOf(() -> io.kvpod.cli.BenchGet.run(new String[] {"--pods", podList, "--threads", "2",
        "--duration", "1s", "--records", Integer.toString(RECORDS), "--seed", Long.toString(SEED), "--json",
        "--attackers", "50"}));
    Map<?, ?> result = new com.fasterxml.jackson.databind.ObjectMapper().readValue(bench, Map.class);
    assertEquals(0, result.get("misses"), "every generated key was found: " + bench);
    List<?> phases = (List<?>) result.get("phases");
    assertEquals(List.of("ping", "get", "get under attack"), phases.stream().map(p -> ((Map<?, ?>) p).get("name"))
        .toList(), "and a get phase while 50 connections send slow frames");
    for (Object p : phases) {
      assertTrue(((Number) ((Map<?, ?>) p).get("callsPerSecond")).doubleValue() > 0, "calls were made: " + p);
      assertEquals(0, ((Map<?, ?>) p).get("errors"), bench);
    }
  }

  /**
   * Prometheus' own parser accepts {@code metrics}: {@code promtool check metrics} (Debian's
   * {@code prometheus} package; CI installs it, elsewhere the check is skipped if it is
   * missing). Exit 0 is clean, 1 a parse error, 3 style ("lint") remarks only; the only remarks
   * allowed are about two of Micrometer's standard JVM meter names, kept as Micrometer names
   * them so that its users' dashboards work.
   */
  private void promtoolAccepts(String metrics) throws Exception {
    java.nio.file.Path promtool = java.nio.file.Path.of("/usr/bin/promtool");
    if (!java.nio.file.Files.isExecutable(promtool)) {
      assertTrue(!"true".equals(System.getenv("CI")), "CI must have promtool (see .ci/run)");
      System.out.println("promtool is not installed (apt-get install prometheus): Prometheus' own parser skipped");
      return;
    }
    File in = new File(tmp, "metrics.txt");
    java.nio.file.Files.writeString(in.toPath(), metrics);
    Process p = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectInput(in)
        .redirectErrorStream(true).start();
    String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(1, java.util.concurrent.TimeUnit.MINUTES), "promtool finished");
    assertTrue(p.exitValue() == 0 || p.exitValue() == 3, "promtool check metrics: exit " + p.exitValue() + ": " + said);
    for (String remark : said.lines().filter(l -> !l.isBlank()).toList()) {
      assertTrue(remark.startsWith("process_cpu_time_ns_total ") || remark.startsWith("system_cpu_count "),
          "a remark about a kvpod meter: " + remark);
    }
  }

  /** What {@code command} printed on stdout; it must exit 0. */
  private static String stdoutOf(java.util.concurrent.Callable<Integer> command) throws Exception {
    PrintStream stdout = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, command.call());
    } finally {
      System.setOut(stdout);
    }
    return captured.toString(StandardCharsets.UTF_8);
  }

  /**
   * The status page in a real browser (headless Chromium): it renders, logs nothing to the
   * console, and shows the bucket pod 1 holds and the newest layer. Skipped where Chromium is
   * missing, except under CI, which installs it (.ci/run). Leaves a screenshot in target/.
   */
  /** GET /metrics of the pod whose HTTP port is {@code port}: checked to be Prometheus text. */
  private static String metricsText(int port) throws Exception {
    java.net.HttpURLConnection c = (java.net.HttpURLConnection) new java.net.URL(
        "http://127.0.0.1:" + port + "/metrics").openConnection();
    c.setReadTimeout(30_000);
    assertEquals(200, c.getResponseCode());
    assertEquals(HttpEndpoint.PROMETHEUS_TEXT, c.getContentType());
    try (var in = c.getInputStream()) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /**
   * A pod holding one of the table's three buckets has that bucket's file of each loaded
   * layer open (each load has three partitions, one per bucket), not all three, unless it
   * read keys for a holder that did not answer (a busy machine), which opens theirs too.
   */
  private static void assertOpensOnlyItsBucketsFiles(List<PrometheusText.Sample> metrics, PodStatus st) {
    long flushes = st.getLayers().stream().filter(l -> "flush".equals(l.getKind())).count();
    long others = st.getLayersSize() - flushes;
    int open = st.getLayerFilesOpen();
    assertTrue(open >= others, open + " files open in " + others + " layers of three partitions");
    if (PrometheusText.value(metrics, "kvpod_reads_from_log_total") == 0) {
      assertTrue(open <= others + flushes, open + " files open in " + others + " layers of three partitions and "
          + flushes + " flushes: each pod opens its own bucket's files only");
    }
    assertEquals(open, (int) PrometheusText.value(metrics, "kvpod_layer_files_open"));
  }

  @Test
  @Order(6)
  void theStatusPageRendersInAHeadlessBrowserWithNoConsoleErrors() throws Exception {
    String browser = java.util.stream.Stream.of("chromium", "chromium-browser", "google-chrome")
        .map(b -> java.nio.file.Path.of("/usr/bin", b)).filter(java.nio.file.Files::isExecutable)
        .map(java.nio.file.Path::toString).findFirst().orElse(null);
    if (browser == null) {
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError("CI must have chromium (see .ci/run)");
      }
      org.junit.jupiter.api.Assumptions.abort("no headless browser installed (apt-get install chromium)");
    }
    int port = client.status(1).getHttpPort();
    String newest = client.status(1).getLayers().get(0).getLayerId();
    String url = "http://127.0.0.1:" + port + "/";
    File profile = new File(tmp, "chromium-profile");
    File shot = new File("target/status-page.png");
    List<String> common = List.of(browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0", "--window-size=1280,1600");
    List<String> dump = new ArrayList<>(common);
    dump.addAll(List.of("--dump-dom", url));
    Process p = new ProcessBuilder(dump).redirectError(new File(tmp, "chromium.err"))
        .redirectOutput(new File(tmp, "chromium.dom")).start();
    assertTrue(p.waitFor(2, java.util.concurrent.TimeUnit.MINUTES), "chromium finished");
    String dom = java.nio.file.Files.readString(new File(tmp, "chromium.dom").toPath());
    String log = java.nio.file.Files.readString(new File(tmp, "chromium.err").toPath());
    assertEquals(0, p.exitValue(), log);
    assertTrue(dom.contains("id=\"bucket-1\" class=\"here\""), "bucket 1 is shown as held by pod 1: " + dom);
    assertTrue(dom.contains(newest), "the newest layer " + newest + " is shown");
    List<String> console = log.lines().filter(l -> l.contains(":CONSOLE")).toList();
    assertEquals(List.of(), console, "the page logged to the browser's console");
    List<String> screenshot = new ArrayList<>(common);
    screenshot.addAll(List.of("--screenshot=" + shot.getAbsolutePath(), url));
    Process s = new ProcessBuilder(screenshot).redirectErrorStream(true)
        .redirectOutput(new File(tmp, "chromium-shot.log")).start();
    assertTrue(s.waitFor(2, java.util.concurrent.TimeUnit.MINUTES), "chromium finished the screenshot");
    assertTrue(shot.length() > 0, "a screenshot of the page");
  }

  @Test
  @Order(7)
  void hedgedReadsAnswerWhileTheOwnerIsFrozen() throws Exception {
    PodProcess owner = pods.get(2);
    owner.signal("STOP");
    // a client that keeps routing to the frozen owner (it does not re-learn holders while calls
    // are stuck, which would send its gets to a new holder once the bucket is taken over)
    try (KvPodClient hedging = KvPodClient.builder(podList).callTimeoutMs(10_000).deadlineMs(30_000)
        .hedgeAfterMs(50).silentAfterMs(0).build()) {
      int asked = 0;
      for (long i = 600; asked < 30; i++) {
        String k = gen.key(i);
        if (KeyPartitioner.bucket(k, 3) == 2) {
          assertEquals(expected.get(k), hedging.get(k), k);
          asked++;
        }
      }
      assertEquals(30, hedging.hedgedCalls(), "every get to the frozen owner was hedged to another pod");
    } finally {
      owner.signal("CONT");
    }
    client.ping(2);
  }

  @Test
  @Order(8)
  void killedPodDoesNotFailReads() throws Exception {
    pods.get(1).kill9();
    assertFalse(pods.get(1).alive());
    AtomicInteger wrong = new AtomicInteger();
    List<String> keys = new ArrayList<>(expected.keySet());
    ExecutorService readers = Executors.newFixedThreadPool(8); // pod 1's keys come from its WAL: 8 readers share each catch-up
    try {
      List<Future<?>> parts = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int first = t;
        parts.add(readers.submit(() -> {
          for (int i = first; i < keys.size(); i += 8) {
            if (!expected.get(keys.get(i)).equals(client.get(keys.get(i)))) {
              wrong.incrementAndGet();
            }
          }
          return null;
        }));
      }
      for (Future<?> f : parts) {
        f.get();
      }
    } finally {
      readers.shutdownNow();
    }
    assertEquals(0, wrong.get(), "reads answered wrong with pod 1 dead");
    Map<String, Map<String, String>> batch = client.multiGet(keys.subList(0, 500));
    assertEquals(500, batch.size());
    KvPodException e = assertThrows(KvPodException.class, () -> client.status(1));
    assertTrue(e.isRetriable());
  }

  /** A bare Thrift client to pod N that skips KvPodClient's checks. */
  private static final class RawThrift implements AutoCloseable {
    private final org.apache.thrift.transport.TTransport t;
    private final io.kvpod.thrift.KvPod.Client c;

    RawThrift(int port) throws Exception {
      t = new org.apache.thrift.transport.layered.TFramedTransport(
          new org.apache.thrift.transport.TSocket("127.0.0.1", port, 5000));
      t.open();
      c = new io.kvpod.thrift.KvPod.Client(new org.apache.thrift.protocol.TBinaryProtocol(t));
    }

    io.kvpod.thrift.KvPod.Client client() {
      return c;
    }

    /** Sends put(key, {f: v}) with {@code key} as raw bytes; returns the error, or null. */
    KvPodException putWithRawKey(byte[] key) throws Exception {
      var out = c.getOutputProtocol();
      out.writeMessageBegin(new org.apache.thrift.protocol.TMessage("put",
          org.apache.thrift.protocol.TMessageType.CALL, 99));
      out.writeStructBegin(new org.apache.thrift.protocol.TStruct("put_args"));
      out.writeFieldBegin(new org.apache.thrift.protocol.TField("key",
          org.apache.thrift.protocol.TType.STRING, (short) 1));
      out.writeBinary(ByteBuffer.wrap(key));
      out.writeFieldEnd();
      out.writeFieldBegin(new org.apache.thrift.protocol.TField("value",
          org.apache.thrift.protocol.TType.MAP, (short) 2));
      out.writeMapBegin(new org.apache.thrift.protocol.TMap(org.apache.thrift.protocol.TType.STRING,
          org.apache.thrift.protocol.TType.STRING, 1));
      out.writeString("f");
      out.writeString("v");
      out.writeMapEnd();
      out.writeFieldEnd();
      out.writeFieldStop();
      out.writeStructEnd();
      out.writeMessageEnd();
      out.getTransport().flush();
      var in = c.getInputProtocol();
      in.readMessageBegin();
      io.kvpod.thrift.KvPod.put_result r = new io.kvpod.thrift.KvPod.put_result();
      r.read(in);
      in.readMessageEnd();
      return r.getE();
    }

    @Override
    public void close() {
      t.close();
    }
  }
}
