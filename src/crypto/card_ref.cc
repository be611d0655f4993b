#include "crypto/card_ref.h"

#include <span>

#include "common/hex.h"
#include "crypto/hash.h"

namespace triad::crypto {

std::string card_ref(const SymmetricKey& key, std::string_view pan) {
  const Digest mac = hmac_sha256(
      key.bytes(),
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(pan.data()), pan.size()));
  return to_hex(std::span<const std::uint8_t>(mac.data(), kCardRefChars / 2));
}

}  // namespace triad::crypto
