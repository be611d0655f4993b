// One test (at least) for every rule, response code and boundary of
// rules.md sections 4 and 5, plus the readings documented in
// src/rules/engine.cc.
#include "rules/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "rules/calendar.h"
#include "rules/card_index.h"
#include "rules/test_util.h"

namespace triad::rules {
namespace {

using testing::break_luhn;
using testing::utc_ms;
using testing::with_check_digit;
using RC = ResponseCode;

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kMinute = 60'000;

// The cards of the fixture.
const std::string kUsd = with_check_digit("400000000000001");         // USD, credit 100000
const std::string kLost = with_check_digit("400000000000002");        // status L
const std::string kStolen = with_check_digit("400000000000003");      // status S
const std::string kBlocked = with_check_digit("400000000000004");     // status B
const std::string kJpy = with_check_digit("400000000000005");         // JPY, big limits
const std::string kBhd = with_check_digit("400000000000006");         // BHD, big limits
const std::string kBigUsd = with_check_digit("400000000000007");      // USD, big limits
const std::string kEur = with_check_digit("400000000000008");         // EUR, credit 100000
const std::string kFeb26 = with_check_digit("400000000000009");       // expires 2602
const std::string kDec26 = with_check_digit("400000000000010");       // expires 2612
const std::string kFeb28 = with_check_digit("400000000000011");       // expires 2802 (leap)
const std::string kFeb27 = with_check_digit("400000000000012");       // expires 2702
const std::string kShort12 = with_check_digit("40000000001");         // 12 digits
const std::string kLong19 = with_check_digit("400000000000000001");   // 19 digits
const std::string kShort11 = with_check_digit("4000000000");          // 11 digits, in file
const std::string kLong20 = with_check_digit("4000000000000000001");  // 20 digits, in file
const std::string kUnknown = with_check_digit("499999999999999");     // not in the file

std::string card_file_text() {
  std::string t = "pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs\n";
  t += kUsd + ",2812,A,840,100000,20000,7995;6011\n";
  t += kLost + ",2812,L,840,100000,20000,\n";
  t += kStolen + ",2812,S,840,100000,20000,\n";
  t += kBlocked + ",2812,B,840,100000,20000,\n";
  t += kJpy + ",2812,A,392,999999999999,999999999999,\n";
  t += kBhd + ",2812,A,048,999999999999,999999999999,\n";
  t += kBigUsd + ",2812,A,840,999999999999,999999999999,\n";
  t += kEur + ",2812,A,978,100000,20000,\n";
  t += kFeb26 + ",2602,A,840,100000,20000,\n";
  t += kDec26 + ",2612,A,840,100000,20000,\n";
  t += kFeb28 + ",2802,A,840,100000,20000,\n";
  t += kFeb27 + ",2702,A,840,100000,20000,\n";
  t += kShort12 + ",2812,A,840,100000,20000,\n";
  t += kLong19 + ",2812,A,840,100000,20000,\n";
  t += kShort11 + ",2812,A,840,100000,20000,\n";
  t += kLong20 + ",2812,A,840,100000,20000,\n";
  return t;
}

const std::int64_t kT0 = utc_ms(2026, 1, 10, 12);

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Status s = parse_card_file(card_file_text(), &file_);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    engine_ = std::make_unique<Engine>(file_);
  }

  // A valid 0100 on kUsd with a fresh id and stan.
  Transaction auth(std::int64_t amount = 1000, const std::string& pan = kUsd) {
    ++serial_;
    return testing::authorization("tx-" + std::to_string(serial_), pan, amount, stan(serial_));
  }
  Transaction cash(std::int64_t amount, const std::string& pan = kUsd) {
    Transaction tx = auth(amount, pan);
    tx.mti = "0200";
    tx.proc = "010000";
    return tx;
  }
  Transaction reversal(const std::string& orig_id, const std::string& pan = kUsd) {
    ++serial_;
    return testing::reversal("rv-" + std::to_string(serial_), orig_id, pan, stan(serial_));
  }
  static std::string stan(int n) {
    std::string s = std::to_string(n % 1'000'000);
    return std::string(6 - s.size(), '0') + s;
  }

  RC run(const Transaction& tx, std::int64_t ts = kT0) { return engine_->apply(ts, tx); }

  CardFile file_;
  std::unique_ptr<Engine> engine_;
  int serial_ = 0;
};

// --- Approval and rule 1 (30) ----------------------------------------------

TEST_F(EngineTest, ApprovesAValidAuthorization) {
  EXPECT_EQ(run(auth()), RC::kApproved);
  Transaction financial = auth();
  financial.mti = "0200";
  EXPECT_EQ(run(financial), RC::kApproved);
  EXPECT_EQ(engine_->applied_count(), 2u);
}

TEST_F(EngineTest, MissingRequiredFieldIsFormatError) {
  using Member = std::optional<std::string> Transaction::*;
  const std::vector<Member> strings = {
      &Transaction::id,       &Transaction::mti,     &Transaction::pan, &Transaction::proc,
      &Transaction::currency, &Transaction::expiry,  &Transaction::mcc, &Transaction::stan,
      &Transaction::terminal, &Transaction::merchant};
  for (const Member m : strings) {
    Transaction tx = auth();
    tx.*m = std::nullopt;
    EXPECT_EQ(run(tx), RC::kFormatError);
  }
  Transaction tx = auth();
  tx.amount = std::nullopt;
  EXPECT_EQ(run(tx), RC::kFormatError);
}

TEST_F(EngineTest, MalformedBitIsFormatError) {
  for (const Field f :
       {Field::kId, Field::kMti, Field::kPan, Field::kProc, Field::kAmount, Field::kCurrency,
        Field::kExpiry, Field::kMcc, Field::kStan, Field::kTerminal, Field::kMerchant}) {
    Transaction tx = auth();
    tx.set_malformed(f);  // even with a value still present
    EXPECT_EQ(run(tx), RC::kFormatError) << field_name(f);
  }
}

