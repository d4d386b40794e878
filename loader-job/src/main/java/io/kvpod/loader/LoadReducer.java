package io.kvpod.loader;

import java.io.IOException;
import java.util.Iterator;
import org.apache.hadoop.io.BytesWritable;
import org.apache.hadoop.mapreduce.Reducer;

/**
 * Keeps one record per key: the highest version wins, and among records of the highest
 * version the one whose encoded value is greatest in unsigned byte order, so the choice
 * never depends on the order in which map outputs arrive. The rest are counted as
 * duplicates.
 *
 * <p>Values arrive highest version first ({@link LoadKey.SortComparator}); Hadoop updates
 * the key's version as the iteration advances.
 */
public class LoadReducer extends Reducer<LoadKey, BytesWritable, LoadKey, BytesWritable> {
  private final BytesWritable best = new BytesWritable();
  private long failAfter = -1;
  private long written;

  @Override
  protected void setup(Context ctx) {
    failAfter = LoaderConfig.DEF.values(ctx.getConfiguration()::get).getLong(LoaderConfig.FAULT_REDUCE_AFTER);
  }

  @Override
  protected void reduce(LoadKey key, Iterable<BytesWritable> values, Context ctx)
      throws IOException, InterruptedException {
    Iterator<BytesWritable> it = values.iterator();
    BytesWritable first = it.next();
    long bestVersion = key.version();
    best.set(first);
    long dups = 0;
    while (it.hasNext()) {
      BytesWritable v = it.next();
      dups++;
      if (key.version() == bestVersion && v.compareTo(best) > 0) {
        best.set(v);
      }
    }
    key.setVersion(bestVersion);
    if (failAfter >= 0 && written++ >= failAfter) {
      throw new IOException("injected fault: " + LoaderConfig.FAULT_REDUCE_AFTER + "=" + failAfter);
    }
    ctx.write(key, best);
    ctx.getCounter(LoadCounters.RECORDS_WRITTEN).increment(1);
    ctx.getCounter(LoadCounters.VALUE_BYTES).increment(best.getLength());
    if (dups > 0) {
      ctx.getCounter(LoadCounters.DUPLICATES).increment(dups);
    }
  }
}
