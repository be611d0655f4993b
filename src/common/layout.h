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
inline std::string lock_file(const std::string& dir) { return dir + "/lock"; }
// The running front end writes its client endpoint here, one line.
inline std::string endpoint_file(const std::string& dir) { return dir + "/endpoint"; }
// ... and its control endpoint (`triad status`, `triad inject`) here.
inline std::string control_file(const std::string& dir) { return dir + "/control"; }

}  // namespace triad::layout