TEST_F(EngineTest, OutOfFormatValuesAreFormatErrors) {
  struct Case {
    const char* what;
    void (*edit)(Transaction*);
  };
  const Case cases[] = {
      {"empty id", [](Transaction* t) { t->id = ""; }},
      {"65-char id", [](Transaction* t) { t->id = std::string(65, 'a'); }},
      {"id with /", [](Transaction* t) { t->id = "a/b"; }},
      {"id with space", [](Transaction* t) { t->id = "a b"; }},
      {"mti 3 digits", [](Transaction* t) { t->mti = "100"; }},
      {"mti 5 digits", [](Transaction* t) { t->mti = "01000"; }},
      {"mti letter", [](Transaction* t) { t->mti = "01a0"; }},
      {"empty pan", [](Transaction* t) { t->pan = ""; }},
      {"pan with space", [](Transaction* t) { t->pan = "4000 0000 0000 0010"; }},
      {"proc 5", [](Transaction* t) { t->proc = "00000"; }},
      {"proc 7", [](Transaction* t) { t->proc = "0000000"; }},
      {"proc letter", [](Transaction* t) { t->proc = "00000a"; }},
      {"amount -1", [](Transaction* t) { t->amount = -1; }},
      {"amount 10^12", [](Transaction* t) { t->amount = 1'000'000'000'000; }},
      {"currency 2", [](Transaction* t) { t->currency = "84"; }},
      {"currency 4", [](Transaction* t) { t->currency = "0840"; }},
      {"currency not in table", [](Transaction* t) { t->currency = "999"; }},
      {"currency 000", [](Transaction* t) { t->currency = "000"; }},
      {"expiry month 13", [](Transaction* t) { t->expiry = "2813"; }},
      {"expiry month 00", [](Transaction* t) { t->expiry = "2800"; }},
      {"expiry 3", [](Transaction* t) { t->expiry = "281"; }},
      {"expiry letters", [](Transaction* t) { t->expiry = "28a2"; }},
      {"mcc 3", [](Transaction* t) { t->mcc = "541"; }},
      {"stan 5", [](Transaction* t) { t->stan = "12345"; }},
      {"stan 7", [](Transaction* t) { t->stan = "1234567"; }},
      {"terminal 7", [](Transaction* t) { t->terminal = "TERM001"; }},
      {"terminal 9", [](Transaction* t) { t->terminal = "TERM00001"; }},
      {"terminal 0x1F", [](Transaction* t) { t->terminal = "TERM000\x1f"; }},
      {"terminal 0x7F", [](Transaction* t) { t->terminal = "TERM000\x7f"; }},
      {"terminal UTF-8",
       [](Transaction* t) {
         t->terminal =
             "TERM\xc3\xa9"
             "01";
       }},
      {"merchant empty", [](Transaction* t) { t->merchant = ""; }},
      {"merchant 16", [](Transaction* t) { t->merchant = std::string(16, 'M'); }},
      {"merchant newline", [](Transaction* t) { t->merchant = "SHOP\n"; }},
  };
  for (const Case& c : cases) {
    Transaction tx = auth();
    c.edit(&tx);
    EXPECT_EQ(run(tx), RC::kFormatError) << c.what;
  }
}

TEST_F(EngineTest, FormatBoundariesThatAreValid) {
  Transaction tx = auth();
  tx.id = std::string(64, 'z');
  EXPECT_EQ(run(tx), RC::kApproved);
  tx = auth();
  tx.id = "A-z_0.9:x";
  EXPECT_EQ(run(tx), RC::kApproved);
  tx = auth();
  tx.merchant = std::string(15, '~');
  EXPECT_EQ(run(tx), RC::kApproved);
  tx = auth();
  tx.merchant = " ";
  EXPECT_EQ(run(tx), RC::kApproved);
  tx = auth();
  tx.terminal = "  T 1 ~ ";
  EXPECT_EQ(run(tx), RC::kApproved);
}

TEST_F(EngineTest, FieldsNotRequiredAreIgnored) {
  Transaction tx = auth();
  tx.orig_id = "not/an id";
  tx.set_malformed(Field::kOrigId);
  tx.set_malformed(Field::kTs);
  tx.ts = 5;
  EXPECT_EQ(run(tx), RC::kApproved);
  // Domestic: billing_* ignored whatever they hold.
  tx = auth();
  tx.billing_amount = -7;
  tx.billing_currency = "x";
  tx.set_malformed(Field::kBillingAmount);
  EXPECT_EQ(run(tx), RC::kApproved);
  tx = auth();
  tx.billing_currency = "978";
  tx.billing_amount = 999'999'999;
  EXPECT_EQ(run(tx), RC::kApproved);
}

TEST_F(EngineTest, UnknownCardFieldsDoNotMatterBeforeRule1Passes) {
  // Format error beats everything, even an unknown PAN.
  Transaction tx = auth(1000, kUnknown);
  tx.mcc = std::nullopt;
  EXPECT_EQ(run(tx), RC::kFormatError);
}

// --- Rule 2 (12) ------------------------------------------------------------

TEST_F(EngineTest, UnsupportedMtiNeedsOnlyTheAlwaysFields) {
  Transaction tx;
  tx.id = "x1";
  tx.mti = "0300";
  tx.pan = "1";  // any digits: rule 3 is not reached
  tx.stan = "000001";
  tx.terminal = "TERM0001";
  EXPECT_EQ(run(tx), RC::kInvalidTransaction);
  tx.id = "x2";
  tx.set_malformed(Field::kAmount);
  tx.merchant = "";
  tx.currency = "abc";
  EXPECT_EQ(run(tx), RC::kInvalidTransaction);
  tx.id = "x3";
  tx.mti = "0110";
  EXPECT_EQ(run(tx), RC::kInvalidTransaction);
}

TEST_F(EngineTest, UnsupportedMtiStillNeedsTheAlwaysFields) {
  Transaction tx;
  tx.id = "x1";
  tx.mti = "0300";
  tx.stan = "000001";
  tx.terminal = "TERM0001";
  EXPECT_EQ(run(tx), RC::kFormatError);  // no pan
  tx.pan = "4";
  tx.terminal = "T";
  EXPECT_EQ(run(tx), RC::kFormatError);
  tx.terminal = "TERM0001";
  tx.stan = std::nullopt;
  EXPECT_EQ(run(tx), RC::kFormatError);
  tx.stan = "000001";
  tx.id = std::nullopt;
  EXPECT_EQ(run(tx), RC::kFormatError);
}

