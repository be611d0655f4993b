// Ids are kept and shown in clear (journal, logs, audit store, replies), so
// the Core refuses one that holds its own transaction's PAN, without
// echoing it, and sequences every other well-formed id.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "core_driver.h"

namespace triad::frontend {
namespace {

struct Answer {
  wire::ClientErrorKind error_kind = wire::ClientErrorKind::None;
  std::string error;
  std::uint64_t seq = 0;        // 0: not sequenced
  std::uint64_t after_seq = 0;  // the seq the reply waits to be durable for
};

class ClientIds : public CoreDriver {
 protected:
  Answer submit_one(const std::string& id, std::optional<std::string> pan) {
    Transaction tx;
    tx.id = id;
    tx.pan = std::move(pan);
    const auto bytes = loadgen::encode_submit(++tag_, tx);
    Outbox out;
    core_->on_client_message("client", bytes, kStartUs, 0, &out);
    Answer a;
    a.seq = core_->last_seq() > last_seq_ ? core_->last_seq() : 0;
    last_seq_ = core_->last_seq();
    if (out.to_clients.size() == 1) {
      const auto& m = out.to_clients.front();
      const wire::AlignedFrame frame(m.bytes.data(), m.bytes.size());
      const wire::ClientReply* r = nullptr;
      EXPECT_TRUE(wire::verify_client_reply(frame.bytes(), &r).is_ok());
      a.error_kind = r->error_kind();
      a.error = std::string(wire::as_view(r->error()));
      a.after_seq = m.seq;
    }
    return a;
  }
  std::uint64_t tag_ = 0;
  std::uint64_t last_seq_ = 0;
};

TEST_F(ClientIds, AnIdHoldingItsOwnPanIsRefusedWithoutEchoingIt) {
  start({});
  const std::string pan = "4111111111111111";
  // The PAN in the id as such, or split by separators; the PAN field with
  // separators or a space (malformed for rule 1, still the card number).
  const std::pair<std::string, std::string> cases[] = {
      {pan, pan},
      {"pay-" + pan + "-1", pan},
      {pan + ":7", pan},
      {"t-4111-1111-1111-1111", pan},
      {"t-4111-1111-1111-1111", "4111-1111-1111-1111"},
      {"p1-" + pan, " " + pan},
  };
  for (const auto& [id, pan_field] : cases) {
    const Answer a = submit_one(id, pan_field);
    EXPECT_EQ(a.seq, 0u) << id;
    EXPECT_EQ(a.error_kind, wire::ClientErrorKind::InvalidId) << id;
    EXPECT_NE(a.error.find("holds the transaction's PAN (411111******1111)"), std::string::npos)
        << a.error;
    EXPECT_EQ(a.error.find(pan), std::string::npos) << a.error;
  }
  // Other digits are not judged: another number, a PAN shorter than any
  // card number, no PAN.
  EXPECT_EQ(submit_one("4111111111111112", pan).seq, 1u);
  EXPECT_EQ(submit_one("t-41111111111", "41111111111").seq, 2u);
  EXPECT_EQ(submit_one("t-4111-1111-1111-1112", pan).seq, 3u);
  EXPECT_EQ(submit_one("t-" + pan, std::nullopt).seq, 4u);
  EXPECT_EQ(core_->counters().sequenced, 4u);
}

// An id sequenced with other content is refused, and the refusal waits for
// the first content's seq to be durable like its answer does: were that seq
// lost to a power cut, the refused content would be sequenced after the
// restart.
TEST_F(ClientIds, ARefusalForReuseWaitsForTheFirstSeqToBeDurable) {
  start({});
  ASSERT_EQ(submit_one("t-1", "4111111111111111").seq, 1u);
  ASSERT_EQ(submit_one("t-2", "4111111111111111").seq, 2u);
  const Answer a = submit_one("t-1", "4111111111111129");
  EXPECT_EQ(a.seq, 0u);
  EXPECT_EQ(a.error_kind, wire::ClientErrorKind::IdReused);
  EXPECT_EQ(a.after_seq, 1u);
}

// A repeat of an id whose seq is undecided waits for its answer, in memory;
// a client retrying through a long stall would add one per retry, so past
// Config::max_waiting_repeats a repeat is answered Overloaded, and once the
// seq is decided (here fail-safe, no replica answering) they wait again.
TEST_F(ClientIds, RepeatsWaitingForAnUndecidedSeqAreBounded) {
  Core::Config config;
  config.max_waiting_repeats = 2;
  start(config);
  ASSERT_EQ(submit_one("t-1", "4111111111111111").seq, 1u);
  EXPECT_EQ(submit_one("t-1", "4111111111111111").error_kind, wire::ClientErrorKind::None);
  EXPECT_EQ(submit_one("t-1", "4111111111111111").error_kind, wire::ClientErrorKind::None);
  const Answer third = submit_one("t-1", "4111111111111111");
  EXPECT_EQ(third.error_kind, wire::ClientErrorKind::Overloaded);
  EXPECT_NE(third.error.find("2 repeats already wait"), std::string::npos) << third.error;
  Outbox out;
  core_->on_time(kStartUs + config.deadline_us + 1, &out);  // declined 91
  EXPECT_EQ(out.to_clients.size(), 3u) << "the first request and the two repeats";
  ASSERT_EQ(submit_one("t-2", "4111111111111111").seq, 2u);
  EXPECT_EQ(submit_one("t-2", "4111111111111111").error_kind, wire::ClientErrorKind::None);
  EXPECT_EQ(submit_one("t-2", "4111111111111111").error_kind, wire::ClientErrorKind::None);
}

}  // namespace
}  // namespace triad::frontend
