#include "wire/codec.h"

#include <bit>
#include <cstdint>
#include <cstring>

#include "common/assert.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "crypto/merkle.h"

namespace triad::wire {
namespace {

// Depth and table limits keep a hostile buffer from costing much to check.
// A batch's parts (nested buffers) are not checked here but where they are
// read (request_part, reply_part): each must first be found 8-byte aligned,
// since the verifier reads scalars in place.
template <class T>
bool verifies(std::span<const std::uint8_t> bytes) {
  flatbuffers::Verifier::Options options;
  options.max_depth = 16;
  options.max_tables = 200000;
  options.check_nested_flatbuffers = false;
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), options);
  return verifier.VerifyBuffer<T>(nullptr);
}

template <typename T>
Status verify_table(std::span<const std::uint8_t> bytes, std::size_t max_bytes, const char* what,
                    const T** out) {
  TRIAD_ASSERT(reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t) == 0);
  if (bytes.size() > max_bytes) {
    return Status::corruption(std::string(what) + " of " + std::to_string(bytes.size()) +
                              " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  if (bytes.size() < sizeof(flatbuffers::uoffset_t)) {
    return Status::corruption(std::string(what) + " of " + std::to_string(bytes.size()) +
                              " bytes is too short");
  }
  if (!verifies<T>(bytes)) {
    return Status::corruption(std::string(what) + " failed the FlatBuffers verifier");
  }
  *out = flatbuffers::GetRoot<T>(bytes.data());
  return Status::ok();
}

void put_u64(std::vector<std::uint8_t>* out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<std::uint8_t>(v >> shift));
}

void put_bytes(std::vector<std::uint8_t>* out, std::span<const std::uint8_t> bytes) {
  out->insert(out->end(), bytes.begin(), bytes.end());
}

// Presence tags of the canonical transaction encoding.
constexpr std::uint8_t kAbsent = 0;
constexpr std::uint8_t kPresent = 1;
constexpr std::uint8_t kMalformed = 2;

class CanonicalWriter {
 public:
  // Since 2026-12-06 (a PAN hashed as its reference), so a digest of the
  // transaction before, which hashed the PAN itself, cannot be equal.
  explicit CanonicalWriter(const triad::Transaction& tx) : tx_(tx) {
    hash_.update(kTransactionDigestScheme);
  }

  void text(Field field, const std::optional<std::string>& value) {
    if (tag(field, value.has_value())) {
      u64(value->size());
      hash_.update(*value);
    }
  }
  // A present PAN is hashed as its keyed reference, in its place.
  void card(const CardRef& ref) {
    if (tag(Field::kPan, tx_.pan.has_value())) hash_.update(ref);
  }
  void integer(Field field, const std::optional<std::int64_t>& value) {
    if (tag(field, value.has_value())) u64(static_cast<std::uint64_t>(*value));
  }
  Digest finish() { return hash_.finish(); }

 private:
  bool tag(Field field, bool present) {
    const std::uint8_t t = tx_.is_malformed(field) ? kMalformed : present ? kPresent : kAbsent;
    hash_.update(std::span<const std::uint8_t>(&t, 1));
    return t == kPresent;
  }
  void u64(std::uint64_t v) {
    std::uint8_t buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
    hash_.update(std::span<const std::uint8_t>(buf, 8));
  }
  const triad::Transaction& tx_;
  crypto::Sha256 hash_;
};

flatbuffers::Offset<flatbuffers::String> opt_string(flatbuffers::FlatBufferBuilder& fbb,
                                                    const std::optional<std::string>& s) {
  return s ? fbb.CreateString(*s) : flatbuffers::Offset<flatbuffers::String>();
}

std::optional<std::string> read_opt(const flatbuffers::String* s) {
  if (s == nullptr) return std::nullopt;
  return std::string(s->c_str(), s->size());
}

std::optional<std::int64_t> read_opt(flatbuffers::Optional<std::int64_t> v) {
  if (!v.has_value()) return std::nullopt;
  return *v;
}

