// Encoding and decoding of Triad's wire messages (schemas/*.fbs). Every
// inbound buffer goes through a size limit and the FlatBuffers verifier
// before a single field is read; nothing here trusts its input.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"
#include "triad/status.h"
#include "triad/transaction.h"
#include "triad/wire/certificate_generated.h"
#include "triad/wire/client_generated.h"
#include "triad/wire/replica_generated.h"
#include "voter/voter.h"

namespace triad::crypto {
class SigningKey;
class VerifyingKey;
}  // namespace triad::crypto

namespace triad::wire {

// Size limits per link. A transaction is a few hundred bytes; the limits leave
// room for batches but bound what a hostile peer can make us hold.
inline constexpr std::size_t kMaxClientMessageBytes = 64 * 1024;
// Replica messages carry up to 512 sequenced transactions (each at most a
// client message's text) or a part of a state snapshot
// (wire/snapshot_parts.h), hence the larger limit.
inline constexpr std::size_t kMaxReplicaMessageBytes = 48 * 1024 * 1024;
inline constexpr std::size_t kMaxCertificateBytes = 16 * 1024;
// A replica's build fingerprint (about 100 bytes) goes into each of its
// verdicts and the certificates it signs. A longer one is refused, so a
// faulty replica cannot make the certificates it co-signs too large to keep
// or verify: two or three signatures with their Merkle paths (at most 32
// levels) stay well within kMaxCertificateBytes.
inline constexpr std::size_t kMaxFingerprintBytes = 1024;
static_assert(3 * (kMaxFingerprintBytes + 64 + 32 * 32 + 64) + 1024 <= kMaxCertificateBytes);
// Corruption, naming `what`, unless `text` is at most kMaxFingerprintBytes of
// printable ASCII. Text a replica sends is logged and put in JSON (triad
// status): a newline would forge log lines, and a byte that is not UTF-8
// made the status answer's JSON encoder throw, which stopped the front end.
Status check_short_text(std::string_view what, std::string_view text);
// `text` with each byte outside printable ASCII as '?': for text from a peer
// passed on where check_short_text would refuse it whole.
std::string printable_ascii(std::string_view text);
inline Status check_fingerprint(std::string_view fingerprint) {
  return check_short_text("fingerprint", fingerprint);
}
// Batches (schemas/client.fbs). What a part adds to a frame: its bytes and
// at most kBatchPartOverheadBytes (alignment, its table, its offset).
inline constexpr std::size_t kBatchPartOverheadBytes = 24;
// A client packs parts while they stay this far under the front end's limit
// for one frame.
inline constexpr std::size_t kMaxRequestBatchBytes = kMaxClientMessageBytes - 1024;
// A reply batch stops at this many bytes of parts (a larger reply goes
// alone): about one reply with the largest certificate, so the front end's
// per-client queue, bounded in messages, holds no more bytes for a batching
// client than for any other.
inline constexpr std::size_t kMaxReplyBatchBytes = kMaxCertificateBytes;
// A reply frame: one decision with its certificate, or a batch of them.
inline constexpr std::size_t kMaxClientReplyBytes = kMaxCertificateBytes + kMaxClientMessageBytes;
// What a client lets ZeroMQ take in one message (ZMQ_MAXMSGSIZE): a reply
// and CURVE's box around it (the limit applies to the frame as sent).
inline constexpr std::size_t kMaxClientReplyTransportBytes = kMaxClientReplyBytes + 256;
static_assert(kMaxReplyBatchBytes + kMaxReplyBatchBytes / 16 * kBatchPartOverheadBytes <
              kMaxClientReplyBytes);
// ZeroMQ drops a peer that sends more than this (ZMQ_MAXMSGSIZE), so memory
// stays bounded; between the limits above and this one we answer an error.
inline constexpr std::int64_t kMaxTransportMessageBytes = 16 * 1024 * 1024;
inline constexpr std::int64_t kMaxReplicaTransportBytes = kMaxReplicaMessageBytes + 4096;

// FlatBuffers reads scalars in place, so a buffer must start 8-byte aligned;
// a frame received from ZeroMQ carries no such promise (it may point into a
// shared receive buffer). This copies the bytes only when they are not.
class AlignedFrame {
 public:
  AlignedFrame(const void* data, std::size_t size);
  std::span<const std::uint8_t> bytes() const { return bytes_; }

