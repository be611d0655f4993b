// `triad bench` end to end: a short run against a real cluster.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "process/process_util.h"

namespace triad::testing {
namespace {

TEST(BenchProcessTest, ShortRunAgainstRealClusterPrintsJson) {
  TempDir tmp;
  const std::string dir = tmp.file("bench");
  std::string out;
  const auto started = std::chrono::steady_clock::now();
  const int status = run({bin("triad"), "bench", "--rate", "200", "--duration", "2", "--warmup",
                          "1", "--json", "--dir", dir},
                         &out, "", 50'000);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(status, 0) << out;
  EXPECT_LT(elapsed, std::chrono::seconds(50));
  const auto j = nlohmann::json::parse(out);
  ASSERT_TRUE(j.contains("configurations"));
  ASSERT_EQ(j["configurations"].size(), 1u);
  const auto& c = j["configurations"][0];
  EXPECT_EQ(c["configuration"], "tmr");
  EXPECT_EQ(c["offered_rate"].get<double>(), 200.0);
  EXPECT_GT(c["achieved_rate"].get<double>(), 0.0);
  EXPECT_EQ(c["measured"].get<std::uint64_t>(), 400u);
  EXPECT_EQ(c["answered"].get<std::uint64_t>(), 400u);
  EXPECT_EQ(c["unanswered"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(c["sent"].get<std::uint64_t>(), 600u);
  EXPECT_EQ(c["frames_sent"].get<std::uint64_t>(), 600u);  // no batch window: one each
  for (const char* p : {"p50", "p90", "p99", "p99.9", "p99.99", "max"}) {
    ASSERT_TRUE(c["latency_us"].contains(p)) << p;
    EXPECT_GT(c["latency_us"][p].get<double>(), 0.0) << p;
  }
  EXPECT_LE(c["latency_us"]["p50"].get<double>(), c["latency_us"]["p99"].get<double>());
  EXPECT_LE(c["latency_us"]["p99"].get<double>(), c["latency_us"]["max"].get<double>());
  EXPECT_TRUE(c.contains("codes"));
  EXPECT_TRUE(c.contains("fail_safe"));
  EXPECT_TRUE(c.contains("divergences"));
  EXPECT_EQ(j["up_args"], nlohmann::json::array());
  // `triad up` kept its audit store (UpArgsReachEveryTriadUp turns it off).
  EXPECT_TRUE(std::filesystem::exists(dir + "/tmr/audit.db"));
  // Everything it started has stopped.
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

// --up-arg goes to every `triad up` of the run; one it refuses stops the
// benchmark with its message.
TEST(BenchProcessTest, UpArgsReachEveryTriadUp) {
  TempDir tmp;
  const std::string dir = tmp.file("bench");
  std::string out;
  int status = run({bin("triad"), "bench", "--rate", "200", "--duration", "0.5", "--warmup", "0.2",
                    "--up-arg=--no-audit", "--up-arg=--checkpoint-every", "--up-arg=4000", "--json",
                    "--dir", dir},
                   &out, "", 50'000);
  ASSERT_EQ(status, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["up_args"], nlohmann::json::array({"--no-audit", "--checkpoint-every", "4000"}));
  EXPECT_EQ(j["configurations"][0]["answered"].get<std::uint64_t>(), 100u);
  EXPECT_TRUE(std::filesystem::exists(dir + "/tmr/journal"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/tmr/audit.db"));

  // Refused: the message is `triad up`'s, not the log of the run before
  // in the same --dir.
  const std::string err_path = tmp.file("refused.stderr");
  status = run_with_stderr({bin("triad"), "bench", "--rate", "200", "--duration", "0.5",
                            "--up-arg=--no-such-flag", "--dir", dir},
                           err_path, 50'000);
  EXPECT_EQ(status, 1);
  std::ifstream in(err_path);
  std::stringstream err;
  err << in.rdbuf();
  EXPECT_NE(err.str().find("tmr did not start"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("--no-such-flag"), std::string::npos) << err.str();
  EXPECT_EQ(err.str().find("connected at seq"), std::string::npos) << err.str();
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

// With a batch window the requests due go out together, in every
// configuration (the floor's echo front end answers a batch in one frame too),
// and each is still answered on its own.
TEST(BenchProcessTest, ABatchWindowSendsRequestsTogetherAndEachIsAnswered) {
  TempDir tmp;
  std::string out;
  const int status =
      run({bin("triad"), "bench", "--compare", "--rate", "1000", "--duration", "1", "--warmup",
           "0.5", "--batch-window-us", "20000", "--json", "--dir", tmp.file("bench")},
          &out, "", 110'000);
  ASSERT_EQ(status, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["batch_window_us"], 20000);
  ASSERT_EQ(j["configurations"].size(), 6u);
  for (const auto& c : j["configurations"]) {
    SCOPED_TRACE(c["configuration"].get<std::string>());
    EXPECT_EQ(c["sent"].get<std::uint64_t>(), 1500u);
    // 20 ms at 1,000/s: about 20 requests a frame.
    EXPECT_LT(c["frames_sent"].get<std::uint64_t>(), 1500u / 5);
    EXPECT_EQ(c["answered"].get<std::uint64_t>(), 1000u);
    EXPECT_EQ(c["unanswered"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(c["errors"].get<std::uint64_t>(), 0u);
    std::uint64_t decided = 0;
    for (const auto& [code, n] : c["codes"].items()) decided += n.get<std::uint64_t>();
    EXPECT_EQ(decided, 1000u);
  }
  // The durable floor wrote every request it was sent (each frame as it
  // came; a transaction's encoding is over 100 bytes) before answering.
  std::error_code ec;
  EXPECT_GT(std::filesystem::file_size(tmp.file("bench") + "/floor-sync/journal", ec), 1500u * 100u)
      << ec.message();
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

// Two rounds of one configuration: one measurement holding both runs.
TEST(BenchProcessTest, RoundsMergeIntoOneMeasurementPerConfiguration) {
  TempDir tmp;
  std::string out;
  const int status = run({bin("triad"), "bench", "--rate", "200", "--duration", "1", "--warmup",
                          "0.5", "--rounds", "2", "--json", "--dir", tmp.file("bench")},
                         &out, "", 50'000);
  ASSERT_EQ(status, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["rounds"], 2);
  ASSERT_EQ(j["configurations"].size(), 1u);
  const auto& c = j["configurations"][0];
  EXPECT_EQ(c["sent"].get<std::uint64_t>(), 600u);
  EXPECT_EQ(c["measured"].get<std::uint64_t>(), 400u);
  EXPECT_EQ(c["answered"].get<std::uint64_t>(), 400u);
  std::uint64_t decided = 0;
  for (const auto& [code, n] : c["codes"].items()) decided += n.get<std::uint64_t>();
  EXPECT_EQ(decided, 400u);
  // Two runs of 1 s at 200/s: the achieved rate is over both windows, each
  // from its first measured send (199 gaps of 5 ms) to its last reply (at
  // most the slowest latency later), whatever this machine's speed (1%
  // for the histogram's resolution).
  const double max_s = c["latency_us"]["max"].get<double>() / 1e6;
  EXPECT_LE(c["achieved_rate"].get<double>(), 400 / (2 * 0.995) * 1.01) << c.dump();
  EXPECT_GE(c["achieved_rate"].get<double>(), 400 / (2 * (0.995 + max_s)) / 1.01) << c.dump();
  // Each run's own percentiles are kept; the merged ones lie between them.
  ASSERT_EQ(c["rounds"].size(), 2u);
  for (const char* p : {"p50", "p99"}) {
    const double first = c["rounds"][0][p].get<double>();
    const double second = c["rounds"][1][p].get<double>();
    const double merged = c["latency_us"][p].get<double>();
    EXPECT_GT(first, 0) << p;
    EXPECT_GE(merged, std::min(first, second)) << p;
    EXPECT_LE(merged, std::max(first, second)) << p;
  }
  EXPECT_EQ(c["rounds"][0]["round"], 1);
  EXPECT_EQ(c["rounds"][1]["round"], 2);
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

TEST(BenchProcessTest, SweepFindsKneesAndDrawsSvg) {
  TempDir tmp;
  const std::string dir = tmp.file("bench");
  const std::string svg = tmp.file("bench.svg");
  std::string out;
  // Two low rates, given out of order.
  int status = run({bin("triad"), "bench", "--sweep", "--rate", "200,100", "--duration", "2",
                    "--warmup", "0.5", "--json", "--dir", dir, "--svg", svg},
                   &out, "", 50'000);
  ASSERT_EQ(status, 0) << out;
  auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j["rates"], nlohmann::json::array({100.0, 200.0}));  // sorted, rising
  ASSERT_GE(j["configurations"].size(), 1u);
  // A loaded machine may not hold even these rates; whatever happened, the
  // sweep stops at the first run that did not hold, and the knee is the run
  // before it.
  std::optional<double> knee;
  std::optional<double> stopped;
  for (const auto& c : j["configurations"]) {
    ASSERT_FALSE(stopped.has_value()) << "a run after the configuration saturated";
    EXPECT_GT(c["decision_rate"].get<double>(), 0.0);
    EXPECT_EQ(c["held"].get<bool>(), c["saturation"] == "") << c.dump();
    if (c["held"].get<bool>()) {
      knee = c["offered_rate"].get<double>();
    } else {
      stopped = c["offered_rate"].get<double>();
    }
  }
  ASSERT_EQ(j["sweep"]["knees"].size(), 1u);
  const auto& k = j["sweep"]["knees"][0];
  EXPECT_EQ(k["configuration"], "tmr");
  EXPECT_EQ(k["knee_rate"].is_null(), !knee.has_value());
  if (knee) {
    EXPECT_EQ(k["knee_rate"].get<double>(), *knee);
  }
  EXPECT_EQ(k["saturated_at_rate"].is_null(), !stopped.has_value());
  if (stopped) {
    EXPECT_EQ(k["saturated_at_rate"].get<double>(), *stopped);
  }
  std::ifstream in(svg);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str().rfind("<?xml", 0), 0u);
  EXPECT_NE(text.str().find("Latency against throughput"), std::string::npos);
  EXPECT_NE(text.str().find("Percentile spectrum at 100 requests/s"), std::string::npos);
  EXPECT_NE(text.str().find("</svg>"), std::string::npos);

  // Nothing holds a 1 µs p99: every configuration stops at its first rate.
  status = run({bin("triad"), "bench", "--compare", "--sweep", "--rate", "100,200", "--duration",
                "0.5", "--warmup", "0.2", "--sweep-p99-ms", "0.001", "--json", "--dir", dir},
               &out, "", 50'000);
  ASSERT_EQ(status, 0) << out;
  j = nlohmann::json::parse(out);
  // floor, floor-sync, simplex, tmr, tmr-nosync, tmr-delay at 100/s only
  ASSERT_EQ(j["configurations"].size(), 6u);
  for (const auto& c : j["configurations"]) {
    EXPECT_EQ(c["offered_rate"].get<double>(), 100.0);
    EXPECT_FALSE(c["held"].get<bool>());
  }
  ASSERT_EQ(j["sweep"]["knees"].size(), 6u);
  for (const auto& each : j["sweep"]["knees"]) {
    EXPECT_TRUE(each["knee_rate"].is_null()) << each.dump();
    EXPECT_EQ(each["saturated_at_rate"].get<double>(), 100.0);
  }
  ASSERT_EQ(j["ratios"].size(), 1u);
  EXPECT_TRUE(j["ratios"][0].contains("tmr_over_floor_p99"));
  EXPECT_TRUE(j["ratios"][0].contains("tmr_over_floor_sync_p99"));
  EXPECT_TRUE(j["ratios"][0].contains("tmr_delay_over_tmr_p99"));
  EXPECT_TRUE(j["ratios"][0].contains("tmr_over_simplex_p99"));
  EXPECT_TRUE(j["ratios"][0].contains("tmr_nosync_over_floor_p99"));
  // One round: its ratio is the merged one.
  for (const char* key : {"tmr_over_floor_p50", "tmr_delay_over_tmr_p99"}) {
    const auto& rounds = j["ratios"][0][std::string(key) + "_rounds"];
    ASSERT_EQ(rounds.size(), 1u) << key;
    const double merged = j["ratios"][0][key].get<double>();
    EXPECT_GT(merged, 0) << key;
    EXPECT_NEAR(rounds[0].get<double>(), merged, 1e-9 * merged) << key;
  }
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

TEST(BenchProcessTest, SweepOptionsNeedSweep) {
  std::string out;
  EXPECT_EQ(run({bin("triad"), "bench", "--sweep-max", "1000"}, &out), 2);
  EXPECT_EQ(run({bin("triad"), "bench", "--sweep", "--rate", "100", "--sweep-from", "50"}, &out),
            2);
}

TEST(BenchProcessTest, BadRateIsRefused) {
  std::string out;
  EXPECT_EQ(run({bin("triad"), "bench", "--rate", "0"}, &out), 2);
}

}  // namespace
}  // namespace triad::testing
