package io.kvpod.bench.hbase;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** The harness's command line; plain parsing, so no CLI library can clash with Hadoop's. */
final class BenchOptions {
  static final long DEFAULT_CACHE_BYTES = 3_865_470_566L; // 3.6 GiB

  String input;
  String work;
  int regions = 64;
  long cacheBytes = DEFAULT_CACHE_BYTES;
  int threads = 8;
  long warmupMs = 60_000;
  long durationMs = 30_000;
  long sample = -1; // all keys
  int verify = 1000;
  long seed = 1;
  String table = "bench";
  float memstoreFraction = 0.1f;
  int parallelism = Runtime.getRuntime().availableProcessors();
  boolean prefetch;
  boolean keepWork;
  final Map<String, String> conf = new LinkedHashMap<>();

  static final String USAGE = """
      usage: run.sh --input URI --work DIR [options]
         or: mvn -q -f bench/hbase-compare/pom.xml compile exec:java -Dexec.args="--input URI --work DIR ..."

      The HBase side of kvpod's get-throughput comparison. In one JVM: a ZooKeeper and an HBase
      2.6 cluster (one HMaster, one RegionServer) on the local filesystem; a table with one
      family 'f' (snappy, 16 KB blocks, ROW bloom) pre-split into --regions regions; a bulk load
      of the input the standard way (a MapReduce job on the local job runner writing HFiles with
      HFileOutputFormat2.configureIncrementalLoad, then BulkLoadHFiles); then --threads client
      threads doing single-row Table.get on keys drawn uniformly at random from the input, for
      --warmup, then measured for --duration. Prints a summary with gets/s, latency percentiles
      and the RegionServer's block cache hit ratio. Exit code 0 when every get found its record.

      required
        --input URI        kvpod JSON Lines (bin/kvpod gen --records N --out file:///tmp/x): a file or a
                           directory; files starting with '_' or '.' are skipped
        --work DIR         scratch directory on the local filesystem (HBase root, ZooKeeper, MapReduce
                           staging, HFiles); must be empty or not exist; deleted at the end unless --keep-work

      options
        --regions N        regions, pre-split at quantiles of a 100K-key sample of the input (default 64)
        --cache-bytes B    on-heap LRU block cache of the RegionServer, in bytes; 3.6e9 and 512m also work
                           (default 3865470566 = 3.6 GiB); hfile.block.cache.size is set to B / max heap
        --threads N        client threads doing gets (default 8)
        --warmup T         gets before measuring: 60s, 500ms, 2m; 0 for none (default 60s)
        --duration T       measured interval (default 30s)
        --sample N         distinct keys the readers draw from, chosen at random from the input
                           (default: all keys of the input)
        --verify N         records whose values are read back and compared byte for byte after the load
                           (default 1000)
        --seed S           seed for the key samples and the readers (default 1)
        --table NAME       table name (default bench)
        --parallelism N    parallel map and reduce tasks of the local job runner (default: cores)
        --memstore-fraction F  hbase.regionserver.global.memstore.size (default 0.1; gets and bulk loads
                           use no memstore, and the block cache plus this must leave 20% of the heap free)
        --prefetch         prefetch HFile blocks into the cache when regions open (HBase's default: off)
        --keep-work        leave --work in place at the end
        -D key=value       any HBase or Hadoop setting, applied after the harness's own (repeatable)
        -h, --help         this text

      heap: the RegionServer, the client threads and the MapReduce job share this JVM's heap. The block
      cache plus the memstore fraction must stay within 80% of it, so --cache-bytes 3.6e9 needs about
      -Xmx6g (run.sh: HBASE_COMPARE_HEAP=6g).
      """;

  private static final java.util.Set<String> VALUED = java.util.Set.of("--input", "--work", "--regions",
      "--cache-bytes", "--threads", "--warmup", "--duration", "--sample", "--verify", "--seed", "--table",
      "--parallelism", "--memstore-fraction");