bool copy_digest(const flatbuffers::Vector<std::uint8_t>* v, Digest* out) {
  if (v == nullptr || v->size() != out->size()) return false;
  std::memcpy(out->data(), v->data(), out->size());
  return true;
}

}  // namespace

AlignedFrame::AlignedFrame(const void* data, std::size_t size) {
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) == 0) {
    bytes_ = {static_cast<const std::uint8_t*>(data), size};
    return;
  }
  copy_.resize((size + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t));
  if (size > 0) std::memcpy(copy_.data(), data, size);
  bytes_ = {reinterpret_cast<const std::uint8_t*>(copy_.data()), size};
}

Status verify_client_request(std::span<const std::uint8_t> bytes, const ClientRequest** out) {
  return verify_table(bytes, kMaxClientMessageBytes, "client request", out);
}
Status verify_client_reply(std::span<const std::uint8_t> bytes, const ClientReply** out) {
  return verify_table(bytes, kMaxClientReplyBytes, "client reply", out);
}

namespace {

template <class Part, class Frame, class MakePart, class AddBatch>
std::vector<std::uint8_t> encode_batch(std::span<const std::span<const std::uint8_t>> parts,
                                       MakePart make_part, AddBatch add_batch) {
  std::size_t total = 64;
  for (const auto& p : parts) total += p.size() + 16;
  flatbuffers::FlatBufferBuilder fbb(total);
  std::vector<flatbuffers::Offset<Part>> offsets;
  offsets.reserve(parts.size());
  for (const auto& p : parts) {
    // FlatBuffers reads scalars in place: a part must start as aligned as a
    // buffer of its own.
    fbb.ForceVectorAlignment(p.size(), 1, alignof(std::uint64_t));
    offsets.push_back(make_part(fbb, fbb.CreateVector(p.data(), p.size())));
  }
  const auto vec = fbb.CreateVector(offsets);
  typename Frame::Builder b(fbb);
  add_batch(b, vec);
  fbb.Finish(b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

template <class T>
const T* nested_part(const flatbuffers::Vector<std::uint8_t>* bytes) {
  if (bytes == nullptr || bytes->size() < sizeof(flatbuffers::uoffset_t) ||
      reinterpret_cast<std::uintptr_t>(bytes->data()) % alignof(std::uint64_t) != 0 ||
      !verifies<T>({bytes->data(), bytes->size()})) {
    return nullptr;
  }
  return flatbuffers::GetRoot<T>(bytes->data());
}

}  // namespace

std::vector<std::uint8_t> encode_request_batch(
    std::span<const std::span<const std::uint8_t>> parts) {
  return encode_batch<RequestPart, ClientRequest>(
      parts, [](auto& fbb, auto bytes) { return CreateRequestPart(fbb, bytes); },
      [](ClientRequestBuilder& b, auto vec) { b.add_batch(vec); });
}

std::vector<std::uint8_t> encode_reply_batch(std::span<const std::span<const std::uint8_t>> parts) {
  return encode_batch<ReplyPart, ClientReply>(
      parts, [](auto& fbb, auto bytes) { return CreateReplyPart(fbb, bytes); },
      [](ClientReplyBuilder& b, auto vec) { b.add_batch(vec); });
}

const ClientRequest* request_part(const RequestPart* part) {
  return part == nullptr ? nullptr : nested_part<ClientRequest>(part->request());
}

const ClientReply* reply_part(const ReplyPart* part) {
  return part == nullptr ? nullptr : nested_part<ClientReply>(part->reply());
}
Status verify_to_replica(std::span<const std::uint8_t> bytes, const ToReplica** out) {
  return verify_table(bytes, kMaxReplicaMessageBytes, "replica batch", out);
}
Status verify_from_replica(std::span<const std::uint8_t> bytes, const FromReplica** out) {
  return verify_table(bytes, kMaxReplicaMessageBytes, "replica message", out);
}
Status verify_certificate_buffer(std::span<const std::uint8_t> bytes, const Certificate** out) {
  if (bytes.size() > kMaxCertificateBytes) {
    return Status::corruption("certificate of " + std::to_string(bytes.size()) +
                              " bytes exceeds the limit of " +
                              std::to_string(kMaxCertificateBytes));
  }
  if (bytes.size() >= 8 && !CertificateBufferHasIdentifier(bytes.data())) {
    return Status::corruption("not a Triad certificate (file identifier is not TRC2)");
  }
  return verify_table(bytes, kMaxCertificateBytes, "certificate", out);
}

flatbuffers::Offset<Transaction> build_transaction(flatbuffers::FlatBufferBuilder& fbb,
                                                   const triad::Transaction& tx) {
  const auto id = opt_string(fbb, tx.id);
  const auto mti = opt_string(fbb, tx.mti);
  const auto pan = opt_string(fbb, tx.pan);
  const auto proc = opt_string(fbb, tx.proc);
  const auto currency = opt_string(fbb, tx.currency);
  const auto billing_currency = opt_string(fbb, tx.billing_currency);
  const auto expiry = opt_string(fbb, tx.expiry);
  const auto mcc = opt_string(fbb, tx.mcc);
  const auto stan = opt_string(fbb, tx.stan);
  const auto terminal = opt_string(fbb, tx.terminal);
  const auto merchant = opt_string(fbb, tx.merchant);
  const auto orig_id = opt_string(fbb, tx.orig_id);
  TransactionBuilder b(fbb);
  b.add_id(id);
  b.add_mti(mti);
  b.add_pan(pan);
  b.add_proc(proc);
  if (tx.amount) b.add_amount(*tx.amount);
  b.add_currency(currency);
  if (tx.billing_amount) b.add_billing_amount(*tx.billing_amount);
  b.add_billing_currency(billing_currency);
  b.add_expiry(expiry);
  b.add_mcc(mcc);
  b.add_stan(stan);
  b.add_terminal(terminal);
  b.add_merchant(merchant);
  b.add_orig_id(orig_id);
  if (tx.ts) b.add_ts(*tx.ts);
  b.add_malformed_fields(tx.malformed_fields);
  return b.Finish();
}

std::size_t transaction_text_bytes(const Transaction* w) {
  if (w == nullptr) return 0;
  std::size_t bytes = 0;
  for (const flatbuffers::String* s :
       {w->id(), w->mti(), w->pan(), w->proc(), w->currency(), w->billing_currency(), w->expiry(),
        w->mcc(), w->stan(), w->terminal(), w->merchant(), w->orig_id()}) {
    if (s != nullptr) bytes += s->size();
  }
  return bytes;
}

triad::Transaction read_transaction(const Transaction* w) {
  triad::Transaction tx;
  if (w == nullptr) return tx;
  tx.id = read_opt(w->id());
  tx.mti = read_opt(w->mti());
  tx.pan = read_opt(w->pan());
  tx.proc = read_opt(w->proc());
  tx.amount = read_opt(w->amount());
  tx.currency = read_opt(w->currency());
  tx.billing_amount = read_opt(w->billing_amount());
  tx.billing_currency = read_opt(w->billing_currency());
  tx.expiry = read_opt(w->expiry());
  tx.mcc = read_opt(w->mcc());
  tx.stan = read_opt(w->stan());
  tx.terminal = read_opt(w->terminal());
  tx.merchant = read_opt(w->merchant());
  tx.orig_id = read_opt(w->orig_id());
  tx.ts = read_opt(w->ts());
  // Only bits of known fields survive, so two encodings of one input agree.
  tx.malformed_fields = w->malformed_fields() & ((1u << static_cast<unsigned>(Field::kCount)) - 1);
  return tx;
}

Digest transaction_digest(const triad::Transaction& tx, const CardRef& card_ref) {
  CanonicalWriter w(tx);
  w.text(Field::kId, tx.id);
  w.text(Field::kMti, tx.mti);
  w.card(card_ref);
  w.text(Field::kProc, tx.proc);
  w.integer(Field::kAmount, tx.amount);
  w.text(Field::kCurrency, tx.currency);
  w.integer(Field::kBillingAmount, tx.billing_amount);
  w.text(Field::kBillingCurrency, tx.billing_currency);
  w.text(Field::kExpiry, tx.expiry);
  w.text(Field::kMcc, tx.mcc);
  w.text(Field::kStan, tx.stan);
  w.text(Field::kTerminal, tx.terminal);
  w.text(Field::kMerchant, tx.merchant);
  w.text(Field::kOrigId, tx.orig_id);
  w.integer(Field::kTs, tx.ts);
  return w.finish();
}

std::vector<std::uint8_t> verdict_signing_bytes(const voter::VerdictContent& content, int replica,
                                                std::string_view fingerprint) {
  static constexpr std::string_view kDomain = "triad-verdict-v1";
  std::vector<std::uint8_t> out;
  out.reserve(kDomain.size() + 8 + 8 + 32 + 2 + 32 + 32 + 8 + 1 + 8 + fingerprint.size());
  for (const char c : kDomain) out.push_back(static_cast<std::uint8_t>(c));
  put_u64(&out, content.seq);
  put_u64(&out, static_cast<std::uint64_t>(content.ts_ms));
  put_bytes(&out, content.tx_digest);
  const std::string code = to_string(content.code);
  out.push_back(static_cast<std::uint8_t>(code[0]));
  out.push_back(static_cast<std::uint8_t>(code[1]));
  put_bytes(&out, content.state_digest);
  put_bytes(&out, content.checkpoint_digest);
  put_u64(&out, content.rules_version);
  out.push_back(static_cast<std::uint8_t>(replica));
  put_u64(&out, fingerprint.size());
  for (const char c : fingerprint) out.push_back(static_cast<std::uint8_t>(c));
  return out;
}

Status check_short_text(std::string_view what, std::string_view text) {
  if (text.size() > kMaxFingerprintBytes) {
    return Status::corruption(std::string(what) + " of " + std::to_string(text.size()) +
                              " bytes exceeds the limit of " +
                              std::to_string(kMaxFingerprintBytes));
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c > 0x7e) {
      return Status::corruption(std::string(what) + " has byte " + std::to_string(c) + " at " +
                                std::to_string(i) + ", not printable ASCII");
    }
  }
  return Status::ok();
}

std::string printable_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

Status read_verdict(const Verdict* v, voter::ReplicaVerdict* out) {
  if (v->replica() >= kReplicaCount) {
    return Status::corruption("verdict names replica index " + std::to_string(v->replica()));
  }
  const auto code = parse_response_code(as_view(v->code()));
  if (!code) return Status::corruption("verdict code is not a known two-digit response code");
  out->replica = v->replica();
  out->content.seq = v->seq();
  out->content.ts_ms = v->ts();
  out->content.code = *code;
  out->content.rules_version = v->rules_version();
  if (!copy_digest(v->tx_digest(), &out->content.tx_digest)) {
    return Status::corruption("verdict tx_digest is not 32 bytes");
  }
  if (!copy_digest(v->state_digest(), &out->content.state_digest)) {
    return Status::corruption("verdict state_digest is not 32 bytes");
  }
  out->content.checkpoint_digest = Digest{};
  if (v->checkpoint_digest() != nullptr &&
      !copy_digest(v->checkpoint_digest(), &out->content.checkpoint_digest)) {
    return Status::corruption("verdict checkpoint_digest is not 32 bytes");
  }
  const std::string_view fingerprint = as_view(v->fingerprint());
  if (Status s = check_fingerprint(fingerprint); !s.is_ok()) {
    return Status::corruption("verdict " + s.message());
  }
  out->fingerprint = std::string(fingerprint);
  out->signature_valid = false;  // read_verdict_batch verifies
  return Status::ok();
}

Digest verdict_leaf_hash(const voter::VerdictContent& content, int replica,
                         std::string_view fingerprint) {
  return crypto::merkle_leaf_hash(verdict_signing_bytes(content, replica, fingerprint));
}

std::vector<std::uint8_t> batch_signing_bytes(int replica, std::uint32_t batch_size,
                                              const Digest& root) {
  static constexpr std::string_view kDomain = "triad-verdict-batch-v1";
  std::vector<std::uint8_t> out;
  out.reserve(kDomain.size() + 1 + 8 + root.size());
  for (const char c : kDomain) out.push_back(static_cast<std::uint8_t>(c));
  out.push_back(static_cast<std::uint8_t>(replica));
  put_u64(&out, batch_size);
  put_bytes(&out, root);
  return out;
}

void sign_verdict_batch(std::span<voter::ReplicaVerdict> verdicts, const crypto::SigningKey& key) {
  TRIAD_ASSERT(!verdicts.empty() && verdicts.size() <= kMaxVerdictsPerBatch);
  const int replica = verdicts.front().replica;
  std::vector<Digest> leaves;
  leaves.reserve(verdicts.size());
  for (const auto& v : verdicts) {
    TRIAD_ASSERT(v.replica == replica);
    leaves.push_back(verdict_leaf_hash(v.content, replica, v.fingerprint));
  }
  const crypto::MerkleTree tree(std::move(leaves));
  const auto size = static_cast<std::uint32_t>(verdicts.size());
  const Signature signature = key.sign(batch_signing_bytes(replica, size, tree.root()));
  for (std::uint32_t i = 0; i < size; ++i) {
    voter::ReplicaVerdict& v = verdicts[i];
    v.signature = signature;
    v.batch_index = i;
    v.batch_size = size;
    tree.path(i, &v.batch_path);
    v.signature_valid = true;
  }
}

bool verify_verdict_signature(const voter::ReplicaVerdict& v, const crypto::VerifyingKey& key) {
  Digest root{};
  return crypto::merkle_root_from_path(verdict_leaf_hash(v.content, v.replica, v.fingerprint),
                                       v.batch_index, v.batch_size, v.batch_path, &root) &&
         key.verify(batch_signing_bytes(v.replica, v.batch_size, root), v.signature);
}

Status read_verdict_batch(const VerdictBatch* batch, int replica, const crypto::VerifyingKey& key,
                          std::vector<voter::ReplicaVerdict>* out) {
  TRIAD_ASSERT(replica >= 0 && replica < kReplicaCount);
  const auto* verdicts = batch->verdicts();
  if (verdicts == nullptr || verdicts->size() == 0) {
    return Status::corruption("verdict batch holds no verdict");
  }
  if (verdicts->size() > kMaxVerdictsPerBatch) {
    return Status::corruption("verdict batch holds " + std::to_string(verdicts->size()) +
                              " verdicts, more than the limit of " +
                              std::to_string(kMaxVerdictsPerBatch));
  }
  const auto* sig = batch->signature();
  if (sig == nullptr || sig->size() != Signature{}.size()) {
    return Status::corruption("verdict batch signature is not 64 bytes");
  }
  const std::size_t first = out->size();
  const auto size = static_cast<std::uint32_t>(verdicts->size());
  out->resize(first + size);
  std::vector<Digest> leaves;
  leaves.reserve(size);
  bool names_replica = true;
  for (std::uint32_t i = 0; i < size; ++i) {
    voter::ReplicaVerdict& v = (*out)[first + i];
    if (Status s = read_verdict(verdicts->Get(i), &v); !s.is_ok()) {
      out->resize(first);
      return Status::corruption("verdict " + std::to_string(i) + " of the batch: " + s.message());
    }
    names_replica = names_replica && v.replica == replica;
    v.replica = replica;
    leaves.push_back(verdict_leaf_hash(v.content, replica, v.fingerprint));
  }
  const crypto::MerkleTree tree(std::move(leaves));
  Signature signature{};
  std::memcpy(signature.data(), sig->data(), signature.size());
  const bool valid =
      names_replica && key.verify(batch_signing_bytes(replica, size, tree.root()), signature);
  for (std::uint32_t i = 0; i < size; ++i) {
    voter::ReplicaVerdict& v = (*out)[first + i];
    v.signature = signature;
    v.batch_index = i;
    v.batch_size = size;
    tree.path(i, &v.batch_path);
    v.signature_valid = valid;
  }
  return Status::ok();
}

flatbuffers::Offset<VerdictBatch> build_verdict_batch(
    flatbuffers::FlatBufferBuilder& fbb, std::span<const voter::ReplicaVerdict> verdicts) {
  TRIAD_ASSERT(!verdicts.empty());
  std::vector<flatbuffers::Offset<Verdict>> offsets;
  offsets.reserve(verdicts.size());
  for (const auto& v : verdicts) {
    const auto& c = v.content;
    const bool checkpoint = c.checkpoint_digest != Digest{};
    offsets.push_back(CreateVerdict(
        fbb, c.seq, c.ts_ms, fbb.CreateVector(c.tx_digest.data(), c.tx_digest.size()),
        fbb.CreateString(to_string(c.code)),
        fbb.CreateVector(c.state_digest.data(), c.state_digest.size()),
        checkpoint ? fbb.CreateVector(c.checkpoint_digest.data(), c.checkpoint_digest.size())
                   : flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>>(),
        c.rules_version, fbb.CreateString(v.fingerprint), static_cast<std::uint8_t>(v.replica)));
  }
  const Signature& signature = verdicts.front().signature;
  return CreateVerdictBatch(fbb, fbb.CreateVector(offsets),
                            fbb.CreateVector(signature.data(), signature.size()));
}

std::vector<std::uint8_t> build_certificate(const voter::VerdictContent& content,
                                            std::span<const voter::ReplicaVerdict> signers) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  std::vector<flatbuffers::Offset<CertSignature>> sigs;
  for (const auto& s : signers) {
    sigs.push_back(CreateCertSignature(
        fbb, static_cast<std::uint8_t>(s.replica), fbb.CreateString(s.fingerprint),
        fbb.CreateVector(s.signature.data(), s.signature.size()), s.batch_index, s.batch_size,
        fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(s.batch_path.data()),
                         s.batch_path.size() * sizeof(Digest))));
  }
  const auto code = to_string(content.code);
  const bool checkpoint = content.checkpoint_digest != Digest{};
  const auto cert = CreateCertificate(
      fbb, content.seq, content.ts_ms,
      fbb.CreateVector(content.tx_digest.data(), content.tx_digest.size()), fbb.CreateString(code),
      fbb.CreateVector(content.state_digest.data(), content.state_digest.size()),
      checkpoint
          ? fbb.CreateVector(content.checkpoint_digest.data(), content.checkpoint_digest.size())
          : flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>>(),
      content.rules_version, fbb.CreateVector(sigs));
  FinishCertificateBuffer(fbb, cert);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

