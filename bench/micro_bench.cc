// Micro-benchmarks of the pieces on the path from client to certified
// decision. Figures are per operation on this machine; compare them as
// ratios within one run (the machines are shared and noisy).
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "audit/reader.h"
#include "audit/store.h"
#include "common/assert.h"
#include "common/layout.h"
#include "crypto/card_ref.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "crypto/key_files.h"
#include "frontend/archive.h"
#include "frontend/core.h"
#include "journal/journal.h"
#include "loadgen/driver.h"
#include "replica/checkpoint.h"
#include "replica/node.h"
#include "rules/engine.h"
#include "sample/sample.h"
#include "sequencer/sequencer.h"
#include "triad/certificate.h"
#include "triad/transaction.h"
#include "voter/voter.h"
#include "wire/codec.h"

namespace triad {
namespace {

struct Workload {
  rules::CardFile cards;
  std::vector<Transaction> txs;
  std::vector<std::int64_t> ts;
};

// The sample with `cards` cards and `transactions` of its traffic, parsed.
Workload make_workload(std::size_t transactions, std::size_t cards = 1000) {
  Workload made;
  sample::Options options;
  options.card_count = cards;
  options.transaction_count = transactions;
  TRIAD_ASSERT(rules::parse_card_file(sample::generate_card_file(options), &made.cards).is_ok());
  for (const auto& line : sample::generate_traffic(options)) {
    Transaction tx;
    TRIAD_ASSERT(parse_transaction_json(line, &tx).is_ok());
    made.ts.push_back(*tx.ts);
    made.txs.push_back(std::move(tx));
  }
  return made;
}

std::uint64_t minor_page_faults() {
  rusage usage{};
  TRIAD_ASSERT(::getrusage(RUSAGE_SELF, &usage) == 0);
  return static_cast<std::uint64_t>(usage.ru_minflt);
}

const Workload& workload() {
  static const Workload w = make_workload(20'000);
  return w;
}

// A fresh engine every 20,000 transactions: its tables grow in the timed
// part, and their new memory is faulted in there, 4 KiB at a time (about 10
// µs a fault on the 2-core VMs here), as in a replica whose state grows.
// The counter says how much of the time that can be.
void BM_RulesEnginePerTransaction(benchmark::State& state) {
  const Workload& w = workload();
  auto engine = std::make_unique<rules::Engine>(w.cards);
  std::size_t i = 0;
  const std::uint64_t faults_before = minor_page_faults();
  for (auto _ : state) {
    if (i == w.txs.size()) {
      state.PauseTiming();
      engine = std::make_unique<rules::Engine>(w.cards);
      i = 0;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(engine->apply(w.ts[i], w.txs[i]));
    ++i;
  }
  state.counters["page_faults_per_tx"] = static_cast<double>(minor_page_faults() - faults_before) /
                                         static_cast<double>(state.iterations());
}
BENCHMARK(BM_RulesEnginePerTransaction);

void BM_JsonParseTransaction(benchmark::State& state) {
  sample::Options options;
  options.transaction_count = 1000;
  const auto lines = sample::generate_traffic(options);
  std::size_t i = 0;
  for (auto _ : state) {
    Transaction tx;
    benchmark::DoNotOptimize(parse_transaction_json(lines[i++ % lines.size()], &tx));
  }
}
BENCHMARK(BM_JsonParseTransaction);

void BM_WireEncodeVerifyDecode(benchmark::State& state) {
  const Workload& w = workload();
  flatbuffers::FlatBufferBuilder fbb(1024);
  std::size_t i = 0;
  for (auto _ : state) {
    fbb.Clear();
    const auto tx = wire::build_transaction(fbb, w.txs[i++ % w.txs.size()]);
    const auto submit = wire::CreateSubmitRequest(fbb, 1, tx);
    wire::ClientRequestBuilder b(fbb);
    b.add_submit(submit);
    fbb.Finish(b.Finish());
    const wire::ClientRequest* request = nullptr;
    TRIAD_ASSERT(
        wire::verify_client_request({fbb.GetBufferPointer(), fbb.GetSize()}, &request).is_ok());
    benchmark::DoNotOptimize(wire::read_transaction(request->submit()->tx()));
  }
}
BENCHMARK(BM_WireEncodeVerifyDecode);

// The PAN's reference (HMAC-SHA256) and the digest over it, as the front
// end and each replica make them per transaction.
void BM_TransactionDigest(benchmark::State& state) {
  const Workload& w = workload();
  const crypto::SymmetricKey key = crypto::SymmetricKey::generate();
  std::size_t i = 0;
  for (auto _ : state) {
    const Transaction& tx = w.txs[i++ % w.txs.size()];
    benchmark::DoNotOptimize(wire::transaction_digest(tx, crypto::card_ref_of(key, tx)));
  }
}
BENCHMARK(BM_TransactionDigest);

// The PAN's reference alone (crypto::card_ref_of), the part of the above the
// digest's keyed reference adds.
void BM_CardRef(benchmark::State& state) {
  const Workload& w = workload();
  const crypto::SymmetricKey key = crypto::SymmetricKey::generate();
  std::size_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(crypto::card_ref_of(key, w.txs[i++ % w.txs.size()]));
}
BENCHMARK(BM_CardRef);

void BM_StateDigestUpdate(benchmark::State& state) {
  // One link of the state hash chain: SHA-256 over previous digest, seq, ts,
  // transaction digest and code (as the replica does per transaction).
  Digest d{};
  std::uint8_t buf[32 + 8 + 8 + 32 + 2] = {};
  crypto::Sha256 h;
  for (auto _ : state) {
    std::copy(d.begin(), d.end(), buf);
    h.update(std::span<const std::uint8_t>(buf, sizeof buf));
    d = h.finish();
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_StateDigestUpdate);

// `n` verdicts of replica `replica` on consecutive seqs, unsigned.
std::vector<voter::ReplicaVerdict> verdict_batch(int replica, std::size_t n) {
  std::vector<voter::ReplicaVerdict> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i].replica = replica;
    out[i].content.seq = i + 1;
    out[i].content.rules_version = 1;
    out[i].content.state_digest.fill(static_cast<std::uint8_t>(i));
    out[i].fingerprint = "gcc 12.2.0; libstdc++; -O2; index=hash";
  }
  return out;
}

void BM_Sign(benchmark::State& state) {
  const auto backend = static_cast<crypto::Ed25519Backend>(state.range(0));
  crypto::set_default_ed25519_backend(backend);
  crypto::SigningKey key;
  TRIAD_ASSERT(crypto::SigningKey::generate(&key).is_ok());
  const std::vector<std::uint8_t> message(200, 0x42);
  for (auto _ : state) benchmark::DoNotOptimize(key.sign(message));
  state.SetLabel(backend == crypto::Ed25519Backend::kSodium ? "libsodium" : "OpenSSL");
  crypto::set_default_ed25519_backend(crypto::Ed25519Backend::kSodium);
}
BENCHMARK(BM_Sign)->Arg(0)->Arg(1);

void BM_Verify(benchmark::State& state) {
  const auto backend = static_cast<crypto::Ed25519Backend>(state.range(0));
  crypto::set_default_ed25519_backend(backend);
  crypto::SigningKey key;
  TRIAD_ASSERT(crypto::SigningKey::generate(&key).is_ok());
  crypto::VerifyingKey verifier;
  TRIAD_ASSERT(crypto::VerifyingKey::from_public_key(key.public_key(), &verifier).is_ok());
  const std::vector<std::uint8_t> message(200, 0x42);
  const Signature sig = key.sign(message);
  for (auto _ : state) benchmark::DoNotOptimize(verifier.verify(message, sig));
  state.SetLabel(backend == crypto::Ed25519Backend::kSodium ? "libsodium" : "OpenSSL");
  crypto::set_default_ed25519_backend(crypto::Ed25519Backend::kSodium);
}
BENCHMARK(BM_Verify)->Arg(0)->Arg(1);

// The voter alone (no crypto): three verdicts per seq, two agree at once.
// The idempotency record, per new id (every request the front end
// sequences): hash, probe, insert. Arg: ids already in the record. Also its
// heap bytes per id (mallinfo2), the record's memory in the front end.
void BM_SequencerAdmitNewId(benchmark::State& state) {
  struct NoHistory final : sequencer::History {
    Status sequenced(std::uint64_t, sequencer::Sequenced*) override {
      return Status::internal("no id repeats here");  // two ids sharing a 64-bit hash: never seen
    }
  } history;
  constexpr std::int64_t kMeasured = 1'000'000;
  const auto ids_of = [](std::int64_t from, std::int64_t count) {
    std::vector<std::string> ids;
    ids.reserve(static_cast<std::size_t>(count));
    for (std::int64_t i = from; i < from + count; ++i) ids.push_back("tx-" + std::to_string(i));
    return ids;
  };
  const std::vector<std::string> measured = ids_of(state.range(0), kMeasured);
  sequencer::Sequencer seq({.id_hash_key = {7}}, &history);
  const Digest digest{};
  sequencer::Admission a;
  {
    const std::vector<std::string> prefill = ids_of(0, state.range(0));
    const std::size_t heap_ids = mallinfo2().uordblks;
    for (const std::string& id : prefill) TRIAD_ASSERT(seq.admit(id, digest, {}, 0, &a).is_ok());
    if (!prefill.empty()) {
      state.counters["record_bytes_per_id"] = static_cast<double>(mallinfo2().uordblks - heap_ids) /
                                              static_cast<double>(prefill.size());
    }
  }
  std::size_t i = 0;
  for (auto _ : state) {
    TRIAD_ASSERT(seq.admit(measured[i++], digest, {}, 0, &a).is_ok());
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_SequencerAdmitNewId)->Arg(0)->Arg(4'000'000)->Iterations(1'000'000);

void BM_VoterPerVerdict(benchmark::State& state) {
  voter::Voter v({.deadline_us = 1'000'000});
  voter::Output out;
  voter::ReplicaVerdict verdicts[3];
  for (int r = 0; r < 3; ++r) {
    verdicts[r].replica = r;
    verdicts[r].signature_valid = true;
    verdicts[r].fingerprint = "gcc 12.2.0; libstdc++; -O2; index=hash";
  }
  std::uint64_t seq = 0;
  std::uint64_t now = 0;
  for (auto _ : state) {
    v.open(++seq, ++now);
    for (auto& verdict : verdicts) {
      verdict.content.seq = seq;
      v.on_verdict(verdict, now, &out);
    }
    out.clear();
  }
  state.SetItemsProcessed(state.iterations() * 3);
  state.SetLabel("items = verdicts");
}
BENCHMARK(BM_VoterPerVerdict);

void BM_CertificateVerify(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "triad-bench-keys";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "keys");
  std::vector<crypto::SigningKey> keys(3);
  for (int r = 0; r < 3; ++r) {
    TRIAD_ASSERT(crypto::SigningKey::generate(&keys[static_cast<std::size_t>(r)]).is_ok());
    TRIAD_ASSERT(crypto::write_key_pair(layout::replica_secret_key(dir.string(), r),
                                        layout::replica_public_key(dir.string(), r),
                                        keys[static_cast<std::size_t>(r)])
                     .is_ok());
  }
  Keyring ring;
  TRIAD_ASSERT(Keyring::load_dir(dir.string(), &ring).is_ok());
  std::filesystem::remove_all(dir);
  voter::VerdictContent content;
  content.seq = 7;
  content.rules_version = 1;
  // Each signer's verdict from a batch of 512, as replicas under load sign.
  std::vector<voter::ReplicaVerdict> signers;
  for (int r = 0; r < 2; ++r) {
    std::vector<voter::ReplicaVerdict> batch = verdict_batch(r, 512);
    batch[100].content = content;
    wire::sign_verdict_batch(batch, keys[static_cast<std::size_t>(r)]);
    signers.push_back(batch[100]);
  }
  const auto cert = wire::build_certificate(content, signers);
  TRIAD_ASSERT(verify_certificate(cert, ring, nullptr).is_ok());
  for (auto _ : state) {
    CertificateInfo info;
    benchmark::DoNotOptimize(verify_certificate(cert, ring, &info));
  }
  state.SetLabel("two signers from batches of 512");
}
BENCHMARK(BM_CertificateVerify);

// A replica signing its verdicts in batches of range(0) (libsodium): Merkle
// tree plus one signature, per verdict.
void BM_SignVerdictBatch(benchmark::State& state) {
  crypto::SigningKey key;
  TRIAD_ASSERT(crypto::SigningKey::generate(crypto::Ed25519Backend::kSodium, &key).is_ok());
  std::vector<voter::ReplicaVerdict> batch =
      verdict_batch(1, static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) wire::sign_verdict_batch(batch, key);
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetLabel("items = verdicts");
}
BENCHMARK(BM_SignVerdictBatch)->Arg(1)->Arg(16)->Arg(128)->Arg(1024);

// Replica `replica`'s message carrying one signed batch of `n` verdicts
// (libsodium), and the key the front end checks it with.
struct SignedBatchMessage {
  std::vector<std::uint8_t> bytes;
  crypto::VerifyingKey verifier;
};
SignedBatchMessage signed_batch_message(int replica, std::size_t n) {
  SignedBatchMessage made;
  crypto::SigningKey key;
  TRIAD_ASSERT(crypto::SigningKey::generate(crypto::Ed25519Backend::kSodium, &key).is_ok());
  TRIAD_ASSERT(crypto::VerifyingKey::from_public_key(
                   key.public_key(), crypto::Ed25519Backend::kSodium, &made.verifier)
                   .is_ok());
  std::vector<voter::ReplicaVerdict> batch = verdict_batch(replica, n);
  wire::sign_verdict_batch(batch, key);
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<wire::VerdictBatch>> batches = {
      wire::build_verdict_batch(fbb, batch)};
  fbb.Finish(wire::CreateFromReplicaDirect(fbb, 0, 0, &batches));
  made.bytes.assign(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  return made;
}

// What the front end does with such a message: verify, decode, rebuild the
// Merkle tree, check the signature, audit paths.
void read_and_check(const SignedBatchMessage& m, int replica,
                    std::vector<voter::ReplicaVerdict>* out) {
  const wire::AlignedFrame frame(m.bytes.data(), m.bytes.size());
  const wire::FromReplica* msg = nullptr;
  TRIAD_ASSERT(wire::verify_from_replica(frame.bytes(), &msg).is_ok());
  out->clear();
  TRIAD_ASSERT(wire::read_verdict_batch(msg->batches()->Get(0), replica, m.verifier, out).is_ok());
  TRIAD_ASSERT(out->front().signature_valid);
}

// The front end reading a replica's batch of range(0) verdicts; per verdict.
void BM_ReadVerdictBatch(benchmark::State& state) {
  const SignedBatchMessage message =
      signed_batch_message(1, static_cast<std::size_t>(state.range(0)));
  std::vector<voter::ReplicaVerdict> out;
  for (auto _ : state) read_and_check(message, 1, &out);
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetLabel("items = verdicts");
}
BENCHMARK(BM_ReadVerdictBatch)->Arg(1)->Arg(16)->Arg(128)->Arg(1024);

// Whether the front end should check the two deciding verdicts' signatures
// in parallel. At light load both usually arrive within one turn of the
// event loop and are checked one after the other (about 50 µs each), so the
// second waits for the first. range(0) = 0: both checked in turn, as built;
// 1: the second handed to a helper thread, woken for it (atomic wait and
// notify, a futex) and waited for the same way. Wall time per pair, each
// pair after 2 ms idle (the gap between requests at 500/s), so the helper
// is asleep when the pair comes, as it would be.
void BM_TwoVerdictChecks(benchmark::State& state) {
  const bool on_helper = state.range(0) == 1;
  const SignedBatchMessage messages[2] = {signed_batch_message(0, 1), signed_batch_message(1, 1)};
  const auto check = [&](int r) {
    std::vector<voter::ReplicaVerdict> out;
    read_and_check(messages[r], r, &out);
  };
  constexpr std::uint32_t kStop = UINT32_MAX;
  std::atomic<std::uint32_t> posted{0};
  std::atomic<std::uint32_t> done{0};
  std::thread helper([&] {
    for (std::uint32_t seen = 0;;) {
      posted.wait(seen);
      seen = posted.load();
      if (seen == kStop) return;
      check(1);
      done.store(seen);
      done.notify_one();
    }
  });
  std::uint32_t pair = 0;
  std::vector<double> pair_us;
  for (auto _ : state) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const auto start = std::chrono::steady_clock::now();
    if (on_helper) {
      posted.store(++pair);
      posted.notify_one();
      check(0);
      for (std::uint32_t d = done.load(); d != pair; d = done.load()) done.wait(d);
    } else {
      check(0);
      check(1);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(seconds);
    pair_us.push_back(seconds * 1e6);
  }
  posted.store(kStop);
  posted.notify_one();
  helper.join();
  // The mean hides how often a wake-up is slow: the median as well.
  std::sort(pair_us.begin(), pair_us.end());
  if (!pair_us.empty()) state.counters["p50_us"] = pair_us[pair_us.size() / 2];
  state.SetLabel(on_helper ? "second on a helper thread" : "both in turn");
}
BENCHMARK(BM_TwoVerdictChecks)
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// The front end's core from client frame to certified decision, with no
// I/O: range(0) requests per client frame (one ClientRequest, or a batch),
// the three replicas' verdicts for them as one signed batch each, the voter,
// certificates and replies. What the event loop spends per decision besides
// system calls, the journal's write and the reply gate. The replicas'
// signing happens outside the timed part.
class DiscardingArchive final : public frontend::Archive {
 public:
  Status read_entries(std::uint64_t, std::uint64_t, std::vector<journal::Entry>*) override {
    return Status::unavailable("not kept");
  }
  void put_certificate(std::uint64_t, const frontend::KeptAnswer&,
                       std::span<const std::uint8_t>) override {}
  Status certificate(std::uint64_t, std::vector<std::uint8_t>*) override {
    return Status::unavailable("not kept");
  }
  Status kept_answer(std::uint64_t, frontend::KeptAnswer*) override {
    return Status::unavailable("not kept");
  }
};

std::vector<std::uint8_t> from_replica(flatbuffers::FlatBufferBuilder& fbb) {
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

void BM_FrontEndCorePerDecision(benchmark::State& state) {
  const auto per_frame = static_cast<std::size_t>(state.range(0));
  const Workload& w = workload();
  std::array<crypto::SigningKey, kReplicaCount> keys;
  DiscardingArchive archive;
  frontend::Core::Config config;
  config.archive = &archive;
  config.card_ref_key = crypto::SymmetricKey::generate();
  for (int r = 0; r < kReplicaCount; ++r) {
    auto& key = keys[static_cast<std::size_t>(r)];
    TRIAD_ASSERT(crypto::SigningKey::generate(&key).is_ok());
    config.replica_keys[static_cast<std::size_t>(r)] = key.public_key();
  }
  std::uint64_t now_us = 1'000'000;
  std::unique_ptr<frontend::Core> core;
  TRIAD_ASSERT(frontend::Core::create(config, now_us, &core).is_ok());
  const std::array<std::string, kReplicaCount> fingerprints = {
      "gcc 12.2.0; libstdc++ 20220819; -O2; index=hash; rev=63ee891d629c",
      "clang 14.0.6 ; libc++ 14000; -O3 -stdlib=libc++; index=ordered; rev=63ee891d629c",
      "gcc 12.2.0; libstdc++ 20220819 +assertions; -O1 -D_GLIBCXX_ASSERTIONS; index=sorted; "
      "rev=63ee891d629c"};
  frontend::Outbox out;
  for (int r = 0; r < kReplicaCount; ++r) {
    flatbuffers::FlatBufferBuilder fbb;
    const auto hello = wire::CreateHelloDirect(fbb, static_cast<std::uint8_t>(r), 1,
                                               fingerprints[static_cast<std::size_t>(r)].c_str(),
                                               rules::kRulesVersion);
    fbb.Finish(wire::CreateFromReplica(fbb, hello));
    const auto bytes = from_replica(fbb);
    core->on_replica_message(r, bytes, now_us, &out);
  }
  out.clear();

  std::uint64_t next = 0;  // ids are unique for the whole run
  std::vector<std::vector<std::uint8_t>> requests(per_frame);
  std::vector<std::span<const std::uint8_t>> parts(per_frame);
  std::vector<voter::ReplicaVerdict> verdicts(per_frame);
  std::array<std::vector<std::uint8_t>, kReplicaCount> replica_messages;
  for (auto _ : state) {
    state.PauseTiming();
    for (std::size_t i = 0; i < per_frame; ++i, ++next) {
      Transaction tx = w.txs[next % w.txs.size()];
      tx.id = "bench-" + std::to_string(next);
      requests[i] = loadgen::encode_submit(next, tx);
      parts[i] = requests[i];
    }
    const std::vector<std::uint8_t> frame =
        per_frame == 1 ? requests.front() : wire::encode_request_batch(parts);
    const std::uint64_t first_seq = core->last_seq() + 1;
    state.ResumeTiming();

    now_us += 1000;
    core->on_client_message("client-1", frame, now_us, static_cast<std::int64_t>(now_us / 1000),
                            &out);
    core->flush_new_entries(&out);

    state.PauseTiming();
    TRIAD_ASSERT(core->last_seq() == first_seq + per_frame - 1);
    for (int r = 0; r < kReplicaCount; ++r) {
      for (std::size_t i = 0; i < per_frame; ++i) {
        voter::ReplicaVerdict& v = verdicts[i];
        const std::uint64_t seq = first_seq + i;
        v = voter::ReplicaVerdict{};
        v.replica = r;
        v.content.seq = seq;
        v.content.ts_ms = core->sequenced_ts_ms(seq);
        const Transaction& tx = core->sequenced_tx(seq);
        v.content.tx_digest =
            wire::transaction_digest(tx, crypto::card_ref_of(config.card_ref_key, tx));
        v.content.rules_version = rules::kRulesVersion;
        v.content.state_digest.fill(static_cast<std::uint8_t>(seq));
        v.fingerprint = fingerprints[static_cast<std::size_t>(r)];
      }
      wire::sign_verdict_batch(verdicts, keys[static_cast<std::size_t>(r)]);
      flatbuffers::FlatBufferBuilder fbb;
      std::vector<flatbuffers::Offset<wire::VerdictBatch>> batches = {
          wire::build_verdict_batch(fbb, verdicts)};
      fbb.Finish(wire::CreateFromReplicaDirect(fbb, 0, 0, &batches));
      replica_messages[static_cast<std::size_t>(r)] = from_replica(fbb);
    }
    state.ResumeTiming();

    for (int r = 0; r < kReplicaCount; ++r) {
      core->on_replica_message(r, replica_messages[static_cast<std::size_t>(r)], now_us, &out);
    }
    core->release_journaled(core->last_seq());
    TRIAD_ASSERT(out.decisions.size() == per_frame);
    out.clear();
  }
  TRIAD_ASSERT(core->counters().fail_safe == 0);
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetLabel("items = decisions");
}
BENCHMARK(BM_FrontEndCorePerDecision)->Arg(1)->Arg(64);

// A checkpoint: the whole engine state serialized and hashed, after
// range(0) transactions of the 1,000-card sample. Linear in the history.
void BM_EngineSerializeCheckpoint(benchmark::State& state) {
  const Workload w = make_workload(static_cast<std::size_t>(state.range(0)));
  rules::Engine engine(w.cards);
  for (std::size_t i = 0; i < w.txs.size(); ++i) engine.apply(w.ts[i], w.txs[i]);
  std::string bytes;
  for (auto _ : state) {
    engine.serialize(&bytes);
    benchmark::DoNotOptimize(crypto::sha256(bytes));
  }
  state.SetLabel("1,000 cards after " + std::to_string(state.range(0)) + " transactions, " +
                 std::to_string(bytes.size()) + " bytes, serialize + SHA-256");
}
BENCHMARK(BM_EngineSerializeCheckpoint)->Arg(20'000)->Arg(200'000);

// A replica's checkpoint after each further 1,000 transactions, when
// range(0) were applied before (applying the 1,000 is not timed, but leaves
// the caches as a replica's would be). range(1): 0, the kept pages brought
// up to date (replica/checkpoint.h) with nothing done ahead; 1, the whole
// state serialized and hashed each time, as before them; 2, the kept pages
// after all the work that can be done ahead was (untimed, as a replica does
// it while no message waits: what is left on the checkpoint seq). range(2):
// cards in the card file (the sample traffic spreads over all of them).
void BM_Checkpoint(benchmark::State& state) {
  constexpr std::size_t kBetween = 1000;
  constexpr std::int64_t kCheckpoints = 40;
  const auto before = static_cast<std::size_t>(state.range(0));
  const bool whole = state.range(1) == 1;
  const bool ahead = state.range(1) == 2;
  const auto cards = static_cast<std::size_t>(state.range(2));
  const Workload w = make_workload(before + kBetween * kCheckpoints, cards);
  rules::Engine engine(w.cards);
  for (std::size_t i = 0; i < before; ++i) engine.apply(w.ts[i], w.txs[i]);
  replica::Checkpointer checkpointer;
  checkpointer.update(engine);
  std::string bytes;
  std::size_t next = before;
  std::uint64_t rewritten = 0;
  std::uint64_t done_ahead = 0;  // pages rewritten or re-read by prepare()
  for (auto _ : state) {
    state.PauseTiming();
    for (const std::size_t end = next + kBetween; next < end; ++next) {
      engine.apply(w.ts[next], w.txs[next]);
    }
    while (ahead && checkpointer.prepare(engine, replica::ReplicaNode::kPrepareStepPages)) {
    }
    state.ResumeTiming();
    if (whole) {
      engine.serialize(&bytes);
      benchmark::DoNotOptimize(crypto::sha256(bytes));
    } else {
      benchmark::DoNotOptimize(checkpointer.update(engine));
      rewritten += checkpointer.last_work().pages_rewritten;
      done_ahead += checkpointer.last_work().ahead;
    }
  }
  state.SetLabel(
      std::to_string(cards) + " cards after " + std::to_string(before) + " transactions, " +
      (whole ? "serialize + SHA-256 of " + std::to_string(bytes.size()) + " bytes"
             : std::string(ahead ? "what is left after the work done ahead, " : "incremental, ") +
                   std::to_string(checkpointer.page_count()) + " pages, " +
                   std::to_string(rewritten / static_cast<std::uint64_t>(state.iterations())) +
                   " rewritten per checkpoint" +
                   (ahead ? ", " +
                                std::to_string(done_ahead /
                                               static_cast<std::uint64_t>(state.iterations())) +
                                " pages rewritten or re-read ahead"
                          : "")));
}
BENCHMARK(BM_Checkpoint)
    ->Args({20'000, 0, 1000})
    ->Args({20'000, 1, 1000})
    ->Args({200'000, 0, 1000})
    ->Args({200'000, 1, 1000})
    ->Args({20'000, 2, 1000})
    ->Args({20'000, 0, 1'000'000})
    ->Args({20'000, 1, 1'000'000})
    ->Args({20'000, 2, 1'000'000})
    ->Iterations(40);

// The engine whose state the snapshot benchmarks take: range(0) sample
// cards after range(1) sample transactions. With `dense`, the transactions
// are 1 ms apart instead of the sample's pace, so all of them are in the
// rule 10 window (a day): a switch's day at tens of transactions a second.
std::unique_ptr<rules::Engine> engine_of_a_snapshot(const benchmark::State& state,
                                                    bool dense = false) {
  const Workload w = make_workload(static_cast<std::size_t>(state.range(1)),
                                   static_cast<std::size_t>(state.range(0)));
  auto engine = std::make_unique<rules::Engine>(w.cards);
  for (std::size_t i = 0; i < w.txs.size(); ++i) {
    engine->apply(dense ? w.ts[0] + static_cast<std::int64_t>(i) : w.ts[i], w.txs[i]);
  }
  return engine;
}

std::string snapshot_label(const benchmark::State& state, std::size_t bytes, bool dense) {
  return std::to_string(state.range(0)) + " cards after " + std::to_string(state.range(1)) +
         " transactions" + (dense ? " 1 ms apart" : "") + ", " + std::to_string(bytes) + " bytes";
}

// What the front end does with a repair's snapshot before it is installed:
// its checkpoint digest recomputed from the bytes alone (checkpoint_digest).
// range(2): 1 for transactions 1 ms apart. Linear in the state.
void BM_SnapshotCheck(benchmark::State& state) {
  const bool dense = state.range(2) == 1;
  std::string bytes;
  engine_of_a_snapshot(state, dense)->serialize(&bytes);
  for (auto _ : state) {
    Digest digest;
    TRIAD_ASSERT(replica::checkpoint_digest(bytes, &digest).is_ok());
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
  state.SetLabel(snapshot_label(state, bytes.size(), dense));
}
BENCHMARK(BM_SnapshotCheck)
    ->Args({1000, 200'000, 0})
    ->Args({1'000'000, 20'000, 0})
    ->Args({1000, 1'000'000, 1})
    ->Unit(benchmark::kMillisecond);

// What a repair's source does when asked for its snapshot: the state copied
// out of its checkpoint's kept pages, after range(1) transactions over
// range(0) cards. range(2): 0, the whole copy in one go (engine_state(), what
// the source did before it copied in shares); 1, only the start of a copy in
// shares (the size measured); 2, the start and one share of 2 MiB
// (ReplicaNode's; the buffer reserved), the longest the source stops for
// now. range(3): 1 for transactions 1 ms apart.
void BM_SnapshotCopy(benchmark::State& state) {
  const bool dense = state.range(3) == 1;
  replica::Checkpointer checkpointer;
  checkpointer.update(*engine_of_a_snapshot(state, dense));
  const auto how = state.range(2);
  std::size_t bytes = 0;
  for (auto _ : state) {
    if (how == 0) {
      bytes = checkpointer.engine_state().size();
      continue;
    }
    replica::Checkpointer::StateCopy copy(checkpointer);
    if (how == 2)
      copy.step(replica::ReplicaNode::kSnapshotCopyStepParts * wire::kSnapshotPartBytes);
    bytes = copy.total_bytes();
    benchmark::DoNotOptimize(copy);
  }
  state.SetLabel(snapshot_label(state, bytes, dense) + "; " +
                 (how == 0   ? "whole"
                  : how == 1 ? "start of a copy in shares"
                             : "start and one share"));
}
BENCHMARK(BM_SnapshotCopy)
    ->Args({1000, 200'000, 0, 0})
    ->Args({1000, 200'000, 1, 0})
    ->Args({1000, 200'000, 2, 0})
    ->Args({1'000'000, 20'000, 0, 0})
    ->Args({1'000'000, 20'000, 1, 0})
    ->Args({1'000'000, 20'000, 2, 0})
    ->Args({1000, 1'000'000, 1, 1})
    ->Args({1000, 1'000'000, 2, 1})
    ->Unit(benchmark::kMillisecond);

// What the replica being repaired does with the snapshot it is given: a
// fresh engine of the card file restores the state (the engine's
// construction not timed). range(2): 1 for transactions 1 ms apart.
void BM_SnapshotRestore(benchmark::State& state) {
  const bool dense = state.range(2) == 1;
  const Workload w = make_workload(0, static_cast<std::size_t>(state.range(0)));
  std::string bytes;
  engine_of_a_snapshot(state, dense)->serialize(&bytes);
  for (auto _ : state) {
    state.PauseTiming();
    auto engine = std::make_unique<rules::Engine>(w.cards);
    state.ResumeTiming();
    TRIAD_ASSERT(engine->restore(bytes).is_ok());
    state.PauseTiming();
    engine.reset();
    state.ResumeTiming();
  }
  state.SetLabel(snapshot_label(state, bytes.size(), dense));
}
BENCHMARK(BM_SnapshotRestore)
    ->Args({1000, 200'000, 0})
    ->Args({1'000'000, 20'000, 0})
    ->Args({1000, 1'000'000, 1})
    ->Unit(benchmark::kMillisecond);

// A fresh journal in the temporary directory, removed when the benchmark ends.
struct BenchJournal {
  BenchJournal(const char* name, journal::FsyncPolicy policy)
      : path((std::filesystem::temp_directory_path() / name).string()) {
    std::filesystem::remove(path);
    journal::Recovery recovery;
    TRIAD_ASSERT(
        journal::Journal::open(path, crypto::SymmetricKey::generate(), policy, 0, &recovery, &j)
            .is_ok());
  }
  ~BenchJournal() {
    TRIAD_ASSERT(j->close().is_ok());
    std::filesystem::remove(path);
  }
  std::string path;
  std::unique_ptr<journal::Journal> j;
};

// The input journal per transaction: encrypt, frame, and one commit (write +
// fdatasync under the batch policy) per group of range(1) records, the way
// the front end commits once per event-loop turn. range(0): 0 batch, 1 never.
void BM_JournalAppendCommit(benchmark::State& state) {
  const Workload& w = workload();
  const journal::FsyncPolicy policy{
      state.range(0) == 0 ? journal::FsyncPolicy::Kind::kBatch : journal::FsyncPolicy::Kind::kNever,
      0};
  BenchJournal bench("triad-bench-journal", policy);
  journal::Journal* j = bench.j.get();
  const auto group = static_cast<std::size_t>(state.range(1));
  std::uint64_t seq = 0;
  for (auto _ : state) {
    for (std::size_t k = 0; k < group; ++k) {
      ++seq;
      j->append(seq, 1, w.txs[seq % w.txs.size()]);
    }
    TRIAD_ASSERT(j->commit(seq).is_ok());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(seq));
  state.SetLabel(journal::to_string(policy) + ", " + std::to_string(group) + " per commit");
}
BENCHMARK(BM_JournalAppendCommit)->Args({0, 1})->Args({0, 64})->Args({1, 1})->Args({1, 64});

// Reading the journal back, as the front end resends what it no longer keeps
// in memory: parts of 512 records (one resend message) from a journal of
// 65,536, decrypted, checked and decoded; per record.
void BM_JournalReadPart(benchmark::State& state) {
  const Workload& w = workload();
  BenchJournal bench("triad-bench-journal-read", {journal::FsyncPolicy::Kind::kNever, 0});
  journal::Journal* j = bench.j.get();
  constexpr std::uint64_t kRecords = 65'536;
  constexpr std::uint64_t kPart = 512;
  for (std::uint64_t seq = 1; seq <= kRecords; ++seq) j->append(seq, 1, w.txs[seq % w.txs.size()]);
  TRIAD_ASSERT(j->commit(0).is_ok());
  std::vector<journal::Entry> part;
  std::uint64_t from = 1;
  std::uint64_t records = 0;
  for (auto _ : state) {
    part.clear();
    TRIAD_ASSERT(j->read(from, from + kPart - 1, &part).is_ok());
    benchmark::DoNotOptimize(part.data());
    records += part.size();
    from = from + kPart > kRecords ? 1 : from + kPart;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(records));
}
BENCHMARK(BM_JournalReadPart);

// The audit store per decision, the way the front end feeds it: rows queued
// from the caller's thread, committed by the store's writer thread in batches.
// A row as in a TMR run under load: an id of about 10 characters, a 720-byte
// certificate (two signers, Merkle paths from batches of a few hundred) and
// the PAN of one of 100,000 cards, which the writer turns into a card
// reference. range(0) rows per commit: about 50 ms, 200 ms (the writer's
// interval) and 400 ms of decisions at 10,000/s. Real time per row, with the
// CPU of every thread of the process (writer included) in the CPU column.
std::string audit_bench_path() {
  const std::string path =
      (std::filesystem::temp_directory_path() / "triad-bench-audit.db").string();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return path;
}

// Ids in no particular order, as from many terminals at once (the sample
// traffic's "tx-000001", "tx-000002"... would come in order, which real ids
// do not), on 100,000 cards.
std::string audit_bench_id(std::uint64_t seq) {
  return std::to_string(seq * 2'654'435'761u % 4'294'967'291u);
}

audit::DecisionRow audit_bench_row(std::uint64_t seq) {
  static const std::vector<std::uint8_t> certificate(720, 0x5a);
  audit::DecisionRow row;
  row.seq = seq;
  row.id = audit_bench_id(seq);
  row.ts_ms = 1'798'761'600'000 + static_cast<std::int64_t>(seq);
  row.code = "00";
  row.agree = "ab";
  row.latency_us = 1000;
  row.certificate = certificate;
  row.decided_at_ms = row.ts_ms;
  static const crypto::SymmetricKey key = crypto::SymmetricKey::generate();
  row.card_ref = crypto::card_ref(key, "411111" + std::to_string(1'000'000 + seq * 7919 % 100'000));
  return row;
}

void BM_AuditStoreWrite(benchmark::State& state) {
  const std::string path = audit_bench_path();
  std::unique_ptr<audit::AuditStore> store;
  TRIAD_ASSERT(audit::AuditStore::open(path, audit::StoreOptions{}, &store).is_ok());
  const auto rows = static_cast<std::uint64_t>(state.range(0));
  std::uint64_t seq = 0;
  for (auto _ : state) {
    for (std::uint64_t k = 0; k < rows; ++k) TRIAD_ASSERT(store->add(audit_bench_row(++seq)));
    store->flush();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(seq));
  TRIAD_ASSERT(store->close().is_ok());
  TRIAD_ASSERT(store->counters().written == seq);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}
// A fixed number of rows (204,800), so runs compare at the same store size:
// the cost per row grows with the store.
BENCHMARK(BM_AuditStoreWrite)->Arg(512)->Iterations(400)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_AuditStoreWrite)->Arg(2048)->Iterations(100)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_AuditStoreWrite)->Arg(4096)->Iterations(50)->UseRealTime()->MeasureProcessCPUTime();
// The same into 1.2 million rows: whether a row costs more as the store grows.
BENCHMARK(BM_AuditStoreWrite)->Arg(4096)->Iterations(300)->UseRealTime()->MeasureProcessCPUTime();

// `triad audit ID`'s lookup in a store of state.range(0) decisions, the
// writer stopped: a fresh reader's seek of every lookup table, the row read,
// the decisions after the last table scanned.
void BM_AuditLookupById(benchmark::State& state) {
  const std::string path = audit_bench_path();
  const auto rows = static_cast<std::uint64_t>(state.range(0));
  {
    std::unique_ptr<audit::AuditStore> store;
    TRIAD_ASSERT(audit::AuditStore::open(path, audit::StoreOptions{}, &store).is_ok());
    for (std::uint64_t seq = 1; seq <= rows; ++seq) {
      while (!store->add(audit_bench_row(seq))) store->flush();
    }
    TRIAD_ASSERT(store->close().is_ok());
  }
  audit::AuditReader reader;
  TRIAD_ASSERT(audit::AuditReader::open(path, &reader).is_ok());
  std::vector<audit::DecisionRow> found;
  std::uint64_t k = 0;
  for (auto _ : state) {
    const std::uint64_t seq = 1 + (++k * 7'919) % rows;
    TRIAD_ASSERT(reader.decisions_for_id(audit_bench_id(seq), &found).is_ok());
    TRIAD_ASSERT(found.size() == 1 && found[0].seq == seq);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}
BENCHMARK(BM_AuditLookupById)->Arg(204'800)->Iterations(2000);

// `triad audit --card PAN` (its default --limit 100, so 101 asked) for a
// busy card: a store of state.range(0) decisions, every fourth of them on
// that one card (a fleet card, say), the rest on 100,000 others.
void BM_AuditLookupBusyCard(benchmark::State& state) {
  const std::string path = audit_bench_path();
  const auto rows = static_cast<std::uint64_t>(state.range(0));
  const std::string busy_pan = "4111119999999999";
  const crypto::SymmetricKey key = crypto::SymmetricKey::generate();
  {
    std::unique_ptr<audit::AuditStore> store;
    TRIAD_ASSERT(audit::AuditStore::open(path, audit::StoreOptions{}, &store).is_ok());
    for (std::uint64_t seq = 1; seq <= rows; ++seq) {
      audit::DecisionRow row = audit_bench_row(seq);
      if (seq % 4 == 0) row.card_ref = crypto::card_ref(key, busy_pan);
      while (!store->add(row)) store->flush();
    }
    TRIAD_ASSERT(store->close().is_ok());
  }
  audit::AuditReader reader;
  TRIAD_ASSERT(audit::AuditReader::open(path, &reader).is_ok());
  const std::string ref = crypto::card_ref(key, busy_pan);
  std::vector<audit::DecisionRow> found;
  for (auto _ : state) {
    TRIAD_ASSERT(reader.decisions_for_card(ref, 101, &found).is_ok());
    TRIAD_ASSERT(found.size() == 101 && found[0].seq == rows / 4 * 4);
  }
  state.counters["card_decisions"] = static_cast<double>(rows / 4);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}
BENCHMARK(BM_AuditLookupBusyCard)->Arg(204'800)->Iterations(20)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace triad
