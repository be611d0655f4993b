// Shared by the libFuzzer targets and the seed generator (seeds.cc): one
// fixed world (sample cards, the simulator's replica keys), the step framing
// the message-handler targets read, and the harnesses that feed steps to the
// front end's Core and to a ReplicaNode. The generator records its inputs
// through the same harnesses, so a committed seed replays exactly.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "frontend/core.h"
#include "frontend/memory_archive.h"
#include "replica/node.h"
#include "rules/engine.h"
#include "triad/certificate.h"
#include "triad/transaction.h"

namespace triad::fuzz {

using Bytes = std::vector<std::uint8_t>;

// What every target shares, built once per process: a 20-card sample card
// file and its traffic, and a Keyring of the simulator's replica keys (the
// keys that sign the seeds' verdicts and certificates).
struct World {
  std::string card_text;
  rules::CardFile cards;
  Digest card_digest{};
  std::vector<std::string> traffic_lines;
  std::vector<Transaction> traffic;
  Keyring keyring;
};
const World& world();

// Logging off, the fast Ed25519 backend. Every target calls it first.
void init();

// The digest the front end and the replicas make of `tx`, under the
// simulator's card reference key.
Digest transaction_digest(const Transaction& tx);

// Aborts (a finding) when `condition` is false: a property the code promises,
// checked on fuzzed input.
void check(bool condition, const char* what);

// Message-handler inputs are a sequence of steps, each
//   kind (1 byte) | length (2 bytes, little-endian) | payload (length bytes);
// a last step cut short takes what is left.
struct Step {
  std::uint8_t kind;
  std::span<const std::uint8_t> payload;
};
std::vector<Step> split_steps(std::span<const std::uint8_t> input);
void append_step(std::uint8_t kind, std::span<const std::uint8_t> payload, Bytes* out);

// The front end's Core with the simulator's keys and a clock that moves 1 ms
// per step. Step kinds (kind % 8):
//   0, 1, 2  a message from replica a, b, c
//   3        a client message (then the new entries are flushed, as the
//            front end does after a burst); with the kind's top bit set, one
//            from a client no longer admitted, which must sequence nothing
//   4        time passes beyond the vote deadline (on_time)
//   5, 6, 7  replica payload[0] % 3 exited / started / disconnected
// Every message the Core sends must pass the wire verifiers.
class CoreHarness {
 public:
  enum Kind : std::uint8_t { kReplica = 0, kClient = 3, kTime, kExited, kStarted, kGone };
  CoreHarness();
  void step(std::uint8_t kind, std::span<const std::uint8_t> payload, frontend::Outbox* out);
  frontend::Core& core() { return *core_; }

 private:
  frontend::MemoryArchive archive_;  // before core_, which uses it
  std::unique_ptr<frontend::Core> core_;
  std::uint64_t now_us_;
  std::int64_t wall_ms_;
};

// A ReplicaNode (replica `replica`, checkpoint every 4 seqs) with a clock that
// moves 1 ms per step. Step kinds (kind % 2):
//   0  a message from the front end
//   1  the node is idle past its Hello interval (on_time)
// Every message the node sends must pass the wire verifier.
class NodeHarness {
 public:
  enum Kind : std::uint8_t { kMessage = 0, kIdle };
  static constexpr std::uint64_t kCheckpointInterval = 4;
  // `launch`: which process of the replica it is (FromReplica.launch).
  explicit NodeHarness(int replica, std::uint64_t launch = 0);
  void start(replica::ReplicaNode::Messages* out);
  void step(std::uint8_t kind, std::span<const std::uint8_t> payload,
            replica::ReplicaNode::Messages* out);
  replica::ReplicaNode& node() { return *node_; }

 private:
  std::unique_ptr<replica::ReplicaNode> node_;
  std::uint64_t now_us_;
};

}  // namespace triad::fuzz
