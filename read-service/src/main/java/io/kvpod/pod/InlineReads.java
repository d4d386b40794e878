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
import org.apache.thrift.protocol.TList;
import org.apache.thrift.protocol.TType;
import org.apache.thrift.transport.TMemoryInputTransport;
import org.apache.thrift.transport.TTransport;

/**
 * Decides whether a {@code get} (or a {@code multiGet} of at most {@link #MAX_INLINE_KEYS}
 * keys, each of which must qualify) can be answered on the I/O thread that read it (a selector
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
  /** The calls of one key that may run inline: each has the key as its first argument, field 1. */
  static final Set<String> METHODS = Set.of("get", "getRecord");
  /** The calls of many keys that may run inline: each has a list of keys as field 1. */
  static final Set<String> LIST_METHODS = Set.of("multiGet", "multiGetRecords");
  /**
   * The most keys a call may have to run inline: each is a seek in cached blocks, and the
   * thread's other connections wait meanwhile (a few microseconds a key).
   */
  static final int MAX_INLINE_KEYS = 256;

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
    boolean one = METHODS.contains(method);
    if (!one && !LIST_METHODS.contains(method) || cache.getStats().getEvictedCount() > 0) {
      return false;
    }
    if (one) {
      byte[] key = peekKey(frame);
      if (key == null || !inMemory(key)) {
        return false;
      }
    } else {
      byte[][] keys = peekKeys(frame, MAX_INLINE_KEYS);
      if (keys == null) {
        return false;
      }
      for (byte[] key : keys) {
        if (!inMemory(key)) {
          return false;
        }
      }
    }
    answered.increment();
    return true;
  }

  /** True if {@code key}'s bucket is held here and its files are in the block cache. */
  private boolean inMemory(byte[] key) {
    int bucket = KeyPartitioner.bucket(key, buckets);
    return shards.servesNow(bucket) && layers.prefetched(bucket);
  }

  /** Calls (gets and multi-gets) run inline since the pod started. */
  long answered() {
    return answered.sum();
  }

  /**
   * The bytes of field 1 (a string) at the start of the arguments left in {@code frame}, a
   * transport over a whole frame in memory; null if the arguments do not start with it or
   * the frame is not in memory. {@code frame}'s position does not move.
   */
  static byte[] peekKey(TTransport frame) {
    TBinaryProtocol args = firstField(frame, TType.STRING);
    try {
      return args == null ? null : bytes(args.readBinary());
    } catch (TException e) {
      return null; // a malformed frame: the worker that decodes it answers the error
    }
  }

  /**
   * The keys of field 1 (a list of strings) at the start of the arguments left in
   * {@code frame}, as {@link #peekKey}; null if there is no such list, or it has more than
   * {@code max} keys.
   */
  static byte[][] peekKeys(TTransport frame, int max) {
    TBinaryProtocol args = firstField(frame, TType.LIST);
    try {
      if (args == null) {
        return null;
      }
      TList list = args.readListBegin();
      if (list.elemType != TType.STRING || list.size < 0 || list.size > max) {
        return null;
      }
      byte[][] keys = new byte[list.size][];
      for (int i = 0; i < keys.length; i++) {
        keys[i] = bytes(args.readBinary());
      }
      return keys;
    } catch (TException e) {
      return null;
    }
  }

  /**
   * A protocol over a copy of {@code frame}'s position, read up to the value of field 1 if the
   * arguments start with field 1 of {@code type}; else null.
   */
  private static TBinaryProtocol firstField(TTransport frame, byte type) {
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
      return f.id == 1 && f.type == type ? args : null;
    } catch (TException e) {
      return null;
    }
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }
}
