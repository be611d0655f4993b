// A thin RAII layer over SQLite's C API: one connection, one prepared
// statement, every failure a Status naming the database and SQLite's message.
// Only the audit store uses it; nothing here is SQLite-specific beyond what
// the store needs.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "triad/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace triad::audit::sql {

class Db {
 public:
  enum class Mode : std::uint8_t { kCreate, kReadWrite, kReadOnly };
  Db() = default;
  // Opens `path`. kCreate makes the file when missing; kReadWrite and
  // kReadOnly return NotFound when it is missing, IoError for anything else.
  static Status open(const std::string& path, Mode mode, Db* out);

  // Runs one or more statements that return no rows we need.
  Status exec(std::string_view sql);
  // Runs a statement returning one text value (a PRAGMA), into `out`.
  Status query_text(std::string_view sql, std::string* out);
  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;
  sqlite3* handle() const { return db_.get(); }
  const std::string& path() const { return path_; }
  // "PATH: <SQLite's last error message>".
  std::string error_text() const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  std::unique_ptr<sqlite3, Closer> db_;
  std::string path_;
};

class Stmt {
 public:
  Stmt() = default;
  static Status prepare(Db& db, std::string_view sql, Stmt* out);

  // Binding is by 1-based position, as in SQLite.
  void bind(int index, std::int64_t value);
  void bind(int index, std::string_view text);
  void bind_null(int index);
  // An empty blob is bound as NULL (a fail-safe decline has no certificate).
  void bind_blob(int index, std::span<const std::uint8_t> bytes);
  // True while a row is available; false when done. Status on failure.
  Status step(bool* has_row);
  // Steps a statement that returns no rows, then resets it for reuse.
  Status run();
  void reset();

  std::int64_t column_int(int index) const;
  std::string column_text(int index) const;
  std::vector<std::uint8_t> column_blob(int index) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const;
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  Db* db_ = nullptr;
};

}  // namespace triad::audit::sql
