#include "frontend/keys.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/layout.h"
#include "crypto/ed25519.h"
#include "crypto/key_files.h"

namespace triad::frontend {
namespace {

Status make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return Status::ok();
  return Status::io_error("cannot create directory " + path + ": " + std::strerror(errno));
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

Status ensure_replica_keys(const std::string& dir, std::string* report) {
  TRIAD_RETURN_IF_ERROR(make_dir(dir, 0755));
  TRIAD_RETURN_IF_ERROR(make_dir(layout::keys_dir(dir), 0700));
  for (int r = 0; r < kReplicaCount; ++r) {
    const std::string secret = layout::replica_secret_key(dir, r);
    const std::string pub = layout::replica_public_key(dir, r);
    if (exists(secret) && exists(pub)) continue;
    if (exists(secret) != exists(pub)) {
      return Status::invalid_argument("only one of " + secret + " and " + pub +
                                      " exists; remove it or restore the other");
    }
    crypto::SigningKey key;
    TRIAD_RETURN_IF_ERROR(crypto::SigningKey::generate(&key));
    TRIAD_RETURN_IF_ERROR(crypto::write_key_pair(secret, pub, key));
    if (report != nullptr) *report += "generated " + secret + " and " + pub + "\n";
  }
  return Status::ok();
}

Status ensure_journal_key(const std::string& dir, crypto::SymmetricKey* key, std::string* report) {
  TRIAD_RETURN_IF_ERROR(make_dir(dir, 0755));
  TRIAD_RETURN_IF_ERROR(make_dir(layout::keys_dir(dir), 0700));
  const std::string path = layout::journal_key(dir);
  if (!exists(path)) {
    TRIAD_RETURN_IF_ERROR(crypto::write_symmetric_key(path, crypto::SymmetricKey::generate()));
    if (report != nullptr) *report += "generated " + path + "\n";
  }
  return crypto::load_symmetric_key(path, key);
}

}  // namespace triad::frontend