TEST_F(EngineTest, BadProcessingCodeIsInvalidTransaction) {
  for (const char* proc : {"200000", "020000", "100000", "990000", "300000"}) {
    Transaction tx = auth();
    tx.proc = proc;
    EXPECT_EQ(run(tx), RC::kInvalidTransaction) << proc;
  }
  Transaction tx = auth();
  tx.proc = "001234";
  EXPECT_EQ(run(tx), RC::kApproved);
  tx = auth();
  tx.proc = "019999";
  EXPECT_EQ(run(tx), RC::kApproved);
}

TEST_F(EngineTest, Rule2BeforeRule3) {
  Transaction tx = auth(1000, break_luhn(kUsd));
  tx.proc = "300000";
  EXPECT_EQ(run(tx), RC::kInvalidTransaction);
}

// --- Rule 3 (14) ------------------------------------------------------------

TEST_F(EngineTest, LuhnFailureIsInvalidCardNumber) {
  EXPECT_EQ(run(auth(1000, break_luhn(kUsd))), RC::kInvalidCardNumber);
}

TEST_F(EngineTest, LengthOutside12To19IsInvalidCardNumber) {
  // Both are Luhn-valid and present in the card file.
  ASSERT_EQ(kShort11.size(), 11u);
  ASSERT_EQ(kLong20.size(), 20u);
  EXPECT_EQ(run(auth(1000, kShort11)), RC::kInvalidCardNumber);
  EXPECT_EQ(run(auth(1000, kLong20)), RC::kInvalidCardNumber);
  ASSERT_EQ(kShort12.size(), 12u);
  ASSERT_EQ(kLong19.size(), 19u);
  EXPECT_EQ(run(auth(1000, kShort12)), RC::kApproved);
  EXPECT_EQ(run(auth(1000, kLong19)), RC::kApproved);
}

// --- Rule 4 (56) ------------------------------------------------------------

TEST_F(EngineTest, UnknownCardIsNoCardRecord) {
  EXPECT_EQ(run(auth(1000, kUnknown)), RC::kNoCardRecord);
}

TEST_F(EngineTest, LeadingZeroPanIsADifferentCard) {
  const std::string zero_padded = "000" + kUsd;  // 19 digits, same Luhn sum, same value
  ASSERT_EQ(zero_padded.size(), 19u);
  EXPECT_EQ(run(auth(1000, zero_padded)), RC::kNoCardRecord);
}

// --- Rule 5 (41, 43, 62) ----------------------------------------------------

TEST_F(EngineTest, CardStatus) {
  EXPECT_EQ(run(auth(1000, kLost)), RC::kLostCard);
  EXPECT_EQ(run(auth(1000, kStolen)), RC::kStolenCard);
  EXPECT_EQ(run(auth(1000, kBlocked)), RC::kRestrictedCard);
}

TEST_F(EngineTest, Rule5BeforeRule6) {
  Transaction tx = auth(1000, kLost);
  tx.expiry = "2501";
  EXPECT_EQ(run(tx), RC::kLostCard);
}

// --- Rule 6 (54) ------------------------------------------------------------

TEST_F(EngineTest, ExpiryMismatchIsExpiredCard) {
  Transaction tx = auth();
  tx.expiry = "2912";  // later than the card's, still a mismatch
  EXPECT_EQ(run(tx), RC::kExpiredCard);
  tx = auth();
  tx.expiry = "2811";
  EXPECT_EQ(run(tx), RC::kExpiredCard);
}

struct MonthCase {
  const std::string* pan;
  const char* expiry;
  std::int64_t last_valid_ms;
  std::int64_t first_expired_ms;
};

TEST_F(EngineTest, ValidThroughTheLastMillisecondOfTheExpiryMonth) {
  const MonthCase cases[] = {
      {&kFeb26, "2602", utc_ms(2026, 2, 28, 23, 59, 59, 999), utc_ms(2026, 3, 1)},
      {&kDec26, "2612", utc_ms(2026, 12, 31, 23, 59, 59, 999), utc_ms(2027, 1, 1)},  // year
      {&kFeb28, "2802", utc_ms(2028, 2, 29, 23, 59, 59, 999), utc_ms(2028, 3, 1)},   // leap
      {&kFeb27, "2702", utc_ms(2027, 2, 28, 23, 59, 59, 999), utc_ms(2027, 3, 1)},   // not leap
  };
  for (const MonthCase& c : cases) {
    Engine engine(file_);
    Transaction tx = auth(1000, *c.pan);
    tx.expiry = c.expiry;
    EXPECT_EQ(engine.apply(utc_ms(1999, 1, 1), tx), RC::kApproved) << c.expiry;
    tx = auth(1000, *c.pan);
    tx.expiry = c.expiry;
    EXPECT_EQ(engine.apply(c.last_valid_ms, tx), RC::kApproved) << c.expiry;
    tx = auth(1000, *c.pan);
    tx.expiry = c.expiry;
    EXPECT_EQ(engine.apply(c.first_expired_ms, tx), RC::kExpiredCard) << c.expiry;
  }
  EXPECT_EQ(utc_ms(2028, 2, 29, 23, 59, 59, 999) + 1, utc_ms(2028, 3, 1));
}

TEST_F(EngineTest, ExpiredFarInThePastAndBeforeTheEpoch) {
  Engine engine(file_);
  Transaction tx = auth();
  EXPECT_EQ(engine.apply(-1, tx), RC::kApproved);  // 1969-12-31T23:59:59.999Z
  tx = auth();
  EXPECT_EQ(engine.apply(utc_ms(2029, 1, 1), tx), RC::kExpiredCard);
}

// --- Rule 7 (30) ------------------------------------------------------------

