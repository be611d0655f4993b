// Option values the `triad` sub-commands must refuse, against the real
// binary: exit status 2 and a one-line message naming the cause, before
// anything starts. No cluster is started (when one does, the refusal was
// missed: the test stops it and fails), so these run in the fast suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "process_util.h"

namespace triad::testing {
namespace {

// `triad up` on a valid card file and a fresh --dir, with `args` after them.
TriadOutcome run_up(const TempDir& tmp, const std::vector<std::string>& args) {
  write_file(tmp.file("cards.csv"), kOneCardFile);
  std::vector<std::string> all = {"up", "--cards", tmp.file("cards.csv"), "--dir",
                                  tmp.file("data")};
  all.insert(all.end(), args.begin(), args.end());
  return run_triad(tmp, all);
}

// Refused with exit 2, a one-line message containing `needle`, nothing made
// in --dir and nothing left running.
void expect_up_refused(const std::vector<std::string>& args, const std::string& needle) {
  TempDir tmp;
  const TriadOutcome o = run_up(tmp, args);
  EXPECT_FALSE(o.started) << "it started";
  EXPECT_EQ(o.status, 2) << o.err;
  EXPECT_NE(o.err.find(needle), std::string::npos) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << "one line: " << o.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.file("data"))) << "refused before anything starts";
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

// Accepted as far as the arguments go: the card file named is missing, and
// that is what stops it.
void expect_up_arguments_accepted(const std::vector<std::string>& args) {
  TempDir tmp;
  std::vector<std::string> all = {"up", "--cards", tmp.file("missing.csv"), "--dir",
                                  tmp.file("data")};
  all.insert(all.end(), args.begin(), args.end());
  const TriadOutcome o = run_triad(tmp, all);
  EXPECT_EQ(o.status, 2) << o.err;
  EXPECT_NE(o.err.find("missing.csv"), std::string::npos) << o.err;
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

TEST(UpListen, ATcpPortOutside0To65535IsRefusedNamingTheEndpoint) {
  for (const char* endpoint :
       {"tcp://127.0.0.1:70000", "tcp://127.0.0.1:99999", "tcp://127.0.0.1:-5",
        "tcp://127.0.0.1:65536", "tcp://127.0.0.1:", "tcp://127.0.0.1", "tcp://127.0.0.1:0x10"}) {
    SCOPED_TRACE(endpoint);
    expect_up_refused({"--listen", endpoint}, std::string("--listen ") + endpoint + ":");
  }
}

TEST(UpListen, PortsFrom0To65535AndStarAreAccepted) {
  for (const char* endpoint :
       {"tcp://127.0.0.1:0", "tcp://127.0.0.1:*", "tcp://127.0.0.1:65535", "tcp://[::1]:7700"}) {
    SCOPED_TRACE(endpoint);
    expect_up_arguments_accepted({"--listen", endpoint});
  }
}

// Refused as a bad argument: exit 2, the message's first line names
// `option`, and, for `triad sample`, nothing written. Without the ranges
// some of these ran for good (`sample --cards -1` grew without limit): the
// time limit ends them.
void expect_option_refused(const std::vector<std::string>& args, const std::string& option) {
  TempDir tmp;
  std::vector<std::string> all = args;
  if (all[0] == "sample") {
    all.insert(all.end(),
               {"--cards-out", tmp.file("cards.csv"), "--traffic-out", tmp.file("traffic.jsonl")});
  }
  const TriadOutcome o = run_triad(tmp, all, 5'000);
  EXPECT_FALSE(o.started) << "it started";
  EXPECT_EQ(o.status, 2) << o.err;
  EXPECT_EQ(o.err.rfind(option + ": ", 0), 0u) << o.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.file("cards.csv")));
  EXPECT_FALSE(std::filesystem::exists(tmp.file("data")));
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

TEST(NumericOptions, NegativeHugeAndOutOfRangeValuesAreRefused) {
  const std::string past_u64 = "18446744073709551616";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"sample", "--cards", "-1"}, "--cards"},
      {{"sample", "--cards", past_u64}, "--cards"},
      {{"sample", "--cards", "100001"}, "--cards"},
      {{"sample", "--cards", "010"}, "--cards"},  // CLI11 alone reads 8
      {{"sample", "--transactions", "-1"}, "--transactions"},
      {{"sample", "--transactions", "1000001"}, "--transactions"},
      {{"sample", "--seed", "-1"}, "--seed"},
      {{"sample", "--seed", past_u64}, "--seed"},
      {{"submit", "--endpoint", "tcp://127.0.0.1:9", "--timeout-ms", "-1", "/dev/null"},
       "--timeout-ms"},
      {{"submit", "--endpoint", "tcp://127.0.0.1:9", "--timeout-ms", "0", "/dev/null"},
       "--timeout-ms"},
      {{"submit", "--endpoint", "tcp://127.0.0.1:9", "--window", "0", "/dev/null"}, "--window"},
      // The audit store is missing too: the option must be what is refused.
      {{"audit", "--dir", "/nonexistent", "--card", "-", "--limit", "18446744073709551615"},
       "--limit"},
      {{"audit", "--dir", "/nonexistent", "--card", "-", "--limit", "0"}, "--limit"},
      // --sweep-max below --sweep-from is refused after parsing, so a
      // value let through starts no benchmark.
      {{"bench", "--sweep", "--sweep-from", "10", "--sweep-max", "1", "--duration", "nan"},
       "--duration"},
      {{"bench", "--sweep", "--sweep-from", "10", "--sweep-max", "1", "--rounds", "-1"},
       "--rounds"},
      {{"bench", "--sweep", "--sweep-from", "10", "--sweep-max", "1", "--sweep-factor", "nan"},
       "--sweep-factor"},
  };
  for (const auto& [args, option] : cases) {
    SCOPED_TRACE(::testing::PrintToString(args));
    expect_option_refused(args, option);
  }
}

