/*
 * kvpod public service: what every pod serves, to clients in any language.
 *
 * Contract:
 *  - Any pod accepts any call; a pod forwards to the key's owner itself.
 *  - Every failure is a KvPodException with a numbered ErrorCode. Codes are stable:
 *    a number is never reused for another meaning.
 *  - Limits (MAX_*) are part of the contract: the loader, the pods and the clients
 *    enforce the same numbers.
 *
 * Internal pod-to-pod messages travel inside process(); see kvpod_internal.thrift.
 */
namespace java io.kvpod.thrift
namespace py kvpod
namespace js kvpod

/** Longest key, in UTF-8 bytes. Keys must also be non-empty. */
const i32 MAX_KEY_BYTES = 1024
/** Largest encoded value (see RecordCodec), in bytes. */
const i32 MAX_VALUE_BYTES = 1048576
/** Most fields in one value. */
const i32 MAX_FIELDS = 4096
/** Most records in one batchPut or keys in one multiGet. */
const i32 MAX_BATCH = 100000
/** Largest Thrift frame a pod accepts, in bytes (libthrift's default frame limit); a pod
    closes a connection that announces a larger frame. */
const i32 MAX_FRAME_BYTES = 16384000

enum ErrorCode {
  /** The request broke a rule of the contract (empty key, unknown table, ...). Do not retry. */
  INVALID_ARGUMENT = 1,
  /** A key, value or batch exceeds a MAX_* limit. Do not retry. */
  TOO_LARGE = 2,
  /** The call is not implemented by this pod version. Do not retry. */
  UNSUPPORTED = 3,
  /** A process() message lacked a valid cluster signature, or the pod requires client
      certificates (kvpod.tls.client.auth=require) and the connection showed none. Do not retry. */
  UNAUTHENTICATED = 4,
  /** The pod cannot serve right now (starting, recovering, fenced). Retry elsewhere or later. */
  UNAVAILABLE = 10,
  /** The owner of a key could not be reached within the deadline. Retry later. */
  OWNER_UNREACHABLE = 11,
  /** The call did not finish within its deadline. Retry later. */
  TIMEOUT = 12,
  /** The pod does not hold the keys' bucket (another pod took it over, or it moved back).
      Ask a pod's status() for the holders, or send the call to any pod. Retriable. */
  NOT_OWNER = 13,
  /** The pod holds the keys' bucket but is still replaying its log (after a start or a
      takeover); it takes writes once that is done. Retriable; reads are answered meanwhile. */
  RECOVERING = 14,
  /** The write's deadline passed before the bucket's holder could log it: it was not
      applied, and never will be. Not retriable as it is: send it again with a new deadline. */
  EXPIRED = 15,
  /** The pod already has as many writes waiting on other pods (forwarded to a holder, or
      waiting out a takeover) as it lets wait at once, or is already decoding as many large
      calls as its memory allows; this one was refused before anything was sent or applied.
      Retriable: after a short pause, here or at another pod. */
  BUSY = 16,
  /** Stored data failed a checksum or format check. Do not retry; an operator must look. */
  CORRUPTION = 20,
  /** An unexpected server error; the message says more. */
  INTERNAL = 30
}

exception KvPodException {
  1: required ErrorCode code,
  2: required string message,
  /** True when the same call may succeed if sent again (to this or another pod). */
  3: optional bool retriable = false
}

/** Settings of one write (put or batchPut). */
struct WriteOptions {
  /**
   * The write's deadline, in ms since the Unix epoch by the caller's clock: the write is
   * logged by then or never. A holder refuses to log it later (EXPIRED), so once this time
   * (plus the clocks' skew) has passed, a write whose call failed or timed out will never
   * take effect, and the key may be written again without the old write overtaking the new.
   * Unset: the pod that receives the call sets it to its arrival plus kvpod.write.deadline.
   */
  1: optional i64 deadlineMillis
}

/**
 * A record that was found. `version` decides which write wins: the highest. It is the
 * write's acceptance time in ms by its bucket's holder (never lower than the bucket's
 * previous version), or a bulk load's version. getRecord and multiGetRecords always set it.
 */