TEST_F(EngineTest, ForeignCurrencyWithBillingFieldsIsApproved) {
  Transaction tx = auth(5000);
  tx.currency = "978";
  tx.billing_amount = 100000;  // the whole credit, in USD
  tx.billing_currency = "840";
  EXPECT_EQ(run(tx), RC::kApproved);
  EXPECT_EQ(run(auth(1)), RC::kInsufficientFunds);  // the hold was billing_amount
}

TEST_F(EngineTest, ForeignCurrencyWithoutGoodBillingFieldsIsFormatError) {
  auto foreign = [&] {
    Transaction tx = auth(5000);
    tx.currency = "978";
    tx.billing_amount = 5500;
    tx.billing_currency = "840";
    return tx;
  };
  Transaction tx = foreign();
  tx.billing_amount = std::nullopt;
  EXPECT_EQ(run(tx), RC::kFormatError);
  tx = foreign();
  tx.billing_currency = std::nullopt;
  EXPECT_EQ(run(tx), RC::kFormatError);
  tx = foreign();
  tx.set_malformed(Field::kBillingAmount);
  EXPECT_EQ(run(tx), RC::kFormatError);
  tx = foreign();
  tx.set_malformed(Field::kBillingCurrency);
  EXPECT_EQ(run(tx), RC::kFormatError);
  tx = foreign();
  tx.billing_amount = -1;
  EXPECT_EQ(run(tx), RC::kFormatError);
  tx = foreign();
  tx.billing_amount = 1'000'000'000'000;
  EXPECT_EQ(run(tx), RC::kFormatError);
  tx = foreign();
  tx.billing_currency = "84";
  EXPECT_EQ(run(tx), RC::kFormatError);
  tx = foreign();
  tx.billing_currency = "978";  // not the card's currency
  EXPECT_EQ(run(tx), RC::kFormatError);
  EXPECT_EQ(run(foreign()), RC::kApproved);
}

TEST_F(EngineTest, Rule7OnlyForForeignCurrency) {
  // The same billing problems on a domestic transaction change nothing.
  Transaction tx = auth();
  tx.billing_currency = "978";
  EXPECT_EQ(run(tx), RC::kApproved);
  // A EUR card, a EUR transaction: billing not needed.
  tx = auth(1000, kEur);
  tx.currency = "978";
  EXPECT_EQ(run(tx), RC::kApproved);
  // A USD transaction on the EUR card needs billing in EUR.
  tx = auth(1000, kEur);
  EXPECT_EQ(run(tx), RC::kFormatError);
  tx = auth(1000, kEur);
  tx.billing_amount = 900;
  tx.billing_currency = "978";
  EXPECT_EQ(run(tx), RC::kApproved);
}

TEST_F(EngineTest, Rule6BeforeRule7AndRule7BeforeRule8) {
  Transaction tx = auth(0);
  tx.currency = "978";
  tx.expiry = "2701";
  EXPECT_EQ(run(tx), RC::kExpiredCard);
  tx.expiry = "2812";
  EXPECT_EQ(run(tx), RC::kFormatError);  // amount 0, but billing missing first
}

TEST_F(EngineTest, ZeroBillingAmountIsAllowed) {
  Transaction tx = auth(100);
  tx.currency = "978";
  tx.billing_amount = 0;
  tx.billing_currency = "840";
  EXPECT_EQ(run(tx), RC::kApproved);
}

// --- Rule 8 (13) ------------------------------------------------------------

TEST_F(EngineTest, ZeroAmountIsInvalidAmount) { EXPECT_EQ(run(auth(0)), RC::kInvalidAmount); }

