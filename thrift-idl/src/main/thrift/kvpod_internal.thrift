/*
 * kvpod internal messages: what pods (and the loader) say to each other inside
 * KvPod.process(binary). Not for clients; the encoding may change between versions
 * of kvpod, the public service may not.
 *
 * Wire format of process(input) and its answer (PeerSigner owns it):
 *   input  := TCompactProtocol(SignedEnvelope{body = TCompactProtocol(PeerRequest),
 *                                             sentAtMillis, fromPod, toPod, sender, seq, mac})
 *   mac    := HmacSHA256(secret, "Q" || i64be(sentAtMillis) || i32be(fromPod) || i32be(toPod)
 *                                 || i64be(sender) || i64be(seq) || body)
 *             with no table set (the receiver's default table), else
 *             HmacSHA256(secret, "T" || the same fields, in the same order
 *                                 || i32be(len) || utf8(table) || body)
 *   output := TCompactProtocol(SignedEnvelope{body = TCompactProtocol(PeerResponse),
 *                                             sentAtMillis, fromPod = the answering pod,
 *                                             toPod = the request's fromPod,
 *                                             sender, seq = the request's, mac})
 *   mac    := HmacSHA256(secret, "R" || the same fields, in the same order || body)
 * A pod refuses, with ErrorCode.UNAUTHENTICATED, an envelope whose mac does not verify,
 * that is addressed to another pod, whose sentAtMillis is more than kvpod.auth.max.skew
 * away from its clock, or whose (fromPod, sender, seq) it has seen before. A sender draws
 * a random `sender` when it starts and numbers its requests 1, 2, 3, ...; a reply is bound
 * to its request by (sender, seq), so it cannot be forged or replayed for another request.
 * Refusals (KvPodException) are not signed: a man in the middle can make a call fail, never
 * make it succeed.
 */
namespace java io.kvpod.thrift.internal
namespace py kvpod.internal

struct SignedEnvelope {
  1: required binary body,
  2: required i64 sentAtMillis,
  /** The sender's pod id, or -1 for a tool (the loader, an operator). */
  3: required i32 fromPod,
  4: required binary mac,
  /** The pod the request is addressed to (a reply: the pod that sent the request). */
  5: optional i32 toPod,
  /** Drawn at random by each signer when it starts (a request); the request's (a reply). */
  6: optional i64 sender,
  /** The request's number from its sender: 1, 2, 3, ... */
  7: optional i64 seq,
  /** A request: the table it is about (a pod may serve several); unset: the receiver's
      default table. Signed ("T" above), so a message cannot be moved to another table. */
  8: optional string table
}

/** Liveness check; answered with PingReply. */
struct PingRequest {
}

/** Re-read the table's layers now instead of waiting for the next poll. */
struct RefreshRequest {
  1: optional string table
}

/** One record as stored: key and value bytes (value in RecordCodec form). */
struct KeyValue {
  1: required binary key,
  2: required binary value
}

/**
 * Writes forwarded to the keys' holder by a pod that received them. The holder logs them in
 * the bucket's WAL, applies them, and answers only once they are durable. Every key must be
 * of one bucket (INVALID_ARGUMENT otherwise), which the receiver must hold (a retriable
 * NOT_OWNER or RECOVERING otherwise); either way it writes nothing then.
 */
struct WriteRequest {
  1: required list<KeyValue> records,
  /** The write's deadline (see kvpod.WriteOptions): the owner refuses to log it later,
      with EXPIRED. Unset (an older sender): the owner's arrival time plus kvpod.write.deadline. */
  2: optional i64 deadlineMillis,
  /** True: the records may be of several buckets, all held by the receiver in the sender's
      view. The receiver writes each bucket's share on its own (a share is applied whole or
      not at all, as a one-bucket write is) and answers WriteReply.shares, one per bucket,
      instead of failing the request; the sender sends again only the shares not applied. */
  3: optional bool byBucket
}

