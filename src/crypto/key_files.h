// Ed25519 keys on disk as PEM: the secret key as PKCS#8 ("BEGIN PRIVATE KEY"),
// the public key as SubjectPublicKeyInfo ("BEGIN PUBLIC KEY"), the same files
// `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` produce.
// Every failure's message names the path.
#pragma once

#include <string>

#include "common/types.h"
#include "crypto/ed25519.h"
#include "triad/status.h"

namespace triad::crypto {

// Writes `key` to two new files: the secret one with mode 0600 (created that
// way with O_EXCL, so it is never readable by group or others, even briefly)
// and the public one with mode 0644. Creates no directories and never
// overwrites: returns InvalidArgument when either path already exists or
// both are the same path or `key` is empty, IoError (with the system's reason)
// when a file cannot be created or written. On failure no file this call
// created is left behind.
Status write_key_pair(const std::string& secret_path, const std::string& public_path,
                      const SigningKey& key);

// Reads a secret key written by write_key_pair (or by OpenSSL). Returns
// PermissionDenied, naming the path and the mode, when the file can be read
// or written by its group or others ("refusing key file X: mode 0644 lets
// others read it; chmod 600 X"); NotFound when it does not exist; IoError when
// it cannot be read or is not a regular file; Corruption when it is not an
// unencrypted Ed25519 PKCS#8 PEM. The key uses default_ed25519_backend().
// *out is unchanged on failure.
Status load_signing_key(const std::string& path, SigningKey* out);

// Reads a public key file. Any mode is accepted. Returns NotFound when it does
// not exist; IoError when it cannot be read or is not a regular file;
// Corruption when it is not an Ed25519 SubjectPublicKeyInfo PEM. *out is
// unchanged on failure.
Status load_public_key(const std::string& path, PublicKey* out);

}  // namespace triad::crypto