TEST_F(EngineTest, AmountMaximumPerCurrencyExponent) {
  struct Case {
    const std::string* pan;
    const char* currency;
    std::int64_t maximum;
  };
  const Case cases[] = {
      {&kJpy, "392", 1'000'000},       // exponent 0
      {&kBigUsd, "840", 100'000'000},  // exponent 2
      {&kBhd, "048", 1'000'000'000},   // exponent 3
  };
  for (const Case& c : cases) {
    Transaction tx = auth(c.maximum, *c.pan);
    tx.currency = c.currency;
    EXPECT_EQ(run(tx), RC::kApproved) << c.currency;
    tx = auth(c.maximum + 1, *c.pan);
    tx.currency = c.currency;
    EXPECT_EQ(run(tx), RC::kInvalidAmount) << c.currency;
  }
}

TEST_F(EngineTest, AmountMaximumIsThatOfTheTransactionCurrency) {
  // JPY on a USD card: the JPY maximum applies to `amount`.
  Transaction tx = auth(1'000'001, kBigUsd);
  tx.currency = "392";
  tx.billing_amount = 700'000;
  tx.billing_currency = "840";
  EXPECT_EQ(run(tx), RC::kInvalidAmount);
  tx = auth(1'000'000, kBigUsd);
  tx.currency = "392";
  tx.billing_amount = 700'000;
  tx.billing_currency = "840";
  EXPECT_EQ(run(tx), RC::kApproved);
  // And a KWD (exponent 3) one on the USD card may be large.
  tx = auth(1'000'000'000, kBigUsd);
  tx.currency = "414";
  tx.billing_amount = 325'000'000;
  tx.billing_currency = "840";
  EXPECT_EQ(run(tx), RC::kApproved);
}

TEST_F(EngineTest, Rule8BeforeRule9) {
  Transaction tx = auth(0);
  tx.mcc = "7995";
  EXPECT_EQ(run(tx), RC::kInvalidAmount);
}

// --- Rule 9 (57) ------------------------------------------------------------

TEST_F(EngineTest, BlockedMccIsNotPermitted) {
  Transaction tx = auth();
  tx.mcc = "7995";
  EXPECT_EQ(run(tx), RC::kNotPermitted);
  tx = auth();
  tx.mcc = "6011";
  EXPECT_EQ(run(tx), RC::kNotPermitted);
  tx = auth();
  tx.mcc = "7996";
  EXPECT_EQ(run(tx), RC::kApproved);
  // Another card does not block it.
  tx = auth(1000, kBigUsd);
  tx.mcc = "7995";
  EXPECT_EQ(run(tx), RC::kApproved);
}

TEST_F(EngineTest, Rule9BeforeRule10) {
  Transaction first = auth();
  EXPECT_EQ(run(first), RC::kApproved);
  Transaction again = auth();
  again.stan = first.stan;
  again.mcc = "7995";
  EXPECT_EQ(run(again), RC::kNotPermitted);
}

// --- Rule 10 (94) -----------------------------------------------------------

TEST_F(EngineTest, SameTerminalAndStanIsDuplicate) {
  Transaction first = auth();
  EXPECT_EQ(run(first), RC::kApproved);
  Transaction again = auth();
  again.stan = first.stan;
  EXPECT_EQ(run(again), RC::kDuplicate);  // same ts: inside (T - W, T]
  Transaction other_terminal = auth();
  other_terminal.stan = first.stan;
  other_terminal.terminal = "TERM0002";
  EXPECT_EQ(run(other_terminal), RC::kApproved);
  // Another card, same terminal and stan: still a duplicate.
  Transaction other_card = auth(1000, kBigUsd);
  other_card.stan = first.stan;
  EXPECT_EQ(run(other_card), RC::kDuplicate);
}

TEST_F(EngineTest, DuplicateWindowEdges) {
  Transaction first = auth();
  EXPECT_EQ(run(first, kT0), RC::kApproved);
  Transaction a = auth();
  a.stan = first.stan;
  EXPECT_EQ(run(a, kT0 + kDay - 1), RC::kDuplicate);  // T - 86400000 + 1: inside
  // `a` itself now counts (at kT0 + kDay - 1), so use a fresh key for the outer edge.
  Engine engine(file_);
  Transaction b1 = auth();
  EXPECT_EQ(engine.apply(kT0, b1), RC::kApproved);
  Transaction b2 = auth();
  b2.stan = b1.stan;
  EXPECT_EQ(engine.apply(kT0 + kDay, b2), RC::kApproved);  // T - 86400000: outside
}

TEST_F(EngineTest, DuplicateOfADeclinedOneIsDuplicate) {
  Transaction first = auth(100'001);
  EXPECT_EQ(run(first), RC::kInsufficientFunds);
  Transaction again = auth(1000);
  again.stan = first.stan;
  EXPECT_EQ(run(again), RC::kDuplicate);
}

TEST_F(EngineTest, EveryOutcomeAfterRule1CountsForDuplicates) {
  // 12, 14, 56, 41, 54, 30 (rule 7), 13, 57 all passed rule 1.
  std::vector<Transaction> firsts;
  Transaction t = auth();
  t.proc = "200000";
  firsts.push_back(t);
  firsts.push_back(auth(1000, break_luhn(kUsd)));
  firsts.push_back(auth(1000, kUnknown));
  firsts.push_back(auth(1000, kLost));
  t = auth();
  t.expiry = "2501";
  firsts.push_back(t);
  t = auth();
  t.currency = "978";
  firsts.push_back(t);
  firsts.push_back(auth(0));
  t = auth();
  t.mcc = "7995";
  firsts.push_back(t);
  for (const Transaction& first : firsts) {
    const RC code = run(first);
    EXPECT_NE(code, RC::kApproved);
    Transaction again = auth();
    again.stan = first.stan;
    EXPECT_EQ(run(again), RC::kDuplicate) << "after " << to_string(code);
  }
}

TEST_F(EngineTest, AFormatErrorDoesNotCountForDuplicates) {
  Transaction first = auth();
  first.merchant = "";
  EXPECT_EQ(run(first), RC::kFormatError);
  Transaction again = auth();
  again.stan = first.stan;
  EXPECT_EQ(run(again), RC::kApproved);
}

TEST_F(EngineTest, ADuplicateItselfCountsAndExtendsTheWindow) {
  Transaction first = auth();
  EXPECT_EQ(run(first, kT0), RC::kApproved);
  Transaction second = auth();
  second.stan = first.stan;
  EXPECT_EQ(run(second, kT0 + kDay - 1), RC::kDuplicate);
  Transaction third = auth();
  third.stan = first.stan;
  EXPECT_EQ(run(third, kT0 + kDay + 1000), RC::kDuplicate);  // because of `second`
  Transaction fourth = auth();
  fourth.stan = first.stan;
  EXPECT_EQ(run(fourth, kT0 + 3 * kDay), RC::kApproved);
}

TEST_F(EngineTest, ReversalsAndOtherMtisNeverCountForDuplicates) {
  Transaction original = auth();
  EXPECT_EQ(run(original), RC::kApproved);
  Transaction rev = reversal(*original.id);
  rev.stan = "777777";
  EXPECT_EQ(run(rev), RC::kApproved);  // not subject to rule 10 either
  Transaction other;
  other.id = "other";
  other.mti = "0300";
  other.pan = kUsd;
  other.stan = "888888";
  other.terminal = "TERM0001";
  EXPECT_EQ(run(other), RC::kInvalidTransaction);
  Transaction a = auth();
  a.stan = "777777";
  EXPECT_EQ(run(a), RC::kApproved);
  Transaction b = auth();
  b.stan = "888888";
  EXPECT_EQ(run(b), RC::kApproved);
  // Same terminal and stan as an earlier approved one: the reversal is fine.
  Transaction rev2 = reversal(*a.id);
  rev2.stan = a.stan;
  EXPECT_EQ(run(rev2), RC::kApproved);
}

TEST_F(EngineTest, Rule10BeforeRule11) {
  for (int i = 0; i < 10; ++i) ASSERT_EQ(run(auth(1)), RC::kApproved);
  Transaction again = auth(1);
  again.stan = stan(1);
  EXPECT_EQ(run(again), RC::kDuplicate);
  EXPECT_EQ(run(auth(1)), RC::kExceedsFrequencyLimit);
}

// --- Rule 11 (65) -----------------------------------------------------------

TEST_F(EngineTest, FrequencyLimitAndWindowEdges) {
  ASSERT_EQ(run(auth(1), kT0), RC::kApproved);
  for (int i = 1; i <= 9; ++i) ASSERT_EQ(run(auth(1), kT0 + i), RC::kApproved);
  // Ten approved in (T - 60000, T]: the eleventh is refused.
  EXPECT_EQ(run(auth(1), kT0 + 9), RC::kExceedsFrequencyLimit);
  EXPECT_EQ(run(auth(1), kT0 + kMinute - 1), RC::kExceedsFrequencyLimit);  // kT0 still inside
  EXPECT_EQ(run(auth(1), kT0 + kMinute), RC::kApproved);  // kT0 at T - 60000: outside
  EXPECT_EQ(run(auth(1), kT0 + kMinute), RC::kExceedsFrequencyLimit);
  // Another card is not affected.
  EXPECT_EQ(run(auth(1, kBigUsd), kT0 + kMinute), RC::kApproved);
}

TEST_F(EngineTest, DeclinesDoNotCountForFrequency) {
  for (int i = 0; i < 9; ++i) ASSERT_EQ(run(auth(1)), RC::kApproved);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(run(auth(1'000'000)), RC::kInsufficientFunds);
  EXPECT_EQ(run(auth(1)), RC::kApproved);
  EXPECT_EQ(run(auth(1)), RC::kExceedsFrequencyLimit);
}

TEST_F(EngineTest, Rule11BeforeRule12) {
  for (int i = 0; i < 10; ++i) ASSERT_EQ(run(auth(1)), RC::kApproved);
  EXPECT_EQ(run(cash(20'001)), RC::kExceedsFrequencyLimit);
}

// --- Rule 12 (61) -----------------------------------------------------------

TEST_F(EngineTest, CashExactlyAtTheDailyLimit) {
  EXPECT_EQ(run(cash(15'000)), RC::kApproved);
  EXPECT_EQ(run(cash(5'001)), RC::kExceedsWithdrawalLimit);
  EXPECT_EQ(run(cash(5'000)), RC::kApproved);  // sum == limit is fine
  EXPECT_EQ(run(cash(1)), RC::kExceedsWithdrawalLimit);
  // Goods and services are not cash.
  EXPECT_EQ(run(auth(1)), RC::kApproved);
}

TEST_F(EngineTest, SingleCashAboveTheDailyLimit) {
  EXPECT_EQ(run(cash(20'000)), RC::kApproved);
  Engine engine(file_);
  EXPECT_EQ(engine.apply(kT0, cash(20'001)), RC::kExceedsWithdrawalLimit);
}

TEST_F(EngineTest, CashWindowEdges) {
  EXPECT_EQ(run(cash(20'000), kT0), RC::kApproved);
  EXPECT_EQ(run(cash(1), kT0 + kDay - 1), RC::kExceedsWithdrawalLimit);  // inside
  EXPECT_EQ(run(cash(20'000), kT0 + kDay), RC::kApproved);               // outside
  EXPECT_EQ(run(cash(1), kT0 + kDay), RC::kExceedsWithdrawalLimit);
}

TEST_F(EngineTest, NonCashDoesNotUseTheCashLimit) {
  EXPECT_EQ(run(auth(50'000)), RC::kApproved);
  EXPECT_EQ(run(cash(20'000)), RC::kApproved);
}

TEST_F(EngineTest, ForeignCashUsesTheBillingAmount) {
  Transaction tx = cash(90'000);
  tx.currency = "978";
  tx.billing_amount = 20'000;
  tx.billing_currency = "840";
  EXPECT_EQ(run(tx), RC::kApproved);
  EXPECT_EQ(run(cash(1)), RC::kExceedsWithdrawalLimit);
}

TEST_F(EngineTest, Rule12BeforeRule13) {
  EXPECT_EQ(run(auth(100'000)), RC::kApproved);
  EXPECT_EQ(run(cash(20'001)), RC::kExceedsWithdrawalLimit);
  EXPECT_EQ(run(cash(1)), RC::kInsufficientFunds);
}

// --- Rule 13 (51) -----------------------------------------------------------

TEST_F(EngineTest, AmountEqualToRemainingCreditIsApproved) {
  EXPECT_EQ(run(auth(60'000)), RC::kApproved);
  EXPECT_EQ(run(auth(40'001)), RC::kInsufficientFunds);
  EXPECT_EQ(run(auth(40'000)), RC::kApproved);
  EXPECT_EQ(run(auth(1)), RC::kInsufficientFunds);
}

TEST_F(EngineTest, HoldsNeverExpire) {
  EXPECT_EQ(run(auth(100'000), kT0), RC::kApproved);
  EXPECT_EQ(run(auth(1), kT0 + 300 * kDay), RC::kInsufficientFunds);
}

TEST_F(EngineTest, CashHoldsCountForCredit) {
  EXPECT_EQ(run(cash(20'000)), RC::kApproved);
  EXPECT_EQ(run(auth(80'001)), RC::kInsufficientFunds);
  EXPECT_EQ(run(auth(80'000)), RC::kApproved);
}

// --- Section 5: reversals (25, 00, 30, 14) ----------------------------------

TEST_F(EngineTest, ReversalRestoresCreditButNotFrequency) {
  std::vector<Transaction> approved;
  for (int i = 0; i < 10; ++i) {
    approved.push_back(auth(10'000));
    ASSERT_EQ(run(approved.back()), RC::kApproved);
  }
  EXPECT_EQ(run(reversal(*approved[0].id)), RC::kApproved);
  EXPECT_EQ(run(auth(10'000)), RC::kExceedsFrequencyLimit);  // reversed still counts for rule 11
  EXPECT_EQ(run(auth(10'001), kT0 + kMinute), RC::kInsufficientFunds);
  EXPECT_EQ(run(auth(10'000), kT0 + kMinute), RC::kApproved);  // credit restored
}

TEST_F(EngineTest, ReversalOfAReversedOneIsUnableToLocate) {
  Transaction original = auth();
  ASSERT_EQ(run(original), RC::kApproved);
  EXPECT_EQ(run(reversal(*original.id)), RC::kApproved);
  EXPECT_EQ(run(reversal(*original.id)), RC::kUnableToLocateOriginal);
}

TEST_F(EngineTest, ReversalOfAReversalIsUnableToLocate) {
  Transaction original = auth();
  ASSERT_EQ(run(original), RC::kApproved);
  Transaction first = reversal(*original.id);
  EXPECT_EQ(run(first), RC::kApproved);
  EXPECT_EQ(run(reversal(*first.id)), RC::kUnableToLocateOriginal);
}

TEST_F(EngineTest, ReversalWithADifferentPanIsUnableToLocate) {
  Transaction original = auth();
  ASSERT_EQ(run(original), RC::kApproved);
  EXPECT_EQ(run(reversal(*original.id, kBigUsd)), RC::kUnableToLocateOriginal);
  EXPECT_EQ(run(reversal(*original.id, kUnknown)), RC::kUnableToLocateOriginal);
  EXPECT_EQ(run(reversal(*original.id, "000" + kUsd)), RC::kUnableToLocateOriginal);
  EXPECT_EQ(run(reversal(*original.id)), RC::kApproved);
}

TEST_F(EngineTest, ReversalOfADeclinedOneIsUnableToLocate) {
  Transaction declined = auth(100'001);
  ASSERT_EQ(run(declined), RC::kInsufficientFunds);
  EXPECT_EQ(run(reversal(*declined.id)), RC::kUnableToLocateOriginal);
  Transaction bad_format = auth();
  bad_format.merchant = std::nullopt;
  ASSERT_EQ(run(bad_format), RC::kFormatError);
  EXPECT_EQ(run(reversal(*bad_format.id)), RC::kUnableToLocateOriginal);
}

TEST_F(EngineTest, ReversalOfAnUnknownIdOrAnotherMtiIsUnableToLocate) {
  EXPECT_EQ(run(reversal("never-seen")), RC::kUnableToLocateOriginal);
  Transaction other;
  other.id = "other";
  other.mti = "0300";
  other.pan = kUsd;
  other.stan = "000001";
  other.terminal = "TERM0001";
  ASSERT_EQ(run(other), RC::kInvalidTransaction);
  EXPECT_EQ(run(reversal("other")), RC::kUnableToLocateOriginal);
}

TEST_F(EngineTest, ReversalCannotFindItself) {
  Transaction rev = reversal("self");
  rev.id = "self";
  EXPECT_EQ(run(rev), RC::kUnableToLocateOriginal);
}

TEST_F(EngineTest, ReversalFormatAndCardNumber) {
  Transaction original = auth();
  ASSERT_EQ(run(original), RC::kApproved);
  Transaction rev = reversal(*original.id);
  rev.orig_id = std::nullopt;
  EXPECT_EQ(run(rev), RC::kFormatError);
  rev = reversal("bad/id");
  EXPECT_EQ(run(rev), RC::kFormatError);
  rev = reversal(*original.id);
  rev.set_malformed(Field::kOrigId);
  EXPECT_EQ(run(rev), RC::kFormatError);
  rev = reversal(*original.id);
  rev.stan = std::nullopt;
  EXPECT_EQ(run(rev), RC::kFormatError);
  rev = reversal(*original.id);
  rev.terminal = "short";
  EXPECT_EQ(run(rev), RC::kFormatError);
  rev = reversal(*original.id, break_luhn(kUsd));
  EXPECT_EQ(run(rev), RC::kInvalidCardNumber);
  rev = reversal(*original.id, kShort11);
  EXPECT_EQ(run(rev), RC::kInvalidCardNumber);
  // Fields a 0400 does not need are ignored.
  rev = reversal(*original.id);
  rev.set_malformed(Field::kAmount);
  rev.merchant = "";
  rev.proc = "99";
  EXPECT_EQ(run(rev), RC::kApproved);
}

TEST_F(EngineTest, ReversedCashLeavesTheDailyWindow) {
  Transaction original = cash(20'000);
  ASSERT_EQ(run(original), RC::kApproved);
  EXPECT_EQ(run(cash(1)), RC::kExceedsWithdrawalLimit);
  EXPECT_EQ(run(reversal(*original.id)), RC::kApproved);
  EXPECT_EQ(run(cash(20'000)), RC::kApproved);
}

TEST_F(EngineTest, ReversalOfCashOlderThanTheWindow) {
  Transaction original = cash(20'000);
  ASSERT_EQ(run(original, kT0), RC::kApproved);
  ASSERT_EQ(run(auth(80'000), kT0), RC::kApproved);
  ASSERT_EQ(run(auth(1), kT0 + 2 * kDay), RC::kInsufficientFunds);
  EXPECT_EQ(run(reversal(*original.id), kT0 + 2 * kDay), RC::kApproved);
  EXPECT_EQ(run(cash(20'000), kT0 + 2 * kDay), RC::kApproved);
  EXPECT_EQ(run(cash(1), kT0 + 2 * kDay), RC::kExceedsWithdrawalLimit);
}

TEST_F(EngineTest, ReversalIgnoresCardStatusAndExpiry) {
  Transaction original = auth(1000, kFeb26);
  original.expiry = "2602";
  ASSERT_EQ(run(original, utc_ms(2026, 2, 1)), RC::kApproved);
  EXPECT_EQ(run(reversal(*original.id, kFeb26), utc_ms(2026, 5, 1)), RC::kApproved);
}

TEST_F(EngineTest, FirstTransactionWithAnIdWins) {
  Transaction declined = auth(100'001);
  declined.id = "same";
  ASSERT_EQ(run(declined), RC::kInsufficientFunds);
  Transaction approved = auth(1000);
  approved.id = "same";
  ASSERT_EQ(run(approved), RC::kApproved);
  EXPECT_EQ(run(reversal("same")), RC::kUnableToLocateOriginal);

  Transaction first = auth(1000);
  first.id = "same2";
  ASSERT_EQ(run(first), RC::kApproved);
  Transaction second = auth(1'000'000);
  second.id = "same2";
  ASSERT_EQ(run(second), RC::kInsufficientFunds);
  EXPECT_EQ(run(reversal("same2")), RC::kApproved);
}

// --- Sequencing and extreme times ------------------------------------------

TEST_F(EngineTest, DecreasingTsAborts) {
  ASSERT_EQ(run(auth(), kT0), RC::kApproved);
  EXPECT_EQ(run(auth(), kT0), RC::kApproved);  // equal is fine
  EXPECT_DEATH(run(auth(), kT0 - 1), "assertion failed");
}

TEST_F(EngineTest, ExtremeTimestamps) {
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  Transaction first = auth(1);
  EXPECT_EQ(run(first, kMin), RC::kApproved);  // 292 million years BC: not expired
  Transaction again = auth(1);
  again.stan = first.stan;
  EXPECT_EQ(run(again, kMin + kDay - 1), RC::kDuplicate);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(run(auth(1), kMin + kDay - 1), RC::kApproved);
  EXPECT_EQ(run(auth(1), kMin + kDay - 1), RC::kApproved);  // 9: `first` left the minute
  EXPECT_EQ(run(cash(20'000), kMin + kDay - 1), RC::kApproved);
  Transaction late = auth(1);
  late.stan = first.stan;
  EXPECT_EQ(run(late, kMax), RC::kExpiredCard);
  Transaction far = auth(1, kBigUsd);
  EXPECT_EQ(run(far, kMax), RC::kExpiredCard);
  EXPECT_EQ(run(reversal(*first.id), kMax), RC::kApproved);
}

// --- Building blocks --------------------------------------------------------

TEST(CalendarTest, MonthIndexMatchesStdChrono) {
  using namespace std::chrono;
  auto chrono_index = [](std::int64_t ms) {
    const year_month_day d{floor<days>(sys_time<milliseconds>{milliseconds{ms}})};
    return static_cast<std::int64_t>(static_cast<int>(d.year())) * 12 +
           (static_cast<unsigned>(d.month()) - 1);
  };
  std::mt19937_64 rng(12345);
  // std::chrono's years stop at +-32767.
  const std::int64_t limit = 30'000LL * 365 * kDay;
  std::uniform_int_distribution<std::int64_t> any(-limit, limit);
  for (int i = 0; i < 200'000; ++i) {
    const std::int64_t ms = any(rng);
    ASSERT_EQ(utc_month_index(ms), chrono_index(ms)) << ms;
  }
  for (int y = 1890; y <= 2110; ++y) {
    for (unsigned m = 1; m <= 12; ++m) {
      const std::int64_t start = utc_ms(y, m, 1);
      ASSERT_EQ(utc_month_index(start), chrono_index(start));
      ASSERT_EQ(utc_month_index(start - 1), chrono_index(start - 1));
      ASSERT_EQ(utc_month_index(start), utc_month_index(start - 1) + 1);
    }
  }
  EXPECT_EQ(utc_month_index(0), 1970 * 12);
  EXPECT_EQ(utc_month_index(-1), 1969 * 12 + 11);
  EXPECT_EQ(expiry_month_index(2812), 2028 * 12 + 11);
  // No overflow at the ends of int64 (checked under UBSan in the asan preset).
  EXPECT_LT(utc_month_index(std::numeric_limits<std::int64_t>::min()), 0);
  EXPECT_GT(utc_month_index(std::numeric_limits<std::int64_t>::max()), 2028 * 12);
}

TEST(CalendarTest, InWindow) {
  EXPECT_TRUE(in_window(100, 100, 60'000));
  EXPECT_TRUE(in_window(100 - 59'999, 100, 60'000));
  EXPECT_FALSE(in_window(100 - 60'000, 100, 60'000));
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  EXPECT_FALSE(in_window(kMin, kMax, kDay));
  EXPECT_TRUE(in_window(kMin, kMin + kDay - 1, kDay));
  EXPECT_FALSE(in_window(kMin, kMin + kDay, kDay));
}

TEST(CurrencyTest, Exponents) {
  EXPECT_EQ(currency_exponent(840), 2);
  EXPECT_EQ(currency_exponent(392), 0);
  EXPECT_EQ(currency_exponent(410), 0);
  EXPECT_EQ(currency_exponent(152), 0);
  EXPECT_EQ(currency_exponent(48), 3);
  EXPECT_EQ(currency_exponent(414), 3);
  EXPECT_EQ(currency_exponent(36), 2);
  EXPECT_EQ(currency_exponent(986), 2);
  EXPECT_EQ(currency_exponent(0), -1);
  EXPECT_EQ(currency_exponent(999), -1);
  EXPECT_EQ(currency_exponent(1000), -1);
  EXPECT_EQ(currency_exponent(65535), -1);
  int supported = 0;
  for (std::uint16_t c = 0; c < 1000; ++c) supported += currency_exponent(c) >= 0 ? 1 : 0;
  EXPECT_EQ(supported, 19);
}

template <class Index>
void check_card_index() {
  std::vector<std::pair<PanKey, int>> entries;
  for (const char* pan : {"4111111111111111", "000000000000", "0000000000000", "5", "42"}) {
    entries.emplace_back(*make_pan_key(pan), static_cast<int>(entries.size()));
  }
  Index index(entries);
  EXPECT_EQ(index.size(), 5u);
  for (const auto& [key, value] : entries) {
    const int* found = index.find(key);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(*found, value);
  }
  EXPECT_EQ(index.find(*make_pan_key("4111111111111112")), nullptr);
  EXPECT_EQ(index.find(*make_pan_key("00000000000000")), nullptr);
  EXPECT_EQ(index.find(*make_pan_key("05")), nullptr);
  EXPECT_EQ(*index.find(*make_pan_key("0000000000000")), 2);
}

TEST(CardIndexTest, AllVariantsFind) {
  check_card_index<HashCardIndex<int>>();
  check_card_index<OrderedCardIndex<int>>();
  check_card_index<SortedCardIndex<int>>();
}

TEST(CardIndexTest, PanKey) {
  EXPECT_FALSE(make_pan_key("").has_value());
  EXPECT_FALSE(make_pan_key("12a").has_value());
  EXPECT_FALSE(make_pan_key("12345678901234567890").has_value());
  const auto max = make_pan_key("9999999999999999999");
  ASSERT_TRUE(max.has_value());
  EXPECT_EQ(max->value, 9'999'999'999'999'999'999ULL);
  EXPECT_NE(*make_pan_key("0012"), *make_pan_key("012"));
}

}  // namespace
}  // namespace triad::rules
