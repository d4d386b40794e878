package io.kvpod.loader;

import io.kvpod.contract.ContractViolation;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.BytesWritable;
import org.apache.hadoop.io.LongWritable;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.io.compress.CompressionCodecFactory;
import org.apache.hadoop.mapreduce.Mapper;
import org.apache.hadoop.mapreduce.lib.input.FileSplit;
import org.apache.hadoop.mapreduce.lib.output.FileOutputFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Parses input lines into (LoadKey, encoded value). Bad lines are counted, written to the
 * bad-record report with file and line, and fail the task once this task alone has seen
 * more than {@code kvpod.load.max.bad.records} (the driver checks the job-wide total).
 */
public class LoadMapper extends Mapper<LongWritable, Text, LoadKey, BytesWritable> {
  private static final Logger LOG = LoggerFactory.getLogger(LoadMapper.class);

  private final ParsedRecord rec = new ParsedRecord();
  private final LoadKey outKey = new LoadKey();
  private final BytesWritable outValue = new BytesWritable();
  private RecordParser parser;
  private long defaultVersion;
  private long maxBad;
  private long bad;
  private long linesRead;
  private BadRecordLog badLog;

  @Override
  protected void setup(Context ctx) throws IOException {
    Configuration conf = ctx.getConfiguration();
    var cfg = LoaderConfig.DEF.values(conf::get);
    parser = RecordParser.forFormat(cfg.getString(LoaderConfig.FORMAT));
    defaultVersion = cfg.getLong(LoaderConfig.DEFAULT_VERSION);
    maxBad = cfg.getLong(LoaderConfig.MAX_BAD_RECORDS);
    Path input = ((FileSplit) ctx.getInputSplit()).getPath();
    boolean compressed = new CompressionCodecFactory(conf).getCodec(input) != null;
    badLog = new BadRecordLog(input.getFileSystem(conf), FileOutputFormat.getOutputPath(ctx),
        ctx.getTaskAttemptID().toString(), input, cfg.getInt(LoaderConfig.BAD_RECORD_SAMPLES), compressed);
  }

  @Override
  protected void map(LongWritable offset, Text line, Context ctx) throws IOException, InterruptedException {
    byte[] b = line.getBytes();
    int n = line.getLength();
    linesRead++;
    if (isBlank(b, n)) {
      ctx.getCounter(LoadCounters.BLANK_LINES).increment(1);
      return;
    }
    try {
      parser.parse(b, n, rec);
    } catch (BadRecordException | ContractViolation e) {
      reportBad(offset.get(), b, n, e.getMessage(), ctx);
      return;
    }
    long v = rec.version() == ParsedRecord.NO_VERSION ? defaultVersion : rec.version();
    outKey.set(rec.key(), 0, rec.keyLength(), v);
    outValue.set(rec.value().array(), 0, rec.value().length());
    ctx.write(outKey, outValue);
    ctx.getCounter(LoadCounters.INPUT_RECORDS).increment(1);
  }

  private void reportBad(long offset, byte[] b, int n, String reason, Context ctx) throws IOException {
    bad++;
    ctx.getCounter(LoadCounters.BAD_RECORDS).increment(1);
    String where = badLog.report(offset, linesRead, b, n, reason);
    if (bad <= 10) {
      LOG.warn("bad record at {}: {}", where, reason);
    }
    if (bad > maxBad) {
      throw new IOException("too many bad records (more than kvpod.load.max.bad.records=" + maxBad
          + "); the latest at " + where + ": " + reason);
    }
  }

  private static boolean isBlank(byte[] b, int n) {
    for (int i = 0; i < n; i++) {
      if (b[i] != ' ' && b[i] != '\t' && b[i] != '\r') {
        return false;
      }
    }
    return true;
  }

  @Override
  protected void cleanup(Context ctx) throws IOException {
    if (badLog != null) {
      badLog.close();
    }
  }
}
