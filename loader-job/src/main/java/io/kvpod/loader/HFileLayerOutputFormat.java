package io.kvpod.loader;

import io.kvpod.contract.LayerFormat;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.BytesWritable;
import org.apache.hadoop.mapreduce.RecordWriter;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.hadoop.mapreduce.lib.output.FileOutputCommitter;
import org.apache.hadoop.mapreduce.lib.output.FileOutputFormat;

/**
 * Writes each reducer's records into the HFile of its partition, named
 * {@link LayerFormat#dataFileName} so block-cache keys never collide across layers.
 * Files go to the committer's work path, so only a committed task's file reaches the
 * staging directory. Every partition gets a file, empty or not.
 */
public class HFileLayerOutputFormat extends FileOutputFormat<LoadKey, BytesWritable> {

  @Override
  public RecordWriter<LoadKey, BytesWritable> getRecordWriter(TaskAttemptContext ctx) throws IOException {
    Configuration conf = ctx.getConfiguration();
    int partition = ctx.getTaskAttemptID().getTaskID().getId();
    String layerId = conf.get(LoaderConfig.LAYER_ID);
    Path work = ((FileOutputCommitter) getOutputCommitter(ctx)).getWorkPath();
    Path file = new Path(work, LayerFormat.dataFileName(partition, layerId));
    LayerFileWriter w = new LayerFileWriter(conf, file.getFileSystem(conf), file,
        HFileOptions.from(conf), layerId, partition, ctx.getNumReduceTasks());
    return new RecordWriter<>() {
      @Override
      public void write(LoadKey key, BytesWritable value) throws IOException {
        w.append(key.keyBytes(), 0, key.keyLength(), key.version(), value.getBytes(), 0, value.getLength());
      }

      @Override
      public void close(TaskAttemptContext c) throws IOException {
        w.close();
      }
    };
  }
}
