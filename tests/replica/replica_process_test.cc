// Process-level tests of the real triad-replica binary. The test plays the
// front end: it binds a ZeroMQ ROUTER socket on loopback, starts the replica
// with --connect to it, and exchanges FromReplica / ToReplica frames
// (schemas/replica.fbs) as [routing id "a"][payload].
//
// Expected verdicts come from an in-process ReplicaCore fed the same card
// file, key and entries, so every verdict is checked bit for bit, signature
// included (Ed25519 is deterministic).
//
// Every process is owned by a testing::Child, which kills and reaps it when
// the test ends, even on a failed assertion; the replica also sets
// PR_SET_PDEATHSIG, so it cannot outlive this test binary.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "crypto/key_files.h"
#include "process/process_util.h"
#include "replica/replica.h"
#include "rules/engine.h"
#include "sample/sample.h"
#include "triad/transaction.h"
#include "wire/codec.h"

namespace triad::testing {
namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

constexpr int kWaitMs = 5000;  // for something that must come
constexpr int kQuietMs = 300;  // for something that must not

int ms_since(Clock::time_point t) {
  return static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

// One FromReplica frame, copied out of the buffer.
struct Message {
  std::optional<std::uint64_t> hello_next_seq;
  int hello_replica = -1;
  std::string hello_fingerprint;
  std::uint32_t hello_rules_version = 0;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> fetch;  // from, to
  std::vector<voter::ReplicaVerdict> verdicts;
};

class ReplicaProcess : public ::testing::Test {
 protected:
  static constexpr std::size_t kTraffic = 60;

  void SetUp() override {
    sample::Options options;
    options.seed = 5;
    options.card_count = 40;
    options.transaction_count = kTraffic;
    card_text_ = sample::generate_card_file(options);
    write_file(cards_path(), card_text_);
    for (const std::string& line : sample::generate_traffic(options)) {
      Transaction tx;
      ASSERT_TRUE(parse_transaction_json(line, &tx).is_ok()) << line;
      ASSERT_TRUE(tx.ts.has_value());
      traffic_.push_back(tx);
    }

    crypto::Ed25519Seed seed;
    seed.fill(0x3c);
    crypto::SigningKey key;
    ASSERT_TRUE(crypto::SigningKey::from_seed(seed, &key).is_ok());
    const Status ws = crypto::write_key_pair(key_path(), tmp_.file("a.pub"), key);
    ASSERT_TRUE(ws.is_ok()) << ws.to_string();
    card_ref_key_ = crypto::SymmetricKey::generate();
    ASSERT_TRUE(crypto::write_symmetric_key(card_ref_key_path(), card_ref_key_).is_ok());
    PublicKey pub{};
    ASSERT_TRUE(crypto::load_public_key(tmp_.file("a.pub"), &pub).is_ok());
    ASSERT_TRUE(crypto::VerifyingKey::from_public_key(pub, &public_key_).is_ok());

    // What a healthy replica a must answer, seq by seq.
    rules::CardFile cards;
    ASSERT_TRUE(rules::parse_card_file(card_text_, &cards).is_ok());
    crypto::SigningKey model_key;
    ASSERT_TRUE(crypto::SigningKey::from_seed(seed, &model_key).is_ok());
    replica::ReplicaCore model(0, cards, crypto::sha256("triad-state-v1" + card_text_),
                               std::move(model_key), card_ref_key_, replica::Fault{}, 1);
    for (std::size_t i = 0; i < traffic_.size(); ++i) {
      expected_.push_back(model.apply(i + 1, *traffic_[i].ts, traffic_[i]).verdict);
    }

    router_.set(zmq::sockopt::router_mandatory, 1);
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  }

  // Nothing this test started may still run: the replica's command line
  // names the temporary directory.
  void TearDown() override {
    child_.reset();
    EXPECT_TRUE(processes_mentioning(tmp_.path()).empty()) << "a process was left running";
  }

  std::string cards_path() const { return tmp_.file("cards.csv"); }
  std::string key_path() const { return tmp_.file("a.key"); }
  std::string card_ref_key_path() const { return tmp_.file("card-ref.key"); }
  std::string stderr_path() const { return tmp_.file("replica.stderr"); }
  std::string stderr_text() const { return read_file(stderr_path()); }

  std::vector<std::string> argv(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> a = {bin("triad-replica"), "--id",      "a",        "--cards",
                                  cards_path(),         "--key",     key_path(), "--card-ref-key",
                                  card_ref_key_path(),  "--connect", endpoint_};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  // Starts the replica; its standard error goes to stderr_path().
  void start(const std::vector<std::string>& extra = {}) {
    child_ = std::make_unique<Child>(argv(extra), "", stderr_path(), /*pipe_stdout=*/false);
    ASSERT_TRUE(child_->started()) << "cannot start " << bin("triad-replica");
  }

  // Starts the replica and expects its first Hello.
  void start_and_greet(const std::vector<std::string>& extra = {}) {
    start(extra);
    if (HasFatalFailure()) return;
    const std::optional<Message> m = receive(kWaitMs);
    ASSERT_TRUE(m.has_value()) << "no Hello; replica stderr:\n" << stderr_text();
    ASSERT_TRUE(m->hello_next_seq.has_value());
    fingerprint_ = m->hello_fingerprint;
  }

  // The next FromReplica frame within `timeout_ms`. Fails the test on a
  // frame that is not [routing id "a"][valid FromReplica].
  std::optional<Message> receive(int timeout_ms) {
    zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(std::max(timeout_ms, 0)));
    if ((items[0].revents & ZMQ_POLLIN) == 0) return std::nullopt;
    zmq::message_t id;
    zmq::message_t payload;
    EXPECT_TRUE(router_.recv(id, zmq::recv_flags::none));
    EXPECT_EQ(id.to_string(), "a") << "routing id";
    EXPECT_TRUE(id.more()) << "a frame without payload";
    EXPECT_TRUE(router_.recv(payload, zmq::recv_flags::none));
    EXPECT_FALSE(payload.more());
    const wire::AlignedFrame frame(payload.data(), payload.size());
    const wire::FromReplica* fr = nullptr;
    const Status s = wire::verify_from_replica(frame.bytes(), &fr);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    Message m;
    if (!s.is_ok()) return m;
    if (const auto* h = fr->hello()) {
      m.hello_next_seq = h->next_seq();
      m.hello_replica = h->replica();
      m.hello_fingerprint = std::string(wire::as_view(h->fingerprint()));
      m.hello_rules_version = h->rules_version();
      hellos_.push_back(m);
    }
    if (const auto* f = fr->fetch()) {
      m.fetch = std::make_pair(f->from_seq(), f->to_seq());
      fetches_.push_back(*m.fetch);
    }
    if (fr->batches() != nullptr) {
      for (const wire::VerdictBatch* b : *fr->batches()) {
        // Read as the front end does: the batch's Merkle tree rebuilt, its
        // one signature checked, every verdict given its audit path.
        const Status rs = wire::read_verdict_batch(b, 0, public_key_, &m.verdicts);
        EXPECT_TRUE(rs.is_ok()) << rs.to_string();
      }
    }
    return m;
  }

  // Receives until `n` verdicts came (or the time is up); Hellos and
  // Fetches on the way are kept in hellos_ / fetches_.
  std::vector<voter::ReplicaVerdict> verdicts(std::size_t n, int timeout_ms = kWaitMs) {
    std::vector<voter::ReplicaVerdict> out;
    const auto start = Clock::now();
    while (out.size() < n) {
      const int left = timeout_ms - ms_since(start);
      if (left <= 0) break;
      const std::optional<Message> m = receive(left);
      if (!m) break;
      out.insert(out.end(), m->verdicts.begin(), m->verdicts.end());
    }
    return out;
  }

  // Everything that arrives within `ms`.
  std::vector<Message> drain(int ms) {
    std::vector<Message> out;
    const auto start = Clock::now();
    while (true) {
      const int left = ms - ms_since(start);
      if (left <= 0) break;
      std::optional<Message> m = receive(left);
      if (!m) break;
      out.push_back(std::move(*m));
    }
    return out;
  }

  // Receives until fetches_ holds `n` Fetches (or the time is up); returns
  // how many verdicts came meanwhile.
  std::size_t wait_for_fetches(std::size_t n, int timeout_ms = kWaitMs) {
    std::size_t verdicts_seen = 0;
    const auto start = Clock::now();
    while (fetches_.size() < n) {
      const int left = timeout_ms - ms_since(start);
      if (left <= 0) break;
      const std::optional<Message> m = receive(left);
      if (!m) break;
      verdicts_seen += m->verdicts.size();
    }
    return verdicts_seen;
  }

  static std::size_t verdict_count(const std::vector<Message>& ms) {
    std::size_t n = 0;
    for (const Message& m : ms) n += m.verdicts.size();
    return n;
  }

  void send_raw(const Bytes& payload) {
    router_.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(payload), zmq::send_flags::none);
  }

  // A ToReplica batch of the sample entries with these seqs (1-based), in
  // this order.
  void send_seqs(const std::vector<std::uint64_t>& seqs) {
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<flatbuffers::Offset<wire::Sequenced>> entries;
    for (const std::uint64_t seq : seqs) {
      const Transaction& tx = traffic_.at(seq - 1);
      const auto t = wire::build_transaction(fbb, tx);
      entries.push_back(wire::CreateSequenced(fbb, seq, *tx.ts, t));
    }
    fbb.Finish(wire::CreateToReplicaDirect(fbb, &entries));
    send_raw(Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()));
  }

