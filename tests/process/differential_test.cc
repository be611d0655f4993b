// Offline differential test of the three replica builds (issue: "proven to
// agree bit for bit"): the same 200,000 sequenced transactions through
// triad-replica-a, -b and -c in --replay mode must give the same response
// code and state digest at every seq. A test-only build with one rule broken
// shows the comparison catches a divergent build and names the seq.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <optional>

#include "process_util.h"
#include "sample/sample.h"
#include "triad/transaction.h"

namespace triad::testing {
namespace {

struct Workload {
  TempDir tmp;
  std::vector<std::string> lines;  // sequenced transactions, seq = index + 1
};

const Workload& workload() {
  static const Workload* w = [] {
    auto* made = new Workload;
    sample::Options options;
    options.seed = 2026;
    options.card_count = 3000;
    options.transaction_count = 200'000;
    write_file(made->tmp.file("cards.csv"), sample::generate_card_file(options));
    std::string text;
    std::uint64_t seq = 0;
    for (const auto& line : sample::generate_traffic(options)) {
      made->lines.push_back(sample::with_seq(line, ++seq));
      text += made->lines.back() + "\n";
    }
    write_file(made->tmp.file("sequenced.jsonl"), text);
    return made;
  }();
  return *w;
}

// "SEQ CODE STATE_DIGEST" per line, from one replica build.
std::vector<std::string> replay(const std::string& variant) {
  const Workload& w = workload();
  const std::string out = w.tmp.file("out-" + variant + ".txt");
  std::string ignored;
  const int rc = run({bin("triad-replica-" + variant), "--replay", w.tmp.file("sequenced.jsonl"),
                      "--cards", w.tmp.file("cards.csv"), "--out", out},
                     &ignored);
  EXPECT_EQ(rc, 0) << variant;
  std::vector<std::string> lines;
  std::stringstream ss(read_file(out));
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  return lines;
}

// The transaction with its PAN masked: test output is a log like any other.
std::string masked(const std::string& line) {
  Transaction tx;
  std::string text = line;
  if (parse_transaction_json(line, &tx).is_ok() && tx.pan && !tx.pan->empty()) {
    const auto at = text.find(*tx.pan);
    if (at != std::string::npos) text.replace(at, tx.pan->size(), mask_pan(*tx.pan));
  }
  return text;
}

struct Mismatch {
  std::uint64_t seq;
  std::string report;
};

// The first seq where the builds' answers differ, with the transaction and
// every build's answer, or nullopt when they agree everywhere.
std::optional<Mismatch> first_difference(const std::vector<std::string>& names,
                                         const std::vector<std::vector<std::string>>& outputs) {
  const auto& lines = workload().lines;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    bool same = true;
    for (const auto& o : outputs) same = same && i < o.size() && o[i] == outputs[0][i];
    if (same) continue;
    std::string report =
        "first difference at seq " + std::to_string(i + 1) + "\n  transaction: " + masked(lines[i]);
    for (std::size_t v = 0; v < outputs.size(); ++v) {
      report += "\n  " + names[v] + ": " +
                (i < outputs[v].size() ? outputs[v][i] : std::string("(no answer)"));
    }
    return Mismatch{i + 1, report};
  }
  return std::nullopt;
}

TEST(Differential, ThreeBuildsAgreeBitForBitOn200000Transactions) {
  const auto a = replay("a");
  const auto b = replay("b");
  const auto c = replay("c");
  ASSERT_EQ(a.size(), workload().lines.size());
  const auto mismatch = first_difference({"a", "b", "c"}, {a, b, c});
  EXPECT_FALSE(mismatch.has_value()) << mismatch->report;

  // Every rule was exercised: every response code of rules.md 4-5 occurs.
  std::map<std::string, int> codes;
  for (const auto& line : a) ++codes[line.substr(line.find(' ') + 1, 2)];
  for (const char* code : {"00", "12", "13", "14", "25", "30", "41", "43", "51", "54", "56", "57",
                           "61", "62", "65", "94"}) {
    EXPECT_GT(codes[code], 0) << "code " << code << " never occurred";
  }
}

TEST(Differential, ABuildWithOneBrokenRuleIsCaughtAtItsFirstWrongAnswer) {
  const auto a = replay("a");
  const auto b = replay("b");
  const auto faulty = replay("faulty");  // rule 9 (blocked MCC, code 57) skipped
  const auto mismatch = first_difference({"a", "b", "faulty"}, {a, b, faulty});
  ASSERT_TRUE(mismatch.has_value()) << "the broken build went unnoticed";
  std::cout << mismatch->report << "\n";
  const std::size_t i = mismatch->seq - 1;
  EXPECT_EQ(a[i].substr(0, a[i].find(' ')), std::to_string(mismatch->seq));
  EXPECT_EQ(a[i].substr(a[i].find(' ') + 1, 2), "57") << "the healthy builds used rule 9 there";
  EXPECT_NE(faulty[i].substr(faulty[i].find(' ') + 1, 2), "57");
  EXPECT_NE(mismatch->report.find("first difference at seq " + std::to_string(mismatch->seq)),
            std::string::npos);
}

}  // namespace
}  // namespace triad::testing
