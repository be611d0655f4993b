// The front end's metrics in the Prometheus text format, served over HTTP
// for scrapes (prometheus-cpp, with its embedded civetweb server).
//
// The front end's event loop is the only writer: it reports each decision,
// divergence and replica state transition as Core records it, and the levels
// (in flight, replica states, mode, Core's counters) once per loop. The
// server answers scrapes from its own thread; prometheus-cpp's metric objects
// are thread-safe, so a scrape reads them as they are at that moment.
// No ZeroMQ, no knowledge of Core: the front end translates.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/types.h"
#include "repair/repair.h"
#include "triad/status.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace triad::metrics {

// What the front end knows at one moment (Core's view), mirrored into gauges
// and counters. The counters count from the start of the process and never
// go down.
struct Levels {
  std::uint64_t in_flight = 0;  // sequenced, not yet decided
  std::array<repair::ReplicaState, kReplicaCount> replica_states{};
  repair::Mode mode = repair::Mode::kTmr;
  std::uint64_t sequenced = 0;
  std::uint64_t replayed = 0;
  std::uint64_t client_errors = 0;
  std::uint64_t overloaded = 0;  // client errors that were overload refusals
  // Admissions per second while the intake throttle holds; 0 when it does not.
  double intake_cap_per_second = 0;
  std::uint64_t late_verdicts = 0;
  std::uint64_t malformed_replica_messages = 0;
  std::uint64_t entries_read_back = 0;  // Core::Counters
  // The input journal's fdatasyncs (journal::SyncTimes): how many, their
  // time in all, those of 100 ms or more, and the longest.
  std::uint64_t journal_syncs = 0;
  std::uint64_t journal_sync_us = 0;
  std::uint64_t journal_slow_syncs = 0;
  std::uint64_t journal_longest_sync_us = 0;
  // Connections refused by CURVE/ZAP on the client, replica and control
  // sockets (kSocketNames order).
  std::array<std::uint64_t, 3> refused_connections{};
};

inline constexpr std::array<const char*, 3> kSocketNames = {"client", "replica", "control"};

class Metrics {
 public:
  // Every metric is registered (at 0) at once, so a scrape shows all of them
  // from the start, before anything happened.
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Serves GET /metrics on host:port (port 0: one the system picks).
  // Unavailable, naming the address, when it cannot listen (port in use,
  // no such address). Call once.
  Status serve(const std::string& host, std::uint16_t port);
  // "http://HOST:PORT/metrics" with the port actually bound; empty before
  // serve() succeeded.
  const std::string& url() const { return url_; }

  // One decision: its response code, whether the voter made it itself
  // (fail-safe), and the time from sequencing to decision.
  void count_decision(std::string_view code, bool fail_safe, std::uint64_t latency_us);
  // One divergence of `replica`; `kind` is voter::to_string(DivergenceKind).
  void count_divergence(int replica, std::string_view kind);
  // One replica state transition, as repair::to_string(ReplicaState) names.
  // Leaving "healthy" is a failure; reaching "healthy" a completed repair.
  void count_transition(int replica, std::string_view from, std::string_view to);
  void set_levels(const Levels& levels);

  // The whole registry in the text format, as a scrape gets it (tests).
  std::string render() const;

 private:
  using CounterFamily = prometheus::Family<prometheus::Counter>;
  using GaugeFamily = prometheus::Family<prometheus::Gauge>;

  // Core's counters arrive as totals; prometheus counters only go up by a
  // delta, so the last total seen is kept.
  struct Total {
    prometheus::Counter* counter = nullptr;
    std::uint64_t seen = 0;
    double unit = 1;  // of a total, in the counter's unit (1e-6: µs to seconds)
    void advance_to(std::uint64_t total);
  };

  std::shared_ptr<prometheus::Registry> registry_;
  CounterFamily* decisions_ = nullptr;
  prometheus::Histogram* latency_ = nullptr;
  CounterFamily* divergences_ = nullptr;
  // Decisions by (code, fail_safe): looked up per decision without the
  // family's label map, which costs a std::map and a hash each time.
  std::vector<std::pair<std::string, prometheus::Counter*>> decision_counters_;
  std::array<prometheus::Counter*, kReplicaCount> failures_{};
  std::array<prometheus::Counter*, kReplicaCount> repairs_{};
  prometheus::Gauge* in_flight_ = nullptr;
  prometheus::Gauge* intake_cap_ = nullptr;
  prometheus::Gauge* journal_longest_sync_ = nullptr;
  // One gauge per (replica, state) and per mode: 1 for the current one.
  static constexpr std::size_t kStates = 4;  // repair::ReplicaState's values
  static constexpr std::size_t kModes = 3;   // repair::Mode's values
  std::array<std::array<prometheus::Gauge*, kStates>, kReplicaCount> replica_state_{};
  std::array<prometheus::Gauge*, kModes> mode_{};
  Total sequenced_;
  Total replayed_;
  Total client_errors_;
  Total overloaded_;
  Total late_verdicts_;
  Total malformed_replica_messages_;
  Total entries_read_back_;
  Total journal_syncs_;
  Total journal_sync_time_;
  Total journal_slow_syncs_;
  std::array<Total, kSocketNames.size()> refused_connections_;
  // Declared last so it is destroyed first: no scrape runs while the
  // metrics it reads are torn down.
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string url_;
};

}  // namespace triad::metrics
