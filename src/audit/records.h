// What the audit store keeps (design.md, "Nothing lost" and "Card data"):
// each decision with its certificate, each divergence and each repair
// transition. No record has a field for a PAN, masked or not: a decision is
// found by the client's transaction id, and the certificate carries only the
// transaction's digest.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace triad::audit {

// PRAGMA user_version of the database; raised when the schema changes.
inline constexpr int kSchemaVersion = 1;

struct DecisionRow {
  std::uint64_t seq = 0;
  std::string id;
  std::int64_t ts_ms = 0;  // sequenced time
  std::string code;
  std::string agree;      // replica names in the majority, e.g. "ab"; empty if fail-safe
  std::string divergent;  // replica names known divergent at decision time
  bool fail_safe = false;
  std::uint64_t latency_us = 0;
  std::vector<std::uint8_t> certificate;  // empty for a fail-safe decline
  std::int64_t decided_at_ms = 0;         // wall clock when the front end decided
  std::int64_t run = 0;                   // filled by the store (see store.h)
};

struct DivergenceRow {
  std::uint64_t seq = 0;
  char replica = 'a';
  std::string kind;      // voter::to_string(DivergenceKind)
  std::string evidence;  // observed and majority codes
  std::int64_t at_ms = 0;
  std::int64_t run = 0;
};

struct RepairRow {
  char replica = 'a';
  std::string from_state;  // repair::to_string(ReplicaState)
  std::string to_state;
  std::string reason;
  std::string mode;  // the system mode after the transition (tmr, duplex, ...)
  std::int64_t at_ms = 0;
  std::int64_t run = 0;
};

using Record = std::variant<DecisionRow, DivergenceRow, RepairRow>;

}  // namespace triad::audit