Status check_certificate(std::span<const std::uint8_t> bytes,
                         const std::array<crypto::VerifyingKey, kReplicaCount>& keys,
                         voter::VerdictContent* content_out, std::uint8_t* signed_by_out) {
  // The caller's buffer may start anywhere (a file read at an offset, an
  // empty span); the verifier needs 8-byte alignment, so copy when it is not.
  const AlignedFrame frame(bytes.data(), bytes.size());
  const Certificate* cert = nullptr;
  TRIAD_RETURN_IF_ERROR(verify_certificate_buffer(frame.bytes(), &cert));
  voter::VerdictContent content;
  content.seq = cert->seq();
  content.ts_ms = cert->ts();
  content.rules_version = cert->rules_version();
  const auto code = parse_response_code(as_view(cert->code()));
  if (!code) return Status::corruption("field code is not a known two-digit response code");
  content.code = *code;
  const auto digest_field = [](std::string_view name, const flatbuffers::Vector<std::uint8_t>* v,
                               Digest* out) {
    return copy_digest(v, out)
               ? Status::ok()
               : Status::corruption("field " + std::string(name) + " has " +
                                    std::to_string(as_bytes(v).size()) + " bytes, 32 expected");
  };
  TRIAD_RETURN_IF_ERROR(digest_field("tx_digest", cert->tx_digest(), &content.tx_digest));
  TRIAD_RETURN_IF_ERROR(digest_field("state_digest", cert->state_digest(), &content.state_digest));
  if (cert->checkpoint_digest() != nullptr) {
    TRIAD_RETURN_IF_ERROR(
        digest_field("checkpoint_digest", cert->checkpoint_digest(), &content.checkpoint_digest));
  }

  std::uint8_t signed_by = 0;
  if (cert->signatures() != nullptr) {
    // At most one entry per replica: entries may all point at one table, and
    // each repeat would cost a signature check (a 16 KB certificate could
    // hold thousands).
    if (cert->signatures()->size() > kReplicaCount) {
      return Status::corruption(std::to_string(cert->signatures()->size()) +
                                " signatures, at most " + std::to_string(kReplicaCount) +
                                " (one per replica)");
    }
    for (const CertSignature* s : *cert->signatures()) {
      const int r = s->replica();
      if (r >= kReplicaCount) {
        return Status::corruption("signature of unknown replica index " + std::to_string(r));
      }
      const char name = replica_name(r);
      if ((static_cast<unsigned>(signed_by) >> r & 1u) != 0) {
        return Status::corruption(std::string("two signatures of replica ") + name);
      }
      const auto sig_bytes = as_bytes(s->signature());
      if (sig_bytes.size() != 64) {
        return Status::corruption(std::string("signature of replica ") + name + " has " +
                                  std::to_string(sig_bytes.size()) + " bytes, 64 expected");
      }
      voter::ReplicaVerdict signer;
      signer.replica = r;
      signer.content = content;
      signer.fingerprint = std::string(as_view(s->fingerprint()));
      std::copy(sig_bytes.begin(), sig_bytes.end(), signer.signature.begin());
      const auto path = as_bytes(s->batch_path());
      if (path.size() % sizeof(Digest) != 0 || s->batch_size() == 0 ||
          s->batch_index() >= s->batch_size()) {
        return Status::corruption(
            std::string("signature of replica ") + name + " has a malformed Merkle proof (index " +
            std::to_string(s->batch_index()) + " of " + std::to_string(s->batch_size()) +
            ", path of " + std::to_string(path.size()) + " bytes)");
      }
      signer.batch_index = s->batch_index();
      signer.batch_size = s->batch_size();
      signer.batch_path.resize(path.size() / sizeof(Digest));
      // A batch of one has an empty path (and possibly a null data pointer).
      if (!path.empty()) std::memcpy(signer.batch_path.data(), path.data(), path.size());
      if (!verify_verdict_signature(signer, keys[static_cast<std::size_t>(r)])) {
        return Status::corruption(std::string("signature of replica ") + name +
                                  " does not verify over the verdict content (seq " +
                                  std::to_string(content.seq) + ", code " +
                                  to_string(content.code) + ") with its public key");
      }
      signed_by = static_cast<std::uint8_t>(signed_by | (1u << r));
    }
  }
  if (std::popcount(signed_by) < 2) {
    return Status::corruption("only " + std::to_string(std::popcount(signed_by)) +
                              " distinct replica signature(s); at least 2 are needed");
  }
  *content_out = content;
  *signed_by_out = signed_by;
  return Status::ok();
}

}  // namespace triad::wire
