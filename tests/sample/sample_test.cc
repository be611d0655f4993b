// The sample generator: deterministic, parseable, and — run through the rules
// engine with client time — a realistic mix that shows every response code.
#include "sample/sample.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/response_code.h"
#include "rules/engine.h"
#include "triad/transaction.h"

namespace triad::sample {
namespace {

Options small_options() {
  Options o;
  o.card_count = 60;
  o.transaction_count = 3000;
  return o;
}

bool luhn_valid(const std::string& pan) {
  int sum = 0;
  bool dbl = false;
  for (auto it = pan.rbegin(); it != pan.rend(); ++it) {
    int d = *it - '0';
    if (dbl) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

// Runs `traffic` through a fresh engine on `card_file`; code -> count.
std::map<std::string, int> run_engine(const std::string& card_file,
                                      const std::vector<std::string>& traffic) {
  rules::CardFile cards;
  const Status st = rules::parse_card_file(card_file, &cards);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  rules::Engine engine(cards);
  std::map<std::string, int> counts;
  for (const std::string& line : traffic) {
    Transaction tx;
    const Status ps = parse_transaction_json(line, &tx);
    EXPECT_TRUE(ps.is_ok()) << ps.to_string() << " in " << line;
    EXPECT_TRUE(tx.ts.has_value()) << line;
    ++counts[to_string(engine.apply(tx.ts.value_or(0), tx))];
  }
  return counts;
}

const std::vector<std::string> kEveryCode = {"00", "12", "13", "14", "25", "30", "41", "43",
                                             "51", "54", "56", "57", "61", "62", "65", "94"};

TEST(SampleTest, SameOptionsGiveIdenticalOutput) {
  const Options o = small_options();
  EXPECT_EQ(generate_card_file(o), generate_card_file(o));
  EXPECT_EQ(generate_traffic(o), generate_traffic(o));
}

TEST(SampleTest, DifferentSeedGivesDifferentOutput) {
  Options a = small_options();
  Options b = a;
  b.seed = 2;
  EXPECT_NE(generate_card_file(a), generate_card_file(b));
  EXPECT_NE(generate_traffic(a), generate_traffic(b));
}

TEST(SampleTest, CardFileParsesAndLooksRealistic) {
  const Options o;  // defaults: 1000 cards
  const std::string text = generate_card_file(o);
  ASSERT_EQ(
      text.rfind("pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs\n", 0), 0u);
  ASSERT_EQ(text.back(), '\n');
  rules::CardFile cards;
  const Status st = rules::parse_card_file(text, &cards);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  ASSERT_EQ(cards.cards.size(), o.card_count);

  std::set<std::string> pans;
  std::map<std::size_t, int> lengths;
  std::map<rules::CardStatus, int> statuses;
  std::map<std::uint16_t, int> currencies;
  int blocked = 0;
  int expired = 0;
  for (const rules::CardRecord& c : cards.cards) {
    EXPECT_TRUE(pans.insert(c.pan).second) << c.pan;
    EXPECT_TRUE(luhn_valid(c.pan)) << c.pan;
    EXPECT_TRUE(c.pan[0] >= '3' && c.pan[0] <= '6') << c.pan;
    ++lengths[c.pan.size()];
    ++statuses[c.status];
    ++currencies[c.currency];
    if (!c.blocked_mccs.empty()) ++blocked;
    if (c.expiry_yymm < 2701) ++expired;  // start_ts is 2027-01
    EXPECT_GT(c.credit_limit, 0);
    EXPECT_GE(c.cash_daily_limit, 0);
    EXPECT_LE(c.cash_daily_limit, c.credit_limit);
  }
  EXPECT_GT(lengths[16], 900);
  EXPECT_GT(lengths[15], 0);
  EXPECT_GT(lengths[19], 0);
  EXPECT_GT(statuses[rules::CardStatus::kActive], 900);
  EXPECT_GT(statuses[rules::CardStatus::kLost], 0);
  EXPECT_GT(statuses[rules::CardStatus::kStolen], 0);
  EXPECT_GT(statuses[rules::CardStatus::kBlocked], 0);
  EXPECT_GT(currencies[840], currencies[978]);
  EXPECT_GT(currencies[978], currencies[392]);
  EXPECT_GT(currencies[826], 0);
  EXPECT_GT(currencies[392], 0);
  EXPECT_GT(currencies[48], 0);
  EXPECT_GT(blocked, 0);
  EXPECT_GT(expired, 0);
  EXPECT_LT(expired, 100);
}

TEST(SampleTest, TrafficLinesAreWellFormed) {
  const Options o = small_options();
  const std::vector<std::string> traffic = generate_traffic(o);
  ASSERT_EQ(traffic.size(), o.transaction_count);
  std::set<std::string> ids;
  std::int64_t last_ts = o.start_ts_ms;
  int regular = 0;
  for (const std::string& line : traffic) {
    ASSERT_EQ(line.find('\n'), std::string::npos);
    const nlohmann::json j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.is_object()) << line;
    ASSERT_TRUE(j.contains("id") && j["id"].is_string()) << line;
    const std::string id = j["id"].get<std::string>();
    EXPECT_TRUE(is_valid_transaction_id(id)) << line;
    EXPECT_TRUE(ids.insert(id).second) << "duplicate id " << id;
    ASSERT_TRUE(j.contains("ts") && j["ts"].is_number_integer()) << line;
    const std::int64_t ts = j["ts"].get<std::int64_t>();
    EXPECT_GE(ts, last_ts) << line;
    EXPECT_LE(ts - last_ts, 3000) << line;
    last_ts = ts;
    if (j.value("stan", "").size() == 6 && j.value("terminal", "").size() == 8) ++regular;
  }
  EXPECT_EQ(*ids.begin(), "tx-000001");
  // A few lines are deliberately malformed; the rest carry proper DE11/DE41.
  EXPECT_GT(regular, static_cast<int>(o.transaction_count) * 99 / 100);
}

TEST(SampleTest, DefaultSampleShowsEveryResponseCode) {
  const Options o;  // 1000 cards, 20,000 transactions
  const std::vector<std::string> traffic = generate_traffic(o);
  ASSERT_EQ(traffic.size(), 20000u);
  const std::map<std::string, int> counts = run_engine(generate_card_file(o), traffic);
  std::cout << "response codes of the default sample:";
  for (const auto& [code, n] : counts) std::cout << ' ' << code << '=' << n;
  std::cout << '\n';
  for (const std::string& code : kEveryCode) {
    EXPECT_GT(counts.count(code), 0u) << "code " << code << " never produced";
  }
  const auto most =
      std::max_element(counts.begin(), counts.end(),
                       [](const auto& a, const auto& b) { return a.second < b.second; });
  EXPECT_EQ(most->first, "00");
  EXPECT_GT(counts.at("00"), 20000 * 3 / 4);  // a realistic approval rate
}

TEST(SampleTest, OtherSeedsShowEveryResponseCodeToo) {
  for (std::uint64_t seed : {2u, 3u, 42u}) {
    Options o;
    o.seed = seed;
    o.card_count = 300;
    o.transaction_count = 6000;
    const std::map<std::string, int> counts =
        run_engine(generate_card_file(o), generate_traffic(o));
    for (const std::string& code : kEveryCode) {
      EXPECT_GT(counts.count(code), 0u) << "seed " << seed << ": code " << code;
    }
  }
}

TEST(SampleTest, TinyOptionsStillWork) {
  for (const std::size_t cards : {0u, 1u, 5u, 12u}) {
    Options o;
    o.card_count = cards;
    o.transaction_count = 200;
    rules::CardFile parsed;
    const Status st = rules::parse_card_file(generate_card_file(o), &parsed);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(parsed.cards.size(), cards);
    const std::vector<std::string> traffic = generate_traffic(o);
    EXPECT_EQ(traffic.size(), 200u);
    run_engine(generate_card_file(o), traffic);
  }
  Options none;
  none.transaction_count = 0;
  EXPECT_TRUE(generate_traffic(none).empty());
}

}  // namespace
}  // namespace triad::sample
