// triad verify, triad keygen, triad sample.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <utility>

#include "cli/commands.h"
#include "cli/line_reader.h"
#include "cli/options.h"
#include "common/layout.h"
#include "frontend/keys.h"
#include "sample/sample.h"
#include "triad/certificate.h"
#include "triad/transaction.h"

namespace triad::cli {

namespace {

using Json = nlohmann::json;

// One certificate per line: its base64 text, or a verdict line of `triad
// submit` (a JSON object with a "cert" field), left in *object for
// claims_match. NotFound when a JSON line has no certificate.
Status certificate_text(const std::string& line, std::string* out, Json* object) {
  const auto first = line.find_first_not_of(" \t\r");
  if (first == std::string::npos || line[first] != '{') {
    *out = line;
    return Status::ok();
  }
  *object = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (object->is_discarded() || !object->is_object()) {
    return Status::invalid_argument("not valid JSON");
  }
  const auto it = object->find("cert");
  if (it == object->end() || it->is_null()) return Status::not_found("no certificate");
  if (!it->is_string()) return Status::invalid_argument("field cert is not a string");
  *out = it->get<std::string>();
  return Status::ok();
}

// A line without a certificate claims no decision the replicas made: only
// the voter's own fail-safe declines (rules.md section 6) and client errors
// have none. Anything else, an approval above all, would be an unproven
// claim (rules.md: no 00 without two agreeing, validly signed verdicts).
Status claims_without_certificate(const Json& object) {
  if (const auto it = object.find("approved"); it != object.end()) {
    if (!it->is_boolean()) return Status::invalid_argument("field approved is not true or false");
    if (it->get<bool>()) return Status::invalid_argument("approved without a certificate");
  }
  if (const auto it = object.find("code"); it != object.end()) {
    if (!it->is_string()) return Status::invalid_argument("field code is not a string");
    const std::string code = it->get<std::string>();
    if (!is_fail_safe_code(code)) {
      return Status::invalid_argument(
          "code " + mask_digit_runs(code) +
          " without a certificate (only the fail-safe declines 91 and 96 have none)");
    }
  }
  return Status::ok();
}

// A field's value, for a message: a scalar as its JSON text, digit runs
// masked (a card number typed into a field is not echoed), an array or an
// object by its kind only. dump() recurses once per level of nesting, and a
// line whose "seq" was 2,000,000 nested [ ] overflowed the stack (SIGSEGV);
// what the certificate proves is never an array or an object anyway.
std::string shown(const Json& value) {
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return mask_digit_runs(value.dump());
}

// The fields of a `triad submit` line must say what its certificate proves:
// otherwise a decline's certificate could vouch for a line rewritten to an
// approval. A field left out claims nothing.
Status claims_match(const Json& object, const CertificateInfo& info) {
  const std::pair<const char*, Json> proven[] = {{"seq", Json(info.seq)},
                                                 {"ts", Json(info.ts_ms)},
                                                 {"code", Json(info.code)},
                                                 {"approved", Json(info.code == "00")}};
  for (const auto& [field, value] : proven) {
    const auto it = object.find(field);
    if (it == object.end()) continue;
    // Integers only: 503.0 would compare equal to 503. `value` is a scalar:
    // the comparison does not descend into *it.
    const bool same = value.is_number() ? it->is_number_integer() && *it == value : *it == value;
    if (!same) {
      return Status::invalid_argument(
          std::string("field ") + field + " is " + shown(*it) + ", the certificate's is " +
          value.dump() +
          (std::string_view(field) == "approved" ? " (code " + info.code + ")" : std::string()));
    }
  }
  return Status::ok();
}

}  // namespace

int run_verify_command(int argc, char** argv) {
  CLI::App app{
      "Check decision certificates offline: the base64 `cert` text, or `triad submit` output "
      "lines, one per line (their seq, ts, code and approved must be what the certificate "
      "says; a line without one must be a fail-safe decline, 91 or 96, or a client error)."};
  std::string dir = layout::kDefaultDir;
  std::string input = "-";
  app.add_option("--dir", dir, "directory given to `triad up --dir` (its keys/ are used)")
      ->capture_default_str();
  app.add_option("input", input, "file of certificates, or - for standard input")
      ->capture_default_str();
  if (const auto done = parse(app, argc, argv)) return *done;
  LineReader in;
  if (Status s = in.open(input); !s.is_ok()) {
    std::fprintf(stderr, "triad verify: %s\n", s.message().c_str());
    return 2;
  }
  Keyring keyring;
  if (Status s = Keyring::load_dir(dir, &keyring); !s.is_ok()) {
    std::fprintf(stderr, "triad verify: %s\n", s.message().c_str());
    return 2;
  }
  std::uint64_t valid = 0;
  std::uint64_t invalid = 0;
  std::uint64_t without = 0;
  std::uint64_t line_no = 0;
  std::string last_valid;
  std::string line;
  while (in.next(&line) == LineReader::Got::kLine) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string text;
    Json object;
    Status s = certificate_text(line, &text, &object);
    if (s.code() == Status::Code::kNotFound) {
      s = claims_without_certificate(object);
      if (s.is_ok()) {
        ++without;
        continue;
      }
    }
    CertificateInfo info;
    if (s.is_ok()) s = verify_certificate_base64(text, keyring, &info);
    if (s.is_ok() && object.is_object()) s = claims_match(object, info);
    if (!s.is_ok()) {
      ++invalid;
      std::printf("line %llu: INVALID: %s\n", static_cast<unsigned long long>(line_no),
                  s.message().c_str());
      continue;
    }
    ++valid;
    std::string signers;
    for (const char c : info.signers) {
      if (!signers.empty()) signers += ',';
      signers += c;
    }
    char summary[256];
    std::snprintf(summary, sizeof summary,
                  "valid: seq %llu code %s ts %lld signed by %s (rules v%u, tx %.16s..., state "
                  "%.16s...)",
                  static_cast<unsigned long long>(info.seq), info.code.c_str(),
                  static_cast<long long>(info.ts_ms), signers.c_str(), info.rules_version,
                  info.tx_digest_hex.c_str(), info.state_digest_hex.c_str());
    last_valid = summary;
  }
  // A read error cut the input short: what was read proves nothing of the
  // rest.
  if (!in.error().is_ok()) {
    std::fprintf(stderr, "triad verify: %s (after line %llu)\n", in.error().message().c_str(),
                 static_cast<unsigned long long>(line_no));
    return 2;
  }
  // A line without a certificate proves nothing (a fail-safe decline or a
  // client error is allowed beside certificates, not in place of them):
  // input of only such lines held no certificate to verify, and exited 0.
  if (valid + invalid == 0) {
    if (without == 0) {
      std::printf("INVALID: no certificate in the input\n");
    } else {
      std::printf("INVALID: no certificate in the input, only %llu line%s without one\n",
                  static_cast<unsigned long long>(without), without == 1 ? "" : "s");
    }
    return 1;
  }
  if (valid == 1 && invalid == 0 && without == 0) {
    std::printf("%s\n", last_valid.c_str());
  } else {
    std::printf("%llu valid, %llu invalid, %llu without certificate\n",
                static_cast<unsigned long long>(valid), static_cast<unsigned long long>(invalid),
                static_cast<unsigned long long>(without));
  }
  return invalid == 0 ? 0 : 1;
}

