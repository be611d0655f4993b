// triad audit: a decision with its certificate, verified offline, by
// transaction id; the decisions on one card, by its keyed hash; or the
// divergences and repairs since a time. Reads
// DIR/audit.db, while `triad up` runs or after it stopped.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string_view>

#include "audit/reader.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/layout.h"
#include "crypto/base64.h"
#include "crypto/card_ref.h"
#include "crypto/key_files.h"
#include "triad/certificate.h"
#include "triad/transaction.h"

namespace triad::cli {
namespace {

using Json = nlohmann::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json replica_list(const std::string& names) {
  Json list = Json::array();
  for (const char c : names) list.push_back(std::string(1, c));
  return list;
}

std::string comma_list(const std::string& names) {
  if (names.empty()) return "-";
  std::string text;
  for (const char c : names) {
    if (!text.empty()) text += ',';
    text += c;
  }
  return text;
}

// The fields of a decision both `triad audit ID` and `--card` print.
Json decision_json(const audit::DecisionRow& d) {
  return {{"run", d.run},
          {"seq", d.seq},
          {"ts", d.ts_ms},
          {"code", d.code},
          {"agree", replica_list(d.agree)},
          {"divergent", replica_list(d.divergent)},
          {"fail_safe", d.fail_safe},
          {"decided_at", d.decided_at_ms}};
}

int show_decisions(const std::string& dir, audit::AuditReader& reader, const std::string& id,
                   bool json) {
  std::vector<audit::DecisionRow> rows;
  if (Status s = reader.decisions_for_id(id, &rows); !s.is_ok()) {
    std::fprintf(stderr, "triad audit: %s\n", s.message().c_str());
    return 2;
  }
  if (rows.empty()) {
    std::fprintf(stderr, "triad audit: no decision for id '%s' in %s\n",
                 mask_digit_runs(id).c_str(), layout::audit_db(dir).c_str());
    return 1;
  }
  Keyring keyring;
  bool keys_loaded = false;
  bool all_ok = true;
  Json out = {{"id", id}, {"decisions", Json::array()}};
  for (const audit::DecisionRow& d : rows) {
    Json j = decision_json(d);
    j["latency_us"] = d.latency_us;
    j["cert"] = nullptr;
    if (!json) {
      std::printf("decision %s (run %lld, seq %llu)\n", d.id.c_str(), static_cast<long long>(d.run),
                  static_cast<unsigned long long>(d.seq));
      std::printf("  ts          %s (%lld)\n", audit::format_utc_ms(d.ts_ms).c_str(),
                  static_cast<long long>(d.ts_ms));
      std::printf("  code        %s\n", d.code.c_str());
      std::printf("  agree       %s\n", comma_list(d.agree).c_str());
      std::printf("  divergent   %s\n", comma_list(d.divergent).c_str());
      std::printf("  fail-safe   %s\n", d.fail_safe ? "yes" : "no");
      std::printf("  latency     %llu us\n", static_cast<unsigned long long>(d.latency_us));
      std::printf("  decided at  %s\n", audit::format_utc_ms(d.decided_at_ms).c_str());
    }
    if (d.certificate.empty()) {
      // A fail-safe decline is the voter's own answer: no replica signed it.
      // Any other code without a certificate is not a decision Triad made.
      if (is_fail_safe_code(d.code)) {
        j["certificate"] = {{"verified", false}, {"reason", "fail-safe decline: no certificate"}};
        if (!json) std::printf("no certificate: a fail-safe decline is signed by no replica\n");
      } else {
        all_ok = false;
        const std::string why = "code " + d.code + " without a certificate";
        j["certificate"] = {{"verified", false}, {"reason", why}};
        if (!json) std::printf("INVALID: %s (only a fail-safe 91 or 96 has none)\n", why.c_str());
      }
      out["decisions"].push_back(std::move(j));
      continue;
    }
    j["cert"] = crypto::base64_encode(d.certificate);
    if (!keys_loaded) {
      if (Status s = Keyring::load_dir(dir, &keyring); !s.is_ok()) {
        std::fprintf(stderr, "triad audit: cannot verify: %s\n", s.message().c_str());
        return 2;
      }
      keys_loaded = true;
    }
    CertificateInfo info;
    const Status s =
        verify_decision_certificate(d.certificate, keyring, d.seq, d.ts_ms, d.code, &info);
    if (!s.is_ok()) {
      all_ok = false;
      j["certificate"] = {{"verified", false}, {"reason", s.message()}};
      if (!json) {
        std::printf("certificate (%zu bytes, base64 %s)\n", d.certificate.size(),
                    j["cert"].get<std::string>().c_str());
        std::printf("certificate NOT verified: %s\n", s.message().c_str());
      }
      out["decisions"].push_back(std::move(j));
      continue;
    }
    j["certificate"] = {{"verified", true},
                        {"seq", info.seq},
                        {"ts", info.ts_ms},
                        {"code", info.code},
                        {"rules_version", info.rules_version},
                        {"tx_digest", info.tx_digest_hex},
                        {"state_digest", info.state_digest_hex},
                        {"signers", replica_list(info.signers)}};
    if (!json) {
      std::printf("certificate (%zu bytes)\n", d.certificate.size());
      std::printf("  seq %llu, ts %lld, code %s, rules v%u\n",
                  static_cast<unsigned long long>(info.seq), static_cast<long long>(info.ts_ms),
                  info.code.c_str(), info.rules_version);
      std::printf("  tx digest     %s\n", info.tx_digest_hex.c_str());
      std::printf("  state digest  %s\n", info.state_digest_hex.c_str());
      for (const char r : info.signers) {
        std::printf("  signature     replica %c: valid (%s)\n", r,
                    layout::replica_public_key(dir, replica_index(r)).c_str());
      }
      std::printf("  base64        %s\n", j["cert"].get<std::string>().c_str());
      std::printf("certificate verified: seq %llu, code %s, signed by %s\n",
                  static_cast<unsigned long long>(info.seq), info.code.c_str(),
                  comma_list(info.signers).c_str());
    }
    out["decisions"].push_back(std::move(j));
  }
  if (json) std::printf("%s\n", out.dump().c_str());
  return all_ok ? 0 : 1;
}

// `--card PAN`: the PAN itself, or "-" for one line of standard input (kept
// out of the shell's history and the process list). Only its form is
// checked, so a mistyped one is not echoed back.
Status read_card_argument(const std::string& arg, std::string* pan) {
  std::string text = arg;
  if (arg == "-" && !std::getline(std::cin, text)) {
    // std::cin reads through stdio: a read error (standard input a
    // directory, EIO) ends the line as the end of the input does.
    if (std::ferror(stdin)) {
      return Status::io_error(std::string("--card -: cannot read standard input: ") +
                              std::strerror(errno));
    }
    return Status::invalid_argument("--card -: nothing on standard input");
  }
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  text = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  if (text.size() < 12 || text.size() > 19 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    crypto::wipe(text.data(), text.size());
    return Status::invalid_argument("--card: not a PAN (12 to 19 digits)");
  }
  *pan = std::move(text);
  return Status::ok();
}

int show_card(const std::string& dir, audit::AuditReader& reader, const std::string& card_arg,
              std::size_t limit, bool json) {
  std::string pan;
  if (Status s = read_card_argument(card_arg, &pan); !s.is_ok()) {
    std::fprintf(stderr, "triad audit: %s\n", s.message().c_str());
    return 2;
  }
  const std::string masked = mask_pan(pan);
  crypto::SymmetricKey key;
  const std::string key_path = layout::card_ref_key(dir);
  if (Status s = crypto::load_symmetric_key(key_path, &key); !s.is_ok()) {
    crypto::wipe(pan.data(), pan.size());
    std::fprintf(stderr,
                 "triad audit: cannot read the card reference key (made by `triad up`): %s\n",
                 s.message().c_str());
    return 2;
  }
  const std::string ref = crypto::card_ref(key, pan);
  crypto::wipe(pan.data(), pan.size());
  std::vector<audit::DecisionRow> rows;
  // One more than asked shows whether there are more.
  if (Status s = reader.decisions_for_card(ref, limit + 1, &rows); !s.is_ok()) {
    std::fprintf(stderr, "triad audit: %s\n", s.message().c_str());
    return 2;
  }
  const bool truncated = rows.size() > limit;
  if (truncated) rows.pop_back();
  if (json) {
    Json list = Json::array();
    for (const audit::DecisionRow& d : rows) {
      Json j = decision_json(d);
      j["id"] = d.id;
      list.push_back(std::move(j));
    }
    std::printf(
        "%s\n",
        Json{{"card", masked}, {"card_ref", ref}, {"decisions", list}, {"truncated", truncated}}
            .dump()
            .c_str());
  } else {
    std::printf("card %s (card ref %s): %zu decision%s, newest first%s\n", masked.c_str(),
                ref.c_str(), rows.size(), rows.size() == 1 ? "" : "s",
                truncated ? " (more: raise --limit)" : "");
    for (const audit::DecisionRow& d : rows) {
      std::printf("  %s  %-24s  seq %llu (run %lld)  code %s  agree %s%s\n",
                  audit::format_utc_ms(d.decided_at_ms).c_str(), d.id.c_str(),
                  static_cast<unsigned long long>(d.seq), static_cast<long long>(d.run),
                  d.code.c_str(), comma_list(d.agree).c_str(), d.fail_safe ? "  fail-safe" : "");
    }
  }
  return rows.empty() ? 1 : 0;
}

int show_events(audit::AuditReader& reader, const std::string& since_text, bool json) {
  std::int64_t since_ms = 0;
  if (Status s = audit::parse_since(since_text, now_ms(), &since_ms); !s.is_ok()) {
    std::fprintf(stderr, "triad audit: %s\n", s.message().c_str());
    return 2;
  }
  std::vector<audit::Event> events;
  if (Status s = reader.events_since(since_ms, &events); !s.is_ok()) {
    std::fprintf(stderr, "triad audit: %s\n", s.message().c_str());
    return 2;
  }
  Json list = Json::array();
  std::size_t divergences = 0;
  for (const audit::Event& e : events) {
    if (const auto* d = std::get_if<audit::DivergenceRow>(&e)) {
      ++divergences;
      if (json) {
        list.push_back({{"type", "divergence"},
                        {"at", d->at_ms},
                        {"run", d->run},
                        {"seq", d->seq},
                        {"replica", std::string(1, d->replica)},
                        {"kind", d->kind},
                        {"evidence", d->evidence}});
      } else {
        std::printf("%s  divergence  replica %c  seq %llu  %s%s%s  (run %lld)\n",
                    audit::format_utc_ms(d->at_ms).c_str(), d->replica,
                    static_cast<unsigned long long>(d->seq), d->kind.c_str(),
                    d->evidence.empty() ? "" : ": ", d->evidence.c_str(),
                    static_cast<long long>(d->run));
      }
      continue;
    }
    const auto& r = std::get<audit::RepairRow>(e);
    if (json) {
      list.push_back({{"type", "repair"},
                      {"at", r.at_ms},
                      {"run", r.run},
                      {"replica", std::string(1, r.replica)},
                      {"from", r.from_state},
                      {"to", r.to_state},
                      {"reason", r.reason},
                      {"mode", r.mode}});
    } else {
      std::printf("%s  repair      replica %c  %s -> %s (%s); mode %s  (run %lld)\n",
                  audit::format_utc_ms(r.at_ms).c_str(), r.replica, r.from_state.c_str(),
                  r.to_state.c_str(), r.reason.c_str(), r.mode.c_str(),
                  static_cast<long long>(r.run));
    }
  }
  if (json) {
    std::printf("%s\n", Json{{"since", since_ms}, {"events", list}}.dump().c_str());
  } else {
    std::printf("%zu divergences, %zu repair transitions since %s\n", divergences,
                events.size() - divergences, audit::format_utc_ms(since_ms).c_str());
  }
  return 0;
}

}  // namespace

int run_audit_command(int argc, char** argv) {
  CLI::App app{
      "Query the audit store (DIR/audit.db): a decision by transaction id, with its certificate "
      "verified offline; the decisions on a card; or the divergences and repairs since a time."};
  std::string dir = layout::kDefaultDir;
  std::string id;
  std::string since;
  std::string card;
  std::size_t limit = 100;
  bool json = false;
  app.add_option("--dir", dir, "the directory given to `triad up --dir`")->capture_default_str();
  auto* id_option = app.add_option("id", id, "transaction id: show its decision and certificate");
  auto* since_option =
      app.add_option("--since", since,
                     "list divergences and repairs since T: ISO-8601 UTC (2026-11-26T08:00:00Z) or "
                     "a duration ago (30s, 10m, 2h, 1d)")
          ->excludes(id_option);
  auto* card_option =
      app.add_option("--card", card,
                     "list the decisions on card PAN, newest first, found by its keyed hash; "
                     "'-' reads the PAN from standard input (out of shell history)")
          ->excludes(id_option)
          ->excludes(since_option);
  app.add_option("--limit", limit, "with --card: at most this many decisions (up to 1,000,000)")
      ->check(decimal_range(1, 1'000'000))
      ->needs(card_option)
      ->capture_default_str();
  app.add_flag("--json", json, "one JSON object, for tools");
  if (const auto done = parse(app, argc, argv)) return *done;
  if (!id.empty() + !since.empty() + !card.empty() != 1) {
    std::fprintf(stderr, "triad audit: give a transaction id, --since T or --card PAN\n");
    return 2;
  }
  audit::AuditReader reader;
  if (Status s = audit::AuditReader::open(layout::audit_db(dir), &reader); !s.is_ok()) {
    std::fprintf(stderr, "triad audit: %s\n", s.message().c_str());
    return 2;
  }
  if (!card.empty()) return show_card(dir, reader, card, limit, json);
  return id.empty() ? show_events(reader, since, json) : show_decisions(dir, reader, id, json);
}

}  // namespace triad::cli
