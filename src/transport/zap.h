// Who may connect to a CURVE server socket: the ZAP policy (a pure decision,
// unit-tested) and the ZAP handler that applies it inside a process (RFC 27,
// inproc://zeromq.zap.01), counting and logging every refusal.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "transport/poll.h"
#include "triad/status.h"

namespace triad::transport {

struct ZapDecision {
  bool allowed = false;
  std::string user_id;  // when allowed: the key's name (messages carry it as "User-Id")
  std::string reason;   // when refused: why, for logs and counters (no secret in it)
};

// The property of every message of an admitted CURVE connection that holds
// its client's public key in Z85 (zmq_msg_gets), so that a key taken off an
// allow-list after the handshake can be told apart from its successor under
// the same name.
inline constexpr const char* kClientKeyProperty = "Client-Key";

// Per ZAP domain (one per server socket: "client", "replica", "control"),
// the client keys it admits. A domain nobody configured admits nothing.
class ZapPolicy {
 public:
  using KeyNames = std::map<std::string, std::string, std::less<>>;  // Z85 public key -> name

  // Admits every CURVE client key on `domain` (encrypted, not authenticated:
  // the client socket without an allow-list). user_id is "any".
  void admit_any(const std::string& domain);
  // Admits `public_key_z85` on `domain`, as `user_id`.
  void admit(const std::string& domain, const std::string& public_key_z85,
             const std::string& user_id);
  // Replaces the keys `domain` admits (Z85 public key -> user id); whether
  // it admits any key is kept.
  void replace_keys(const std::string& domain, KeyNames keys);
  // The keys `domain` admits, with their names (none for an unknown domain).
  const KeyNames& keys(const std::string& domain) const;
  // Whether a connection made with `public_key_z85` on `domain` would be
  // admitted now (per client message: no allocation).
  bool admits(std::string_view domain, std::string_view public_key_z85) const;

  // The decision for a client of `domain` using `mechanism` ("CURVE",
  // "NULL", "PLAIN") and, for CURVE, its 32-byte public key `credential`.
  ZapDecision decide(std::string_view domain, std::string_view mechanism,
                     std::span<const std::uint8_t> credential) const;

 private:
  struct Domain {
    bool any = false;
    KeyNames keys;
  };
  std::map<std::string, Domain, std::less<>> domains_;
};

// Serves ZAP requests for the CURVE server sockets of one ZeroMQ context, and
// counts the connections refused on each domain: by the policy, and (with
// watch()) by a failed handshake before ZAP is asked (a plain client on a
// CURVE socket, a client that pinned another server key). Driven by its
// owner's poll loop; not thread-safe.
class ZapHandler {
 public:
  ZapHandler(zmq::context_t& context, ZapPolicy policy);

  // Binds inproc://zeromq.zap.01; call before the server sockets bind.
  // Unavailable when another handler is bound in this context.
  Status start();

  // Also counts the failed handshakes of `socket` under `domain`.
  Status watch(zmq::socket_ref socket, const std::string& domain);

  // Appends its sockets to a poll set, as quiet ones (QuietSocket: a
  // handshake now and then); pass the same position to serve() after
  // poll_readable.
  std::size_t add_poll_items(std::vector<zmq::pollitem_t>* items);
  // Answers the ZAP requests and reads the monitor events that are due.
  void serve(std::span<const zmq::pollitem_t> items);

  // domain -> reason -> connections refused.
  const std::map<std::string, std::map<std::string, std::uint64_t>>& refused() const {
    return refused_;
  }
  std::uint64_t refused_total(const std::string& domain) const;

  // Decides the handshakes from now on; connections already made are the
  // owner's to check (kClientKeyProperty).
  ZapPolicy& policy() { return policy_; }

 private:
  void answer_request();
  void read_monitor(std::size_t index);
  void count(const std::string& domain, const std::string& reason, const std::string& detail);

  zmq::context_t& context_;
  ZapPolicy policy_;
  zmq::socket_t zap_;
  QuietSocket zap_quiet_{zap_};
  struct Monitor {
    std::string domain;
    zmq::socket_t socket;
    QuietSocket quiet;
  };
  std::vector<Monitor> monitors_;
  std::map<std::string, std::map<std::string, std::uint64_t>> refused_;
  std::map<std::string, std::uint64_t> totals_;
};

}  // namespace triad::transport
