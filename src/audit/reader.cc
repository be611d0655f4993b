#include "audit/reader.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <tuple>

#include "audit/lookup.h"
#include "common/assert.h"

namespace triad::audit {

Status AuditReader::open(const std::string& path, AuditReader* out) {
  // Read-write without create: a reader of a WAL database needs to map the
  // -shm index; when that cannot be written (another user's files), read-only
  // still works while `triad up` keeps it open, and after a clean stop.
  sql::Db db;
  Status s = sql::Db::open(path, sql::Db::Mode::kReadWrite, &db);
  if (s.code() == Status::Code::kIoError) s = sql::Db::open(path, sql::Db::Mode::kReadOnly, &db);
  if (s.code() == Status::Code::kNotFound) {
    return Status::not_found("no audit store at " + path +
                             " (has `triad up` run with this --dir?)");
  }
  TRIAD_RETURN_IF_ERROR(s);
  TRIAD_RETURN_IF_ERROR(db.exec("PRAGMA busy_timeout=5000; PRAGMA query_only=1"));
  std::string version;
  TRIAD_RETURN_IF_ERROR(db.query_text("PRAGMA user_version", &version));
  if (version == "0") return Status::corruption(path + " is not a Triad audit store");
  if (std::stoi(version) > kSchemaVersion) {
    return Status::invalid_argument(path + " has audit schema version " + version +
                                    ", newer than this program's " +
                                    std::to_string(kSchemaVersion));
  }
  out->db_ = std::move(db);
  out->schema_version_ = std::stoi(version);
  return Status::ok();
}

namespace {

constexpr std::string_view kDecisionColumns =
    "SELECT run, seq, id, ts_ms, code, agree, divergent, fail_safe, latency_us, certificate, "
    "decided_at_ms FROM decisions ";

// Steps `s` (a query of kDecisionColumns) to its end, appending to *out.
Status read_decisions(sql::Stmt& s, std::vector<DecisionRow>* out) {
  for (bool row = false;;) {
    TRIAD_RETURN_IF_ERROR(s.step(&row));
    if (!row) {
      s.reset();
      return Status::ok();
    }
    DecisionRow d;
    d.run = s.column_int(0);
    d.seq = static_cast<std::uint64_t>(s.column_int(1));
    d.id = s.column_text(2);
    d.ts_ms = s.column_int(3);
    d.code = s.column_text(4);
    d.agree = s.column_text(5);
    d.divergent = s.column_text(6);
    d.fail_safe = s.column_int(7) != 0;
    d.latency_us = static_cast<std::uint64_t>(s.column_int(8));
    d.certificate = s.column_blob(9);
    d.decided_at_ms = s.column_int(10);
    out->push_back(std::move(d));
  }
}

}  // namespace

Status AuditReader::lookup_decisions(std::int64_t key, std::string_view column,
                                     const std::string& value, std::size_t limit,
                                     std::vector<DecisionRow>* out) {
  TRIAD_ASSERT(limit > 0);
  out->clear();
  // One read transaction: a table the writer writes or merges meanwhile
  // can neither hide a decision nor show it twice.
  TRIAD_RETURN_IF_ERROR(db_.exec("BEGIN"));
  Status s = [&]() -> Status {
    sql::Stmt tail;
    TRIAD_RETURN_IF_ERROR(
        sql::Stmt::prepare(db_,
                           std::string(kDecisionColumns) + "WHERE (run, seq) > (?, ?) AND " +
                               std::string(column) + " = ? ORDER BY run DESC, seq DESC LIMIT ?",
                           &tail));
    sql::Stmt one;
    TRIAD_RETURN_IF_ERROR(sql::Stmt::prepare(db_,
                                             std::string(kDecisionColumns) +
                                                 "WHERE run = ? AND seq = ? AND " +
                                                 std::string(column) + " = ?",
                                             &one));
    lookup::Found found;
    std::size_t per_table = limit;
    TRIAD_RETURN_IF_ERROR(lookup::find(db_, key, per_table, &found));
    // The decisions not in a lookup table yet (the newest few thousand) are
    // newer than any that is: read once, whatever the tables need.
    tail.bind(1, found.through_run);
    tail.bind(2, found.through_seq);
    tail.bind(3, value);
    tail.bind(4, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    TRIAD_RETURN_IF_ERROR(read_decisions(tail, out));
    const std::size_t from_tail = out->size();
    // Each table's newest `limit` entries are enough unless some of them
    // find no row: another value with the same key, or a row retention
    // deleted while its entry waits for a merge. Then again with twice as
    // many, up to all of them (never truncated).
    while (true) {
      const std::size_t sure =
          found.truncated ? std::min(per_table, found.entries.size()) : found.entries.size();
      for (std::size_t i = 0; i < sure && out->size() < limit; ++i) {
        one.bind(1, found.entries[i].run);
        one.bind(2, found.entries[i].seq);
        one.bind(3, value);
        TRIAD_RETURN_IF_ERROR(read_decisions(one, out));
      }
      if (out->size() >= limit || !found.truncated) return Status::ok();
      out->resize(from_tail);
      per_table = per_table > lookup::kAllEntries / 2 ? lookup::kAllEntries : per_table * 2;
      TRIAD_RETURN_IF_ERROR(lookup::find(db_, key, per_table, &found));
    }
  }();
  (void)db_.exec(s.is_ok() ? "COMMIT" : "ROLLBACK");
  return s;
}

Status AuditReader::decisions_for_id(const std::string& id, std::vector<DecisionRow>* out) {
  if (schema_version_ >= 4) {
    return lookup_decisions(lookup::id_key(id), "id", id, lookup::kAllEntries, out);
  }
  out->clear();
  sql::Stmt s;
  TRIAD_RETURN_IF_ERROR(
      sql::Stmt::prepare(db_,
                         // The runs are few: one seek into the UNIQUE(run, id) index per run.
                         std::string(kDecisionColumns) +
                             "WHERE run IN (SELECT run FROM runs) AND id = ? ORDER BY run DESC",
                         &s));
  s.bind(1, id);
  return read_decisions(s, out);
}

Status AuditReader::certificate_at(std::uint64_t seq, std::vector<std::uint8_t>* out) {
  sql::Stmt s;
  // The runs are few: one seek into the (run, seq) primary key per run.
  TRIAD_RETURN_IF_ERROR(sql::Stmt::prepare(
      db_,
      "SELECT certificate FROM decisions WHERE run IN (SELECT run FROM runs) AND seq = ? AND "
      "fail_safe = 0 AND length(certificate) > 0 ORDER BY run DESC LIMIT 1",
      &s));
  s.bind(1, static_cast<std::int64_t>(seq));
  bool row = false;
  TRIAD_RETURN_IF_ERROR(s.step(&row));
  if (!row) return Status::not_found("no certified decision at seq " + std::to_string(seq));
  *out = s.column_blob(0);
  return Status::ok();
}

Status AuditReader::decisions_for_card(const std::string& card_ref, std::size_t limit,
                                       std::vector<DecisionRow>* out) {
  out->clear();
  // Version 1 stores had no card references: nothing to find, said plainly.
  if (schema_version_ < 2) {
    return Status::not_found("this audit store predates card references (schema version " +
                             std::to_string(schema_version_) +
                             "); start `triad up` on it once to upgrade it");
  }
  TRIAD_ASSERT(limit > 0);
  if (schema_version_ >= 4) {
    TRIAD_RETURN_IF_ERROR(
        lookup_decisions(lookup::card_key(card_ref), "card_ref", card_ref, limit, out));
    for (DecisionRow& d : *out) d.card_ref = card_ref;
    return Status::ok();
  }
  sql::Stmt s;
  TRIAD_RETURN_IF_ERROR(sql::Stmt::prepare(
      db_, std::string(kDecisionColumns) + "WHERE card_ref = ? ORDER BY run DESC, seq DESC LIMIT ?",
      &s));
  s.bind(1, card_ref);
  s.bind(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
  TRIAD_RETURN_IF_ERROR(read_decisions(s, out));
  for (DecisionRow& d : *out) d.card_ref = card_ref;
  return Status::ok();
}

Status AuditReader::events_since(std::int64_t since_ms, std::vector<Event>* out) {
  out->clear();
  sql::Stmt s;
  TRIAD_RETURN_IF_ERROR(sql::Stmt::prepare(
      db_,
      "SELECT run, seq, replica, kind, evidence, at_ms FROM divergences WHERE at_ms >= ? "
      "ORDER BY at_ms, rowid",
      &s));
  s.bind(1, since_ms);
  for (bool row = false;;) {
    TRIAD_RETURN_IF_ERROR(s.step(&row));
    if (!row) break;
    DivergenceRow d;
    d.run = s.column_int(0);
    d.seq = static_cast<std::uint64_t>(s.column_int(1));
    const std::string replica = s.column_text(2);
    d.replica = replica.empty() ? '?' : replica[0];
    d.kind = s.column_text(3);
    d.evidence = s.column_text(4);
    d.at_ms = s.column_int(5);
    out->push_back(std::move(d));
  }
  TRIAD_RETURN_IF_ERROR(sql::Stmt::prepare(
      db_,
      "SELECT run, replica, from_state, to_state, reason, mode, at_ms FROM repairs "
      "WHERE at_ms >= ? ORDER BY at_ms, rowid",
      &s));
  s.bind(1, since_ms);
  for (bool row = false;;) {
    TRIAD_RETURN_IF_ERROR(s.step(&row));
    if (!row) break;
    RepairRow r;
    r.run = s.column_int(0);
    const std::string replica = s.column_text(1);
    r.replica = replica.empty() ? '?' : replica[0];
    r.from_state = s.column_text(2);
    r.to_state = s.column_text(3);
    r.reason = s.column_text(4);
    r.mode = s.column_text(5);
    r.at_ms = s.column_int(6);
    out->push_back(std::move(r));
  }
  // Both lists are already in time order; a stable sort keeps each one's
  // insertion order at equal times and puts divergences (first) before repairs.
  std::stable_sort(out->begin(), out->end(), [](const Event& x, const Event& y) {
    const auto at = [](const Event& e) {
      return std::visit([](const auto& row) { return row.at_ms; }, e);
    };
    return at(x) < at(y);
  });
  return Status::ok();
}

std::string format_utc_ms(std::int64_t ms) {
  const std::int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[96];  // room for any int fields, so the compiler can prove no truncation
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms - seconds * 1000));
  return text;
}

namespace {

// Digits at text[*pos..] into *value; false when there are none.
bool take_number(std::string_view text, std::size_t* pos, std::size_t max_digits,
                 std::int64_t* value) {
  std::size_t n = 0;
  *value = 0;
  while (*pos < text.size() && n < max_digits && text[*pos] >= '0' && text[*pos] <= '9') {
    *value = *value * 10 + (text[*pos] - '0');
    ++*pos;
    ++n;
  }
  return n > 0;
}

bool parse_iso_utc(std::string_view text, std::int64_t* out_ms) {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z, exactly.
  std::size_t pos = 0;
  std::int64_t field[6];
  const char separators[] = {'-', '-', 'T', ':', ':'};
  for (int i = 0; i < 6; ++i) {
    const std::size_t start = pos;
    if (!take_number(text, &pos, i == 0 ? 4 : 2, &field[i])) return false;
    if (pos - start != (i == 0 ? 4u : 2u)) return false;
    if (i < 5) {
      if (pos >= text.size() || text[pos] != separators[i]) return false;
      ++pos;
    }
  }
  std::int64_t fraction_ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    std::int64_t digits = 0;
    if (!take_number(text, &pos, 3, &digits)) return false;
    for (std::size_t n = pos - start; n < 3; ++n) digits *= 10;
    fraction_ms = digits;
  }
  if (pos + 1 != text.size() || text[pos] != 'Z') return false;
  const auto [year, month, day, hour, minute, second] =
      std::tuple(field[0], field[1], field[2], field[3], field[4], field[5]);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  std::tm tm{};
  tm.tm_year = static_cast<int>(year - 1900);
  tm.tm_mon = static_cast<int>(month - 1);
  tm.tm_mday = static_cast<int>(day);
  tm.tm_hour = static_cast<int>(hour);
  tm.tm_min = static_cast<int>(minute);
  tm.tm_sec = static_cast<int>(second);
  const std::time_t t = timegm(&tm);
  // timegm normalises 2026-02-31 to March; such a date is a typo, not a time.
  if (tm.tm_mday != day) return false;
  *out_ms = static_cast<std::int64_t>(t) * 1000 + fraction_ms;
  return true;
}

}  // namespace

Status parse_since(std::string_view text, std::int64_t now_ms, std::int64_t* out_ms) {
  if (parse_iso_utc(text, out_ms)) return Status::ok();
  std::size_t pos = 0;
  std::int64_t count = 0;
  if (take_number(text, &pos, 9, &count) && pos + 1 == text.size() && count > 0) {
    std::int64_t unit_ms = 0;
    switch (text[pos]) {
      case 's':
        unit_ms = 1000;
        break;
      case 'm':
        unit_ms = 60'000;
        break;
      case 'h':
        unit_ms = 3'600'000;
        break;
      case 'd':
        unit_ms = 86'400'000;
        break;
      default:
        break;
    }
    if (unit_ms != 0) {
      *out_ms = now_ms - count * unit_ms;
      return Status::ok();
    }
  }
  return Status::invalid_argument(
      "--since '" + std::string(text) +
      "': expected an ISO-8601 UTC time like 2026-11-26T08:00:00Z or a duration like 30s, 10m, "
      "2h, 1d");
}

}  // namespace triad::audit