  void send_range(std::uint64_t first, std::uint64_t last) {
    std::vector<std::uint64_t> seqs;
    for (std::uint64_t s = first; s <= last; ++s) seqs.push_back(s);
    send_seqs(seqs);
  }

  bool signature_ok(const voter::ReplicaVerdict& v) const {
    return v.signature_valid && wire::verify_verdict_signature(v, public_key_);
  }

  // A verdict for `seq` that verifies and says what the model says.
  void expect_good_verdict(const voter::ReplicaVerdict& v, std::uint64_t seq) {
    EXPECT_EQ(v.content.seq, seq);
    EXPECT_EQ(v.replica, 0);
    EXPECT_TRUE(signature_ok(v)) << "seq " << seq;
    EXPECT_EQ(v.fingerprint, fingerprint_);
    ASSERT_LE(seq, expected_.size());
    EXPECT_EQ(v.content, expected_[seq - 1].content) << "seq " << seq;
  }

  void expect_verdicts_for(const std::vector<voter::ReplicaVerdict>& got, std::uint64_t first,
                           std::uint64_t last) {
    ASSERT_EQ(got.size(), last - first + 1) << "replica stderr:\n" << stderr_text();
    for (std::uint64_t s = first; s <= last; ++s) expect_good_verdict(got[s - first], s);
  }

