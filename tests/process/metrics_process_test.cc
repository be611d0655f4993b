// `triad up --metrics-port`: the real cluster, scraped over HTTP as
// Prometheus would.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <thread>

#include "cluster.h"
#include "metrics/scrape.h"
#include "process_util.h"
#include "sample/sample.h"
#include "sample_files.h"

namespace triad::testing {
namespace {

// The metrics URL `triad up` logged at start ("metrics at http://...").
std::string logged_metrics_url(const std::string& log) {
  std::smatch m;
  const std::regex re("metrics at (http://[0-9.]+:[0-9]+/metrics)");
  return std::regex_search(log, m, re) ? m[1].str() : "";
}

// The sum of every sample of `name` (all its label sets).
double sum_of(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  double sum = 0;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) == 0 || line.rfind(name + " ", 0) == 0) {
      sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return sum;
}

// Scrapes until `done` holds for the body (the front end records a decision
// just after sending it, so a scrape can come a moment early), at most 10 s.
template <typename Pred>
std::string scrape_until(std::uint16_t port, Pred done) {
  std::string body;
  for (int i = 0; i < 200; ++i) {
    body = body_of(http_get(port, "/metrics"));
    if (done(body)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return body;
}

struct Traffic {
  std::size_t count;
  std::string cards_path;
  std::string traffic_path;
};

Traffic write_traffic(const TempDir& tmp, std::size_t count) {
  sample::Options options;
  options.card_count = 100;
  options.transaction_count = count;
  write_sample_files(tmp, options);
  return {count, tmp.file("cards.csv"), tmp.file("traffic.jsonl")};
}

TEST(MetricsProcess, EveryDecisionIsCountedAndTheReplicasAreHealthy) {
  TempDir tmp;
  const Traffic t = write_traffic(tmp, 2000);
  // Port 0: the system picks a free one, and the log says which.
  Cluster cluster(tmp, t.cards_path, {"--deadline-ms", "60000", "--metrics-port", "0"});
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  const std::string url = logged_metrics_url(read_file(tmp.file("up.stderr")));
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << read_file(tmp.file("up.stderr"));
  const std::uint16_t port = port_of(url);

  std::string out;
  ASSERT_EQ(submit_file(cluster, t.traffic_path, &out), 0);
  const double n = static_cast<double>(t.count);
  // Decided at two verdicts; in flight until the third (the slowest build's)
  // came too.
  const std::string body = scrape_until(port, [&](const std::string& b) {
    return sum_of(b, "triad_decisions_total") >= n && value_of(b, "triad_in_flight") == "0";
  });
  EXPECT_EQ(sum_of(body, "triad_decisions_total"), n) << body;
  EXPECT_EQ(value_of(body, "triad_sequenced_total"), std::to_string(t.count)) << body;
  EXPECT_EQ(value_of(body, "triad_decision_latency_seconds_count"), std::to_string(t.count));
  EXPECT_EQ(sum_of(body, "triad_divergences_total"), 0) << body;
  EXPECT_EQ(value_of(body, "triad_in_flight"), "0") << body;
  EXPECT_EQ(value_of(body, "triad_mode{mode=\"tmr\"}"), "1") << body;
  // --fsync batch (the default): the answers waited for the journal's syncs.
  EXPECT_GE(sum_of(body, "triad_journal_syncs_total"), 1) << body;
  for (const char r : {'a', 'b', 'c'}) {
    const std::string replica = std::string("replica=\"") + r + "\"";
    EXPECT_EQ(value_of(body, "triad_replica_state{" + replica + ",state=\"healthy\"}"), "1");
    EXPECT_EQ(value_of(body, "triad_replica_state{" + replica + ",state=\"down\"}"), "0");
  }
  EXPECT_EQ(cluster.stop(), 0);
  EXPECT_EQ(http_get(port, "/metrics"), "") << "the server stops with the front end";
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

TEST(MetricsProcess, ACrashedReplicaShowsAsAFailureAndACompletedRepair) {
  TempDir tmp;
  const Traffic t = write_traffic(tmp, 1000);
  // b's exit is seen when its process ends, not at a deadline; a long one
  // keeps a and c from being missing while a slow machine works through the
  // 1,000 sent at once.
  Cluster cluster(tmp, t.cards_path,
                  {"--metrics-port", "0", "--inject", "b=crash:300", "--deadline-ms", "10000"});
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  const std::uint16_t port = port_of(logged_metrics_url(read_file(tmp.file("up.stderr"))));
  std::string out;
  ASSERT_EQ(submit_file(cluster, t.traffic_path, &out), 0);
  // b is repaired on its own: wait (bounded) until it rejoined.
  const std::string body = scrape_until(port, [](const std::string& b) {
    return value_of(b, "triad_repairs_total{replica=\"b\"}") == "1" &&
           value_of(b, "triad_mode{mode=\"tmr\"}") == "1";
  });
  EXPECT_EQ(value_of(body, "triad_replica_failures_total{replica=\"b\"}"), "1") << body;
  EXPECT_EQ(value_of(body, "triad_repairs_total{replica=\"b\"}"), "1") << body;
  EXPECT_EQ(value_of(body, "triad_replica_failures_total{replica=\"a\"}"), "0") << body;
  EXPECT_EQ(value_of(body, "triad_replica_state{replica=\"b\",state=\"healthy\"}"), "1") << body;
  EXPECT_EQ(sum_of(body, "triad_decisions_total"), static_cast<double>(t.count)) << body;
  EXPECT_EQ(cluster.stop(), 0);
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

TEST(MetricsProcess, AMetricsPortInUseIsRefusedAndNothingIsLeftRunning) {
  // Hold a port so `triad up` cannot have it.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));

  TempDir tmp;
  const Traffic t = write_traffic(tmp, 1);
  Child up({bin("triad"), "up", "--cards", t.cards_path, "--dir", tmp.file("data"), "--listen",
            "tcp://127.0.0.1:*", "--metrics-port", port},
           "", tmp.file("err"));
  EXPECT_EQ(up.read_all(20'000), "") << "no ready line";
  EXPECT_EQ(up.wait(20'000), 2);
  ::close(fd);
  const std::string err = read_file(tmp.file("err"));
  EXPECT_NE(err.find("cannot serve metrics on 127.0.0.1:" + port), std::string::npos) << err;
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

}  // namespace
}  // namespace triad::testing
