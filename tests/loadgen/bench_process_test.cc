// `triad bench` end to end: a short run against a real cluster.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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
  for (const char* p : {"p50", "p90", "p99", "p99.9", "p99.99", "max"}) {
    ASSERT_TRUE(c["latency_us"].contains(p)) << p;
    EXPECT_GT(c["latency_us"][p].get<double>(), 0.0) << p;
  }
  EXPECT_LE(c["latency_us"]["p50"].get<double>(), c["latency_us"]["p99"].get<double>());
  EXPECT_LE(c["latency_us"]["p99"].get<double>(), c["latency_us"]["max"].get<double>());
  EXPECT_TRUE(c.contains("codes"));
  EXPECT_TRUE(c.contains("fail_safe"));
  EXPECT_TRUE(c.contains("divergences"));
  // Everything it started has stopped.
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

TEST(BenchProcessTest, BadRateIsRefused) {
  std::string out;
  EXPECT_EQ(run({bin("triad"), "bench", "--rate", "0"}, &out), 2);
}

}  // namespace
}  // namespace triad::testing
