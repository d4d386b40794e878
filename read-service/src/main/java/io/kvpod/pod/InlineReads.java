package io.kvpod.pod;

import io.kvpod.contract.KeyPartitioner;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.apache.thrift.TConfiguration;
import org.apache.thrift.TException;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.protocol.TField;
import org.apache.thrift.protocol.TList;
import org.apache.thrift.protocol.TProtocolUtil;
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
 * block cache ({@link LayerWatcher#prefetched}), and the cache has evicted none of those files'
 * blocks for room since (so what was prefetched is still there: {@link EvictedFiles}). The
 * memtables are in memory. Anything else (a
 * bucket held elsewhere, which is forwarded; a bucket being taken over; a layer still being
 * prefetched or opened whole) goes to a worker as before. (A prefetch that failed part-way
 * also counts as ended: a get may then read a block from the filesystem on the selector
 * thread. It is answered right, only slower, and HBase logs the failed prefetch.)
 *
 * <p>A call about another table than the default one (its {@code table} argument, see
 * kvpod.thrift) is checked against that table's buckets and layers. Thread-safe.
 */
final class InlineReads {
  /** The calls of one key that may run inline: each has the key as field 1 and the table as field 2. */
  static final Set<String> METHODS = Set.of("get", "getRecord");
  /** The calls of many keys that may run inline: each has a list of keys as field 1 and the table as field 2. */
  static final Set<String> LIST_METHODS = Set.of("multiGet", "multiGetRecords", "multiGetEncoded");
  /**
   * The most keys a call may have to run inline: each is a seek in cached blocks, and the
   * thread's other connections wait meanwhile (a few microseconds a key).
   */
  static final int MAX_INLINE_KEYS = 256;

  /** Each table's parts by name (null: the default table); throws for a table not served here. */
  private final Function<String, TablePod> tables;
  private final LongAdder answered = new LongAdder();

  InlineReads(Function<String, TablePod> tables) {
    this.tables = tables;
  }

  /**
   * True if the call of {@code method} whose arguments are what is left of {@code frame}
   * (its message header read) can run on the calling thread without waiting; counts it.
   * Reads nothing from {@code frame}: the key is read from a copy of its position.
   */
  boolean answerable(String method, TTransport frame) {
    boolean one = METHODS.contains(method);
    if (!one && !LIST_METHODS.contains(method)) {
      return false;
    }
    Call call = peek(frame, !one, MAX_INLINE_KEYS);
    if (call == null) {
      return false;
    }
    TablePod table;
    try {
      table = tables.apply(call.table());
    } catch (RuntimeException e) {
      return false; // a table not served here: the worker answers the error
    }
    for (byte[] key : call.keys()) {
      int bucket = KeyPartitioner.bucket(key, table.buckets());
      if (!table.shards().servesNow(bucket) || !table.layers().prefetched(bucket)) {
        return false;
      }
    }
    answered.increment();
    return true;
  }

  /** Calls (gets and multi-gets) run inline since the pod started. */
  long answered() {
    return answered.sum();
  }

  /** The keys a call reads, and the table it names (null: none, the default table). */
  record Call(byte[][] keys, String table) {}

  /**
   * The keys and table of the call whose arguments are what is left of {@code frame}, a
   * transport over a whole frame in memory: field 1, a string key (or with {@code list}, a
   * list of at most {@code maxKeys} string keys), then, among any later fields, field 2, the
   * table. Null if the arguments are not of that form, are cut short, or the frame is not in
   * memory. {@code frame}'s position does not move.
   */
  static Call peek(TTransport frame, boolean list, int maxKeys) {
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
      byte[][] keys;
      if (f.id != 1 || f.type != (list ? TType.LIST : TType.STRING)) {
        return null;
      } else if (list) {
        TList l = args.readListBegin();
        if (l.elemType != TType.STRING || l.size < 0 || l.size > maxKeys) {
          return null;
        }
        keys = new byte[l.size][];
        for (int i = 0; i < keys.length; i++) {
          keys[i] = bytes(args.readBinary());
        }
      } else {
        keys = new byte[][] {bytes(args.readBinary())};
      }
      String table = null;
      for (f = args.readFieldBegin(); f.type != TType.STOP; f = args.readFieldBegin()) {
        if (f.id == 2 && f.type == TType.STRING) {
          table = args.readString();
        } else {
          TProtocolUtil.skip(args, f.type);
        }
      }
      return new Call(keys, table);
    } catch (TException | RuntimeException e) {
      return null; // a malformed frame: the worker that decodes it answers the error
    }
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }
}
