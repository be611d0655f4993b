// The core keeps only recent transactions and a few bytes of answer per seq
// in memory; what it lets go of it reads back from its Archive: entries for a
// replica that needs them again, certificates for a repeated id. Core driven
// directly, with an injected clock and an in-memory archive.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core_driver.h"

namespace triad::frontend {
namespace {

class CoreArchive : public CoreDriver {
 protected:
  static constexpr std::size_t kKeepRecent = 8;

  void SetUp() override {
    Core::Config config;
    config.keep_recent = kKeepRecent;
    start(config);
  }

  Outbox resubmit(std::uint64_t id_number, std::uint64_t tag, std::uint64_t now_us) {
    Transaction tx;
    tx.id = "tx-" + std::to_string(id_number);
    Outbox out;
    core_->on_client_message("client", loadgen::encode_submit(tag, tx), now_us, 0, &out);
    return out;
  }

  static const wire::ClientReply* reply_of(const Outbox& out, std::vector<std::uint8_t>* keep) {
    EXPECT_EQ(out.to_clients.size(), 1u);
    if (out.to_clients.size() != 1) return nullptr;
    *keep = out.to_clients.front().bytes;
    const wire::ClientReply* reply = nullptr;
    EXPECT_TRUE(wire::verify_client_reply(*keep, &reply).is_ok());
    return reply;
  }
};

TEST_F(CoreArchive, TransactionsLeaveMemoryOnceDecidedJournalledAndSent) {
  const std::uint64_t now = kStartUs;
  ASSERT_EQ(submit(100, now), 0u);
  EXPECT_EQ(core_->entries_in_memory(), 100u) << "none decided yet";
  verdicts(0, 1, 60, now);
  verdicts(1, 1, 60, now);
  EXPECT_EQ(core_->entries_in_memory(), 40u) << "1-60 decided, journalled and sent";
  verdicts(0, 61, 100, now);
  verdicts(1, 61, 100, now);
  EXPECT_EQ(core_->entries_in_memory(), kKeepRecent) << "the newest are kept";
  EXPECT_EQ(archive_.reads(), 0u);
}

TEST_F(CoreArchive, NothingLeavesMemoryBeforeTheShellJournalledIt) {
  const std::uint64_t now = kStartUs;
  journal_up_to_ = 30;
  submit_decided_by_a_and_b(100, now);
  EXPECT_EQ(core_->entries_in_memory(), 70u) << "31-100 are not journalled yet";
  journal_up_to_ = UINT64_MAX;
  archive_.journal(core_.get());
  EXPECT_EQ(core_->entries_in_memory(), kKeepRecent);
}

TEST_F(CoreArchive, AReplicaStartingAgainIsSentEverySeqWhetherInMemoryOrNot) {
  const std::uint64_t now = kStartUs;
  submit_decided_by_a_and_b(1000, now);  // c silent: it "restarts" below
  ASSERT_EQ(core_->entries_in_memory(), kKeepRecent);
  const Outbox out = hello(2, 1, now);
  const auto sent = entries_sent(out, 2);
  ASSERT_EQ(sent.size(), 1000u);
  for (std::uint64_t seq = 1; seq <= 1000; ++seq) {
    EXPECT_EQ(sent[seq - 1].first, seq);
    EXPECT_EQ(sent[seq - 1].second, "tx-" + std::to_string(seq));
  }
  EXPECT_GT(archive_.reads(), 0u);
  EXPECT_EQ(core_->counters().entries_read_back, 1000 - kKeepRecent);

  // From the middle, across the boundary between archive and memory (its
  // idle hello, 500 ms later).
  const auto tail = entries_sent(hello(2, 990, now + 500'000), 2);
  ASSERT_EQ(tail.size(), 11u);
  EXPECT_EQ(core_->counters().entries_read_back, 1000 - kKeepRecent + (1000 - kKeepRecent - 989));
  EXPECT_EQ(tail.front(), std::make_pair(std::uint64_t{990}, std::string("tx-990")));
  EXPECT_EQ(tail.back(), std::make_pair(std::uint64_t{1000}, std::string("tx-1000")));
}

// A hello naming seq 0 (a faulty replica's) is answered like one naming 1:
// the fuzzer found it sent an empty message, taken for the stored snapshot
// of a restart that had none.
TEST_F(CoreArchive, AHelloOfSeqZeroIsAnsweredLikeOneOfSeqOne) {
  submit_decided_by_a_and_b(10, kStartUs);
  const Outbox out = hello(2, 0, kStartUs);
  for (const auto& m : out.to_replicas) EXPECT_FALSE(m.bytes.empty());
  EXPECT_EQ(entries_sent(out, 2).size(), 10u);
}

TEST_F(CoreArchive, ARepeatedIdGetsItsAnswerAndCertificateBackAfterTheyLeftMemory) {
  const std::uint64_t now = kStartUs;
  ASSERT_EQ(submit(100, now), 0u);
  verdicts(0, 1, 100, now);
  const Outbox decided = verdicts(1, 1, 100, now);
  ASSERT_EQ(decided.decisions.size(), 100u);
  const Outbox::DecisionRecord& first = decided.decisions.front();
  ASSERT_EQ(first.seq, 1u);
  ASSERT_FALSE(first.certificate.empty());
  ASSERT_EQ(core_->entries_in_memory(), kKeepRecent);

  std::vector<std::uint8_t> bytes;
  ASSERT_EQ(archive_.reads(), 0u);
  const wire::ClientReply* reply = reply_of(resubmit(1, 555, now), &bytes);
  EXPECT_EQ(archive_.reads(), 1u) << "its entry, read back to tell the id from a hash collision";
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->tag(), 555u);
  ASSERT_NE(reply->decision(), nullptr);
  const wire::Decision& d = *reply->decision();
  EXPECT_TRUE(d.replayed());
  EXPECT_EQ(d.seq(), 1u);
  EXPECT_EQ(d.id()->str(), "tx-1");
  EXPECT_EQ(d.ts(), first.ts_ms);
  EXPECT_EQ(d.code()->str(), first.code);
  EXPECT_EQ(d.agree()->str(), "ab");
  EXPECT_EQ(d.divergent()->str(), "");
  const auto cert = wire::as_bytes(d.certificate());
  EXPECT_EQ(std::vector<std::uint8_t>(cert.begin(), cert.end()), first.certificate);
}

// A replica that needs a long stretch gets it a part at a time: the next part
// while its verdicts show fewer than resend_window_entries not yet
// answered; a hello, or a fetch that shows the replica stuck, starts over
// from what it asks for.
TEST_F(CoreArchive, ALongResendGoesOutAPartAtATimeAsTheReplicaAppliesIt) {
  Core::Config config;
  config.keep_recent = kKeepRecent;
  config.max_resend_entries = 400;
  config.resend_window_entries = 200;
  start(config);
  const std::uint64_t now = kStartUs;
  submit_decided_by_a_and_b(1000, now);
  const auto first = entries_sent(hello(2, 1, now), 2);
  ASSERT_EQ(first.size(), 400u);
  EXPECT_EQ(first.front().first, 1u);
  EXPECT_EQ(first.back().first, 400u);
  EXPECT_TRUE(entries_sent(verdicts(2, 1, 200, now), 2).empty()) << "200 not answered";
  const auto second = entries_sent(verdicts(2, 201, 201, now), 2);
  ASSERT_EQ(second.size(), 400u);
  EXPECT_EQ(second.front().first, 401u);
  EXPECT_EQ(second.back().first, 800u);
  EXPECT_TRUE(entries_sent(verdicts(2, 202, 500, now), 2).empty());

  // A fetch from a seq it was sent is left to the resend, and answered when
  // the next one asks from there again (AFetchForWhatIsOnItsWayIsNot...).
  // (The replica fetches every 200 ms.)
  EXPECT_TRUE(entries_sent(fetch(2, 551, 1000, now + 200'000), 2).empty());
  const auto fetched = entries_sent(fetch(2, 551, 1000, now + 400'000), 2);
  ASSERT_EQ(fetched.size(), 400u);
  EXPECT_EQ(fetched.front().first, 551u);
  const auto last = entries_sent(verdicts(2, 501, 800, now + 400'000), 2);
  ASSERT_EQ(last.size(), 50u);
  EXPECT_EQ(last.front(), std::make_pair(std::uint64_t{951}, std::string("tx-951")));
  EXPECT_EQ(last.back(), std::make_pair(std::uint64_t{1000}, std::string("tx-1000")));
  EXPECT_TRUE(entries_sent(verdicts(2, 801, 1000, now + 400'000), 2).empty()) << "all sent";
}

// A replica being replayed also gets the live seqs, ahead of the resend, and
// fetches the gap every 200 ms while the resend is on its way. A fetch from a
// seq the resend sent, further on than its last fetch, is left to the
// resend; one from where the last one was (it is stuck: a part was lost) or
// beyond what was sent is answered.
TEST_F(CoreArchive, AFetchForWhatIsOnItsWayIsNotAnsweredTwice) {
  Core::Config config;
  config.keep_recent = kKeepRecent;
  config.max_resend_entries = 100;
  config.resend_window_entries = 100;
  start(config);
  std::uint64_t now = kStartUs;
  submit_decided_by_a_and_b(1000, now);
  // The replica's next fetch, ReplicaNode::kFetchIntervalUs after its last.
  const auto fetch_later = [&](std::uint64_t from, std::uint64_t to) {
    now += 200'000;
    return entries_sent(fetch(2, from, to, now), 2);
  };
  ASSERT_EQ(entries_sent(hello(2, 1, now), 2).size(), 100u);

  EXPECT_TRUE(fetch_later(1, 999).empty());
  EXPECT_EQ(core_->counters().fetches_crossing_a_resend, 1u);
  const auto lost = fetch_later(1, 999);
  ASSERT_EQ(lost.size(), 100u) << "no further: the part was lost";
  EXPECT_EQ(lost.front().first, 1u);

  const auto second = entries_sent(verdicts(2, 1, 60, now), 2);
  ASSERT_EQ(second.size(), 100u);
  EXPECT_EQ(second.front().first, 101u);
  EXPECT_TRUE(fetch_later(61, 999).empty());
  EXPECT_TRUE(fetch_later(200, 999).empty());
  EXPECT_EQ(core_->counters().fetches_crossing_a_resend, 3u);
  EXPECT_EQ(core_->counters().entries_read_back, 300u) << "nothing read a third time";

  const auto stuck = fetch_later(200, 999);
  ASSERT_EQ(stuck.size(), 100u);
  EXPECT_EQ(stuck.front().first, 200u);
  const auto beyond = fetch_later(500, 999);
  ASSERT_EQ(beyond.size(), 100u);
  EXPECT_EQ(beyond.front().first, 500u);
  EXPECT_EQ(core_->counters().fetches_crossing_a_resend, 3u);

  // A faulty replica asking again at once is not answered: each answer can
  // read a part back from the journal on the event loop.
  EXPECT_TRUE(entries_sent(fetch(2, 500, 999, now + 99'999), 2).empty());
  EXPECT_EQ(core_->counters().range_requests_too_soon, 1u);
  EXPECT_EQ(entries_sent(fetch(2, 500, 999, now + 100'000), 2).size(), 100u);
  EXPECT_EQ(core_->counters().range_requests_too_soon, 1u);
  // Nor is a hello asking for seqs (from elsewhere than the last resend, which
  // kResendPatienceUs covers): alternating hellos read back a part each.
  now += 100'000;
  EXPECT_TRUE(entries_sent(hello(2, 1, now + 99'999), 2).empty());
  EXPECT_EQ(core_->counters().range_requests_too_soon, 2u);
  EXPECT_EQ(entries_sent(hello(2, 1, now + 100'000), 2).size(), 100u);
  EXPECT_EQ(core_->counters().range_requests_too_soon, 2u);
}

// A restarted replica's idle hello (500 ms without a message) can cross the
// resend its first hello asked for: it names the same seq again. Answering it
// would send the whole range twice. It is answered only once the resend has
// had two seconds to arrive: then it counts as lost and goes again.
TEST_F(CoreArchive, AHelloThatCrossedTheResendItAskedForIsNotAnsweredWithASecondOne) {
  std::uint64_t now = kStartUs;
  submit_decided_by_a_and_b(1000, now);
  ASSERT_EQ(entries_sent(hello(2, 1, now), 2).size(), 1000u);
  const std::uint64_t read_back = core_->counters().entries_read_back;

  now += 600'000;
  EXPECT_TRUE(entries_sent(hello(2, 1, now), 2).empty());
  EXPECT_EQ(core_->counters().hellos_crossing_a_resend, 1u);
  EXPECT_EQ(core_->counters().entries_read_back, read_back) << "nothing read again";

  // Progress is answered at once: a hello from elsewhere gets what it names.
  const auto tail = entries_sent(hello(2, 990, now), 2);
  ASSERT_EQ(tail.size(), 11u);
  EXPECT_EQ(tail.front().first, 990u);
  EXPECT_TRUE(entries_sent(hello(2, 990, now + 1'999'999), 2).empty());
  EXPECT_EQ(core_->counters().hellos_crossing_a_resend, 2u);
  EXPECT_EQ(entries_sent(hello(2, 990, now + 2'000'000), 2).size(), 11u) << "lost: again";

  // Once its connection is gone (and its process with it, on_process_exited)
  // a replica starts over whatever was sent before.
  core_->on_replica_gone(2);
  EXPECT_EQ(entries_sent(hello(2, 1, now + 2'000'001), 2).size(), 1000u);
  EXPECT_EQ(core_->counters().hellos_crossing_a_resend, 2u);
}

// A faulty replica's fetch beyond what was sequenced gets what there is.
TEST_F(CoreArchive, AFetchBeyondTheLastSeqGetsWhatThereIs) {
  submit_decided_by_a_and_b(100, kStartUs);
  std::uint64_t now = kStartUs;
  const auto fetched = [&](std::uint64_t from, std::uint64_t to) {
    now += 200'000;  // as a replica asks
    return entries_sent(fetch(2, from, to, now), 2);
  };
  EXPECT_TRUE(fetched(UINT64_MAX - 5, UINT64_MAX).empty());
  EXPECT_TRUE(fetched(101, UINT64_MAX).empty());
  EXPECT_TRUE(fetched(50, 10).empty());
  const auto tail = fetched(91, UINT64_MAX);
  ASSERT_EQ(tail.size(), 10u);
  EXPECT_EQ(tail.back().first, 100u);
  EXPECT_TRUE(entries_sent(verdicts(2, 1, 100, now), 2).empty()) << "no part left";
}

// An archive that lost its certificates.
class ForgetfulArchive final : public Archive {
 public:
  explicit ForgetfulArchive(Archive* inner) : inner_(inner) {}
  Status read_entries(std::uint64_t from, std::uint64_t to,
                      std::vector<journal::Entry>* out) override {
    return inner_->read_entries(from, to, out);
  }
  void put_certificate(std::uint64_t, const KeptAnswer&, std::span<const std::uint8_t>) override {}
  Status certificate(std::uint64_t seq, std::vector<std::uint8_t>*) override {
    return Status::io_error("cannot read certificates at offset " + std::to_string(seq));
  }
  Status kept_answer(std::uint64_t seq, KeptAnswer*) override {
    return Status::io_error("cannot read certificates at offset " + std::to_string(seq));
  }

 private:
  Archive* inner_;
};

TEST_F(CoreArchive, ACertificateThatCannotBeReadBackIsAnErrorToRetryNotAWrongAnswer) {
  ForgetfulArchive forgetful(&archive_);
  Core::Config config;
  config.archive = &forgetful;
  start(config);
  submit_decided_by_a_and_b(3, kStartUs);
  std::vector<std::uint8_t> bytes;
  const wire::ClientReply* reply = reply_of(resubmit(2, 9, kStartUs), &bytes);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->decision(), nullptr);
  EXPECT_EQ(reply->error_kind(), wire::ClientErrorKind::Unavailable);
  EXPECT_EQ(reply->error()->str(),
            "id tx-2 was decided (seq 2) but its certificate cannot be read back now (cannot "
            "read certificates at offset 2); retry later");
}

// An archive whose journal cannot be read back.
class UnreadableJournal final : public Archive {
 public:
  explicit UnreadableJournal(Archive* inner) : inner_(inner) {}
  Status read_entries(std::uint64_t from, std::uint64_t, std::vector<journal::Entry>*) override {
    return Status::io_error("cannot read the journal at seq " + std::to_string(from));
  }
  void put_certificate(std::uint64_t seq, const KeptAnswer& answer,
                       std::span<const std::uint8_t> certificate) override {
    inner_->put_certificate(seq, answer, certificate);
  }
  Status certificate(std::uint64_t seq, std::vector<std::uint8_t>* out) override {
    return inner_->certificate(seq, out);
  }
  Status kept_answer(std::uint64_t seq, KeptAnswer* out) override {
    return inner_->kept_answer(seq, out);
  }

 private:
  Archive* inner_;
};

// The idempotency record keeps a hash of each id; telling a repeat from
// another id with the same hash takes the id from the journal. When that
// cannot be read, the request is refused to retry, never sequenced again.
TEST_F(CoreArchive, ARepeatedIdWhoseEntryCannotBeReadBackIsAnErrorToRetryNotASecondSeq) {
  UnreadableJournal unreadable(&archive_);
  Core::Config config;
  config.keep_recent = kKeepRecent;
  config.archive = &unreadable;
  start(config);
  submit_decided_by_a_and_b(100, kStartUs);
  ASSERT_EQ(core_->entries_in_memory(), kKeepRecent);
  std::vector<std::uint8_t> bytes;
  const wire::ClientReply* reply = reply_of(resubmit(1, 7, kStartUs), &bytes);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->decision(), nullptr);
  EXPECT_EQ(reply->error_kind(), wire::ClientErrorKind::Unavailable);
  EXPECT_EQ(reply->error()->str(),
            "id tx-1 may have been sequenced before, and the journal cannot be read back to "
            "check it now (cannot read the journal at seq 1); not sequenced, retry later");
  EXPECT_EQ(core_->last_seq(), 100u);
  // A repeat still in memory needs no read; a new id needs none either.
  reply = reply_of(resubmit(100, 8, kStartUs), &bytes);
  ASSERT_NE(reply, nullptr);
  ASSERT_NE(reply->decision(), nullptr);
  EXPECT_TRUE(reply->decision()->replayed());
  EXPECT_EQ(reply->decision()->seq(), 100u);
  EXPECT_TRUE(resubmit(101, 9, kStartUs).to_clients.empty()) << "sequenced, not decided yet";
  EXPECT_EQ(core_->last_seq(), 101u);
}

TEST_F(CoreArchive, ACoreWithoutAnArchiveOrACardRefKeyIsRefused) {
  Core::Config config;
  for (int r = 0; r < kReplicaCount; ++r) {
    config.replica_keys[static_cast<std::size_t>(r)] = sim::replica_public_key(r);
  }
  config.card_ref_key = sim::card_ref_key();
  std::unique_ptr<Core> core;
  Status s = Core::create(config, kStartUs, &core);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("archive"), std::string::npos) << s.to_string();

  config.archive = &archive_;
  config.card_ref_key = crypto::SymmetricKey();
  s = Core::create(config, kStartUs, &core);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("card reference key"), std::string::npos) << s.to_string();

  config.card_ref_key = sim::card_ref_key();
  EXPECT_TRUE(Core::create(config, kStartUs, &core).is_ok());
}

}  // namespace
}  // namespace triad::frontend
