#include "triad/certificate.h"

#include <array>

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
  voter::VerdictContent content;
  std::uint8_t signed_by = 0;
  TRIAD_RETURN_IF_ERROR(wire::check_certificate(bytes, keyring.keys_->keys, &content, &signed_by));
  if (out != nullptr) {
    out->seq = content.seq;
    out->ts_ms = content.ts_ms;
    out->code = to_string(content.code);
    out->signers = replica_names(signed_by);
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
