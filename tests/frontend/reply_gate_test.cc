// The reply gate: nothing leaves before the journal holds its seq durably,
// and replies leave in the order they were given, errors included.
#include "frontend/reply_gate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace triad::frontend {
namespace {

Outbox::ToClient reply(const std::string& client, std::uint64_t seq) {
  return {client, std::vector<std::uint8_t>(1, static_cast<std::uint8_t>(seq)), seq};
}

std::vector<std::string> release(ReplyGate& gate, std::uint64_t durable_seq) {
  std::vector<std::string> sent;
  gate.release(durable_seq, [&](const std::string& client, std::span<const std::uint8_t> frame) {
    EXPECT_EQ(frame.size(), 1u);
    sent.push_back(client + ":" + std::to_string(frame[0]));
  });
  return sent;
}

TEST(ReplyGateTest, HoldsEachDecisionUntilItsSeqIsDurable) {
  ReplyGate gate;
  gate.hold(reply("x", 1));
  gate.hold(reply("y", 2));
  gate.hold(reply("x", 3));
  EXPECT_TRUE(release(gate, 0).empty());
  EXPECT_EQ(release(gate, 2), (std::vector<std::string>{"x:1", "y:2"}));
  EXPECT_EQ(gate.held(), 1u);
  EXPECT_TRUE(release(gate, 2).empty());
  EXPECT_EQ(release(gate, 3), (std::vector<std::string>{"x:3"}));
  EXPECT_EQ(gate.held(), 0u);
}

TEST(ReplyGateTest, AnErrorBehindAHeldDecisionWaitsForIt) {
  ReplyGate gate;
  gate.hold(reply("x", 5));
  gate.hold(reply("x", 0));  // an error or a pong: no seq of its own
  EXPECT_TRUE(release(gate, 4).empty());
  EXPECT_EQ(release(gate, 5), (std::vector<std::string>{"x:5", "x:0"}));
}

TEST(ReplyGateTest, WithEverythingDurableRepliesGoStraightThrough) {
  ReplyGate gate;
  gate.hold(reply("x", 0));
  EXPECT_EQ(release(gate, 0), (std::vector<std::string>{"x:0"}));
  gate.hold(reply("x", 7));
  EXPECT_EQ(release(gate, 9), (std::vector<std::string>{"x:7"}));
}

}  // namespace
}  // namespace triad::frontend
