package io.kvpod.pod;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pod's HTTP endpoint, for monitoring: {@code GET /metrics} answers the pod's meters as
 * Prometheus text ({@link PodMetrics#scrape}); any other path is 404, any other method 405.
 * Served by the JDK's own HTTP server on one thread of its own, so a scrape never waits for,
 * or holds up, the pod's Thrift calls. Read-only: it changes nothing in the pod. Owns the
 * server; thread-safe.
 */
final class HttpEndpoint implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(HttpEndpoint.class);
  /** Prometheus' text exposition format. */
  static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private final HttpServer server;
  private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "http");
    t.setDaemon(true);
    return t;
  });

  /** Serves {@code metrics} on {@code bind} (port 0: any free port, see {@link #port}). */
  HttpEndpoint(InetSocketAddress bind, Supplier<String> metrics) throws IOException {
    server = HttpServer.create(bind, 16);
    server.createContext("/metrics", x -> answer(x, metrics));
    server.createContext("/", x -> send(x, 404, "text/plain; charset=utf-8", "not found: try /metrics\n"));
    server.setExecutor(thread);
    server.start();
  }

  /** The port it listens on. */
  int port() {
    return server.getAddress().getPort();
  }

  private static void answer(HttpExchange x, Supplier<String> body) throws IOException {
    if (!"/metrics".equals(x.getRequestURI().getPath())) {
      send(x, 404, "text/plain; charset=utf-8", "not found: try /metrics\n");
    } else if (!"GET".equals(x.getRequestMethod()) && !"HEAD".equals(x.getRequestMethod())) {
      x.getResponseHeaders().set("Allow", "GET, HEAD");
      send(x, 405, "text/plain; charset=utf-8", "only GET\n");
    } else {
      send(x, 200, PROMETHEUS_TEXT, body.get());
    }
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