 private:
  std::vector<std::uint64_t> copy_;
  std::span<const std::uint8_t> bytes_;
};

// Checks the size limit and runs the FlatBuffers verifier (the bytes must be
// 8-byte aligned: see AlignedFrame); on success `*out`
// points into `bytes`. Corruption naming `what` and the cause otherwise.
Status verify_client_request(std::span<const std::uint8_t> bytes, const ClientRequest** out);
Status verify_client_reply(std::span<const std::uint8_t> bytes, const ClientReply** out);
Status verify_to_replica(std::span<const std::uint8_t> bytes, const ToReplica** out);
Status verify_from_replica(std::span<const std::uint8_t> bytes, const FromReplica** out);
Status verify_certificate_buffer(std::span<const std::uint8_t> bytes, const Certificate** out);

// Batches (schemas/client.fbs): a frame whose parts are whole, finished
// ClientRequest (or ClientReply) buffers, copied in 8-byte aligned.
std::vector<std::uint8_t> encode_request_batch(
    std::span<const std::span<const std::uint8_t>> parts);
std::vector<std::uint8_t> encode_reply_batch(std::span<const std::span<const std::uint8_t>> parts);
// A part of a verified frame, checked here as a buffer of its own (the
// frame's verifier leaves parts alone); nullptr when it is missing, not
// 8-byte aligned in the frame (only a hand-made frame does that) or fails
// the verifier. Read parts only through these.
const ClientRequest* request_part(const RequestPart* part);
const ClientReply* reply_part(const ReplyPart* part);

// Calls `f(const ClientReply&)` for a verified reply frame's one reply, or
// for each usable part of a batch, in order; returns how many parts were
// unusable (missing, failing their verifier, or batches themselves), so that
// one bad part does not lose the others' answers.
template <class F>
std::size_t for_each_reply(const ClientReply& frame, F&& f) {
  if (frame.batch() == nullptr) {
    f(frame);
    return 0;
  }
  std::size_t unusable = 0;
  for (const ReplyPart* part : *frame.batch()) {
    const ClientReply* reply = reply_part(part);
    if (reply == nullptr || reply->batch() != nullptr) {
      ++unusable;
      continue;
    }
    f(*reply);
  }
  return unusable;
}

flatbuffers::Offset<Transaction> build_transaction(flatbuffers::FlatBufferBuilder& fbb,
                                                   const triad::Transaction& tx);
triad::Transaction read_transaction(const Transaction* tx);
// The bytes of a transaction's strings once read. Fields may point at one
// shared string (the verifier allows it), so a small message can read as a
// transaction many times its size; the front end refuses one whose strings
// add up to more than kMaxTransactionTextBytes before it reads it, so that
// what it journals and fans out stays within the size of a client message.
std::size_t transaction_text_bytes(const Transaction* tx);
inline constexpr std::size_t kMaxTransactionTextBytes = kMaxClientMessageBytes;

// SHA-256 over a domain tag and a canonical encoding of every field
// (presence, malformed flag and value, in schema order), the PAN's value
// being `card_ref`, its keyed reference (crypto::card_ref_of): equal digests
// mean equal content, whichever client or build encoded it, and a digest
// cannot be matched to a PAN without the deployment's card reference key.
// Used for idempotency and in every verdict, so in every certificate.
Digest transaction_digest(const triad::Transaction& tx, const CardRef& card_ref);
// Its domain tag, which names the scheme (DIR/origin records it).
inline constexpr std::string_view kTransactionDigestScheme = "triad-transaction-v2";

// The bytes a replica signs: a domain tag, the verdict content, the signer's
// replica index and its build fingerprint, in a fixed big-endian layout.
std::vector<std::uint8_t> verdict_signing_bytes(const voter::VerdictContent& content, int replica,
                                                std::string_view fingerprint);

// A verdict's Merkle leaf: crypto::merkle_leaf_hash of its signing bytes.
Digest verdict_leaf_hash(const voter::VerdictContent& content, int replica,
                         std::string_view fingerprint);

// The bytes a replica signs for a batch of its verdicts: a domain tag, its
// replica index, the number of verdicts and their Merkle root. The size is
// signed so a path cannot be replayed against a differently shaped tree.
std::vector<std::uint8_t> batch_signing_bytes(int replica, std::uint32_t batch_size,
                                              const Digest& root);

// Most verdicts one batch may hold; a replica starts a new batch beyond it.
inline constexpr std::size_t kMaxVerdictsPerBatch = 16384;
// Most verdicts one FromReplica message holds, over all its batches: what a
// replica sends at most (ReplicaNode flushes at this many). The front end
// drops a message with more before checking any signature: each batch costs
// a check of about 60 us, and one message of 99,000 batches held its event
// loop for 6 s (a review helper's rogue replica).
inline constexpr std::size_t kMaxVerdictsPerMessage = 512;

// Signs `verdicts` (one replica's, 1..kMaxVerdictsPerBatch, asserted) as one
// batch with `key`: one Ed25519 signature over the root, then each verdict's
// signature, batch_index, batch_size, batch_path and signature_valid set.
void sign_verdict_batch(std::span<voter::ReplicaVerdict> verdicts, const crypto::SigningKey& key);

// Whether a verdict's audit path leads to a root its signature verifies
// over with `key` (a certificate's check of one signer).
bool verify_verdict_signature(const voter::ReplicaVerdict& verdict,
                              const crypto::VerifyingKey& key);

// Checks a certificate (a buffer at any address) with the replicas' keys:
// the verifier, every field, each signature with its Merkle path, at most
// one per replica, at least two. Corruption naming what fails; otherwise
// the signed content and the replicas that signed it (bit r for replica r).
Status check_certificate(std::span<const std::uint8_t> bytes,
                         const std::array<crypto::VerifyingKey, kReplicaCount>& keys,
                         voter::VerdictContent* content, std::uint8_t* signed_by);

// Reads a verified Verdict (no signature: see read_verdict_batch); Corruption
// when a digest has the wrong length, the code is not two known digits or the
// replica index is not 0..2.
Status read_verdict(const Verdict* verdict, voter::ReplicaVerdict* out);

// Reads a verified VerdictBatch that arrived on replica `replica`'s
// connection: every verdict parsed (Corruption naming the first bad one;
// nothing is appended then), the Merkle tree rebuilt from them and the batch
// signature checked with `key`, once. Appends the verdicts with their proofs
// filled in and signature_valid set alike for all: true only when the
// signature verifies and every verdict names `replica` (the name comes from
// the connection, not from what the message claims).
Status read_verdict_batch(const VerdictBatch* batch, int replica, const crypto::VerifyingKey& key,
                          std::vector<voter::ReplicaVerdict>* out);

// A batch as a replica sends it: the verdicts of one sign_verdict_batch call.
flatbuffers::Offset<VerdictBatch> build_verdict_batch(
    flatbuffers::FlatBufferBuilder& fbb, std::span<const voter::ReplicaVerdict> verdicts);

// A certificate for an agreed decision, from its two (or three) signers.
std::vector<std::uint8_t> build_certificate(const voter::VerdictContent& content,
                                            std::span<const voter::ReplicaVerdict> signers);

template <typename T>
std::span<const std::uint8_t> as_bytes(const flatbuffers::Vector<T>* v) {
  if (v == nullptr) return {};
  return {reinterpret_cast<const std::uint8_t*>(v->data()), v->size() * sizeof(T)};
}

inline std::string_view as_view(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->c_str(), s->size());
}

}  // namespace triad::wire
