package io.kvpod.loader;

import io.kvpod.contract.LayerFormat;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.BytesWritable;
import org.apache.hadoop.mapred.FileAlreadyExistsException;
import org.apache.hadoop.mapreduce.JobContext;
import org.apache.hadoop.mapreduce.OutputCommitter;
import org.apache.hadoop.mapreduce.OutputFormat;
import org.apache.hadoop.mapreduce.RecordWriter;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.hadoop.mapreduce.lib.output.FileOutputCommitter;
import org.apache.hadoop.mapreduce.lib.output.FileOutputFormat;
import org.apache.hadoop.mapreduce.security.TokenCache;

/**
 * Writes each reducer's records into the HFile of its partition, named
 * {@link LayerFormat#dataFileName} so block-cache keys never collide across layers.
 * Files go to a {@link FileOutputCommitter}'s work path, so only a committed task's file
 * reaches the staging directory. Every partition gets a file, empty or not.
 *
 * <p>Deliberately not a subclass of {@link FileOutputFormat}: for those, the reduce task
 * walks every thread's FileSystem statistics before and after each record written, which
 * cost about 5% of a load's CPU. The output directory is still set with
 * {@link FileOutputFormat#setOutputPath}.
 */
public class HFileLayerOutputFormat extends OutputFormat<LoadKey, BytesWritable> {
  private FileOutputCommitter committer;

  private static Path outputPath(JobContext ctx) throws IOException {
    Path p = FileOutputFormat.getOutputPath(ctx);
    if (p == null) {
      throw new IOException("the load job has no output directory");
    }
    return p;
  }

  @Override
  public void checkOutputSpecs(JobContext ctx) throws IOException {
    Path out = outputPath(ctx);
    // On a secured cluster the tasks write with a delegation token for the output's NameNode,
    // as FileOutputFormat's own check gets one.
    TokenCache.obtainTokensForNamenodes(ctx.getCredentials(), new Path[] {out}, ctx.getConfiguration());
    if (out.getFileSystem(ctx.getConfiguration()).exists(out)) {
      throw new FileAlreadyExistsException("staging directory " + out + " already exists");
    }
  }

  @Override
  public synchronized OutputCommitter getOutputCommitter(TaskAttemptContext ctx) throws IOException {
    if (committer == null) {
      committer = new FileOutputCommitter(outputPath(ctx), ctx);
    }
    return committer;
  }

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
