#include "transport/curve.h"

#include <dirent.h>
#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/layout.h"
#include "crypto/key_files.h"

namespace triad::transport {
namespace {

// The key between surrounding white space (the file ends with a newline).
std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

CurveKeyPair::~CurveKeyPair() { sodium_memzero(secret_key.data(), secret_key.size()); }

Status CurveKeyPair::generate(CurveKeyPair* out) {
  char public_key[kZ85KeyChars + 1] = {};
  char secret_key[kZ85KeyChars + 1] = {};
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    return Status::internal(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()) +
                            " (is libzmq built with CURVE?)");
  }
  out->public_key = public_key;
  out->secret_key = secret_key;
  sodium_memzero(secret_key, sizeof secret_key);
  return Status::ok();
}

Status check_z85_key(const std::string& z85, const std::string& what) {
  if (z85.size() != kZ85KeyChars) {
    return Status::corruption(what + " is not a CURVE key: " + std::to_string(z85.size()) +
                              " characters, a Z85 key has 40");
  }
  std::uint8_t binary[32];
  if (zmq_z85_decode(binary, z85.c_str()) == nullptr) {
    return Status::corruption(what + " is not a CURVE key: not Z85 text");
  }
  sodium_memzero(binary, sizeof binary);
  return Status::ok();
}

Status write_curve_key_pair(const std::string& secret_path, const std::string& public_path,
                            const CurveKeyPair& pair) {
  TRIAD_RETURN_IF_ERROR(check_z85_key(pair.secret_key, "the secret key to write"));
  TRIAD_RETURN_IF_ERROR(check_z85_key(pair.public_key, "the public key to write"));
  crypto::SecretText secret;
  secret.text.reserve(kZ85KeyChars + 1);  // no reallocation leaves a copy behind
  secret.text = pair.secret_key;
  secret.text += '\n';
  return crypto::write_key_files(secret_path, public_path, secret.text, pair.public_key + "\n");
}

Status load_curve_key_pair(const std::string& secret_path, CurveKeyPair* out) {
  crypto::SecretText text;
  TRIAD_RETURN_IF_ERROR(crypto::read_key_file(secret_path, /*secret=*/true, &text));
  CurveKeyPair pair;
  pair.secret_key = trimmed(text.text);
  TRIAD_RETURN_IF_ERROR(check_z85_key(pair.secret_key, "key file " + secret_path));
  char public_key[kZ85KeyChars + 1] = {};
  if (zmq_curve_public(public_key, pair.secret_key.c_str()) != 0) {
    return Status::corruption("key file " + secret_path +
                              ": cannot derive its public key: " + zmq_strerror(zmq_errno()));
  }
  pair.public_key = public_key;
  *out = std::move(pair);
  return Status::ok();
}

Status load_curve_public_key(const std::string& path, std::string* z85_out) {
  crypto::SecretText text;  // not secret; the same reader for every key file
  TRIAD_RETURN_IF_ERROR(crypto::read_key_file(path, /*secret=*/false, &text));
  const std::string key = trimmed(text.text);
  TRIAD_RETURN_IF_ERROR(check_z85_key(key, "key file " + path));
  *z85_out = key;
  return Status::ok();
}

Status load_curve_public_keys(const std::string& dir,
                              std::vector<std::pair<std::string, std::string>>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    const int err = errno;
    if (err == ENOENT) return Status::not_found("key directory " + dir + " does not exist");
    return Status::io_error("cannot read key directory " + dir + ": " + std::strerror(err));
  }
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 4 && name[0] != '.' && ends_with(name, ".pub")) names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<std::pair<std::string, std::string>> keys;
  for (const std::string& name : names) {
    std::string key;
    TRIAD_RETURN_IF_ERROR(load_curve_public_key(dir + "/" + name, &key));
    keys.emplace_back(name.substr(0, name.size() - 4), key);
  }
  *out = std::move(keys);
  return Status::ok();
}

void set_curve_server(zmq::socket_ref socket, const CurveKeyPair& own,
                      const std::string& zap_domain) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
  socket.set(zmq::sockopt::zap_domain, zap_domain);
}

void set_curve_client(zmq::socket_ref socket, const CurveKeyPair& own,
                      const std::string& server_public_key) {
  socket.set(zmq::sockopt::curve_serverkey, server_public_key);
  socket.set(zmq::sockopt::curve_publickey, own.public_key);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
}

Status load_curve_client(const std::string& dir, const std::string& party_secret_key,
                         CurveClient* out) {
  std::ifstream f(layout::transport_file(dir));
  std::string mode;
  if (f >> mode && mode == "plain") {
    *out = CurveClient{};
    return Status::ok();
  }
  CurveClient client;
  TRIAD_RETURN_IF_ERROR(load_curve_public_key(layout::curve_public_key(dir, layout::kCurveFrontEnd),
                                              &client.server_public_key));
  TRIAD_RETURN_IF_ERROR(load_curve_key_pair(party_secret_key, &client.own));
  *out = std::move(client);
  return Status::ok();
}

}  // namespace triad::transport
