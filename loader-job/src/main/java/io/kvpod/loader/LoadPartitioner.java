package io.kvpod.loader;

import io.kvpod.contract.KeyPartitioner;
import org.apache.hadoop.io.BytesWritable;
import org.apache.hadoop.mapreduce.Partitioner;

/** Sends each key to the reducer (= HFile) of its partition, by the shared {@link KeyPartitioner}. */
public class LoadPartitioner extends Partitioner<LoadKey, BytesWritable> {
  @Override
  public int getPartition(LoadKey key, BytesWritable value, int numPartitions) {
    return KeyPartitioner.bucket(key.keyBytes(), 0, key.keyLength(), numPartitions);
  }
}