struct Record {
  1: required map<string, string> value,
  2: optional i64 version
}

/** The answer to getRecord: whether the key has a record, and if so the record. */
struct Lookup {
  1: required bool found,
  /** Set when found; its value may be empty (a record stored as {}). */
  2: optional Record record
}

struct LayerStatus {
  1: required string layerId,
  2: required i32 partitions,
  3: required i64 records,
  4: optional string kind
}

/** Server-side latency of one kind of call, over the last two minutes or so (see docs/operations.md). */
struct CallLatency {
  /** Calls since the pod started. */
  1: required i64 count,
  2: required double p50Millis,
  3: required double p99Millis,
  4: required double p999Millis,
  5: required double maxMillis
}

/** Something that happened in a pod: a takeover, a bucket given up, a call that failed. */
struct PodEvent {
  /** When, by the pod's wall clock (ms since the epoch). */
  1: required i64 atMillis,
  /** TAKEOVER, DROPPED, ERROR or MEMBERS (a newer membership: a pod joined, is leaving, left or moved). */
  2: required string kind,
  3: required string text
}

struct PodStatus {
  1: required i32 podId,
  2: required i32 pods,
  3: required string table,
  4: required i64 uptimeMillis,
  5: required list<LayerStatus> layers,
  6: optional i64 layerRecords,
  7: optional double blockCacheHitRatio,
  8: optional i64 gets,
  9: optional i64 memtableRecords,
  10: optional string state,
  11: optional i64 puts,
  /** The last WAL sequence number known durable in the log of this pod's lowest home bucket
      (bucket podId), while this pod holds it. */
  12: optional i64 walDurableSeq,
  /** WAL segments and memtable flushes, summed over the buckets this pod holds now. */
  13: optional i32 walSegments,
  14: optional i64 flushes,
  15: optional i64 compactions,
  /** holders[b] is the pod that holds the keys of bucket b (murmur3(key) mod B) in this
      pod's view, with one entry per bucket: B = holders.size(), the table's bucket count.
      With no holder record, the holder is b mod S, S being the pods the table started with. */
  16: optional list<i32> holders,
  /** holderEpochs[b] is the epoch of that holding, as recorded on HDFS; higher is newer. */
  17: optional list<i64> holderEpochs,
  /** Buckets this pod is taking (claimed, replaying its log); it answers RECOVERING for them. */
  18: optional list<i32> recovering,
  /** Writes this pod refused to log because their deadline had passed (EXPIRED). */
  19: optional i64 expiredWrites,
  /** Writes waiting on other pods now (see BUSY), and the most that may. */
  20: optional i32 waitingWrites,
  21: optional i32 waitingWritesMax,
  /** Writes this pod refused with BUSY since it started. */
  22: optional i64 busyWrites,
  /** Bytes of HFile blocks in this pod's block cache now (see blockCacheHitRatio). */
  23: optional i64 blockCacheBytes,
  /** The port of this pod's HTTP endpoint (GET /metrics: Prometheus text); absent if it has none. */
  24: optional i32 httpPort,
  /** Server-side latency of the calls this pod answered, by method (get, put, ...). */
  25: optional map<string, CallLatency> latencies,
  /** The most recent takeovers, buckets given up and failed calls, newest last (at most 50). */
  26: optional list<PodEvent> events,
  /** The table's pods by id, as host:port, with "" where no pod is (it left): `pods` entries.
      Clients follow it, so pods that join or leave need no client restart. */
  27: optional list<string> members,
  /** The version of that membership (0: the pods the table started with); higher is newer. */
  28: optional i64 membersVersion,
  /** Each pod's state, by id as in members: "active", "joining", "leaving", or "" where no pod is. */
  29: optional list<string> memberStates,
  /** Layer data files this pod has open: those of the buckets it holds (prefetched and cached),
      those that may hold any bucket, and any it read for a holder that did not answer. */
  30: optional i32 layerFilesOpen,
  /** Every table this pod serves, its default table (the one `table` names) first. */
  31: optional list<string> tables
}