TEST(NumericOptions, UpRefusesThemBeforeAnythingStarts) {
  for (const auto& [option, value] :
       std::vector<std::pair<std::string, std::string>>{{"--seed", "-1"},
                                                        {"--seed", "18446744073709551616"},
                                                        {"--deadline-ms", "-1"},
                                                        {"--max-in-flight", "0"},
                                                        {"--checkpoint-every", "-1"},
                                                        {"--transient-window-ms", "-1"},
                                                        {"--audit-retention-days", "-1"},
                                                        {"--metrics-port", "65536"}}) {
    SCOPED_TRACE(option + " " + value);
    TempDir tmp;
    const TriadOutcome o = run_up(tmp, {"--listen", "tcp://127.0.0.1:*", option, value});
    EXPECT_FALSE(o.started) << "it started";
    EXPECT_EQ(o.status, 2) << o.err;
    EXPECT_EQ(o.err.rfind(option + ": Value " + value, 0), 0u) << o.err;
    EXPECT_FALSE(std::filesystem::exists(tmp.file("data")));
    EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
  }
}

TEST(NumericOptions, TheirBoundsAndDefaultsAreAccepted) {
  expect_up_arguments_accepted({"--seed", "18446744073709551615", "--deadline-ms", "600000",
                                "--metrics-port", "0", "--audit-retention-days", "0"});
  expect_up_arguments_accepted({"--seed", "0", "--max-in-flight", "10000000"});
  TempDir tmp;
  const TriadOutcome o = run_triad(
      tmp, {"sample", "--cards", "100000", "--transactions", "0", "--seed", "18446744073709551615",
            "--cards-out", tmp.file("cards.csv"), "--traffic-out", tmp.file("traffic.jsonl")});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(lines_of(read_file(tmp.file("cards.csv"))).size(), 100'001u);
}

TEST(UpInject, TwoFaultsForOneReplicaAreRefusedNamingIt) {
  expect_up_refused({"--inject", "a=crash:5", "--inject", "a=flip:0.1"}, "replica a");
  expect_up_refused({"--inject", "b=flip:0.1", "--inject", "c=crash:5", "--inject", "c=crash:5"},
                    "replica c");
}

TEST(UpInject, OneFaultForEachReplicaIsAccepted) {
  expect_up_arguments_accepted(
      {"--inject", "a=crash:5", "--inject", "b=flip:0.1", "--inject", "c=delay:10"});
}

}  // namespace
}  // namespace triad::testing
