// Where a cluster keeps its files under the directory given to `triad up
// --dir`. `triad up`, `keygen`, `verify`, `status` and the client library
// all find them here.
#pragma once

#include <string>

#include "common/types.h"

namespace triad::layout {

inline constexpr const char* kDefaultDir = "triad-data";

inline std::string keys_dir(const std::string& dir) { return dir + "/keys"; }
inline std::string logs_dir(const std::string& dir) { return dir + "/logs"; }
inline std::string replica_secret_key(const std::string& dir, int replica) {
  return keys_dir(dir) + "/replica-" + replica_name(replica) + ".key";
}
inline std::string replica_public_key(const std::string& dir, int replica) {
  return keys_dir(dir) + "/replica-" + replica_name(replica) + ".pub";
}
// CURVE (ZeroMQ encryption and authentication) key pairs, Z85 text, one
// pair per party: "frontend", "replica-a".."replica-c", "operator" (`triad
// status`, `triad inject`), and client key pairs under clients/ ("local" is
// the default client of `triad submit --dir`, `triad bench` and the client
// library's use_cluster_keys).
inline std::string curve_keys_dir(const std::string& dir) { return keys_dir(dir) + "/curve"; }
inline std::string curve_secret_key(const std::string& dir, const std::string& party) {
  return curve_keys_dir(dir) + "/" + party + ".key";
}
inline std::string curve_public_key(const std::string& dir, const std::string& party) {
  return curve_keys_dir(dir) + "/" + party + ".pub";
}
inline std::string curve_replica_party(int replica) {
  return std::string("replica-") + replica_name(replica);
}
inline constexpr const char* kCurveFrontEnd = "frontend";
inline constexpr const char* kCurveOperator = "operator";
inline constexpr const char* kCurveLocalClient = "local";
inline std::string curve_clients_dir(const std::string& dir) {
  return curve_keys_dir(dir) + "/clients";
}
inline std::string curve_client_secret_key(const std::string& dir, const std::string& client) {
  return curve_clients_dir(dir) + "/" + client + ".key";
}
inline std::string curve_client_public_key(const std::string& dir, const std::string& client) {
  return curve_clients_dir(dir) + "/" + client + ".pub";
}
inline std::string replica_log(const std::string& dir, int replica) {
  return logs_dir(dir) + "/replica-" + replica_name(replica) + ".log";
}
inline std::string frontend_log(const std::string& dir) { return logs_dir(dir) + "/frontend.log"; }
// The audit store (SQLite, WAL mode: also audit.db-wal and audit.db-shm
// while it is open).
inline std::string audit_db(const std::string& dir) { return dir + "/audit.db"; }
// The input journal (src/journal) and its AES-256 key (mode 0600, created by
// `triad up` when missing).
inline std::string journal(const std::string& dir) { return dir + "/journal"; }
inline std::string journal_key(const std::string& dir) { return keys_dir(dir) + "/journal.key"; }
// The fail-safe declines the journal's replay cannot reproduce
// (journal::AnswerLog).
inline std::string answer_log(const std::string& dir) { return dir + "/answers"; }
// What the journal's transactions were decided over (journal::check_origin).
inline std::string origin(const std::string& dir) { return dir + "/origin"; }
// The certificates of the answers, read back when an id is submitted again
// (frontend::FileArchive); what a restart decides again is dropped from it.
inline std::string certificates(const std::string& dir) { return dir + "/certificates"; }
// The newest replica state snapshot that matched the majority's checkpoint
// (journal/snapshot_file.h), encrypted with the journal's key: a restart
// replays only the journal after it.
inline std::string snapshot(const std::string& dir) { return dir + "/snapshot"; }
// The key of the card references (crypto/card_ref.h): in the audit store,
// and in every transaction digest, so in every certificate and in the
// answer log. Mode 0600, created by `triad up` when missing; DIR/origin
// names it by its id, so a directory's journal is never replayed under
// another.
inline std::string card_ref_key(const std::string& dir) { return keys_dir(dir) + "/card-ref.key"; }
inline std::string lock_file(const std::string& dir) { return dir + "/lock"; }
// The running front end writes its client endpoint here, one line.
inline std::string endpoint_file(const std::string& dir) { return dir + "/endpoint"; }
// ... and its control endpoint (`triad status`, `triad inject`) here.
inline std::string control_file(const std::string& dir) { return dir + "/control"; }
// ... and whether its sockets use CURVE: "curve" or "plain", one line.
inline std::string transport_file(const std::string& dir) { return dir + "/transport"; }

}  // namespace triad::layout
