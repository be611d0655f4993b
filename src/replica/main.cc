// triad-replica: one validator process. Started by `triad up`; not meant to
// be run by hand, but --version prints the build fingerprint.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/hardening.h"
#include "common/types.h"
#include "replica/replica.h"
#include "wire/codec.h"

int main(int argc, char** argv) {
  CLI::App app{"Triad validator replica"};
  triad::replica::Config config;
  std::string id;
  std::string fault = "none";
  bool version = false;
  app.add_flag("--version", version, "print the build fingerprint and exit");
  app.add_option("--id", id, "replica name: a, b or c");
  app.add_option("--cards", config.cards_path, "card file (CSV, rules.md section 2)");
  app.add_option("--key", config.key_path, "Ed25519 secret key (PEM, mode 0600)");
  app.add_option("--card-ref-key", config.card_ref_key_path,
                 "the deployment's card reference key (32 bytes, mode 0600), under which "
                 "PANs are hashed into transaction digests; optional with --replay");
  app.add_option("--connect", config.endpoint, "front end replica endpoint");
  app.add_option("--curve-key", config.curve_key_path,
                 "CURVE secret key of this replica (Z85, mode 0600); with --curve-server-key");
  app.add_option("--curve-server-key", config.curve_server_key_path,
                 "the front end's CURVE public key: only its holder is talked to");
  app.add_option("--inject", fault, "fault to inject (interface.md)");
  app.add_option("--seed", config.seed, "seed of the injected fault");
  app.add_option("--launch", config.launch,
                 "which process of this replica this is (1, 2, ...), said in every message");
  app.add_option("--log", config.log_path, "also append logs to this file");
  app.add_option("--checkpoint-every", config.checkpoint_interval,
                 "vote a full-state checkpoint digest every K transactions (a fixed interval)")
      ->check(CLI::Range(1, 100'000'000));
  std::string replay_input;
  std::string replay_output;
  app.add_option("--replay", replay_input,
                 "offline: apply this file of sequenced transactions (with --cards), no network");
  app.add_option("--out", replay_output, "with --replay: write SEQ CODE STATE_DIGEST lines here");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (version) {
    std::printf("%s\n", triad::replica::build_fingerprint().c_str());
    return 0;
  }
  // Before any card file is read. Started by `triad up` it has the limit
  // already; by hand (or --replay), it gets it here.
  if (!triad::disable_core_dumps()) {
    std::fprintf(stderr, "triad-replica: cannot turn core dumps off (setrlimit RLIMIT_CORE)\n");
  }
  if (!replay_input.empty()) {
    if (config.cards_path.empty()) {
      std::fprintf(stderr, "triad-replica: --replay needs --cards\n");
      return 2;
    }
    std::FILE* out = replay_output.empty() ? stdout : std::fopen(replay_output.c_str(), "w");
    if (out == nullptr) {
      std::fprintf(stderr, "triad-replica: cannot write %s\n", replay_output.c_str());
      return 2;
    }
    const int rc = triad::replica::replay(config.cards_path, config.card_ref_key_path, replay_input,
                                          config.checkpoint_interval, out);
    if (out != stdout && std::fclose(out) != 0) return 2;
    return rc;
  }
  if (const triad::Status s = triad::wire::check_fingerprint(triad::replica::build_fingerprint());
      !s.is_ok()) {
    std::fprintf(stderr,
                 "triad-replica: this build's %s: a front end would refuse its verdicts (change "
                 "TRIAD_OPT_FLAGS)\n",
                 s.message().c_str());
    return 2;
  }
  config.replica = id.size() == 1 ? triad::replica_index(id[0]) : -1;
  if (config.replica < 0 || config.cards_path.empty() || config.key_path.empty() ||
      config.card_ref_key_path.empty() || config.endpoint.empty()) {
    std::fprintf(stderr,
                 "triad-replica: --id a|b|c, --cards, --key, --card-ref-key and --connect are "
                 "required\n");
    return 2;
  }
  if (const auto s = triad::replica::parse_fault(fault, &config.fault); !s.is_ok()) {
    std::fprintf(stderr, "triad-replica: %s\n", s.message().c_str());
    return 2;
  }
  return triad::replica::run(config);
}
