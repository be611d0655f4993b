// CURVE (ZeroMQ's encryption and authentication, RFC 26) keys and the two
// socket roles. A key file holds one Z85 key (40 characters) and a newline;
// secret key files are written 0600 and refused when group or others can read
// them, by the same code as the Ed25519 key files (crypto/key_files.h).
#pragma once

#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "triad/status.h"

namespace triad::transport {

inline constexpr std::size_t kZ85KeyChars = 40;

// A CURVE key pair as Z85 text. The secret half is cleared when destroyed.
struct CurveKeyPair {
  CurveKeyPair() = default;
  CurveKeyPair(const CurveKeyPair&) = default;
  CurveKeyPair& operator=(const CurveKeyPair&) = default;
  ~CurveKeyPair();
  // A fresh random pair (zmq_curve_keypair). Internal when libzmq was built
  // without CURVE.
  static Status generate(CurveKeyPair* out);

  std::string public_key;  // Z85
  std::string secret_key;  // Z85; empty for a pair not loaded yet
};

// Writes a pair to two new files (secret 0600, public 0644); never
// overwrites. Errors as crypto::write_key_files.
Status write_curve_key_pair(const std::string& secret_path, const std::string& public_path,
                            const CurveKeyPair& pair);

// Reads a secret key file and derives its public half. PermissionDenied
// naming the file when group or others can read or write it; NotFound when
// it does not exist; Corruption when it is not a Z85 CURVE key.
Status load_curve_key_pair(const std::string& secret_path, CurveKeyPair* out);

// Reads a public key file (any mode). NotFound, IoError, or Corruption when
// it is not a Z85 CURVE key.
Status load_curve_public_key(const std::string& path, std::string* z85_out);

// Every "NAME.pub" in `dir`, sorted by NAME, as (NAME, Z85 key): a client
// allow-list. NotFound when `dir` does not exist; the first bad file's error
// otherwise. An empty directory gives an empty list (that admits nobody).
Status load_curve_public_keys(const std::string& dir,
                              std::vector<std::pair<std::string, std::string>>* out);

// Checks `z85` is a well-formed CURVE key; `what` names it in the error.
Status check_z85_key(const std::string& z85, const std::string& what);

// The binding side: `socket` (before bind) encrypts with `own` and asks the
// ZAP handler (inproc://zeromq.zap.01 in its context) about every client,
// under `zap_domain`. Start the handler (ZapHandler) first: with none bound,
// libzmq admits every client key.
void set_curve_server(zmq::socket_ref socket, const CurveKeyPair& own,
                      const std::string& zap_domain);

// The connecting side: `socket` (before connect) talks only to the holder of
// the secret half of `server_public_key`, and shows `own` to it.
void set_curve_client(zmq::socket_ref socket, const CurveKeyPair& own,
                      const std::string& server_public_key);

// What a connecting tool needs: the server's public key and its own pair.
// Empty server_public_key: plain TCP (a cluster started with --no-curve).
struct CurveClient {
  std::string server_public_key;
  CurveKeyPair own;
  bool enabled() const { return !server_public_key.empty(); }
  void apply(zmq::socket_ref socket) const {
    if (enabled()) set_curve_client(socket, own, server_public_key);
  }
};

// The keys to reach the front end of the cluster in `dir` as `party_secret_key`
// (a path: the operator's or a client's secret key). Plain when the running
// front end says so (layout::transport_file is "plain"); CURVE otherwise, and
// then the files must exist (NotFound naming the file, PermissionDenied for
// a secret key others can read).
Status load_curve_client(const std::string& dir, const std::string& party_secret_key,
                         CurveClient* out);

}  // namespace triad::transport