/**
 * Reads forwarded to the keys' holder, which may be keys of several buckets (a sender groups
 * all the buckets it believes the receiver holds): for each bucket the receiver answers from
 * its memtables and its own view of the layers, one consistent snapshot, so a flush in
 * progress cannot hide a record. If it does not serve one of the buckets now, it answers a
 * retriable NOT_OWNER or RECOVERING, and the sender reads bucket by bucket.
 */
struct ReadRequest {
  1: required list<binary> keys
}

/**
 * Fault injection, for tests and `kvpod suite`; sent by an operator tool with the cluster
 * secret. Unset fields leave that setting as it is. Faults last until changed or until the
 * pod restarts.
 */
struct FaultRequest {
  /** Cut this pod's link to these pods: calls to them fail at once, and calls from them are refused. */
  1: optional list<i32> block,
  /** Restore the link to these pods. */
  2: optional list<i32> unblock,
  /** Probability (0..1) that a call to another pod fails at once, as if the network dropped it. */
  3: optional double dropProbability,
  /** Probability (0..1) that a call to another pod first waits delayMillis. */
  4: optional double delayProbability,
  5: optional i32 delayMillis,
  /** Remove every fault first. */
  6: optional bool clear
}

/**
 * Pass a request on to another pod, for a sender that cannot reach it directly. `request`
 * is a TCompactProtocol-encoded PeerRequest (never itself a relay); the relaying pod signs
 * it anew, sends it once, and answers with the target's PeerResponse.
 */
struct RelayRequest {
  1: required i32 target,
  2: required binary request
}

/** Asks the pod that holds bucket `bucket` to flush it now: sent by the bucket's home pod
    before it takes the bucket back, so that little is left to replay. */
struct FlushRequest {
  1: required i32 bucket
}

union PeerRequest {
  1: PingRequest ping,
  2: RefreshRequest refresh,
  /** (Field names are not `write`/`read`: in Python those would hide the generated methods.) */
  3: WriteRequest forwardedWrite,
  4: ReadRequest forwardedRead,
  5: FaultRequest fault,
  6: RelayRequest relay,
  7: FlushRequest flush
}

struct PingReply {
  1: required i32 podId,
  2: required i64 uptimeMillis,
  /** silentMillis[p]: how long the replying pod has not heard from pod p (0 for itself; -1:
      never). Pods use it to tell "the holder is down" from "my link to it is cut". */
  3: optional list<i64> silentMillis
}

struct RefreshReply {
  /** The live layers after the refresh, newest first. */
  1: required list<string> layerIds
}

struct WriteReply {
  /** The WAL sequence number of the entry that holds the records (-1 for a byBucket write:
      see shares). */
  1: required i64 seq,
  /** The version every record of the write was given (-1 for a byBucket write). */
  2: required i64 version,
  /** For a byBucket write: what became of each bucket's share. */
  3: optional list<ShareOutcome> shares
}

/**
 * One bucket's share of a byBucket write: applied (seq and version set), or refused with
 * errorCode (an io.kvpod.thrift.ErrorCode value), retriable or not, exactly as a one-bucket
 * write of the share would have failed.
 */
struct ShareOutcome {
  1: required i32 bucket,
  2: optional i64 seq,
  3: optional i64 version,
  4: optional i32 errorCode,
  5: optional string message,
  6: optional bool retriable
}

/** The answer for one key of a ReadRequest: both fields set, or neither if there is no record. */
struct FoundRecord {
  1: optional i64 version,
  2: optional binary value
}

struct ReadReply {
  /** One entry per requested key, in order. */
  1: required list<FoundRecord> found
}

/** The faults in force after a FaultRequest. */
struct FaultReply {
  1: required list<i32> blocked,
  2: required double dropProbability,
  3: required double delayProbability,
  4: required i32 delayMillis
}

struct FlushReply {
  /** The bucket's log is covered by published layers through this sequence number. */
  1: required i64 throughSeq
}

union PeerResponse {
  1: PingReply ping,
  2: RefreshReply refresh,
  3: WriteReply forwardedWrite,
  4: ReadReply forwardedRead,
  5: FaultReply fault,
  6: FlushReply flush
}
