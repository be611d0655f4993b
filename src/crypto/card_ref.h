// A card reference: the keyed hash by which a card is looked up without its
// PAN being stored (PCI DSS 3.4: "keyed cryptographic hashes of the entire
// PAN"). HMAC-SHA256 under a secret key of the deployment (DIR/keys/
// card-ref.key, made by `triad up`), cut to 128 bits and written in hex.
//
// Without the key nobody can test a guessed PAN against a reference, which
// a plain hash would allow: there are only about 10^9 PANs per issuer range
// once the check digit is known. With it, the same PAN always gives the same
// reference, so the audit store can index decisions by card, and a
// transaction's digest (wire::transaction_digest), which every certificate
// signs, can stand for the card by its reference: whoever holds a
// certificate and the transaction's other fields cannot test PAN guesses
// against it either.
#pragma once

#include <string>
#include <string_view>

#include "common/types.h"
#include "crypto/aead.h"
#include "triad/transaction.h"

namespace triad::crypto {

// 32 lower-case hexadecimal digits: CardRef's 16 bytes.
inline constexpr std::size_t kCardRefChars = 2 * sizeof(CardRef);

CardRef card_ref_bytes(const SymmetricKey& key, std::string_view pan);
std::string card_ref(const SymmetricKey& key, std::string_view pan);

// Names the key without giving it away (16 hex digits of HMAC-SHA256 of a
// fixed label under it), so a directory can record which key its digests
// were made under.
std::string card_ref_key_id(const SymmetricKey& key);

// The reference of `tx`'s PAN, the one wire::transaction_digest hashes in
// its place; zeros when the PAN is absent or malformed (no value is hashed
// then).
CardRef card_ref_of(const SymmetricKey& key, const Transaction& tx);

}  // namespace triad::crypto
