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
  std::uint64_t seq = 0;  // 0: not sequenced
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
    }
    return a;
  }
  std::uint64_t tag_ = 0;
  std::uint64_t last_seq_ = 0;
};

TEST_F(ClientIds, AnIdHoldingItsOwnPanIsRefusedWithoutEchoingIt) {
  start({});
  const std::string pan = "4111111111111111";
  for (const std::string& id : {pan, "pay-" + pan + "-1", pan + ":7"}) {
    const Answer a = submit_one(id, pan);
    EXPECT_EQ(a.seq, 0u) << id;
    EXPECT_EQ(a.error_kind, wire::ClientErrorKind::InvalidId) << id;
    EXPECT_NE(a.error.find("holds the transaction's PAN (411111******1111)"), std::string::npos)
        << a.error;
    EXPECT_EQ(a.error.find(pan), std::string::npos) << a.error;
  }
  // Other digits are not judged: another number, a PAN shorter than any
  // card number, or a PAN of other characters than digits.
  EXPECT_EQ(submit_one("4111111111111112", pan).seq, 1u);
  EXPECT_EQ(submit_one("t-41111111111", "41111111111").seq, 2u);
  EXPECT_EQ(submit_one("t-4111-1111-1111-1111", "4111-1111-1111-1111").seq, 3u);
  EXPECT_EQ(submit_one("t-" + pan, std::nullopt).seq, 4u);
  EXPECT_EQ(core_->counters().sequenced, 4u);
}

}  // namespace
}  // namespace triad::frontend
