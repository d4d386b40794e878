package io.kvpod.pod;

import io.kvpod.contract.KeyPartitioner;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import org.apache.hadoop.hbase.io.hfile.BlockCache;
import org.apache.thrift.TConfiguration;
import org.apache.thrift.TException;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.protocol.TField;
import org.apache.thrift.protocol.TType;
import org.apache.thrift.transport.TMemoryInputTransport;
import org.apache.thrift.transport.TTransport;

/**
 * Decides whether a {@code get} can be answered on the I/O thread that read it (a selector
 * thread of {@link SelectorServer}, or an event loop of {@link NettyServer}), with
 * no hand-off to a worker and back. Handing a call to a worker and waking the selector to
 * write its answer cost about as much as the get itself once its blocks are cached: on 10M
 * records, answering such gets on the selector thread served 63-79% more of them
 * ({@code docs/performance.md}).
 *
 * <p>An I/O thread must never wait, since every connection it serves waits with it. So a
 * get runs there only if nothing in it can wait: its key's bucket is held here in a view of
 * the holder records confirmed within half a lease ({@link ShardSet#servesNow}, so no
 * reading of the records), every live layer's files of that bucket were prefetched into the
 * block cache ({@link LayerWatcher#prefetched}), and the cache has never evicted a block for
 * room (so what was prefetched is still there). The memtables are in memory. Anything else (a
 * bucket held elsewhere, which is forwarded; a bucket being taken over; a layer still being
 * prefetched or opened whole) goes to a worker as before. (A prefetch that failed part-way
 * also counts as ended: a get may then read a block from the filesystem on the selector
 * thread. It is answered right, only slower, and HBase logs the failed prefetch.)
 *
 * <p>Thread-safe.
 */
final class InlineReads {
  /** The calls that may run inline: each has the key as its first argument, field 1. */
  static final Set<String> METHODS = Set.of("get", "getRecord");

  private final int buckets;
  private final ShardSet shards;
  private final LayerWatcher layers;
  private final BlockCache cache;
  private final LongAdder answered = new LongAdder();

  InlineReads(int buckets, ShardSet shards, LayerWatcher layers, BlockCache cache) {
    this.buckets = buckets;
    this.shards = shards;
    this.layers = layers;
    this.cache = cache;
  }

  /**
   * True if the call of {@code method} whose arguments are what is left of {@code frame}
   * (its message header read) can run on the calling thread without waiting; counts it.
   * Reads nothing from {@code frame}: the key is read from a copy of its position.
   */
  boolean answerable(String method, TTransport frame) {
    // blocks evicted for room (not those dropped with a file, and not the cache's periodic
    // eviction runs, which HBase counts even when they free nothing)
    if (!METHODS.contains(method) || cache.getStats().getEvictedCount() > 0) {
      return false;
    }
    byte[] key = peekKey(frame);
    if (key == null) {
      return false;
    }
    int bucket = KeyPartitioner.bucket(key, buckets);
    if (!shards.servesNow(bucket) || !layers.prefetched(bucket)) {
      return false;
    }
    answered.increment();
    return true;
  }

  /** Calls run inline since the pod started. */
  long answered() {
    return answered.sum();
  }

  /**
   * The bytes of field 1 (a string) at the start of the arguments left in {@code frame}, a
   * transport over a whole frame in memory; null if the arguments do not start with it or
   * the frame is not in memory. {@code frame}'s position does not move.
   */
  static byte[] peekKey(TTransport frame) {
    byte[] buf = frame.getBuffer();
    int left = frame.getBytesRemainingInBuffer();
    if (buf == null || left <= 0) {
      return null;
    }
    try {
      TBinaryProtocol args = new TBinaryProtocol(
          new TMemoryInputTransport(TConfiguration.DEFAULT, buf, frame.getBufferPosition(), left), left, left);
      args.readStructBegin();
      TField f = args.readFieldBegin();
      if (f.id != 1 || f.type != TType.STRING) {
        return null;
      }
      ByteBuffer key = args.readBinary();
      byte[] out = new byte[key.remaining()];
      key.get(out);
      return out;
    } catch (TException e) {
      return null; // a malformed frame: the worker that decodes it answers the error
    }
  }
}