  bool alive() { return child_ != nullptr && child_->wait(0) == -1; }

  TempDir tmp_;
  std::string card_text_;
  std::vector<Transaction> traffic_;
  std::vector<voter::ReplicaVerdict> expected_;
  crypto::VerifyingKey public_key_;
  crypto::SymmetricKey card_ref_key_;
  std::string fingerprint_;
  std::vector<Message> hellos_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> fetches_;
  zmq::context_t context_{1};
  zmq::socket_t router_{context_, zmq::socket_type::router};
  std::string endpoint_;
  std::unique_ptr<Child> child_;  // declared last: killed and reaped first
};

TEST_F(ReplicaProcess, SaysHelloWithItsIndexNextSeqAndFingerprint) {
  start();
  const std::optional<Message> m = receive(kWaitMs);
  ASSERT_TRUE(m.has_value()) << "no Hello; replica stderr:\n" << stderr_text();
  ASSERT_TRUE(m->hello_next_seq.has_value());
  EXPECT_EQ(*m->hello_next_seq, 1u);
  EXPECT_EQ(m->hello_replica, 0);
  EXPECT_FALSE(m->hello_fingerprint.empty());
  EXPECT_EQ(m->hello_rules_version, rules::kRulesVersion);
  EXPECT_TRUE(m->verdicts.empty());
  EXPECT_FALSE(m->fetch.has_value());

  std::string version;
  ASSERT_EQ(run({bin("triad-replica"), "--version"}, &version), 0);
  EXPECT_EQ(version, m->hello_fingerprint + "\n") << "--version prints the signed fingerprint";
}

TEST_F(ReplicaProcess, AnswersEachSeqWithAVerdictThatVerifies) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet());
  send_seqs({1});
  const auto first = verdicts(1);
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(first, 1, 1));

  // A larger batch: one verdict per entry, in seq order, each bit for bit
  // what the in-process core says.
  send_range(2, kTraffic);
  const auto rest = verdicts(kTraffic - 1);
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(rest, 2, kTraffic));
  EXPECT_TRUE(fetches_.empty());
}

