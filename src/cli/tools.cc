// triad verify, triad keygen, triad sample.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "common/layout.h"
#include "frontend/keys.h"
#include "sample/sample.h"
#include "triad/certificate.h"

namespace triad::cli {

int run_verify_command(int argc, char** argv) {
  CLI::App app{"Check a decision certificate (base64 `cert` text) offline."};
  std::string dir = layout::kDefaultDir;
  std::string input = "-";
  app.add_option("--dir", dir, "directory given to `triad up --dir` (its keys/ are used)")
      ->capture_default_str();
  app.add_option("input", input, "file with the certificate's base64 text, or - for stdin")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  std::stringstream text;
  if (input == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream f(input);
    if (!f) {
      std::fprintf(stderr, "triad verify: cannot read %s\n", input.c_str());
      return 2;
    }
    text << f.rdbuf();
  }
  Keyring keyring;
  if (Status s = Keyring::load_dir(dir, &keyring); !s.is_ok()) {
    std::fprintf(stderr, "triad verify: %s\n", s.message().c_str());
    return 2;
  }
  CertificateInfo info;
  if (Status s = verify_certificate_base64(text.str(), keyring, &info); !s.is_ok()) {
    std::printf("INVALID: %s\n", s.message().c_str());
    return 1;
  }
  std::string signers;
  for (const char c : info.signers) signers += signers.empty() ? std::string(1, c) : std::string(",") + c;
  std::printf("valid: seq %llu code %s ts %lld signed by %s (rules v%u, tx %s..., state %s...)\n",
              static_cast<unsigned long long>(info.seq), info.code.c_str(),
              static_cast<long long>(info.ts_ms), signers.c_str(), info.rules_version,
              info.tx_digest_hex.substr(0, 16).c_str(), info.state_digest_hex.substr(0, 16).c_str());
  return 0;
}

int run_keygen_command(int argc, char** argv) {
  CLI::App app{"Create the replicas' Ed25519 key pairs in DIR/keys (secret keys mode 0600)."};
  std::string dir = layout::kDefaultDir;
  app.add_option("--dir", dir, "state directory")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  std::string report;
  if (Status s = frontend::ensure_replica_keys(dir, &report); !s.is_ok()) {
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
  app.add_option("--cards", options.card_count, "number of cards")->capture_default_str();
  app.add_option("--transactions", options.transaction_count, "number of transactions")
      ->capture_default_str();
  app.add_option("--seed", options.seed, "generator seed")->capture_default_str();
  app.add_option("--cards-out", cards_path, "card file to write")->capture_default_str();
  app.add_option("--traffic-out", traffic_path, "traffic file to write")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  std::ofstream cards(cards_path);
  cards << sample::generate_card_file(options);
  std::ofstream traffic(traffic_path);
  for (const std::string& line : sample::generate_traffic(options)) traffic << line << '\n';
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
