// Tests of the front end's metrics: events and levels in, the exact text a
// scrape gets out; and the HTTP server, on loopback.
#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "metrics/scrape.h"

namespace triad::metrics {
namespace {

using repair::Mode;
using repair::ReplicaState;
using triad::testing::body_of;
using triad::testing::http_get;
using triad::testing::port_of;
using triad::testing::value_of;

TEST(Metrics, EverySeriesIsThereAtZeroBeforeAnything) {
  const Metrics m;
  const std::string text = m.render();
  EXPECT_EQ(value_of(text, "triad_sequenced_total"), "0");
  EXPECT_EQ(value_of(text, "triad_client_errors_total"), "0");
  EXPECT_EQ(value_of(text, "triad_overloaded_total"), "0");
  EXPECT_EQ(value_of(text, "triad_in_flight"), "0");
  EXPECT_EQ(value_of(text, "triad_journal_entries_read_back_total"), "0");
  EXPECT_EQ(value_of(text, "triad_intake_cap_per_second"), "0");
  EXPECT_EQ(value_of(text, "triad_decision_latency_seconds_count"), "0");
  EXPECT_EQ(value_of(text, "triad_replica_state{replica=\"b\",state=\"healthy\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_replica_state{replica=\"b\",state=\"down\"}"), "0");
  EXPECT_EQ(value_of(text, "triad_mode{mode=\"tmr\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_mode{mode=\"duplex\"}"), "0");
  EXPECT_EQ(value_of(text, "triad_repairs_total{replica=\"c\"}"), "0");
  EXPECT_EQ(value_of(text, "triad_replica_failures_total{replica=\"a\"}"), "0");
  EXPECT_EQ(value_of(text, "triad_divergences_total{kind=\"missing\",replica=\"a\"}"), "0");
  EXPECT_EQ(value_of(text, "triad_divergences_total{kind=\"checkpoint_mismatch\",replica=\"c\"}"),
            "0");
  // Response codes are many and come from the rules: a code's series
  // appears with its first decision.
  EXPECT_EQ(text.find("triad_decisions_total"), std::string::npos);
  EXPECT_EQ(m.url(), "") << "not serving until asked";
}

TEST(Metrics, DecisionsByCodeAndOutcomeWithLatencyInSeconds) {
  Metrics m;
  m.count_decision("00", false, 150);         // 150 us
  m.count_decision("00", false, 2'000);       // 2 ms
  m.count_decision("51", false, 400);         // 400 us
  m.count_decision("96", true, 1'000'000);    // the deadline: 1 s
  m.count_decision("00", false, 20'000'000);  // beyond the last bucket
  const std::string text = m.render();
  EXPECT_EQ(value_of(text, "triad_decisions_total{code=\"00\",outcome=\"agreed\"}"), "3");
  EXPECT_EQ(value_of(text, "triad_decisions_total{code=\"51\",outcome=\"agreed\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_decisions_total{code=\"96\",outcome=\"fail_safe\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_decisions_total{code=\"96\",outcome=\"agreed\"}"), "absent");
  EXPECT_EQ(value_of(text, "triad_decision_latency_seconds_count"), "5");
  EXPECT_EQ(value_of(text, "triad_decision_latency_seconds_sum"), "21.00255");
  // Cumulative buckets, 1-2.5-5 per decade from 100 us to 10 s.
  const auto bucket = [&](const std::string& le) {
    return value_of(text, "triad_decision_latency_seconds_bucket{le=\"" + le + "\"}");
  };
  EXPECT_EQ(bucket("0.0001"), "0");
  EXPECT_EQ(bucket("0.00025"), "1");
  EXPECT_EQ(bucket("0.0005"), "2");
  EXPECT_EQ(bucket("0.0025"), "3");
  EXPECT_EQ(bucket("1"), "4") << "le is inclusive: the deadline falls in the 1 s bucket";
  EXPECT_EQ(bucket("10"), "4");
  EXPECT_EQ(bucket("+Inf"), "5");
}

TEST(Metrics, DivergencesByReplicaAndKind) {
  Metrics m;
  m.count_divergence(1, "wrong_verdict");
  m.count_divergence(1, "wrong_verdict");
  m.count_divergence(1, "missing");
  m.count_divergence(2, "bad_signature");
  const std::string text = m.render();
  EXPECT_EQ(value_of(text, "triad_divergences_total{kind=\"wrong_verdict\",replica=\"b\"}"), "2");
  EXPECT_EQ(value_of(text, "triad_divergences_total{kind=\"missing\",replica=\"b\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_divergences_total{kind=\"bad_signature\",replica=\"c\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_divergences_total{kind=\"wrong_verdict\",replica=\"a\"}"), "0");
  m.count_divergence(0, "a_kind_added_later");
  EXPECT_EQ(
      value_of(m.render(), "triad_divergences_total{kind=\"a_kind_added_later\",replica=\"a\"}"),
      "1");
}

TEST(Metrics, TransitionsCountFailuresAndCompletedRepairs) {
  Metrics m;
  // One full repair cycle of b, and a failed attempt (down -> down) on the way.
  m.count_transition(1, "healthy", "quarantined");
  m.count_transition(1, "quarantined", "down");
  m.count_transition(1, "down", "down");
  m.count_transition(1, "down", "repairing");
  m.count_transition(1, "repairing", "healthy");
  // c's process exited: healthy -> down directly.
  m.count_transition(2, "healthy", "down");
  const std::string text = m.render();
  EXPECT_EQ(value_of(text, "triad_replica_failures_total{replica=\"b\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_repairs_total{replica=\"b\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_replica_failures_total{replica=\"c\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_repairs_total{replica=\"c\"}"), "0");
  EXPECT_EQ(value_of(text, "triad_replica_failures_total{replica=\"a\"}"), "0");
}

TEST(Metrics, LevelsSetGaugesAndAdvanceTotalsFromProcessStart) {
  Metrics m;
  Levels l;
  l.in_flight = 7;
  l.replica_states = {ReplicaState::kHealthy, ReplicaState::kRepairing, ReplicaState::kHealthy};
  l.mode = Mode::kDuplex;
  l.sequenced = 100;
  l.client_errors = 2;
  l.overloaded = 1;
  l.intake_cap_per_second = 1143;
  l.entries_read_back = 1200;
  l.journal_syncs = 40;
  l.journal_sync_us = 2'500'000;
  l.journal_slow_syncs = 3;
  l.journal_longest_sync_us = 250'000;
  m.set_levels(l);
  std::string text = m.render();
  EXPECT_EQ(value_of(text, "triad_journal_entries_read_back_total"), "1200");
  EXPECT_EQ(value_of(text, "triad_journal_syncs_total"), "40");
  EXPECT_EQ(value_of(text, "triad_journal_sync_seconds_total"), "2.5");
  EXPECT_EQ(value_of(text, "triad_journal_slow_syncs_total"), "3");
  EXPECT_EQ(value_of(text, "triad_journal_sync_longest_seconds"), "0.25");
  EXPECT_EQ(value_of(text, "triad_in_flight"), "7");
  EXPECT_EQ(value_of(text, "triad_replica_state{replica=\"b\",state=\"repairing\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_replica_state{replica=\"b\",state=\"healthy\"}"), "0");
  EXPECT_EQ(value_of(text, "triad_replica_state{replica=\"a\",state=\"healthy\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_mode{mode=\"duplex\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_mode{mode=\"tmr\"}"), "0");
  EXPECT_EQ(value_of(text, "triad_sequenced_total"), "100");
  EXPECT_EQ(value_of(text, "triad_overloaded_total"), "1");
  EXPECT_EQ(value_of(text, "triad_intake_cap_per_second"), "1143");

  // Levels are set again every loop: totals follow Core's, not add them up,
  // and rendering (a scrape) resets nothing.
  l.in_flight = 0;
  l.replica_states[1] = ReplicaState::kHealthy;
  l.mode = Mode::kTmr;
  l.sequenced = 150;
  l.intake_cap_per_second = 0;  // the throttle lifted
  m.set_levels(l);
  m.set_levels(l);
  text = m.render();
  EXPECT_EQ(m.render(), text);
  EXPECT_EQ(value_of(text, "triad_in_flight"), "0");
  EXPECT_EQ(value_of(text, "triad_replica_state{replica=\"b\",state=\"healthy\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_replica_state{replica=\"b\",state=\"repairing\"}"), "0");
  EXPECT_EQ(value_of(text, "triad_mode{mode=\"tmr\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_sequenced_total"), "150");
  EXPECT_EQ(value_of(text, "triad_client_errors_total"), "2");
  EXPECT_EQ(value_of(text, "triad_overloaded_total"), "1");
  EXPECT_EQ(value_of(text, "triad_intake_cap_per_second"), "0");
  EXPECT_EQ(value_of(text, "triad_journal_entries_read_back_total"), "1200");
}

TEST(Metrics, RefusedConnectionsBySocket) {
  Metrics m;
  std::string text = m.render();
  EXPECT_EQ(value_of(text, "triad_refused_connections_total{socket=\"replica\"}"), "0");
  Levels l;
  l.refused_connections = {3, 1, 0};
  m.set_levels(l);
  m.set_levels(l);
  text = m.render();
  EXPECT_EQ(value_of(text, "triad_refused_connections_total{socket=\"client\"}"), "3");
  EXPECT_EQ(value_of(text, "triad_refused_connections_total{socket=\"replica\"}"), "1");
  EXPECT_EQ(value_of(text, "triad_refused_connections_total{socket=\"control\"}"), "0");
}

TEST(Metrics, ServesTheTextFormatOverHttp) {
  Metrics m;
  ASSERT_TRUE(m.serve("127.0.0.1", 0).is_ok());
  ASSERT_EQ(m.url().rfind("http://127.0.0.1:", 0), 0u) << m.url();
  ASSERT_EQ(m.url().substr(m.url().size() - 8), "/metrics") << m.url();
  m.count_decision("00", false, 300);
  const std::string response = http_get(port_of(m.url()), "/metrics");
  ASSERT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_NE(response.find("Content-Type: text/plain"), std::string::npos) << response;
  const std::string body = body_of(response);
  EXPECT_EQ(value_of(body, "triad_decisions_total{code=\"00\",outcome=\"agreed\"}"), "1");
  EXPECT_EQ(value_of(body, "triad_mode{mode=\"tmr\"}"), "1");
}

// civetweb waits 30 s by default for a request that does not come, and its
// one server thread held every other scrape behind such a connection, longer
// than a collector's scrape timeout (Prometheus: 10 s). Now four threads,
// and an idle connection is dropped after 5 s: even with one idle
// connection per thread, a scrape is answered within 8 s.
TEST(Metrics, IdleConnectionsDoNotHoldAScrapeForLong) {
  Metrics m;
  ASSERT_TRUE(m.serve("127.0.0.1", 0).is_ok());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_of(m.url()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_GE(idle.back(), 0);
    ASSERT_EQ(::connect(idle.back(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  }
  const std::string response = http_get(port_of(m.url()), "/metrics", /*timeout_s=*/8);
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  for (const int fd : idle) ::close(fd);
}

// Debian's civetweb has no IPv6: said so, not "port in use?".
TEST(Metrics, AnIpv6HostIsAClearError) {
  Metrics m;
  const Status s = m.serve("::1", 0);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("IPv4 addresses only"), std::string::npos) << s.message();
  EXPECT_EQ(m.url(), "");
}

TEST(Metrics, APortInUseIsAClearError) {
  Metrics first;
  ASSERT_TRUE(first.serve("127.0.0.1", 0).is_ok());
  const std::uint16_t taken = port_of(first.url());
  Metrics second;
  const Status s = second.serve("127.0.0.1", taken);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_NE(s.message().find("cannot serve metrics on 127.0.0.1:" + std::to_string(taken)),
            std::string::npos)
      << s.message();
  EXPECT_EQ(second.url(), "");
}

}  // namespace
}  // namespace triad::metrics
