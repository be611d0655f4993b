#include "fuzz_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/log.h"
#include "crypto/card_ref.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "sample/sample.h"
#include "sim/sim.h"
#include "wire/codec.h"

namespace triad::fuzz {
namespace {

// A monotonic clock is never near zero; the wall clock is the sample's epoch.
constexpr std::uint64_t kStartUs = 1'000'000'000;
constexpr std::int64_t kWallStartMs = 1798761600000;
constexpr std::uint64_t kStepUs = 1'000;

void discard_log(void*, log::Level, std::string_view) {}

Keyring load_sim_keyring() {
  // Keyring reads key files only; write the simulator's keys to a scratch
  // directory once and remove it again.
  std::string dir = (std::filesystem::temp_directory_path() / "triad-fuzz-XXXXXX").string();
  check(::mkdtemp(dir.data()) != nullptr, "mkdtemp");
  check(sim::write_keys(dir).is_ok(), "write the simulator's keys");
  Keyring ring;
  check(Keyring::load_dir(dir, &ring).is_ok(), "load the simulator's keys");
  std::filesystem::remove_all(dir);
  return ring;
}

}  // namespace

void init() {
  log::set_capture(&discard_log, nullptr);
  crypto::set_default_ed25519_backend(crypto::Ed25519Backend::kSodium);
}

void check(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz property failed: %s\n", what);
  std::abort();
}

const World& world() {
  static const World w = [] {
    init();
    World out;
    sample::Options options;
    options.seed = 1;
    options.card_count = 20;
    options.transaction_count = 24;
    out.card_text = sample::generate_card_file(options);
    check(rules::parse_card_file(out.card_text, &out.cards).is_ok(), "sample card file parses");
    out.card_digest = crypto::sha256("triad-state-v1" + out.card_text);
    out.traffic_lines = sample::generate_traffic(options);
    for (const std::string& line : out.traffic_lines) {
      Transaction tx;
      check(parse_transaction_json(line, &tx).is_ok(), "sample traffic parses");
      out.traffic.push_back(std::move(tx));
    }
    out.keyring = load_sim_keyring();
    return out;
  }();
  return w;
}

std::vector<Step> split_steps(std::span<const std::uint8_t> input) {
  std::vector<Step> steps;
  std::size_t pos = 0;
  while (pos < input.size()) {
    const std::uint8_t kind = input[pos++];
    std::size_t length = 0;
    if (pos < input.size()) length = input[pos++];
    if (pos < input.size()) length |= static_cast<std::size_t>(input[pos++]) << 8;
    length = std::min(length, input.size() - pos);
    steps.push_back({kind, input.subspan(pos, length)});
    pos += length;
  }
  return steps;
}

void append_step(std::uint8_t kind, std::span<const std::uint8_t> payload, Bytes* out) {
  check(payload.size() <= 0xFFFF, "a step fits the 2-byte length");
  out->push_back(kind);
  out->push_back(static_cast<std::uint8_t>(payload.size() & 0xFF));
  out->push_back(static_cast<std::uint8_t>(payload.size() >> 8));
  out->insert(out->end(), payload.begin(), payload.end());
}

// ---- the front end --------------------------------------------------------------

CoreHarness::CoreHarness() : now_us_(kStartUs), wall_ms_(kWallStartMs) {
  world();  // logging off before the Core says anything
  frontend::Core::Config config;
  for (int r = 0; r < kReplicaCount; ++r) {
    config.replica_keys[static_cast<std::size_t>(r)] = sim::replica_public_key(r);
  }
  config.archive = &archive_;
  config.card_ref_key = sim::card_ref_key();
  config.keep_recent = 4;  // resends read back from the archive early on
  // Set up whole for each input: at its default size (8 MB) it took most of
  // each run (about 20 inputs a second). Small, its wrap is reached too.
  config.agreed_ring = 64;
  check(frontend::Core::create(config, now_us_, &core_).is_ok(), "Core::create");
}

void CoreHarness::step(std::uint8_t kind, std::span<const std::uint8_t> payload,
                       frontend::Outbox* out) {
  now_us_ += kStepUs;
  wall_ms_ += 1;
  const int r = payload.empty() ? 0 : payload[0] % kReplicaCount;
  switch (kind % 8) {
    case kReplica:
    case kReplica + 1:
    case kReplica + 2:
      core_->on_replica_message(kind % 8, payload, now_us_, out);
      break;
    case kClient:
      if (kind & 0x80) {
        const std::uint64_t sequenced = core_->counters().sequenced;
        core_->refuse_unadmitted_client("client", payload, "no longer admitted", out);
        check(core_->counters().sequenced == sequenced,
              "a client no longer admitted sequences nothing");
      } else {
        core_->on_client_message("client", payload, now_us_, wall_ms_, out);
      }
      core_->flush_new_entries(out);
      break;
    case kTime:
      now_us_ += frontend::Core::Config{}.deadline_us + 1;
      core_->on_time(now_us_, out);
      break;
    case kExited:
      core_->on_process_exited(r, now_us_, out);
      break;
    case kStarted:
      core_->on_process_started(r, now_us_, out);
      break;
    case kGone:
      core_->on_replica_gone(r);
      break;
  }
  archive_.journal(core_.get());
  for (const auto& m : out->to_clients) {
    const wire::ClientReply* reply = nullptr;
    check(wire::verify_client_reply(wire::AlignedFrame(m.bytes.data(), m.bytes.size()).bytes(),
                                    &reply)
              .is_ok(),
          "the front end's client reply passes the verifier");
  }
  for (const auto& m : out->to_replicas) {
    const wire::ToReplica* batch = nullptr;
    check(m.replica >= 0 && m.replica < kReplicaCount, "a message goes to a known replica");
    check(
        wire::verify_to_replica(wire::AlignedFrame(m.bytes.data(), m.bytes.size()).bytes(), &batch)
            .is_ok(),
        "the front end's replica message passes the verifier");
  }
}

Digest transaction_digest(const Transaction& tx) {
  return wire::transaction_digest(tx, crypto::card_ref_of(sim::card_ref_key(), tx));
}

// ---- a replica --------------------------------------------------------------------

NodeHarness::NodeHarness(int replica, std::uint64_t launch) : now_us_(kStartUs) {
  const World& w = world();
  auto core = std::make_unique<replica::ReplicaCore>(
      replica, w.cards, w.card_digest, sim::replica_signing_key(replica), sim::card_ref_key(),
      replica::Fault{}, /*seed=*/1, kCheckpointInterval);
  node_ = std::make_unique<replica::ReplicaNode>(std::move(core), now_us_, wire::kSnapshotPartBytes,
                                                 launch);
}

void NodeHarness::start(replica::ReplicaNode::Messages* out) { node_->start(now_us_, out); }

void NodeHarness::step(std::uint8_t kind, std::span<const std::uint8_t> payload,
                       replica::ReplicaNode::Messages* out) {
  const std::size_t before = out->size();
  now_us_ += kStepUs;
  if (kind % 2 == kMessage) {
    node_->on_message(payload, now_us_, out);
  } else {
    now_us_ += replica::ReplicaNode::kIdleHelloUs + 1;
    node_->on_time(now_us_, out);
  }
  for (std::size_t i = before; i < out->size(); ++i) {
    const Bytes& m = (*out)[i];
    const wire::FromReplica* msg = nullptr;
    check(wire::verify_from_replica(wire::AlignedFrame(m.data(), m.size()).bytes(), &msg).is_ok(),
          "the replica's message passes the verifier");
  }
}

}  // namespace triad::fuzz
