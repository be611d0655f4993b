// A card reference: the keyed hash by which a card is looked up without its
// PAN being stored (PCI DSS 3.4: "keyed cryptographic hashes of the entire
// PAN"). HMAC-SHA256 under a secret key of the deployment (DIR/keys/
// card-ref.key, made by `triad up`), cut to 128 bits and written in hex.
//
// Without the key nobody can test a guessed PAN against a reference, which
// a plain hash would allow: there are only about 10^9 PANs per issuer range
// once the check digit is known. With it, the same PAN always gives the same
// reference, so the audit store can index decisions by card.
#pragma once

#include <string>
#include <string_view>

#include "crypto/aead.h"

namespace triad::crypto {

// 32 lower-case hexadecimal digits.
inline constexpr std::size_t kCardRefChars = 32;

std::string card_ref(const SymmetricKey& key, std::string_view pan);

}  // namespace triad::crypto
