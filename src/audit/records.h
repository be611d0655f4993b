// What the audit store keeps (design.md, "Nothing lost" and "Card data"):
// each decision with its certificate, each divergence and each repair
// transition. No PAN is stored, masked or not: a decision is found by the
// client's transaction id or by its card reference (crypto/card_ref.h, a
// keyed hash of the PAN), and the certificate carries only the transaction's
// digest.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace triad::audit {

// PRAGMA user_version of the database; raised when the schema changes.
// Version 2 added decisions.card_ref; a version 1 database is upgraded in
// place when the writer opens it (its rows keep a NULL card_ref). Version 3
// dropped the index decisions_by_id: lookups by id used the UNIQUE(run, id)
// index, one seek per run. Version 4 replaced that index and decisions_by_card
// with lookup tables (audit/lookup.h); the writer rebuilds the decisions table
// of an older store without them when it opens it.
inline constexpr int kSchemaVersion = 4;

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
  // The card reference (crypto::card_ref), crypto::kCardRefChars hex
  // digits, the one the decision's answer and certificate carry; empty when
  // the transaction had no PAN. The store never sees a PAN.
  std::string card_ref;
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
