// triad_fuzz_seeds DIR: writes the seed corpus of every fuzz target under
// DIR/<target>/ (tests/fuzz/corpus is its committed output). The messages are
// real ones: a front-end Core and three ReplicaNodes run a few transactions
// through the harnesses of fuzz_util.h, with one replica's state corrupted
// so the run also goes through divergence, snapshot transfer and repair; the
// Core's and replica a's inputs are recorded as step sequences. A few edge
// cases are added by hand. Deterministic for a given build (a verdict names
// the replica build's fingerprint, which includes the source revision).
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "rules/engine.h"
#include "sample/sample.h"
#include "wire/codec.h"

namespace triad::fuzz {
namespace {

namespace fs = std::filesystem;

Bytes bytes_of(const flatbuffers::FlatBufferBuilder& fbb) {
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}
Bytes bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

class Corpus {
 public:
  explicit Corpus(fs::path dir) : dir_(std::move(dir)) {}
  void add(const std::string& target, const std::string& name, const Bytes& bytes) {
    fs::create_directories(dir_ / target);
    std::ofstream out(dir_ / target / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    check(out.good(), "write a seed");
  }

 private:
  fs::path dir_;
};

Bytes submit(std::uint64_t tag, const Transaction& tx) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto t = wire::build_transaction(fbb, tx);
  fbb.Finish(wire::CreateClientRequest(fbb, wire::CreateSubmitRequest(fbb, tag, t)));
  return bytes_of(fbb);
}

Bytes ping(std::uint64_t tag) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(wire::CreateClientRequest(fbb, 0, wire::CreatePingRequest(fbb, tag)));
  return bytes_of(fbb);
}

Bytes inject(const std::string& fault) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(wire::CreateToReplica(fbb, 0, fbb.CreateString(fault)));
  return bytes_of(fbb);
}

// The cluster: the Core, three nodes, and every message in flight, delivered
// in order until nothing moves. Records the Core's and replica a's inputs.
class Cluster {
 public:
  Cluster() {
    for (int r = 0; r < kReplicaCount; ++r) boot(r, /*launch=*/1);
    pump();
  }

  void client(const Bytes& request) {
    core_step(CoreHarness::kClient, request);
    pump();
  }
  void to_node(int r, const Bytes& message) {
    node_step(r, NodeHarness::kMessage, message);
    pump();
  }
  void deadline() {
    core_step(CoreHarness::kTime, {});
    pump();
  }

  Bytes core_trace;
  Bytes node_trace;  // replica a's
  std::vector<Bytes> to_replica;
  std::vector<Bytes> from_replica;
  std::vector<Bytes> replies;

 private:
  // Messages a stopped node sent before it stopped are still delivered: the
  // core counts them for their votes only (their launch is not the next
  // process's).
  void boot(int r, std::uint64_t launch) {
    nodes_[static_cast<std::size_t>(r)] = std::make_unique<NodeHarness>(r, launch);
    replica::ReplicaNode::Messages hello;
    nodes_[static_cast<std::size_t>(r)]->start(&hello);
    for (Bytes& m : hello) inbox_.push_back({r, std::move(m)});
  }

  void core_step(std::uint8_t kind, const Bytes& payload) {
    append_step(kind, payload, &core_trace);
    frontend::Outbox out;
    core_.step(kind, payload, &out);
    for (auto& m : out.to_clients) replies.push_back(std::move(m.bytes));
    for (auto& m : out.to_replicas) outbox_.push_back({m.replica, std::move(m.bytes)});
    for (const auto& p : out.processes) {
      const Bytes which{static_cast<std::uint8_t>(p.replica)};
      if (p.kind == frontend::Outbox::ProcessCommand::Kind::kStop) {
        nodes_[static_cast<std::size_t>(p.replica)].reset();
        core_step(CoreHarness::kExited, which);
      } else {
        boot(p.replica, p.launch);
        core_step(CoreHarness::kStarted, which);
      }
    }
  }

  void node_step(int r, std::uint8_t kind, const Bytes& payload) {
    NodeHarness* node = nodes_[static_cast<std::size_t>(r)].get();
    if (node == nullptr) return;  // stopped: the message is lost
    to_replica.push_back(payload);
    if (r == 0) append_step(kind, payload, &node_trace);
    replica::ReplicaNode::Messages out;
    node->step(kind, payload, &out);
    for (Bytes& m : out) inbox_.push_back({r, std::move(m)});
  }

  void pump() {
    while (!inbox_.empty() || !outbox_.empty()) {
      while (!inbox_.empty()) {
        auto [r, m] = std::move(inbox_.front());
        inbox_.pop_front();
        from_replica.push_back(m);
        core_step(static_cast<std::uint8_t>(CoreHarness::kReplica + r), m);
      }
      while (!outbox_.empty()) {
        auto [r, m] = std::move(outbox_.front());
        outbox_.pop_front();
        node_step(r, NodeHarness::kMessage, m);
      }
    }
  }

  CoreHarness core_;
  std::array<std::unique_ptr<NodeHarness>, kReplicaCount> nodes_;
  std::deque<std::pair<int, Bytes>> inbox_;   // replica -> Core
  std::deque<std::pair<int, Bytes>> outbox_;  // Core -> replica
};

// Message seeds: one of each distinct size, at most `limit`, so the corpus
// stays small but keeps every kind of message the run produced.
void add_distinct(Corpus* corpus, const std::string& target, const std::vector<Bytes>& messages,
                  std::size_t limit) {
  std::vector<std::size_t> sizes;
  for (const Bytes& m : messages) {
    if (sizes.size() == limit) break;
    if (std::find(sizes.begin(), sizes.end(), m.size()) != sizes.end()) continue;
    sizes.push_back(m.size());
    corpus->add(target, "run-" + std::to_string(sizes.size()), m);
  }
}

