// The front end's logic without its I/O: sequencing, the idempotency record,
// the in-memory journal, fan-out, signature checks, the vote, the answers.
// It is stepped with what arrived and the time, and returns what to send, so
// the real process (frontend.cc) and the deterministic simulator
// (tests/sim) drive the very same code.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/types.h"
#include "crypto/ed25519.h"
#include "sequencer/sequencer.h"
#include "triad/transaction.h"
#include "voter/voter.h"

namespace triad::wire {
struct Verdict;
}  // namespace triad::wire

namespace triad::frontend {

// What the core wants sent. The caller sends it all and then clears it.
struct Outbox {
  struct ToClient {
    std::string client;  // ZeroMQ routing id
    std::vector<std::uint8_t> bytes;
  };
  struct ToReplica {
    int replica;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<ToClient> to_clients;
  std::vector<ToReplica> to_replicas;
  void clear() {
    to_clients.clear();
    to_replicas.clear();
  }
};

struct DivergenceCounts {
  std::array<std::uint64_t, 4> by_kind{};  // index: voter::DivergenceKind
  std::uint64_t total() const { return by_kind[0] + by_kind[1] + by_kind[2] + by_kind[3]; }
};

class Core {
 public:
  struct Config {
    bool trust_client_time = false;
    std::uint64_t deadline_us = 1'000'000;
    std::size_t max_in_flight = 20'000;
    std::array<PublicKey, kReplicaCount> replica_keys{};
  };

  // InvalidArgument when a replica key is not a valid Ed25519 public key.
  static Status create(const Config& config, std::unique_ptr<Core>* out);

  // One frame from a client. `wall_ms` is the clock for sequenced time.
  void on_client_message(const std::string& client, std::span<const std::uint8_t> payload,
                         std::uint64_t now_us, std::int64_t wall_ms, Outbox* out);
  // Sends what was sequenced since the last call to every connected replica.
  // Call after a burst of client messages, so entries travel in batches.
  void flush_new_entries(Outbox* out);
  // One frame from replica `replica` (the name comes from the connection).
  void on_replica_message(int replica, std::span<const std::uint8_t> payload,
                          std::uint64_t now_us, Outbox* out);
  // The replica's connection or process is gone: send nothing more until it
  // says hello again.
  void on_replica_gone(int replica);
  void on_time(std::uint64_t now_us, Outbox* out);

  // The earliest time on_time has something to do, for the poll timeout.
  std::optional<std::uint64_t> next_timer_us() const { return voter_.next_deadline_us(); }

  struct ReplicaView {
    bool connected = false;
    std::string fingerprint;
    std::uint64_t next_seq = 1;  // as last reported in a hello
    DivergenceCounts divergences;
  };
  const ReplicaView& replica(int r) const { return replicas_[static_cast<std::size_t>(r)]; }
  bool all_connected() const;
  // "replicas a and b report the same build fingerprint \"...\"", or empty.
  std::string identical_builds() const;

  struct Counters {
    std::uint64_t sequenced = 0;
    std::uint64_t decisions = 0;
    std::uint64_t fail_safe = 0;
    std::uint64_t replayed = 0;
    std::uint64_t client_errors = 0;
    std::uint64_t malformed_replica_messages = 0;
    std::uint64_t late_verdicts = 0;
  };
  const Counters& counters() const { return counters_; }
  std::size_t in_flight() const { return voter_.open_count(); }

 private:
  explicit Core(const Config& config);

  struct JournalEntry {
    std::int64_t ts_ms;
    Transaction tx;
  };
  struct Waiter {
    std::string client;
    std::uint64_t tag;
    bool replayed;
  };
  // The answer given for a seq, kept to answer a repeated id identically.
  struct Answer {
    std::string code;
    std::string agree;
    std::string divergent;
    std::vector<std::uint8_t> certificate;
  };

  void reply_error(const std::string& client, std::uint64_t tag, int kind,
                   const std::string& message, Outbox* out);
  void reply_decision(const std::string& client, std::uint64_t tag, std::uint64_t seq,
                      bool replayed, Outbox* out);
  void send_range(int replica, std::uint64_t from, std::uint64_t to, Outbox* out);
  void on_hello(int replica, std::uint64_t next_seq, std::string fingerprint,
                std::uint32_t rules_version, Outbox* out);
  void on_verdict(int replica, const wire::Verdict& verdict, std::uint64_t now_us);
  void handle_voter_output(Outbox* out);

  Config config_;
  std::array<crypto::VerifyingKey, kReplicaCount> keys_;
  std::array<ReplicaView, kReplicaCount> replicas_;
  sequencer::Sequencer sequencer_;
  voter::Voter voter_;
  voter::Output voter_out_;
  // In memory for now, index seq - 1; the durable journal is a later issue's.
  std::vector<JournalEntry> journal_;
  std::vector<std::optional<Answer>> answers_;
  std::unordered_map<std::uint64_t, std::vector<Waiter>> waiters_;
  std::uint64_t flushed_seq_ = 0;  // entries up to here were sent to connected replicas
  Counters counters_;
};

}  // namespace triad::frontend
