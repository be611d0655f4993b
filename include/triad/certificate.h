// Offline verification of Triad decision certificates: with the replicas'
// public keys alone, check that at least two distinct replicas signed the
// same verdict content.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "triad/status.h"
#include "triad/transaction.h"

namespace triad {

// What a valid certificate says.
struct CertificateInfo {
  std::uint64_t seq = 0;
  std::int64_t ts_ms = 0;
  std::string code;              // two digits
  std::string signers;           // replica names whose signatures verified, e.g. "ab"
  std::string tx_digest_hex;     // the transaction digest (transaction_digest_hex, below)
  std::string state_digest_hex;  // the signers' state digest after this seq
  std::uint32_t rules_version = 0;
};

// The three replicas' Ed25519 public keys.
class Keyring {
 public:
  Keyring();
  ~Keyring();
  Keyring(Keyring&&) noexcept;
  Keyring& operator=(Keyring&&) noexcept;

  // Loads DIR/keys/replica-{a,b,c}.pub (the directory given to `triad up
  // --dir`). Returns NotFound naming the file when one is missing, Corruption
  // when one is not an Ed25519 public key.
  static Status load_dir(const std::string& dir, Keyring* out);

 private:
  friend Status verify_certificate(std::span<const std::uint8_t>, const Keyring&, CertificateInfo*);
  struct Keys;
  std::unique_ptr<Keys> keys_;
};

// Verifies the raw certificate bytes (the base64-decoded `cert` field).
// Returns ok and fills `out` when every signature in it verifies and they come
// from at least two distinct replicas. Otherwise returns Corruption whose
// message names the cause: not a certificate (verifier), a field of the wrong
// length, an unknown replica, which replica's signature fails, or too few
// distinct signers.
Status verify_certificate(std::span<const std::uint8_t> certificate, const Keyring& keyring,
                          CertificateInfo* out);

// Same, for the base64 text of a `cert` field (surrounding whitespace ignored).
// InvalidArgument when the text is not base64.
Status verify_certificate_base64(const std::string& base64, const Keyring& keyring,
                                 CertificateInfo* out);

// verify_certificate, then the certificate held against the decision it
// came with: a valid certificate of another seq, ts or code proves nothing
// about this one. Corruption naming the field that differs.
Status verify_decision_certificate(std::span<const std::uint8_t> certificate,
                                   const Keyring& keyring, std::uint64_t seq, std::int64_t ts_ms,
                                   std::string_view code, CertificateInfo* out);

// Whether `code` is a fail-safe decline (91, 96): the voter's own answer,
// which no replica signed, and the only one that comes without a certificate.
inline bool is_fail_safe_code(std::string_view code) { return code == "91" || code == "96"; }

// The digest a certificate signs for `tx` (CertificateInfo::tx_digest_hex):
// a valid certificate proves a decision on the transaction whose digest it
// carries, so a client that sent `tx` compares the two, and the
// certificate's seq and code with the decision's, to know the decision is
// its own. The digest holds the PAN's keyed reference in the PAN's place
// (so a certificate and the other fields do not give the PAN away):
// `card_ref` is the one that came with the decision (Decision::card_ref),
// and is not needed when `tx` has no PAN. InvalidArgument when it is needed
// and not 32 hex digits. So the certificate binds the decision to the
// transaction's other fields and to a reference the front end gave for its
// PAN: the reference can be checked against the PAN only with the
// deployment's key (`triad audit --card` prints a card's reference).
//
// A decision is proven when verify_decision_certificate holds and this
// digest is the certificate's; Decision::approved alone is the front end's
// word. A fail-safe decline (is_fail_safe_code) comes without one.
Status transaction_digest_hex(const Transaction& tx, std::string_view card_ref, std::string* out);

}  // namespace triad