void generate(Corpus* corpus) {
  const World& w = world();
  Cluster cluster;
  // Four transactions (a checkpoint at 4), a ping, a repeated id, a bad id.
  cluster.client(submit(0, w.traffic[0]));
  corpus->add("frontend_core", "one-transaction", cluster.core_trace);
  corpus->add("replica_node", "one-transaction", cluster.node_trace);
  for (std::uint64_t i = 1; i < 4; ++i) cluster.client(submit(i, w.traffic[i]));
  cluster.client(ping(100));
  cluster.client(submit(101, w.traffic[0]));
  Transaction bad = w.traffic[4];
  bad.id = "not an id!";
  cluster.client(submit(102, bad));
  // A batch: two new transactions, the first one's id again and a ping.
  {
    const std::vector<Bytes> parts = {submit(103, w.traffic[14]), submit(104, w.traffic[15]),
                                      submit(105, w.traffic[0]), ping(106)};
    const std::vector<std::span<const std::uint8_t>> spans(parts.begin(), parts.end());
    cluster.client(wire::encode_request_batch(spans));
  }
  // Replica c's state goes bad: it diverges at once and is repaired from a
  // healthy replica's snapshot while traffic goes on.
  cluster.to_node(2, inject("corrupt-state:0"));
  for (std::uint64_t i = 4; i < 12; ++i) cluster.client(submit(i, w.traffic[i]));
  cluster.deadline();
  for (std::uint64_t i = 12; i < 14; ++i) cluster.client(submit(i, w.traffic[i]));

  corpus->add("frontend_core", "cluster-run", cluster.core_trace);
  corpus->add("replica_node", "cluster-run", cluster.node_trace);
  add_distinct(corpus, "to_replica", cluster.to_replica, 8);
  add_distinct(corpus, "from_replica", cluster.from_replica, 8);
  add_distinct(corpus, "client_reply", cluster.replies, 6);

  // Client requests: a submit, a ping, a transaction with malformed fields.
  corpus->add("client_request", "submit", submit(1, w.traffic[0]));
  corpus->add("client_request", "ping", ping(7));
  Transaction odd;
  odd.id = "tx-odd";
  odd.set_malformed(Field::kAmount);
  odd.set_malformed(Field::kTs);
  odd.pan = "";
  corpus->add("client_request", "malformed-fields", submit(2, odd));
  {
    const std::vector<Bytes> parts = {submit(3, w.traffic[1]), ping(8)};
    const std::vector<std::span<const std::uint8_t>> spans(parts.begin(), parts.end());
    corpus->add("client_request", "batch", wire::encode_request_batch(spans));
    const std::vector<std::span<const std::uint8_t>> replies(cluster.replies.begin(),
                                                             cluster.replies.begin() + 3);
    corpus->add("client_reply", "batch", wire::encode_reply_batch(replies));
  }

  // Certificates: those the run's decisions carried (with and without a
  // checkpoint digest).
  std::vector<Bytes> certificates;
  for (const Bytes& r : cluster.replies) {
    const wire::ClientReply* reply = nullptr;
    check(wire::verify_client_reply(r, &reply).is_ok(), "a recorded reply verifies");
    if (reply->decision() == nullptr) continue;
    const auto cert = wire::as_bytes(reply->decision()->certificate());
    if (!cert.empty()) certificates.emplace_back(cert.begin(), cert.end());
  }
  add_distinct(corpus, "certificate", certificates, 4);

  // JSON lines: sample traffic, a sequenced line, wrong types, not an object.
  for (std::size_t i = 0; i < 3; ++i) {
    corpus->add("transaction_json", "traffic-" + std::to_string(i), bytes_of(w.traffic_lines[i]));
  }
  corpus->add("transaction_json", "sequenced", bytes_of(sample::with_seq(w.traffic_lines[3], 4)));
  corpus->add("transaction_json", "wrong-types",
              bytes_of(R"({"id":7,"amount":1.5,"ts":18446744073709551616,"pan":null,"mcc":[]})"));
  corpus->add("transaction_json", "not-an-object", bytes_of(R"(["id","tx-1"])"));

  // Card files: the sample, and the corners of rules.md section 2.
  corpus->add("card_file", "sample", bytes_of(w.card_text));
  corpus->add("card_file", "corners",
              bytes_of("pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs\r\n"
                       "4111111111111111,2812,A,978,000000000500,0,5411;7995;5411\r\n"
                       "5500000000000004,0101,L,840,999999999999,1,\r\n"
                       "1,2912,S,392,0,0,6011\n"));
  corpus->add("card_file", "header-only",
              bytes_of("pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs"));

  // Engine snapshots: the start state and after the whole sample traffic.
  rules::Engine engine(w.cards);
  std::string state;
  engine.serialize(&state);
  corpus->add("engine_snapshot", "start", bytes_of(state));
  for (const Transaction& tx : w.traffic) (void)engine.apply(*tx.ts, tx);
  engine.serialize(&state);
  corpus->add("engine_snapshot", "after-traffic", bytes_of(state));
}

}  // namespace
}  // namespace triad::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: triad_fuzz_seeds DIR\n");
    return 2;
  }
  triad::fuzz::Corpus corpus(argv[1]);
  triad::fuzz::generate(&corpus);
  return 0;
}
