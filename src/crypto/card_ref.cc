#include "crypto/card_ref.h"

#include <algorithm>
#include <span>

#include "common/hex.h"
#include "crypto/hash.h"

namespace triad::crypto {

CardRef card_ref_bytes(const SymmetricKey& key, std::string_view pan) {
  const Digest mac = hmac_sha256(
      key.bytes(),
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(pan.data()), pan.size()));
  CardRef ref{};
  std::copy_n(mac.begin(), ref.size(), ref.begin());
  return ref;
}

std::string card_ref(const SymmetricKey& key, std::string_view pan) {
  return to_hex(card_ref_bytes(key, pan));
}

std::string card_ref_key_id(const SymmetricKey& key) {
  static constexpr std::string_view kLabel = "triad card-ref key id v1";
  const Digest mac = hmac_sha256(
      key.bytes(), std::span<const std::uint8_t>(
                       reinterpret_cast<const std::uint8_t*>(kLabel.data()), kLabel.size()));
  return to_hex(std::span<const std::uint8_t>(mac.data(), 8));
}

CardRef card_ref_of(const SymmetricKey& key, const Transaction& tx) {
  if (!tx.pan || tx.is_malformed(Field::kPan)) return CardRef{};
  return card_ref_bytes(key, *tx.pan);
}

}  // namespace triad::crypto
