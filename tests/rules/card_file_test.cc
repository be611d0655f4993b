// The card file of rules.md section 2: every refusal names its line and
// never shows a PAN in clear.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "rules/engine.h"

namespace triad::rules {
namespace {

constexpr const char* kHeader =
    "pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs";

// PANs used in the files below; no error message may contain any of them.
const std::vector<std::string> kPans = {"4111111111111111", "5555555555554444", "4000000000000002",
                                        "123456789012345678901234"};

Status parse(const std::string& text, CardFile* out = nullptr) {
  CardFile ignored;
  return parse_card_file(text, out != nullptr ? out : &ignored);
}

void expect_no_pan(const Status& s) {
  for (const std::string& pan : kPans) {
    EXPECT_EQ(s.message().find(pan), std::string::npos) << s.message();
  }
}

void expect_error(const std::string& text, const std::string& expected_prefix) {
  CardFile out;
  out.cards.resize(3);  // must be left alone on failure
  const Status s = parse_card_file(text, &out);
  ASSERT_FALSE(s.is_ok()) << "accepted: " << text;
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message().rfind(expected_prefix, 0), 0u)
      << "message \"" << s.message() << "\" does not start with \"" << expected_prefix << "\"";
  EXPECT_EQ(out.cards.size(), 3u);
  expect_no_pan(s);
}

std::string file_with(const std::string& bad_line, int good_lines_before = 2) {
  std::string t = std::string(kHeader) + "\n";
  const char* good[] = {"5555555555554444,2812,A,840,100000,20000,\n",
                        "4000000000000002,2701,L,978,5,0,5411\n",
                        "4012888888881881,2701,S,392,5,0,5411;7995\n"};
  for (int i = 0; i < good_lines_before; ++i) t += good[i];
  t += bad_line + "\n";
  t += "6011111111111117,2812,A,840,1,1,\n";
  return t;
}

TEST(CardFileTest, ParsesAllFields) {
  CardFile f;
  const Status s = parse(std::string(kHeader) +
                             "\n4111111111111111,2812,A,840,100000,20000,7995;5411;7995\n"
                             "5555555555554444,0001,L,048,0,999999999999,\n"
                             "12,9912,S,392,999999999999,0,0000\n"
                             "123456789012345678901234,2506,B,036,007,00,\n",
                         &f);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  ASSERT_EQ(f.cards.size(), 4u);
  const CardRecord& a = f.cards[0];
  EXPECT_EQ(a.pan, "4111111111111111");
  EXPECT_EQ(a.expiry_yymm, 2812);
  EXPECT_EQ(a.status, CardStatus::kActive);
  EXPECT_EQ(a.currency, 840);
  EXPECT_EQ(a.credit_limit, 100000);
  EXPECT_EQ(a.cash_daily_limit, 20000);
  EXPECT_EQ(a.blocked_mccs, (std::vector<std::uint16_t>{5411, 7995}));  // sorted, unique
  const CardRecord& b = f.cards[1];
  EXPECT_EQ(b.expiry_yymm, 1);
  EXPECT_EQ(b.status, CardStatus::kLost);
  EXPECT_EQ(b.currency, 48);
  EXPECT_EQ(b.credit_limit, 0);
  EXPECT_EQ(b.cash_daily_limit, 999999999999);
  EXPECT_TRUE(b.blocked_mccs.empty());
  EXPECT_EQ(f.cards[2].pan, "12");  // no length or Luhn check in the card file
  EXPECT_EQ(f.cards[2].status, CardStatus::kStolen);
  EXPECT_EQ(f.cards[2].blocked_mccs, (std::vector<std::uint16_t>{0}));
  EXPECT_EQ(f.cards[3].status, CardStatus::kBlocked);
  EXPECT_EQ(f.cards[3].credit_limit, 7);  // leading zeros accepted
  EXPECT_EQ(f.cards[3].cash_daily_limit, 0);
}

TEST(CardFileTest, LineEndings) {
  const std::string line = "4111111111111111,2812,A,840,100000,20000,7995";
  for (const std::string& text :
       {std::string(kHeader) + "\n" + line, std::string(kHeader) + "\n" + line + "\n",
        std::string(kHeader) + "\r\n" + line + "\r\n", std::string(kHeader) + "\r\n" + line}) {
    CardFile f;
    const Status s = parse(text, &f);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    ASSERT_EQ(f.cards.size(), 1u);
    EXPECT_EQ(f.cards[0].blocked_mccs, (std::vector<std::uint16_t>{7995}));
  }
}

TEST(CardFileTest, HeaderOnlyIsAnEmptyCardFile) {
  for (const std::string& text :
       {std::string(kHeader), std::string(kHeader) + "\n", std::string(kHeader) + "\r\n"}) {
    CardFile f;
    f.cards.resize(2);
    ASSERT_TRUE(parse(text, &f).is_ok());
    EXPECT_TRUE(f.cards.empty());
  }
}

TEST(CardFileTest, EmptyFileAndBadHeader) {
  expect_error("", "line 1: ");
  expect_error("\n", "line 1: header");
  expect_error(std::string(kHeader) + ",extra\n", "line 1: header");
  // (std::string(a) + b rather than a + std::string(b): GCC 12 -Wrestrict false positive.)
  expect_error(std::string(" ") + kHeader + "\n", "line 1: header");
  expect_error(std::string("\xEF\xBB\xBF") + kHeader + "\n", "line 1: header");
  expect_error("PAN,EXPIRY,STATUS,CURRENCY,CREDIT_LIMIT,CASH_DAILY_LIMIT,BLOCKED_MCCS\n",
               "line 1: header");
  // Missing header: the first card line is taken for one, and not quoted.
  expect_error("4111111111111111,2812,A,840,100000,20000,\n", "line 1: header");
}

TEST(CardFileTest, EachBadFieldNamesItsLine) {
  struct Case {
    std::string line;
    const char* reason_start;
  };
  const std::vector<Case> cases = {
      {"4111111111111111,2812,A,840,100000,20000", "expected 7 comma-separated fields, found 6"},
      {"4111111111111111,2812,A,840,100000,20000,,", "expected 7 comma-separated fields, found 8"},
      {"", "empty line"},
      {",2812,A,840,100000,20000,", "pan"},
      {"4111 1111,2812,A,840,100000,20000,", "pan"},
      {"4111111111111111x,2812,A,840,100000,20000,", "pan"},
      {"4111111111111111,2813,A,840,100000,20000,", "expiry"},
      {"4111111111111111,2800,A,840,100000,20000,", "expiry"},
      {"4111111111111111,281,A,840,100000,20000,", "expiry"},
      {"4111111111111111,28122,A,840,100000,20000,", "expiry"},
      {"4111111111111111,,A,840,100000,20000,", "expiry"},
      {"4111111111111111,2812,X,840,100000,20000,", "status"},
      {"4111111111111111,2812,a,840,100000,20000,", "status"},
      {"4111111111111111,2812,AA,840,100000,20000,", "status"},
      {"4111111111111111,2812,,840,100000,20000,", "status"},
      {"4111111111111111,2812,A,84,100000,20000,", "currency"},
      {"4111111111111111,2812,A,USD,100000,20000,", "currency"},
      {"4111111111111111,2812,A,999,100000,20000,", "currency"},
      {"4111111111111111,2812,A,0840,100000,20000,", "currency"},
      {"4111111111111111,2812,A,840,-1,20000,", "credit_limit"},
      {"4111111111111111,2812,A,840,+1,20000,", "credit_limit"},
      {"4111111111111111,2812,A,840, 1,20000,", "credit_limit"},
      {"4111111111111111,2812,A,840,1 ,20000,", "credit_limit"},
      {"4111111111111111,2812,A,840,,20000,", "credit_limit"},
      {"4111111111111111,2812,A,840,1.5,20000,", "credit_limit"},
      {"4111111111111111,2812,A,840,1000000000000,20000,", "credit_limit"},
      {"4111111111111111,2812,A,840,99999999999999999999999,20000,", "credit_limit"},
      {"4111111111111111,2812,A,840,100000,-5,", "cash_daily_limit"},
      {"4111111111111111,2812,A,840,100000,1000000000000,", "cash_daily_limit"},
      {"4111111111111111,2812,A,840,100000,,", "cash_daily_limit"},
      {"4111111111111111,2812,A,840,100000,20000,541", "blocked_mccs"},
      {"4111111111111111,2812,A,840,100000,20000,54111", "blocked_mccs"},
      {"4111111111111111,2812,A,840,100000,20000,5411;", "blocked_mccs"},
      {"4111111111111111,2812,A,840,100000,20000,;5411", "blocked_mccs"},
      {"4111111111111111,2812,A,840,100000,20000,5411;;7995", "blocked_mccs"},
      {"4111111111111111,2812,A,840,100000,20000,5411,7995", "expected 7"},
      {"4111111111111111,2812,A,840,100000,20000,abcd", "blocked_mccs"},
      {"4111111111111111,2812,A,840,100000,20000, 5411", "blocked_mccs"},
      {"4111111111111111,2812,A,840,100000,20000,\r\r", "blocked_mccs"},  // CR CR LF
  };
  for (int before = 0; before <= 2; ++before) {
    for (const Case& c : cases) {
      expect_error(file_with(c.line, before),
                   "line " + std::to_string(before + 2) + ": " + c.reason_start);
    }
  }
}

TEST(CardFileTest, AcceptedBoundaries) {
  CardFile f;
  const Status s =
      parse(file_with("4111111111111111,2812,A,840,999999999999,0000000000001,0000"), &f);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(f.cards[2].credit_limit, 999999999999);
  EXPECT_EQ(f.cards[2].cash_daily_limit, 1);
}

TEST(CardFileTest, DuplicatePanIsRefusedMasked) {
  const std::string text = std::string(kHeader) +
                           "\n4111111111111111,2812,A,840,100000,20000,\n"
                           "5555555555554444,2812,A,840,100000,20000,\n"
                           "4111111111111111,2901,B,978,1,1,\n";
  CardFile f;
  const Status s = parse(text, &f);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.message(), "line 4: duplicate pan 411111******1111 (first on line 2)");
  expect_no_pan(s);
  // The same digits with a leading zero are a different PAN.
  ASSERT_TRUE(parse(std::string(kHeader) +
                    "\n4111111111111111,2812,A,840,1,1,\n04111111111111111,2812,A,840,1,1,\n")
                  .is_ok());
  // A short duplicate PAN is masked entirely.
  const Status s2 =
      parse(std::string(kHeader) + "\n1234567,2812,A,840,1,1,\n1234567,2812,A,840,1,1,\n");
  EXPECT_EQ(s2.message(), "line 3: duplicate pan ******* (first on line 2)");
}

TEST(CardFileTest, LoadCardFile) {
  CardFile f;
  const Status missing = load_card_file("/nonexistent/dir/cards.csv", &f);
  EXPECT_EQ(missing.code(), Status::Code::kNotFound);
  const std::string path = ::testing::TempDir() + "triad_rules_cards.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << kHeader << "\r\n4111111111111111,2812,A,840,100000,20000,7995\r\n";
  }
  const Status ok = load_card_file(path, &f);
  ASSERT_TRUE(ok.is_ok()) << ok.to_string();
  ASSERT_EQ(f.cards.size(), 1u);
  EXPECT_EQ(f.cards[0].pan, "4111111111111111");
  {
    std::ofstream out(path, std::ios::binary);
    out << kHeader << "\n4111111111111111,2812,Q,840,100000,20000,\n";
  }
  const Status bad = load_card_file(path, &f);
  EXPECT_EQ(bad.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(bad.message().rfind("line 2: status", 0), 0u) << bad.message();
  std::remove(path.c_str());
  const Status dir = load_card_file(::testing::TempDir(), &f);
  EXPECT_FALSE(dir.is_ok());
}

}  // namespace
}  // namespace triad::rules
