#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/hex.h"
#include "common/log.h"
#include "common/log_capture.h"
#include "common/response_code.h"
#include "triad/status.h"
#include "triad/transaction.h"

namespace triad {
namespace {

TEST(Status, OkAndErrors) {
  EXPECT_TRUE(Status::ok().is_ok());
  const Status s = Status::invalid_argument("line 3: bad expiry");
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.to_string(), "invalid argument: line 3: bad expiry");
}

TEST(ResponseCode, RoundTrip) {
  EXPECT_EQ(to_string(ResponseCode::kApproved), "00");
  EXPECT_EQ(to_string(ResponseCode::kDuplicate), "94");
  EXPECT_EQ(parse_response_code("51"), ResponseCode::kInsufficientFunds);
  EXPECT_FALSE(parse_response_code("99").has_value());
  EXPECT_FALSE(parse_response_code("5").has_value());
  EXPECT_FALSE(parse_response_code("a1").has_value());
}

TEST(Transaction, ParsesAllFields) {
  Transaction tx;
  ASSERT_TRUE(parse_transaction_json(
                  R"({"id":"t1","mti":"0100","pan":"4111111111111111","proc":"000000",)"
                  R"("amount":1234,"currency":"840","billing_amount":99,"billing_currency":"978",)"
                  R"("expiry":"2812","mcc":"5411","stan":"000001","terminal":"TERM0001",)"
                  R"("merchant":"SHOP","orig_id":"t0","ts":1700000000000,"extra":[1,2]})",
                  &tx)
                  .is_ok());
  EXPECT_EQ(tx.id, "t1");
  EXPECT_EQ(tx.amount, 1234);
  EXPECT_EQ(tx.billing_amount, 99);
  EXPECT_EQ(tx.billing_currency, "978");
  EXPECT_EQ(tx.ts, 1700000000000);
  EXPECT_EQ(tx.terminal, "TERM0001");
  EXPECT_EQ(tx.malformed_fields, 0u);
}

TEST(Transaction, WrongTypesAreMalformedNotRefused) {
  Transaction tx;
  ASSERT_TRUE(
      parse_transaction_json(R"({"id":"t1","amount":"12.00","pan":4111111111111111,"stan":null,)"
                             R"("billing_amount":1.5,"ts":18446744073709551615})",
                             &tx)
          .is_ok());
  EXPECT_TRUE(tx.is_malformed(Field::kAmount));
  EXPECT_TRUE(tx.is_malformed(Field::kPan));
  EXPECT_TRUE(tx.is_malformed(Field::kStan));
  EXPECT_TRUE(tx.is_malformed(Field::kBillingAmount));
  EXPECT_TRUE(tx.is_malformed(Field::kTs));
  EXPECT_FALSE(tx.is_malformed(Field::kId));
  EXPECT_FALSE(tx.amount.has_value());
  // A PAN sent as a number keeps its digits, for the front end's refusal
  // of an id that holds them; still malformed (rule 1: 30).
  EXPECT_EQ(tx.pan, "4111111111111111");
}

// A number written with a point or an exponent is not an integer, whatever
// its value; of a key written twice, the last value counts (README, "Rules:
// readings"). Pinned so that another client library can be held to it.
TEST(Transaction, NumbersWithAPointOrExponentAreMalformedAndTheLastDuplicateKeyCounts) {
  Transaction tx;
  ASSERT_TRUE(parse_transaction_json(R"({"amount":100.0,"billing_amount":1e2})", &tx).is_ok());
  EXPECT_TRUE(tx.is_malformed(Field::kAmount));
  EXPECT_TRUE(tx.is_malformed(Field::kBillingAmount));
  Transaction twice;
  ASSERT_TRUE(parse_transaction_json(R"({"amount":"x","amount":100})", &twice).is_ok());
  EXPECT_FALSE(twice.is_malformed(Field::kAmount));
  EXPECT_EQ(twice.amount, 100);
}

TEST(Transaction, NegativeAmountIsCarriedForTheRulesToJudge) {
  Transaction tx;
  ASSERT_TRUE(parse_transaction_json(R"({"amount":-5})", &tx).is_ok());
  EXPECT_EQ(tx.amount, -5);
}

TEST(Transaction, NotAnObjectIsRefusedWithoutEchoingInput) {
  Transaction tx;
  const Status not_json = parse_transaction_json("4111111111111111 hello", &tx);
  EXPECT_EQ(not_json.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(not_json.message().find("4111"), std::string::npos);
  EXPECT_EQ(parse_transaction_json("[1,2]", &tx).message(), "not a JSON object");
  EXPECT_EQ(parse_transaction_json("", &tx).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(parse_transaction_json(std::string(70000, ' '), &tx).code(),
            Status::Code::kInvalidArgument);
}

TEST(Transaction, IdFormat) {
  EXPECT_TRUE(is_valid_transaction_id("a"));
  EXPECT_TRUE(is_valid_transaction_id("Tx-1.2_3:4"));
  EXPECT_TRUE(is_valid_transaction_id(std::string(64, 'x')));
  EXPECT_FALSE(is_valid_transaction_id(std::string(65, 'x')));
  EXPECT_FALSE(is_valid_transaction_id(""));
  EXPECT_FALSE(is_valid_transaction_id("a b"));
  EXPECT_FALSE(is_valid_transaction_id("é"));
}

TEST(Transaction, MaskPan) {
  EXPECT_EQ(mask_pan("4111111111111111"), "411111******1111");
  EXPECT_EQ(mask_pan("411111111111"), "411111**1111");
  EXPECT_EQ(mask_pan("4111111111"), "**********");
  EXPECT_EQ(mask_pan(""), "");
}

// Runs of 12 or more digits, spaces and dashes between them joined, are
// masked as a PAN; shorter runs, and what is around them, are kept.
TEST(Transaction, MaskDigitRuns) {
  EXPECT_EQ(mask_digit_runs("4111111111111111"), "411111******1111");
  EXPECT_EQ(mask_digit_runs("id-4111 1111-1111 1111."), "id-411111******1111.");
  EXPECT_EQ(mask_digit_runs("\"4111111111111111\""), "\"411111******1111\"");
  EXPECT_EQ(mask_digit_runs("12345678901 and 7"), "12345678901 and 7");
  EXPECT_EQ(mask_digit_runs("seq 503, ts 1767225600000"), "seq 503, ts 176722***0000");
  EXPECT_EQ(mask_digit_runs(""), "");
}

TEST(Hex, Encodes) {
  const std::uint8_t bytes[] = {0x00, 0xab, 0x10};
  EXPECT_EQ(to_hex(bytes), "00ab10");
}

using testing::LogCapture;

TEST(LogLimiter, LetsThroughSoManyASecondAndCountsTheRest) {
  LogCapture capture;
  log::Limiter limiter(3);
  constexpr std::uint64_t kStartUs = 5'000'000;
  for (int i = 0; i < 10; ++i) limiter.warn(kStartUs + static_cast<std::uint64_t>(i), "bad");
  ASSERT_EQ(capture.lines.size(), 3u);
  limiter.warn(kStartUs + 999'999, "bad");
  EXPECT_EQ(capture.lines.size(), 3u) << "the same second";
  limiter.warn(kStartUs + 1'000'000, "worse");
  ASSERT_EQ(capture.lines.size(), 4u);
  EXPECT_EQ(capture.lines.back(), "worse (and 8 more like it before this, not logged)");
  limiter.warn(kStartUs + 1'000'001, "bad");
  EXPECT_EQ(capture.lines.back(), "bad") << "the count went with the line before";
}

}  // namespace
}  // namespace triad
