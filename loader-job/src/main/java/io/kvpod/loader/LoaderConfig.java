package io.kvpod.loader;

import io.kvpod.config.ConfigDef;
import io.kvpod.config.ConfigDef.Type;
import io.kvpod.config.ConfigDef.Validator;
import io.kvpod.contract.TableMeta;

/**
 * Every configuration key of the loader, with its type, default and doc. Set them with
 * {@code -D key=value} (ToolRunner's generic options) or the matching command-line flag,
 * which wins. {@code kvpod load --help} prints this list.
 */
public final class LoaderConfig {
  public static final String ROOT = "kvpod.root";
  public static final String TABLE = "kvpod.table";
  public static final String INPUT = "kvpod.load.input";
  public static final String FORMAT = "kvpod.load.format";
  public static final String PARTITIONS = "kvpod.load.partitions";
  public static final String COMPRESSION = "kvpod.load.compression";
  public static final String BLOCK_SIZE = "kvpod.load.block.size";
  public static final String BLOCK_ENCODING = "kvpod.load.block.encoding";
  public static final String MAX_BAD_RECORDS = "kvpod.load.max.bad.records";
  public static final String DEFAULT_VERSION = "kvpod.load.version";
  public static final String LOCAL_PARALLELISM = "kvpod.load.local.parallelism";
  public static final String SORT_MB = "kvpod.load.sort.mb";
  public static final String BAD_RECORD_SAMPLES = "kvpod.load.bad.record.samples";
  public static final String NOTIFY_PODS = "kvpod.load.notify.pods";
  public static final String SECRET = "kvpod.secret";
  public static final String FAULT_REDUCE_AFTER = "kvpod.load.fault.reduce.after.records";

  /** Set by the driver for its tasks; not a user setting. */
  static final String LAYER_ID = "kvpod.load.layer.id";

  public static final ConfigDef DEF = io.kvpod.config.KerberosLogin.define(new ConfigDef()
      .define(ROOT, Type.STRING, null,
          "kvpod root URI, e.g. hdfs://nn:8020/kvpod or file:///tmp/kvpod (--root)")
      .define(TABLE, Type.STRING, "default", "table to load into (--table)")
      .define(INPUT, Type.STRING, null, "comma-separated input files or directories (--input)")
      .define(FORMAT, Type.STRING, "jsonl", Validator.oneOf("jsonl", "tsv"),
          "input format: jsonl ({\"key\":..,\"value\":{..},\"version\":..}) or tsv (--format)")
      .define(PARTITIONS, Type.INT, "0", Validator.between(0, 99_999),
          "HFiles (= reducers) in the layer; key -> murmur3(key) mod partitions. 0: one per bucket of the "
              + "table (its recorded bucket count, else the default of " + TableMeta.DEFAULT_BUCKETS + "), so that "
              + "each pod reads and caches only the files of the buckets it holds (--partitions)")
      .define(COMPRESSION, Type.STRING, "snappy", Validator.oneOf("none", "gz", "snappy", "lz4", "zstd"),
          "HFile block compression; none, gz and snappy need no native libraries (--compression)")
      .define(BLOCK_SIZE, Type.INT, "16384", Validator.between(1024, 16 << 20),
          "HFile data block size in bytes; a get reads one block, so smaller blocks make random gets "
              + "cheaper and the block index larger (--block-size)")
      .define(BLOCK_ENCODING, Type.STRING, HFileOptions.DEFAULT_ENCODING, Validator.oneOf("row_index_v1", "none"),
          "HFile data block encoding: row_index_v1 ends each block with an index of its cells, so that a get "
              + "binary-searches the block rather than reading it cell by cell (about 4 bytes more per record); "
              + "none writes plain blocks, as loads before it did. Pods read either (--block-encoding)")
      .define(MAX_BAD_RECORDS, Type.LONG, "0", Validator.atLeast(0),
          "bad input lines tolerated before the load fails; each is reported (--max-bad-records)")
      .define(DEFAULT_VERSION, Type.LONG, null, Validator.atLeast(0),
          "version of records that carry none; default: the load's start time in ms (--version)")
      .define(LOCAL_PARALLELISM, Type.INT,
          Integer.toString(Math.max(1, Runtime.getRuntime().availableProcessors())), Validator.atLeast(1),
          "map and reduce tasks run at once by the local job runner (local mode only)")
      .define(SORT_MB, Type.INT, null, Validator.between(16, 2047),
          "map-side sort buffer per map task, in MB (mapreduce.task.io.sort.mb); default: Hadoop's")
      .define(BAD_RECORD_SAMPLES, Type.INT, "1000", Validator.atLeast(0),
          "bad lines each map task writes to the layer's _bad/ report")
      .define(NOTIFY_PODS, Type.STRING, null,
          "pods to tell about the new layer at once, host:port,...; they also find it by polling (--notify)")
      .define(SECRET, Type.STRING, null, "cluster secret for --notify (default: env KVPOD_SECRET)")
      .define(FAULT_REDUCE_AFTER, Type.LONG, "-1",
          "fault injection for tests: each reducer fails after writing this many records (-1: off)"));

  private LoaderConfig() {}
}