  /** @return null when --help was asked for */
  static BenchOptions parse(String[] args) {
    BenchOptions o = new BenchOptions();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String name = a;
      String value = null;
      if (a.startsWith("--") && a.contains("=")) {
        name = a.substring(0, a.indexOf('='));
        value = a.substring(a.indexOf('=') + 1);
      }
      switch (name) {
        case "-h", "--help" -> {
          return null;
        }
        case "--prefetch" -> o.prefetch = true;
        case "--keep-work" -> o.keepWork = true;
        default -> {
          if (!VALUED.contains(name) && !name.startsWith("-D")) {
            throw new IllegalArgumentException("unknown option " + name + " (see --help)");
          }
          if (value == null) {
            if (name.startsWith("-D") && name.length() > 2) {
              value = name.substring(2);
              name = "-D";
            } else {
              if (i + 1 >= args.length) {
                throw new IllegalArgumentException(name + " needs a value");
              }
              value = args[++i];
            }
          }
          o.set(name, value);
        }
      }
    }
    if (o.input == null || o.work == null) {
      throw new IllegalArgumentException("--input and --work are required (see --help)");
    }
    if (o.regions < 1 || o.threads < 1 || o.parallelism < 1 || o.durationMs <= 0 || o.warmupMs < 0
        || o.verify < 0 || o.cacheBytes <= 0 || (o.sample != -1 && o.sample < 1)) {
      throw new IllegalArgumentException("--regions, --threads, --parallelism, --duration, --cache-bytes and"
          + " --sample must be positive; --warmup and --verify not negative");
    }
    if (o.memstoreFraction <= 0 || o.memstoreFraction > 0.8f) {
      throw new IllegalArgumentException("--memstore-fraction must be in (0, 0.8]");
    }
    return o;
  }

  private void set(String name, String value) {
    try {
      switch (name) {
        case "--input" -> input = value;
        case "--work" -> work = value;
        case "--regions" -> regions = Integer.parseInt(value.replace("_", ""));
        case "--cache-bytes" -> cacheBytes = parseBytes(value);
        case "--threads" -> threads = Integer.parseInt(value);
        case "--warmup" -> warmupMs = parseDurationMs(value);
        case "--duration" -> durationMs = parseDurationMs(value);
        case "--sample" -> sample = Long.parseLong(value.replace("_", ""));
        case "--verify" -> verify = Integer.parseInt(value.replace("_", ""));
        case "--seed" -> seed = Long.parseLong(value);
        case "--table" -> table = value;
        case "--parallelism" -> parallelism = Integer.parseInt(value);
        case "--memstore-fraction" -> memstoreFraction = Float.parseFloat(value);
        case "-D" -> {
          int eq = value.indexOf('=');
          if (eq <= 0) {
            throw new IllegalArgumentException("-D needs key=value, got '" + value + "'");
          }
          conf.put(value.substring(0, eq), value.substring(eq + 1));
        }
        default -> throw new IllegalArgumentException("unknown option " + name + " (see --help)");
      }
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + ": not a number: '" + value + "'");
    }
  }

  /** 3865470566, 3.6e9, 512m, 4g, 64k (k, m, g are powers of 1024). */
  static long parseBytes(String s) {
    String v = s.trim().toLowerCase(Locale.ROOT).replace("_", "");
    long mult = 1;
    char last = v.isEmpty() ? ' ' : v.charAt(v.length() - 1);
    if (last == 'k' || last == 'm' || last == 'g') {
      mult = last == 'k' ? 1L << 10 : last == 'm' ? 1L << 20 : 1L << 30;
      v = v.substring(0, v.length() - 1);
    }
    return Math.round(Double.parseDouble(v) * mult);
  }

  /** 60s, 500ms, 2m, 1h; a bare number is seconds. */
  static long parseDurationMs(String s) {
    String v = s.trim().toLowerCase(Locale.ROOT);
    if (v.endsWith("ms")) {
      return Math.round(Double.parseDouble(v.substring(0, v.length() - 2)));
    }
    char last = v.charAt(v.length() - 1);
    double mult = switch (last) {
      case 's' -> 1000;
      case 'm' -> 60_000;
      case 'h' -> 3_600_000;
      default -> -1;
    };
    if (mult < 0) {
      return Math.round(Double.parseDouble(v) * 1000);
    }
    return Math.round(Double.parseDouble(v.substring(0, v.length() - 1)) * mult);
  }
}