TEST_F(ReplicaProcess, AGapIsFetchedAndNeverSkipped) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet());
  send_seqs({1});
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(verdicts(1), 1, 1));

  send_seqs({3});  // 2 is missing
  std::size_t early = wait_for_fetches(1);
  ASSERT_EQ(fetches_.size(), 1u) << "replica stderr:\n" << stderr_text();
  EXPECT_EQ(fetches_[0], std::make_pair(std::uint64_t{2}, std::uint64_t{2}));
  early += verdict_count(drain(kQuietMs));
  EXPECT_EQ(early, 0u) << "seq 3 must wait for seq 2";
  EXPECT_EQ(fetches_.size(), 1u) << "one Fetch for one gap";

  send_seqs({2});
  const auto after = verdicts(2);
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(after, 2, 3));  // 2 then 3, in that order

  // A wider gap, asked for as one range (fetches are rate-limited to one per
  // 200 ms; the previous one is over kQuietMs old).
  send_seqs({7});
  early = wait_for_fetches(2);
  ASSERT_EQ(fetches_.size(), 2u) << "replica stderr:\n" << stderr_text();
  EXPECT_EQ(fetches_[1], std::make_pair(std::uint64_t{4}, std::uint64_t{6}));
  EXPECT_EQ(early, 0u);
  send_seqs({5, 4, 6});  // out of order inside a batch too
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(verdicts(4), 4, 7));
}

TEST_F(ReplicaProcess, AResentSeqIsIgnored) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet());
  send_range(1, 3);
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(verdicts(3), 1, 3));

  send_seqs({1});
  send_seqs({2, 3});
  EXPECT_EQ(verdict_count(drain(kQuietMs)), 0u) << "no new verdict for an applied seq";

  // Its state was not disturbed by the resends.
  send_seqs({4});
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(verdicts(1), 4, 4));
}

TEST_F(ReplicaProcess, GarbageIsDroppedAndTheReplicaKeepsAnswering) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet());
  std::mt19937_64 rng(17);
  for (int i = 0; i < 50; ++i) {
    Bytes junk(static_cast<std::size_t>(rng() % 2000));
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    send_raw(junk);
  }
  send_raw({});
  send_raw({1, 2, 3});
  {
    // A valid message of the other direction, and a batch with no entries.
    flatbuffers::FlatBufferBuilder fbb;
    fbb.Finish(wire::CreateFromReplica(fbb, wire::CreateHelloDirect(fbb, 0, 1, "x", 1)));
    send_raw(Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()));
    flatbuffers::FlatBufferBuilder empty;
    empty.Finish(wire::CreateToReplica(empty));
    send_raw(Bytes(empty.GetBufferPointer(), empty.GetBufferPointer() + empty.GetSize()));
  }
  // A valid batch cut short.
  {
    flatbuffers::FlatBufferBuilder fbb;
    const auto t = wire::build_transaction(fbb, traffic_[0]);
    std::vector<flatbuffers::Offset<wire::Sequenced>> entries = {
        wire::CreateSequenced(fbb, 1, *traffic_[0].ts, t)};
    fbb.Finish(wire::CreateToReplicaDirect(fbb, &entries));
    send_raw(Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize() / 2));
  }
  EXPECT_EQ(verdict_count(drain(kQuietMs)), 0u);
  EXPECT_TRUE(alive()) << "replica stderr:\n" << stderr_text();

  send_range(1, 2);
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(verdicts(2), 1, 2));
  EXPECT_TRUE(alive());
}

TEST_F(ReplicaProcess, AnEntryWithoutATransactionIsJudgedNotSkipped) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet());
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<wire::Sequenced>> entries = {
      wire::CreateSequenced(fbb, 1, 1'798'761'600'000, 0)};
  fbb.Finish(wire::CreateToReplicaDirect(fbb, &entries));
  send_raw(Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()));
  const auto got = verdicts(1);
  ASSERT_EQ(got.size(), 1u) << "replica stderr:\n" << stderr_text();
  EXPECT_EQ(got[0].content.seq, 1u);
  EXPECT_EQ(got[0].content.code, ResponseCode::kFormatError);
  EXPECT_EQ(got[0].content.tx_digest, wire::transaction_digest(Transaction{}, CardRef{}));
  EXPECT_TRUE(signature_ok(got[0]));
}

