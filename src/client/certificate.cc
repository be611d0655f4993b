#include "triad/certificate.h"

#include <array>
#include <cstring>

#include "common/hex.h"
#include "common/layout.h"
#include "crypto/base64.h"
#include "crypto/ed25519.h"
#include "crypto/key_files.h"
#include "wire/codec.h"

namespace triad {

struct Keyring::Keys {
  std::array<crypto::VerifyingKey, kReplicaCount> keys;
};

Keyring::Keyring() : keys_(std::make_unique<Keys>()) {}
Keyring::~Keyring() = default;
Keyring::Keyring(Keyring&&) noexcept = default;
Keyring& Keyring::operator=(Keyring&&) noexcept = default;

Status Keyring::load_dir(const std::string& dir, Keyring* out) {
  Keyring ring;
  for (int r = 0; r < kReplicaCount; ++r) {
    PublicKey pub{};
    TRIAD_RETURN_IF_ERROR(crypto::load_public_key(layout::replica_public_key(dir, r), &pub));
    TRIAD_RETURN_IF_ERROR(
        crypto::VerifyingKey::from_public_key(pub, &ring.keys_->keys[static_cast<std::size_t>(r)]));
  }
  *out = std::move(ring);
  return Status::ok();
}

Status verify_certificate(std::span<const std::uint8_t> bytes, const Keyring& keyring,
                          CertificateInfo* out) {
  // The caller's buffer may start anywhere (a file read at an offset, an
  // empty span); the verifier needs 8-byte alignment, so copy when it is not.
  const wire::AlignedFrame frame(bytes.data(), bytes.size());
  const wire::Certificate* cert = nullptr;
  TRIAD_RETURN_IF_ERROR(wire::verify_certificate_buffer(frame.bytes(), &cert));
  voter::VerdictContent content;
  content.seq = cert->seq();
  content.ts_ms = cert->ts();
  content.rules_version = cert->rules_version();
  const auto code = parse_response_code(wire::as_view(cert->code()));
  if (!code) return Status::corruption("field code is not a known two-digit response code");
  content.code = *code;
  const auto tx_digest = wire::as_bytes(cert->tx_digest());
  const auto state_digest = wire::as_bytes(cert->state_digest());
  if (tx_digest.size() != 32) {
    return Status::corruption("field tx_digest has " + std::to_string(tx_digest.size()) +
                              " bytes, 32 expected");
  }
  if (state_digest.size() != 32) {
    return Status::corruption("field state_digest has " + std::to_string(state_digest.size()) +
                              " bytes, 32 expected");
  }
  std::copy(tx_digest.begin(), tx_digest.end(), content.tx_digest.begin());
  std::copy(state_digest.begin(), state_digest.end(), content.state_digest.begin());
  if (cert->checkpoint_digest() != nullptr) {
    const auto checkpoint = wire::as_bytes(cert->checkpoint_digest());
    if (checkpoint.size() != 32) {
      return Status::corruption("field checkpoint_digest has " + std::to_string(checkpoint.size()) +
                                " bytes, 32 expected");
    }
    std::copy(checkpoint.begin(), checkpoint.end(), content.checkpoint_digest.begin());
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
    for (const wire::CertSignature* s : *cert->signatures()) {
      const int r = s->replica();
      if (r >= kReplicaCount) {
        return Status::corruption("signature of unknown replica index " + std::to_string(r));
      }
      const char name = replica_name(r);
      if ((static_cast<unsigned>(signed_by) >> r & 1u) != 0) {
        return Status::corruption(std::string("two signatures of replica ") + name);
      }
      const auto sig_bytes = wire::as_bytes(s->signature());
      if (sig_bytes.size() != 64) {
        return Status::corruption(std::string("signature of replica ") + name + " has " +
                                  std::to_string(sig_bytes.size()) + " bytes, 64 expected");
      }
      voter::ReplicaVerdict signer;
      signer.replica = r;
      signer.content = content;
      signer.fingerprint = std::string(wire::as_view(s->fingerprint()));
      std::copy(sig_bytes.begin(), sig_bytes.end(), signer.signature.begin());
      const auto path = wire::as_bytes(s->batch_path());
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
      if (!wire::verify_verdict_signature(signer,
                                          keyring.keys_->keys[static_cast<std::size_t>(r)])) {
        return Status::corruption(std::string("signature of replica ") + name +
                                  " does not verify over the verdict content (seq " +
                                  std::to_string(content.seq) + ", code " +
                                  to_string(content.code) + ") with its public key");
      }
      signed_by = static_cast<std::uint8_t>(signed_by | (1u << r));
    }
  }
  std::string signers;
  for (int r = 0; r < kReplicaCount; ++r) {
    if (signed_by & (1u << r)) signers.push_back(replica_name(r));
  }
  if (signers.size() < 2) {
    return Status::corruption("only " + std::to_string(signers.size()) +
                              " distinct replica signature(s); at least 2 are needed");
  }
  if (out != nullptr) {
    out->seq = content.seq;
    out->ts_ms = content.ts_ms;
    out->code = to_string(content.code);
    out->signers = signers;
    out->tx_digest_hex = to_hex(content.tx_digest);
    out->state_digest_hex = to_hex(content.state_digest);
    out->rules_version = content.rules_version;
  }
  return Status::ok();
}

Status verify_certificate_base64(const std::string& text, const Keyring& keyring,
                                 CertificateInfo* out) {
  std::vector<std::uint8_t> bytes;
  if (Status s = crypto::base64_decode(text, &bytes); !s.is_ok()) {
    return Status::invalid_argument("certificate is not base64: " + s.message());
  }
  return verify_certificate(bytes, keyring, out);
}

Status verify_decision_certificate(std::span<const std::uint8_t> certificate,
                                   const Keyring& keyring, std::uint64_t seq, std::int64_t ts_ms,
                                   std::string_view code, CertificateInfo* out) {
  CertificateInfo info;
  if (out == nullptr) out = &info;
  TRIAD_RETURN_IF_ERROR(verify_certificate(certificate, keyring, out));
  if (out->seq != seq) {
    return Status::corruption("the certificate is for seq " + std::to_string(out->seq) +
                              ", the decision has seq " + std::to_string(seq));
  }
  if (out->code != code) {
    return Status::corruption("the certificate says code " + out->code +
                              ", the decision has code " + std::string(code));
  }
  if (out->ts_ms != ts_ms) {
    return Status::corruption("the certificate has ts " + std::to_string(out->ts_ms) +
                              ", the decision has ts " + std::to_string(ts_ms));
  }
  return Status::ok();
}

Status transaction_digest_hex(const Transaction& tx, std::string_view card_ref, std::string* out) {
  CardRef ref{};
  if (tx.pan && !tx.is_malformed(Field::kPan) && !from_hex(card_ref, ref)) {
    return Status::invalid_argument(
        "the card reference is not 32 hexadecimal digits (a decision on a transaction with a "
        "PAN carries one)");
  }
  *out = to_hex(wire::transaction_digest(tx, ref));
  return Status::ok();
}

}  // namespace triad