/**
 * Tables: a pod serves one or more tables under one root. Every call on records, and status(),
 * takes a last argument `table`, the table it is about. Left unset (as the seed's calls leave
 * it) or "", it is the pod's default table, the first it serves. A table the pod does not
 * serve is refused with INVALID_ARGUMENT, naming the tables it does serve.
 */
service KvPod {
  /**
   * The record stored under key, or an empty map if there is none (or it was removed). A
   * record stored as {} also reads as an empty map: use getRecord to tell them apart.
   */
  map<string, string> get(1: string key, 2: string table) throws (1: KvPodException e),

  /** Whether key has a record and, if so, the record with its version. */
  Lookup getRecord(1: string key, 2: string table) throws (1: KvPodException e),

  /** The records of keys, with their versions; keys with no record are absent. At most MAX_BATCH keys. */
  map<string, Record> multiGetRecords(1: list<string> keys, 2: string table) throws (1: KvPodException e),

  /**
   * Stores one record durably; true once it is acknowledged (it never returns false). On a
   * failure the record may or may not be stored, unless the code says otherwise
   * (INVALID_ARGUMENT, TOO_LARGE, EXPIRED, BUSY: not stored); it cannot take effect after the
   * options' deadline. `options` may be left out (the seed's two-argument call).
   */
  bool put(1: string key, 2: map<string, string> value, 3: WriteOptions options, 4: string table)
      throws (1: KvPodException e),

  /** Stores many records durably; true once all are acknowledged (it never returns false).
      A failure leaves each record stored or not, as for put. */
  bool batchPut(1: map<string, map<string, string>> records, 2: WriteOptions options, 3: string table)
      throws (1: KvPodException e),

  /** The records found among keys; keys with no record are absent from the result. */
  map<string, map<string, string>> multiGet(1: list<string> keys, 2: string table) throws (1: KvPodException e),

  /**
   * multiGet with each record in its stored form, decoded on neither side: values[i] is the
   * record of keys[i] as RecordCodec bytes (docs/formats.md, "Record value": 0x01, then each field as
   * varint(len) name varint(len) text), or empty if it has none. At most MAX_BATCH keys. For
   * clients that pass records on, or decode only what they use; any Thrift language can
   * decode the format in a few lines.
   */
  list<binary> multiGetEncoded(1: list<string> keys, 2: string table) throws (1: KvPodException e),

  /**
   * batchPut of records already in their stored form (RecordCodec bytes, as multiGetEncoded
   * returns them); the pod checks each against the format and the limits, and a bad one is
   * refused with INVALID_ARGUMENT (or TOO_LARGE) and writes nothing. Otherwise as batchPut.
   */
  bool batchPutEncoded(1: map<string, binary> records, 2: WriteOptions options, 3: string table)
      throws (1: KvPodException e),

  /**
   * Removes key's record durably: true once the removal is acknowledged (it never returns
   * false), after which every pod reads the key as not found until it is written again.
   * Removing a key that has no record is not an error. The removal is a write like put, with
   * the same failures, deadline and retry rules; it is stored as a tombstone that hides every
   * record of the key with a lower version, including ones in older bulk-loaded layers.
   */
  bool remove(1: string key, 2: WriteOptions options, 3: string table) throws (1: KvPodException e),

  /** Pod-to-pod messages (see kvpod_internal.thrift), signed with the cluster secret. */
  binary process(1: binary input) throws (1: KvPodException e),

  /**
   * Pod-to-pod heartbeats: process() for a signed PING only (anything else is refused with
   * INVALID_ARGUMENT). A pod answers heartbeats, and ping(), on threads of their own, never
   * queued behind other calls, so a pod whose workers are all busy is still heard from and
   * its buckets are not taken over. Not for clients.
   */
  binary heartbeat(1: binary input) throws (1: KvPodException e),

  /** What this pod serves, and how it is doing. */
  PodStatus status(1: string table) throws (1: KvPodException e),

  /** Does nothing; measures the cost of a round trip. */
  void ping()
}