TEST_F(ReplicaProcess, WhenIdleItSaysWhereItIs) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet());
  send_range(1, 3);
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(verdicts(3), 1, 3));
  hellos_.clear();
  const auto start = Clock::now();
  while (hellos_.empty() && ms_since(start) < kWaitMs) static_cast<void>(receive(100));
  ASSERT_FALSE(hellos_.empty()) << "no Hello after idling";
  EXPECT_EQ(*hellos_[0].hello_next_seq, 4u);
  EXPECT_EQ(hellos_[0].hello_fingerprint, fingerprint_);
}

TEST_F(ReplicaProcess, SigtermStopsItWithStatusZero) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet());
  send_range(1, 2);
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(verdicts(2), 1, 2));
  const auto t0 = Clock::now();
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(kWaitMs), 0) << "replica stderr:\n" << stderr_text();
  EXPECT_LT(ms_since(t0), kWaitMs);
}

// ---------------------------------------------------------------------------
// Start-up failures: exit status 2 and one line naming the cause.

TEST_F(ReplicaProcess, AMalformedCardFileIsRefusedNamingTheLine) {
  write_file(cards_path(),
             "pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs\n"
             "4111111111111111,2812,A,840,not-a-number,100,\n");
  start();
  EXPECT_EQ(child_->wait(kWaitMs), 2);
  const std::string err = stderr_text();
  EXPECT_NE(err.find("line 2"), std::string::npos) << err;
  EXPECT_NE(err.find(cards_path()), std::string::npos) << err;
  EXPECT_TRUE(drain(100).empty()) << "no Hello from a replica that did not start";
}

TEST_F(ReplicaProcess, AMissingCardFileIsRefused) {
  std::filesystem::remove(cards_path());
  start();
  EXPECT_EQ(child_->wait(kWaitMs), 2);
  EXPECT_NE(stderr_text().find(cards_path()), std::string::npos) << stderr_text();
}

TEST_F(ReplicaProcess, ASecretKeyReadableByOthersIsRefused) {
  ASSERT_EQ(::chmod(key_path().c_str(), 0644), 0);
  start();
  EXPECT_EQ(child_->wait(kWaitMs), 2);
  const std::string err = stderr_text();
  EXPECT_NE(err.find("0644"), std::string::npos) << err;
  EXPECT_NE(err.find(key_path()), std::string::npos) << err;
  EXPECT_NE(err.find("chmod 600"), std::string::npos) << err;
}

TEST_F(ReplicaProcess, ACardRefKeyReadableByOthersOrMissingIsRefused) {
  ASSERT_EQ(::chmod(card_ref_key_path().c_str(), 0644), 0);
  start();
  EXPECT_EQ(child_->wait(kWaitMs), 2);
  std::string err = stderr_text();
  EXPECT_NE(err.find("0644"), std::string::npos) << err;
  EXPECT_NE(err.find(card_ref_key_path()), std::string::npos) << err;

  ASSERT_EQ(::unlink(card_ref_key_path().c_str()), 0);
  write_file(stderr_path(), "");
  start();
  EXPECT_EQ(child_->wait(kWaitMs), 2);
  err = stderr_text();
  EXPECT_NE(err.find(card_ref_key_path()), std::string::npos) << err;

  write_file(stderr_path(), "");
  Child c({bin("triad-replica"), "--id", "a", "--cards", cards_path(), "--key", key_path(),
           "--connect", endpoint_},
          "", stderr_path(), false);
  ASSERT_TRUE(c.started());
  EXPECT_EQ(c.wait(kWaitMs), 2);
  EXPECT_NE(stderr_text().find("--card-ref-key"), std::string::npos) << stderr_text();
}

TEST_F(ReplicaProcess, BadArgumentsAreRefused) {
  {
    Child c(argv({"--inject", "flip:2"}), "", stderr_path(), false);
    ASSERT_TRUE(c.started());
    EXPECT_EQ(c.wait(kWaitMs), 2);
    EXPECT_NE(stderr_text().find("flip:2"), std::string::npos) << stderr_text();
  }
  {
    Child c({bin("triad-replica"), "--id", "d", "--cards", cards_path(), "--key", key_path(),
             "--card-ref-key", card_ref_key_path(), "--connect", endpoint_},
            "", stderr_path(), false);
    ASSERT_TRUE(c.started());
    EXPECT_EQ(c.wait(kWaitMs), 2);
  }
  {
    Child c({bin("triad-replica"), "--id", "a", "--cards", cards_path(), "--key", key_path()}, "",
            stderr_path(), false);
    ASSERT_TRUE(c.started());
    EXPECT_EQ(c.wait(kWaitMs), 2);
    EXPECT_NE(stderr_text().find("--connect"), std::string::npos) << stderr_text();
  }
  {
    Child c({bin("triad-replica"), "--id", "a", "--cards", cards_path(), "--key", key_path(),
             "--card-ref-key", card_ref_key_path(), "--connect", "not-an-endpoint"},
            "", stderr_path(), false);
    ASSERT_TRUE(c.started());
    EXPECT_EQ(c.wait(kWaitMs), 2);
  }
}

