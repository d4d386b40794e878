package io.kvpod.pod;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.Closeable;
import java.io.IOException;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPodException;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pod's HTTP endpoint, for monitoring: {@code GET /} answers the pod's status page
 * ({@link StatusPage}), {@code GET /status.json} the same status as JSON (the Thrift
 * {@code PodStatus}), each of the pod's default table or of {@code ?table=T}, and
 * {@code GET /metrics} the pod's meters as Prometheus text ({@link PodMetrics#scrape}); any
 * other path, or a table the pod does not serve, is 404, any other method 405. Served by
 * the JDK's own HTTP server on one thread of its own, so a scrape never waits for, or holds
 * up, the pod's Thrift calls. Read-only: it changes nothing in the pod. Owns the server;
 * thread-safe.
 */
final class HttpEndpoint implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(HttpEndpoint.class);
  /** Prometheus' text exposition format. */
  static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
  static final String JSON = "application/json; charset=utf-8";
  static final String HTML = "text/html; charset=utf-8";
  private static final String TEXT = "text/plain; charset=utf-8";
  private static final String NOT_FOUND = "not found: try /, /status.json or /metrics\n";

  private final HttpServer server;
  private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "http");
    t.setDaemon(true);
    return t;
  });

  /**
   * What a page says about {@code table} (null: the default table, or a page of the whole
   * pod); it may fail, and the endpoint then answers 503 with the failure (404 for a table
   * the pod does not serve).
   */
  @FunctionalInterface
  interface Page {
    String render(String table) throws Exception;
  }

  /**
   * Serves {@code page} (HTML), {@code status} (JSON) and {@code metrics} on {@code bind}
   * (port 0: any free port, see {@link #port}).
   */
  HttpEndpoint(InetSocketAddress bind, Page page, Page status, Page metrics) throws IOException {
    server = HttpServer.create(bind, 16);
    server.createContext("/metrics", x -> answer(x, "/metrics", PROMETHEUS_TEXT, metrics));
    server.createContext("/status.json", x -> answer(x, "/status.json", JSON, status));
    server.createContext("/", x -> answer(x, "/", HTML, page));
    server.setExecutor(thread);
    server.start();
  }

  /** The port it listens on. */
  int port() {
    return server.getAddress().getPort();
  }

  private static void answer(HttpExchange x, String path, String type, Page page) throws IOException {
    if (!path.equals(x.getRequestURI().getPath())) {
      send(x, 404, TEXT, NOT_FOUND);
      return;
    }
    if (!"GET".equals(x.getRequestMethod()) && !"HEAD".equals(x.getRequestMethod())) {
      x.getResponseHeaders().set("Allow", "GET, HEAD");
      send(x, 405, TEXT, "only GET\n");
      return;
    }
    String body;
    try {
      body = page.render(tableOf(x.getRequestURI().getRawQuery()));
    } catch (KvPodException e) {
      send(x, e.getCode() == ErrorCode.INVALID_ARGUMENT ? 404 : 503, TEXT, e.getMessage() + "\n");
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      send(x, 503, TEXT, "the pod is stopping\n");
      return;
    } catch (Exception e) {
      LOG.debug("{} failed", path, e);
      send(x, 503, TEXT, path + " failed: " + e + "\n");
      return;
    }
    send(x, 200, type, body);
  }

  /** The value of {@code table=} in a raw query string, decoded; null if it has none. */
  static String tableOf(String rawQuery) {
    if (rawQuery == null) {
      return null;
    }
    for (String pair : rawQuery.split("&")) {
      if (pair.startsWith("table=")) {
        return URLDecoder.decode(pair.substring("table=".length()), StandardCharsets.UTF_8);
      }
    }
    return null;
  }

  private static void send(HttpExchange x, int status, String type, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    x.getResponseHeaders().set("Content-Type", type);
    boolean head = "HEAD".equals(x.getRequestMethod());
    x.sendResponseHeaders(status, head ? -1 : bytes.length);
    try (OutputStream out = x.getResponseBody()) {
      if (!head) {
        out.write(bytes);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    thread.shutdownNow();
    LOG.debug("HTTP endpoint closed");
  }
}
