#include "frontend/keys.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include "common/layout.h"
#include "crypto/ed25519.h"
#include "crypto/key_files.h"
#include "transport/curve.h"

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

// Makes the pair unless both files exist; one without the other is refused
// rather than overwritten, since the other half may be in use elsewhere.
Status ensure_pair(const std::string& secret, const std::string& pub,
                   const std::function<Status()>& make, std::string* report) {
  if (exists(secret) && exists(pub)) return Status::ok();
  if (exists(secret) != exists(pub)) {
    return Status::invalid_argument("only one of " + secret + " and " + pub +
                                    " exists; remove it or restore the other");
  }
  TRIAD_RETURN_IF_ERROR(make());
  if (report != nullptr) *report += "generated " + secret + " and " + pub + "\n";
  return Status::ok();
}

Status make_curve_pair(const std::string& secret, const std::string& pub) {
  transport::CurveKeyPair pair;
  TRIAD_RETURN_IF_ERROR(transport::CurveKeyPair::generate(&pair));
  return transport::write_curve_key_pair(secret, pub, pair);
}

}  // namespace

Status ensure_replica_keys(const std::string& dir, std::string* report) {
  TRIAD_RETURN_IF_ERROR(make_dir(dir, 0755));
  TRIAD_RETURN_IF_ERROR(make_dir(layout::keys_dir(dir), 0700));
  for (int r = 0; r < kReplicaCount; ++r) {
    const std::string secret = layout::replica_secret_key(dir, r);
    const std::string pub = layout::replica_public_key(dir, r);
    const auto make = [&] {
      crypto::SigningKey key;
      TRIAD_RETURN_IF_ERROR(crypto::SigningKey::generate(&key));
      return crypto::write_key_pair(secret, pub, key);
    };
    TRIAD_RETURN_IF_ERROR(ensure_pair(secret, pub, make, report));
  }
  return Status::ok();
}

Status ensure_symmetric_key(const std::string& dir, const std::string& path,
                            crypto::SymmetricKey* key, std::string* report) {
  TRIAD_RETURN_IF_ERROR(make_dir(dir, 0755));
  TRIAD_RETURN_IF_ERROR(make_dir(layout::keys_dir(dir), 0700));
  if (!exists(path)) {
    TRIAD_RETURN_IF_ERROR(crypto::write_symmetric_key(path, crypto::SymmetricKey::generate()));
    if (report != nullptr) *report += "generated " + path + "\n";
  }
  return crypto::load_symmetric_key(path, key);
}

Status ensure_curve_keys(const std::string& dir, std::string* report) {
  TRIAD_RETURN_IF_ERROR(make_dir(dir, 0755));
  TRIAD_RETURN_IF_ERROR(make_dir(layout::keys_dir(dir), 0700));
  TRIAD_RETURN_IF_ERROR(make_dir(layout::curve_keys_dir(dir), 0700));
  TRIAD_RETURN_IF_ERROR(make_dir(layout::curve_clients_dir(dir), 0700));
  std::vector<std::string> parties = {layout::kCurveFrontEnd, layout::kCurveOperator};
  for (int r = 0; r < kReplicaCount; ++r) parties.push_back(layout::curve_replica_party(r));
  for (const std::string& party : parties) {
    const std::string secret = layout::curve_secret_key(dir, party);
    const std::string pub = layout::curve_public_key(dir, party);
    TRIAD_RETURN_IF_ERROR(ensure_pair(
        secret, pub, [&] { return make_curve_pair(secret, pub); }, report));
  }
  const std::string secret = layout::curve_client_secret_key(dir, layout::kCurveLocalClient);
  const std::string pub = layout::curve_client_public_key(dir, layout::kCurveLocalClient);
  return ensure_pair(
      secret, pub, [&] { return make_curve_pair(secret, pub); }, report);
}

Status make_client_curve_key(const std::string& dir, const std::string& name, std::string* report) {
  const bool plain = !name.empty() && name[0] != '.' &&
                     name.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789-_.") == std::string::npos;
  if (!plain) {
    return Status::invalid_argument("client name '" + name +
                                    "': use letters, digits, '-', '_' and '.' only");
  }
  TRIAD_RETURN_IF_ERROR(ensure_curve_keys(dir, report));
  const std::string secret = layout::curve_client_secret_key(dir, name);
  const std::string pub = layout::curve_client_public_key(dir, name);
  TRIAD_RETURN_IF_ERROR(make_curve_pair(secret, pub));
  if (report != nullptr) *report += "generated " + secret + " and " + pub + "\n";
  return Status::ok();
}

}  // namespace triad::frontend