// ---------------------------------------------------------------------------
// Injected faults, as the process carries them out.

TEST_F(ReplicaProcess, CrashFaultExitsAbruptlyAfterNTransactions) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet({"--inject", "crash:2", "--seed", "1"}));
  send_seqs({1});
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(verdicts(1), 1, 1));
  send_seqs({2});
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(verdicts(1), 2, 2));
  send_seqs({3});
  const int status = child_->wait(kWaitMs);
  EXPECT_NE(status, -1) << "still running after seq 3";
  EXPECT_NE(status, 0) << "a crash is not a clean exit";
  EXPECT_EQ(verdict_count(drain(100)), 0u) << "no verdict for seq 3";
}

// crash:N sends the verdicts for seqs up to N before exiting, even when
// seq N+1 arrives in the same batch, so a run repeats exactly.
TEST_F(ReplicaProcess, CrashFaultAnswersTheFirstNEvenWithinOneBatch) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet({"--inject", "crash:2", "--seed", "1"}));
  send_range(1, 3);
  const auto got = verdicts(2);
  EXPECT_NE(child_->wait(kWaitMs), 0);
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(got, 1, 2));
}

// The same batch with hang:2: the first two are answered.
TEST_F(ReplicaProcess, HangFaultAnswersTheFirstNWithinOneBatch) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet({"--inject", "hang:2"}));
  send_range(1, 3);
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(verdicts(2), 1, 2));
  EXPECT_EQ(verdict_count(drain(kQuietMs)), 0u);
}

TEST_F(ReplicaProcess, HangFaultStaysAliveButSilent) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet({"--inject", "hang:1"}));
  send_seqs({1});
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(verdicts(1), 1, 1));
  send_seqs({2});
  hellos_.clear();
  const std::vector<Message> got = drain(1200);  // longer than the idle Hello period
  EXPECT_EQ(verdict_count(got), 0u);
  EXPECT_TRUE(hellos_.empty()) << "a hung replica sends nothing, Hello included";
  EXPECT_TRUE(alive());
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(kWaitMs), 0);
}

TEST_F(ReplicaProcess, DelayFaultAnswersLate) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet({"--inject", "delay:300"}));
  const auto t0 = Clock::now();
  send_seqs({1});
  const auto got = verdicts(1);
  const int elapsed = ms_since(t0);
  ASSERT_NO_FATAL_FAILURE(expect_verdicts_for(got, 1, 1));
  EXPECT_GE(elapsed, 300);
}

TEST_F(ReplicaProcess, BadSigFaultSendsRightContentWrongSignature) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet({"--inject", "badsig:1", "--seed", "3"}));
  send_range(1, 3);
  const auto got = verdicts(3);
  ASSERT_EQ(got.size(), 3u);
  for (std::uint64_t s = 1; s <= 3; ++s) {
    EXPECT_EQ(got[s - 1].content, expected_[s - 1].content);
    EXPECT_FALSE(signature_ok(got[s - 1])) << "seq " << s;
  }
}

TEST_F(ReplicaProcess, FlipFaultSignsAWrongCode) {
  ASSERT_NO_FATAL_FAILURE(start_and_greet({"--inject", "flip:1", "--seed", "3"}));
  send_range(1, 10);
  const auto got = verdicts(10);
  ASSERT_EQ(got.size(), 10u);
  for (std::uint64_t s = 1; s <= 10; ++s) {
    const voter::VerdictContent& want = expected_[s - 1].content;
    EXPECT_EQ(got[s - 1].content.code, want.code == ResponseCode::kApproved
                                           ? ResponseCode::kDoNotHonour
                                           : ResponseCode::kApproved);
    EXPECT_EQ(got[s - 1].content.state_digest, want.state_digest);
    EXPECT_TRUE(signature_ok(got[s - 1])) << "seq " << s;
  }
}

}  // namespace
}  // namespace triad::testing
