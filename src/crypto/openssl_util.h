// Internal to triad_crypto: helpers around OpenSSL's error queue and handles.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "crypto/ed25519.h"  // detail::EvpPkeyFree

namespace triad::crypto::detail {

// Prints `what` and OpenSSL's queued errors to standard error, then aborts.
// Only for failures that cannot happen short of memory exhaustion, a broken
// OpenSSL or libsodium installation, or a bug (signing with an empty key).
[[noreturn]] void fatal_crypto(const char* what);

// The oldest error on OpenSSL's queue as text ("unknown" when empty), and
// clears the queue so a failure here is not blamed on a later caller.
std::string take_openssl_error();

struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

}  // namespace triad::crypto::detail
