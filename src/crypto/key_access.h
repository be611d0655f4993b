// Internal to triad_crypto: lets key_files.cc reach the OpenSSL key inside a
// SigningKey without putting OpenSSL in the public header.
#pragma once

#include "crypto/ed25519.h"
#include "crypto/openssl_util.h"

namespace triad::crypto {

struct KeyAccess {
  // The OpenSSL form of `key` (whatever its backend); null when it is empty.
  // Still owned by `key`.
  static EVP_PKEY* pkey(const SigningKey& key) { return key.pkey_.get(); }
  // Makes *out hold `pkey`, which must be an Ed25519 private key, signing
  // with `backend`. Returns Corruption when it is not one or its public half
  // cannot be read, Internal when the backend refuses it. *out is unchanged
  // on failure.
  static Status adopt(detail::PkeyPtr pkey, Ed25519Backend backend, SigningKey* out);
};

}  // namespace triad::crypto
