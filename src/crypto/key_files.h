// Ed25519 keys on disk as PEM: the secret key as PKCS#8 ("BEGIN PRIVATE KEY"),
// the public key as SubjectPublicKeyInfo ("BEGIN PUBLIC KEY"), the same files
// `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` produce.
// Every failure's message names the path.
#pragma once

#include <string>
#include <string_view>

#include "common/types.h"
#include "crypto/aead.h"
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

// A symmetric (AES-256) key file: 64 hexadecimal digits and a newline.
// write_symmetric_key creates it like the secret half of write_key_pair (mode
// 0600 from the start, never overwrites: InvalidArgument when it exists,
// IoError when it cannot be written). load_symmetric_key refuses it exactly as
// load_signing_key refuses a secret key file (PermissionDenied when group or
// others may read or write it, NotFound, IoError), and returns Corruption when
// the text is not 64 hex digits. *out is unchanged on failure.
Status write_symmetric_key(const std::string& path, const SymmetricKey& key);
Status load_symmetric_key(const std::string& path, SymmetricKey* out);
// The file handling under the functions above, for other kinds of key (the
// CURVE keys of src/transport), so every secret key file is written and
// checked the same way.

// Text that holds a secret; cleared before it is freed.
class SecretText {
 public:
  SecretText() = default;
  ~SecretText();
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;
  std::string text;
};

// Writes `secret_text` to a new file `secret_path` with mode 0600 (created
// that way with O_EXCL) and `public_text` to a new file `public_path` with mode
// 0644. Creates no directories and never overwrites: InvalidArgument when
// either path already exists or both are the same path; IoError (with the
// system's reason) when a file cannot be created or written. On failure no
// file this call created is left behind.
Status write_key_files(const std::string& secret_path, const std::string& public_path,
                       std::string_view secret_text, std::string_view public_text);

// Reads the whole of a key file (at most 64 KiB) into *out. With `secret`,
// returns PermissionDenied naming the path and the mode when group or others
// can read or write it. NotFound when it does not exist; IoError when it
// cannot be read or is not a regular file; Corruption when it is too large.
Status read_key_file(const std::string& path, bool secret, SecretText* out);

}  // namespace triad::crypto
