#include "audit/sqlite.h"

#include <sqlite3.h>

#include "common/assert.h"

namespace triad::audit::sql {

void Db::Closer::operator()(sqlite3* db) const {
  // sqlite3_close_v2 defers the close until every statement is finalized, so
  // destruction order between a Db and its Stmts does not matter.
  sqlite3_close_v2(db);
}

Status Db::open(const std::string& path, Mode mode, Db* out) {
  int flags = SQLITE_OPEN_NOMUTEX;  // each connection is used by one thread
  switch (mode) {
    case Mode::kCreate:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case Mode::kReadWrite:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::kReadOnly:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db;
  db.db_.reset(raw);  // sqlite3_open_v2 may return a handle even on failure
  db.path_ = path;
  if (rc != SQLITE_OK) {
    const std::string why = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    if (rc == SQLITE_CANTOPEN && mode != Mode::kCreate) {
      return Status::not_found("cannot open " + path + ": " + why);
    }
    return Status::io_error("cannot open " + path + ": " + why);
  }
  // Extended codes tell a full disk from a locked database in messages.
  sqlite3_extended_result_codes(raw, 1);
  *out = std::move(db);
  return Status::ok();
}

std::string Db::error_text() const {
  return path_ + ": " + (db_ ? sqlite3_errmsg(db_.get()) : "not open");
}

Status Db::exec(std::string_view sql) {
  TRIAD_ASSERT(db_);
  const std::string text(sql);
  if (sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Status::io_error(error_text());
  }
  return Status::ok();
}

Status Db::query_text(std::string_view sql, std::string* out) {
  Stmt stmt;
  TRIAD_RETURN_IF_ERROR(Stmt::prepare(*this, sql, &stmt));
  bool has_row = false;
  TRIAD_RETURN_IF_ERROR(stmt.step(&has_row));
  *out = has_row ? stmt.column_text(0) : std::string();
  return Status::ok();
}

std::int64_t Db::changes() const { return sqlite3_changes64(db_.get()); }
std::int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }

void Stmt::Finalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

Status Stmt::prepare(Db& db, std::string_view sql, Stmt* out) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    return Status::io_error(db.error_text());
  }
  out->stmt_.reset(raw);
  out->db_ = &db;
  return Status::ok();
}

void Stmt::bind(int index, std::int64_t value) {
  // A failed bind is a wrong index or a used statement: a bug, not an outcome.
  const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  TRIAD_ASSERT(rc == SQLITE_OK);
}

void Stmt::bind(int index, std::string_view text) {
  const int rc = sqlite3_bind_text(stmt_.get(), index, text.data(), static_cast<int>(text.size()),
                                   SQLITE_TRANSIENT);
  TRIAD_ASSERT(rc == SQLITE_OK);
}

void Stmt::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_.get(), index);
  TRIAD_ASSERT(rc == SQLITE_OK);
}

void Stmt::bind_blob(int index, std::span<const std::uint8_t> bytes) {
  const int rc = bytes.empty()
                     ? sqlite3_bind_null(stmt_.get(), index)
                     : sqlite3_bind_blob(stmt_.get(), index, bytes.data(),
                                         static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  TRIAD_ASSERT(rc == SQLITE_OK);
}

Status Stmt::step(bool* has_row) {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) {
    *has_row = true;
    return Status::ok();
  }
  *has_row = false;
  if (rc == SQLITE_DONE) return Status::ok();
  const std::string why = db_->error_text();
  sqlite3_reset(stmt_.get());
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::corruption(why);
    case SQLITE_CONSTRAINT:
      return Status::internal(why);  // the caller wrote a duplicate: a bug upstream
    default:
      return Status::io_error(why);
  }
}

Status Stmt::run() {
  bool has_row = false;
  const Status s = step(&has_row);
  reset();
  return s;
}

void Stmt::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Stmt::column_int(int index) const { return sqlite3_column_int64(stmt_.get(), index); }

std::string Stmt::column_text(int index) const {
  const auto* text = sqlite3_column_text(stmt_.get(), index);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), index))};
}

std::vector<std::uint8_t> Stmt::column_blob(int index) const {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_.get(), index));
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), index));
  if (data == nullptr) return {};
  return {data, data + size};
}

}  // namespace triad::audit::sql
