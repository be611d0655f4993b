// Batches of client requests (schemas/client.fbs), on the Core with an
// injected clock and in the reply gate: each part is handled and answered
// as if it had come alone, a bad part refuses the whole frame, and replies
// to batched requests leave batched, in order. And a request that would read
// as more than a client message is refused.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core_driver.h"
#include "frontend/reply_gate.h"

namespace triad::frontend {
namespace {

std::vector<std::uint8_t> ping(std::uint64_t tag) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto p = wire::CreatePingRequest(fbb, tag);
  wire::ClientRequestBuilder b(fbb);
  b.add_ping(p);
  fbb.Finish(b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::vector<std::uint8_t> submit_of(std::uint64_t tag, const std::string& id) {
  Transaction tx;
  tx.id = id;
  return loadgen::encode_submit(tag, tx);
}

std::vector<std::uint8_t> batch_of(const std::vector<std::vector<std::uint8_t>>& requests) {
  const std::vector<std::span<const std::uint8_t>> parts(requests.begin(), requests.end());
  return wire::encode_request_batch(parts);
}

// "tag:what" per reply: what is "pong", "error N" or "seq N" (+ "replayed").
std::string describe(const Outbox::ToClient& m) {
  const wire::AlignedFrame frame(m.bytes.data(), m.bytes.size());
  const wire::ClientReply* r = nullptr;
  if (!wire::verify_client_reply(frame.bytes(), &r).is_ok()) return "unverifiable";
  std::string s = std::to_string(r->tag()) + ":";
  if (r->pong()) return s + "pong";
  if (r->decision() == nullptr) return s + "error " + std::to_string(int(r->error_kind()));
  return s + "seq " + std::to_string(r->decision()->seq()) +
         (r->decision()->replayed() ? " replayed" : "");
}

class ClientBatch : public CoreDriver {
 protected:
  void SetUp() override { start({}); }

  // Hands `frame` to the core; the replies it gave at once.
  std::vector<std::string> send(const std::vector<std::uint8_t>& frame, bool batchable) {
    Outbox out;
    core_->on_client_message("client", frame, kStartUs, 0, &out);
    core_->flush_new_entries(&out);
    archive_.journal(core_.get(), journal_up_to_);
    std::vector<std::string> replies;
    for (const auto& m : out.to_clients) {
      EXPECT_EQ(m.batchable, batchable) << describe(m);
      replies.push_back(describe(m));
    }
    return replies;
  }

  std::vector<std::string> decide(std::uint64_t from, std::uint64_t to) {
    verdicts(0, from, to, kStartUs);
    std::vector<std::string> replies;
    for (const auto& m : verdicts(1, from, to, kStartUs).to_clients) {
      EXPECT_TRUE(m.batchable) << describe(m);
      replies.push_back(describe(m));
    }
    return replies;
  }
};

TEST_F(ClientBatch, EachPartIsHandledAndAnsweredOnItsOwn) {
  EXPECT_EQ(send(batch_of({submit_of(11, "tx-1"), ping(12), submit_of(13, "tx-2"),
                           submit_of(14, "tx-1"),  // the same id again: answered with tx-1's
                           submit_of(15, "bad id!")}),
                 true),
            (std::vector<std::string>{"12:pong", "15:error 3"}));
  EXPECT_EQ(core_->counters().sequenced, 2u);
  EXPECT_EQ(decide(1, 2), (std::vector<std::string>{"11:seq 1", "14:seq 1 replayed", "13:seq 2"}));
  // Decided: a batch repeating it is answered at once, from the archive.
  EXPECT_EQ(send(batch_of({submit_of(21, "tx-2"), submit_of(22, "tx-1")}), true),
            (std::vector<std::string>{"21:seq 2 replayed", "22:seq 1 replayed"}));
  EXPECT_EQ(core_->counters().sequenced, 2u);
}

TEST_F(ClientBatch, ARequestAloneGetsItsReplyAlone) {
  EXPECT_EQ(send(ping(7), false), (std::vector<std::string>{"7:pong"}));
  EXPECT_EQ(send(submit_of(8, "tx-1"), false), std::vector<std::string>{});
  verdicts(0, 1, 1, kStartUs);
  const Outbox out = verdicts(1, 1, 1, kStartUs);
  ASSERT_EQ(out.to_clients.size(), 1u);
  EXPECT_FALSE(out.to_clients.front().batchable);
}

TEST_F(ClientBatch, ABadPartRefusesTheWholeFrameBeforeAnyIsSequenced) {
  const auto malformed = std::to_string(int(wire::ClientErrorKind::Malformed));
  // A batch inside a batch.
  EXPECT_EQ(send(batch_of({submit_of(1, "tx-1"), batch_of({submit_of(2, "tx-2")})}), true),
            (std::vector<std::string>{"0:error " + malformed}));
  // No parts at all.
  EXPECT_EQ(send(batch_of({}), true), (std::vector<std::string>{"0:error " + malformed}));
  // A request and a batch in one frame.
  {
    flatbuffers::FlatBufferBuilder fbb;
    const auto p = wire::CreatePingRequest(fbb, 5);
    const std::vector<flatbuffers::Offset<wire::RequestPart>> none;
    const auto parts = fbb.CreateVector(none);
    wire::ClientRequestBuilder b(fbb);
    b.add_ping(p);
    b.add_batch(parts);
    fbb.Finish(b.Finish());
    EXPECT_EQ(send({fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()}, true),
              (std::vector<std::string>{"0:error " + malformed}));
  }
  EXPECT_EQ(core_->counters().sequenced, 0u);
}

// A client the shell no longer admits (its key was taken off the
// allow-list after it connected): each request gets NotAdmitted under its
// own tag, its transactions are not sequenced, and a malformed frame is
// answered as it would be from anyone.
TEST_F(ClientBatch, AClientNoLongerAdmittedGetsEachRequestRefusedAndNothingSequenced) {
  const auto refuse = [&](const std::vector<std::uint8_t>& frame, bool batchable) {
    Outbox out;
    core_->refuse_unadmitted_client("client", frame, "client key switch-1 is no longer listed",
                                    &out);
    core_->flush_new_entries(&out);
    std::vector<std::string> replies;
    for (const auto& m : out.to_clients) {
      EXPECT_EQ(m.batchable, batchable) << describe(m);
      replies.push_back(describe(m));
    }
    for (const auto& m : out.to_clients) {  // each says why
      const wire::AlignedFrame reply(m.bytes.data(), m.bytes.size());
      const wire::ClientReply* r = nullptr;
      if (wire::verify_client_reply(reply.bytes(), &r).is_ok() &&
          r->error_kind() == wire::ClientErrorKind::NotAdmitted) {
        EXPECT_EQ(wire::as_view(r->error()), "client key switch-1 is no longer listed");
      }
    }
    return replies;
  };
  const auto not_admitted = std::to_string(int(wire::ClientErrorKind::NotAdmitted));
  EXPECT_EQ(refuse(submit_of(4, "tx-1"), false),
            (std::vector<std::string>{"4:error " + not_admitted}));
  EXPECT_EQ(refuse(batch_of({submit_of(5, "tx-2"), ping(6), submit_of(7, "tx-3")}), true),
            (std::vector<std::string>{"5:error " + not_admitted, "6:error " + not_admitted,
                                      "7:error " + not_admitted}));
  EXPECT_EQ(refuse(batch_of({}), true),
            (std::vector<std::string>{"0:error " +
                                      std::to_string(int(wire::ClientErrorKind::Malformed))}));
  EXPECT_EQ(core_->counters().sequenced, 0u);
  EXPECT_EQ(core_->counters().not_admitted, 4u);
  // The same request from a client still admitted is sequenced.
  EXPECT_EQ(send(submit_of(8, "tx-1"), false), std::vector<std::string>{});
  EXPECT_EQ(core_->counters().sequenced, 1u);
}

// Every string field but the id points at one shared string of 6,000 bytes
// (FlatBuffers' verifier allows it): a request of about 6 KB that reads as a
// transaction of 66 KB, more than the front end lets in (journalled and fanned
// out, it could exceed a journal record's bound and stop the front end).
std::vector<std::uint8_t> submit_with_shared_fields(std::uint64_t tag, const std::string& id) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto shared = fbb.CreateSharedString(std::string(6'000, '4'));
  const auto wid = fbb.CreateString(id);
  wire::TransactionBuilder t(fbb);
  t.add_id(wid);
  for (const auto add :
       {&wire::TransactionBuilder::add_mti, &wire::TransactionBuilder::add_pan,
        &wire::TransactionBuilder::add_proc, &wire::TransactionBuilder::add_currency,
        &wire::TransactionBuilder::add_billing_currency, &wire::TransactionBuilder::add_expiry,
        &wire::TransactionBuilder::add_mcc, &wire::TransactionBuilder::add_stan,
        &wire::TransactionBuilder::add_terminal, &wire::TransactionBuilder::add_merchant,
        &wire::TransactionBuilder::add_orig_id}) {
    (t.*add)(shared);
  }
  const auto tx = t.Finish();
  const auto submit = wire::CreateSubmitRequest(fbb, tag, tx);
  wire::ClientRequestBuilder b(fbb);
  b.add_submit(submit);
  fbb.Finish(b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

TEST_F(ClientBatch, ATransactionLargerThanAMessageOnceReadIsRefusedAlone) {
  const auto big = submit_with_shared_fields(1, "big-1");
  ASSERT_LT(big.size(), wire::kMaxClientMessageBytes / 8);
  const auto too_large = std::to_string(int(wire::ClientErrorKind::TooLarge));
  EXPECT_EQ(send(big, false), (std::vector<std::string>{"1:error " + too_large}));
  EXPECT_EQ(send(batch_of({submit_of(2, "tx-1"), submit_with_shared_fields(3, "big-2")}), true),
            (std::vector<std::string>{"3:error " + too_large}));
  EXPECT_EQ(core_->counters().sequenced, 1u) << "tx-1 only";
}

Outbox::ToClient reply_to(const std::string& client, std::uint64_t tag, bool batchable) {
  flatbuffers::FlatBufferBuilder fbb;
  wire::ClientReplyBuilder b(fbb);
  b.add_tag(tag);
  b.add_pong(true);
  fbb.Finish(b.Finish());
  return {client, {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()}, 0, batchable};
}

// "client:tag,tag" per frame released ("client:tag" for a lone reply).
std::vector<std::string> release(ReplyGate& gate) {
  std::vector<std::string> frames;
  gate.release(UINT64_MAX, [&](const std::string& client, std::span<const std::uint8_t> bytes) {
    const wire::AlignedFrame frame(bytes.data(), bytes.size());
    const wire::ClientReply* r = nullptr;
    EXPECT_TRUE(wire::verify_client_reply(frame.bytes(), &r).is_ok());
    std::string tags;
    EXPECT_EQ(wire::for_each_reply(*r,
                                   [&](const wire::ClientReply& one) {
                                     if (!tags.empty()) tags += ',';
                                     tags += std::to_string(one.tag());
                                   }),
              0u);
    frames.push_back(client + ":" + tags + (r->batch() != nullptr ? " (batch)" : ""));
  });
  return frames;
}

TEST(ReplyGateBatches, RepliesToBatchedRequestsLeaveBatchedPerClientInOrder) {
  ReplyGate gate;
  gate.hold(reply_to("x", 1, true));
  gate.hold(reply_to("y", 2, true));
  gate.hold(reply_to("x", 3, true));
  gate.hold(reply_to("y", 4, true));
  gate.hold(reply_to("z", 5, true));
  EXPECT_EQ(release(gate), (std::vector<std::string>{"x:1,3 (batch)", "y:2,4 (batch)", "z:5"}));
}

TEST(ReplyGateBatches, AReplyToARequestAloneIsNotOvertakenAndNotBatched) {
  ReplyGate gate;
  gate.hold(reply_to("x", 1, true));
  gate.hold(reply_to("x", 2, true));
  gate.hold(reply_to("x", 3, false));
  gate.hold(reply_to("x", 4, true));
  EXPECT_EQ(release(gate), (std::vector<std::string>{"x:1,2 (batch)", "x:3", "x:4"}));
}

TEST(ReplyGateBatches, ABatchFrameStaysWithinItsLimit) {
  ReplyGate gate;
  for (std::uint64_t tag = 1; tag <= 7; ++tag) {
    Outbox::ToClient m = reply_to("x", tag, true);
    m.bytes.resize(wire::kMaxReplyBatchBytes / 3 + 1);  // padding a verifier ignores
    gate.hold(std::move(m));
  }
  EXPECT_EQ(release(gate),
            (std::vector<std::string>{"x:1,2 (batch)", "x:3,4 (batch)", "x:5,6 (batch)", "x:7"}));
}

TEST(ReplyGateBatches, AReplyLargerThanABatchMayHoldGoesAlone) {
  ReplyGate gate;
  Outbox::ToClient big = reply_to("x", 2, true);
  big.bytes.resize(wire::kMaxReplyBatchBytes + 1);  // padding a verifier ignores
  gate.hold(reply_to("x", 1, true));
  gate.hold(std::move(big));
  gate.hold(reply_to("x", 3, true));
  gate.hold(reply_to("x", 4, true));
  EXPECT_EQ(release(gate), (std::vector<std::string>{"x:1", "x:2", "x:3,4 (batch)"}));
}

}  // namespace
}  // namespace triad::frontend
