package io.kvpod.bench.hbase;

import java.io.IOException;
import org.apache.hadoop.hbase.KeyValue;
import org.apache.hadoop.hbase.io.ImmutableBytesWritable;
import org.apache.hadoop.io.LongWritable;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.mapreduce.Mapper;

/**
 * The bulk load's map: one JSON line in, one cell out (row = the key, column {@code f:v},
 * value = the value's JSON text, timestamp = the load's start). Map output value class
 * {@link KeyValue} makes {@code HFileOutputFormat2.configureIncrementalLoad} pick its
 * {@code CellSortReducer}, HBase's usual path for cells made in the map.
 */
public class JsonToCellMapper extends Mapper<LongWritable, Text, ImmutableBytesWritable, KeyValue> {
  static final String TIMESTAMP_KEY = "hbasecompare.load.timestamp";
  static final String COUNTER_GROUP = "hbase-compare";
  static final String BAD_LINES = "bad lines";

  private final JsonRecordParser parser = new JsonRecordParser();
  private final ImmutableBytesWritable row = new ImmutableBytesWritable();
  private long timestamp;
  private int badReported;

  @Override
  protected void setup(Context context) {
    timestamp = context.getConfiguration().getLong(TIMESTAMP_KEY, System.currentTimeMillis());
  }

  @Override
  protected void map(LongWritable offset, Text line, Context context) throws IOException, InterruptedException {
    if (line.getLength() == 0) {
      return;
    }
    byte[] buf = line.getBytes(); // starts at offset 0, valid up to getLength()
    String problem = parser.parse(buf, line.getLength());
    if (problem != null) {
      context.getCounter(COUNTER_GROUP, BAD_LINES).increment(1);
      if (badReported++ < 5) {
        System.err.println("[hbase-compare] bad line at byte " + offset.get() + " (" + problem + ")");
      }
      return;
    }
    byte[] key = parser.key;
    KeyValue kv = new KeyValue(key, 0, key.length, HBaseCompare.FAMILY, 0, HBaseCompare.FAMILY.length,
        HBaseCompare.QUALIFIER, 0, HBaseCompare.QUALIFIER.length, timestamp, KeyValue.Type.Put,
        buf, parser.valueStart, parser.valueEnd - parser.valueStart);
    row.set(key);
    context.write(row, kv);
  }
}