int run_keygen_command(int argc, char** argv) {
  CLI::App app{
      "Create the keys `triad up` needs in DIR/keys where missing (secret keys mode 0600): the "
      "replicas' Ed25519 signing keys and the CURVE keys of the front end, replicas, operator "
      "and local client; or, with --client, a new client CURVE key pair."};
  std::string dir = layout::kDefaultDir;
  std::string client;
  app.add_option("--dir", dir, "state directory")->capture_default_str();
  app.add_option("--client", client,
                 "make a CURVE key pair for client NAME in DIR/keys/curve/clients (give the "
                 "client NAME.key; `triad up --client-allow DIR/keys/curve/clients` admits it)");
  if (const auto done = parse(app, argc, argv)) return *done;
  std::string report;
  Status status = frontend::ensure_replica_keys(dir, &report);
  if (status.is_ok()) {
    status = client.empty() ? frontend::ensure_curve_keys(dir, &report)
                            : frontend::make_client_curve_key(dir, client, &report);
  }
  if (Status s = status; !s.is_ok()) {
    std::fprintf(stderr, "triad keygen: %s\n", s.message().c_str());
    return 2;
  }
  std::fputs(report.empty() ? ("keys already present in " + layout::keys_dir(dir) + "\n").c_str()
                            : report.c_str(),
             stdout);
  return 0;
}

int run_sample_command(int argc, char** argv) {
  CLI::App app{"Write a sample card file and sample traffic (JSON Lines with ts fields)."};
  sample::Options options;
  std::string cards_path = "cards.csv";
  std::string traffic_path = "traffic.jsonl";
  // Both are generated in memory, about 1 KB each, before they are written:
  // the bounds keep a slip of the keyboard from taking the machine's memory.
  app.add_option("--cards", options.card_count, "number of cards (up to 100,000)")
      ->check(decimal_range(0, 100'000))
      ->capture_default_str();
  app.add_option("--transactions", options.transaction_count,
                 "number of transactions (up to 1,000,000)")
      ->check(decimal_range(0, 1'000'000))
      ->capture_default_str();
  app.add_option("--seed", options.seed, "generator seed")
      ->check(decimal_range(0, std::numeric_limits<std::uint64_t>::max()))
      ->capture_default_str();
  app.add_option("--cards-out", cards_path, "card file to write")->capture_default_str();
  app.add_option("--traffic-out", traffic_path, "traffic file to write")->capture_default_str();
  bool sequenced = false;
  app.add_flag("--sequenced", sequenced,
               "add each line's \"seq\" (1, 2, 3 ...), the input of triad-replica --replay");
  if (const auto done = parse(app, argc, argv)) return *done;
  std::ofstream cards(cards_path);
  cards << sample::generate_card_file(options);
  std::ofstream traffic(traffic_path);
  std::uint64_t seq = 0;
  for (const std::string& line : sample::generate_traffic(options)) {
    if (sequenced) {
      traffic << sample::with_seq(line, ++seq) << '\n';
    } else {
      traffic << line << '\n';
    }
  }
  if (!cards.flush() || !traffic.flush()) {
    std::fprintf(stderr, "triad sample: cannot write %s or %s\n", cards_path.c_str(),
                 traffic_path.c_str());
    return 2;
  }
  std::printf("wrote %zu cards to %s and %zu transactions to %s\n", options.card_count,
              cards_path.c_str(), options.transaction_count, traffic_path.c_str());
  return 0;
}

}  // namespace triad::cli
