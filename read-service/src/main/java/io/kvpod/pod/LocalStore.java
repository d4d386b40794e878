package io.kvpod.pod;

import java.io.IOException;

/**
 * What this pod holds itself: its memtables (the unflushed writes of the keys it owns) and
 * its view of the published layers. Reads look up the memtables first, then the layers
 * (the order {@link MemTables} requires); writes go through the {@link GroupCommitter}.
 * Thread-safe.
 */
final class LocalStore {
  private final MemTables mem;
  private final LayerWatcher layers;
  private final GroupCommitter committer;
  private final long writeTimeoutMillis;

  LocalStore(MemTables mem, LayerWatcher layers, GroupCommitter committer, long writeTimeoutMillis) {
    this.mem = mem;
    this.layers = layers;
    this.committer = committer;
    this.writeTimeoutMillis = writeTimeoutMillis;
  }

  /** The newest record of each key (null where there is none), from one layer snapshot. */
  Found[] get(byte[][] keys) throws IOException {
    Found[] out = new Found[keys.length];
    for (int i = 0; i < keys.length; i++) {
      out[i] = mem.get(keys[i]);
    }
    layers.mergeNewest(keys, out);
    return out;
  }

  Found get(byte[] key) throws IOException {
    return get(new byte[][] {key})[0];
  }

  /** Logs and applies records this pod owns; returns once they are durable. */
  GroupCommitter.Committed write(byte[][] keys, byte[][] values) throws IOException, InterruptedException {
    return committer.write(keys, values, writeTimeoutMillis);
  }

  MemTables memTables() {
    return mem;
  }

  LayerWatcher layers() {
    return layers;
  }
}
