/*
 * kvpod internal messages: what pods (and the loader) say to each other inside
 * KvPod.process(binary). Not for clients; the encoding may change between versions
 * of kvpod, the public service may not.
 *
 * Wire format of process(input):
 *   input  := TCompactProtocol(SignedEnvelope)
 *   body   := TCompactProtocol(PeerRequest)          -- SignedEnvelope.body
 *   mac    := HmacSHA256(secret, i64be(sentAtMillis) || i32be(fromPod) || body)
 *   output := TCompactProtocol(PeerResponse)
 * A pod refuses an envelope whose mac does not verify, or whose sentAtMillis is more
 * than the configured skew away from its clock, with ErrorCode.UNAUTHENTICATED.
 */
namespace java io.kvpod.thrift.internal
namespace py kvpod.internal

struct SignedEnvelope {
  1: required binary body,
  2: required i64 sentAtMillis,
  /** The sender's pod id, or -1 for a tool (the loader, an operator). */
  3: required i32 fromPod,
  4: required binary mac
}

/** Liveness check; answered with PingReply. */
struct PingRequest {
}

/** Re-read the table's layers now instead of waiting for the next poll. */
struct RefreshRequest {
  1: optional string table
}

union PeerRequest {
  1: PingRequest ping,
  2: RefreshRequest refresh
}

struct PingReply {
  1: required i32 podId,
  2: required i64 uptimeMillis
}

struct RefreshReply {
  /** The live layers after the refresh, newest first. */
  1: required list<string> layerIds
}

union PeerResponse {
  1: PingReply ping,
  2: RefreshReply refresh
}
