#include "metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <exception>

#include "common/assert.h"
#include "voter/voter.h"

namespace triad::metrics {
namespace {

constexpr std::array<repair::ReplicaState, 4> kAllStates = {
    repair::ReplicaState::kHealthy, repair::ReplicaState::kQuarantined, repair::ReplicaState::kDown,
    repair::ReplicaState::kRepairing};
// Known up front so their series exist at 0 from the start (a rate over a
// series that appears only at its first increment misses that increment);
// a kind added later still gets counted, from its first occurrence.
constexpr std::array<voter::DivergenceKind, 5> kKnownDivergenceKinds = {
    voter::DivergenceKind::kWrongVerdict, voter::DivergenceKind::kStateDigestMismatch,
    voter::DivergenceKind::kCheckpointMismatch, voter::DivergenceKind::kBadSignature,
    voter::DivergenceKind::kMissing};
constexpr std::array<repair::Mode, 3> kAllModes = {repair::Mode::kTmr, repair::Mode::kDuplex,
                                                   repair::Mode::kDown};

// Decision latency runs from ~100 us (two verdicts on an idle machine) to
// the deadline (1 s by default, fail-safe declines) and beyond under
// overload: 1-2.5-5 steps per decade from 100 us to 10 s.
prometheus::Histogram::BucketBoundaries latency_buckets_seconds() {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double decade = 1e-4; decade < 10; decade *= 10) {
    for (const double step : {1.0, 2.5, 5.0}) buckets.push_back(decade * step);
  }
  buckets.push_back(10);
  return buckets;
}

std::string replica_label(int replica) { return std::string(1, replica_name(replica)); }

}  // namespace

void Metrics::Total::advance_to(std::uint64_t total) {
  // Core's totals never go down; a smaller one would be a bug upstream, and
  // a counter must not go down either, so it is ignored rather than applied.
  if (total <= seen) return;
  counter->Increment(static_cast<double>(total - seen) * unit);
  seen = total;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  decisions_ = &prometheus::BuildCounter()
                    .Name("triad_decisions_total")
                    .Help(
                        "Decisions answered, by response code and outcome (agreed: two replicas' "
                        "signed verdicts; fail_safe: the voter's own decline)")
                    .Register(r);
  latency_ = &prometheus::BuildHistogram()
                  .Name("triad_decision_latency_seconds")
                  .Help("Time from sequencing to decision")
                  .Register(r)
                  .Add({}, latency_buckets_seconds());
  divergences_ = &prometheus::BuildCounter()
                      .Name("triad_divergences_total")
                      .Help(
                          "Replica verdicts that differed, were badly signed or missing, by "
                          "replica and kind")
                      .Register(r);
  auto& failures = prometheus::BuildCounter()
                       .Name("triad_replica_failures_total")
                       .Help("Times a replica left the healthy state (sent to repair)")
                       .Register(r);
  auto& repairs = prometheus::BuildCounter()
                      .Name("triad_repairs_total")
                      .Help("Completed repairs: times a replica rejoined as healthy")
                      .Register(r);
  auto& states = prometheus::BuildGauge()
                     .Name("triad_replica_state")
                     .Help("1 for each replica's current state, 0 for the others")
                     .Register(r);
  for (int rep = 0; rep < kReplicaCount; ++rep) {
    const auto i = static_cast<std::size_t>(rep);
    failures_[i] = &failures.Add({{"replica", replica_label(rep)}});
    repairs_[i] = &repairs.Add({{"replica", replica_label(rep)}});
    for (const auto kind : kKnownDivergenceKinds) {
      divergences_->Add({{"replica", replica_label(rep)}, {"kind", voter::to_string(kind)}});
    }
    for (std::size_t s = 0; s < kStates; ++s) {
      replica_state_[i][s] = &states.Add(
          {{"replica", replica_label(rep)}, {"state", repair::to_string(kAllStates[s])}});
    }
  }
  auto& modes = prometheus::BuildGauge()
                    .Name("triad_mode")
                    .Help(
                        "1 for the current voting mode (tmr: 2 of 3; duplex: 2 of 2; down: "
                        "every answer fail-safe), 0 for the others")
                    .Register(r);
  for (std::size_t m = 0; m < kModes; ++m) {
    mode_[m] = &modes.Add({{"mode", repair::to_string(kAllModes[m])}});
  }
  in_flight_ = &prometheus::BuildGauge()
                    .Name("triad_in_flight")
                    .Help("Transactions sequenced and not yet decided")
                    .Register(r)
                    .Add({});
  intake_cap_ = &prometheus::BuildGauge()
                     .Name("triad_intake_cap_per_second")
                     .Help(
                         "Admissions per second allowed while the front end is behind its "
                         "intake (intake throttle); 0 when it is not")
                     .Register(r)
                     .Add({});
  const auto total = [&](const char* name, const char* help) {
    return Total{&prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({})};
  };
  sequenced_ = total("triad_sequenced_total", "Transactions given a sequence number");
  replayed_ = total("triad_replayed_total",
                    "Repeated transaction ids answered from the idempotency record");
  client_errors_ = total("triad_client_errors_total",
                         "Client requests refused: malformed, invalid, overloaded or on a "
                         "connection whose key is no longer admitted");
  overloaded_ = total("triad_overloaded_total",
                      "Client requests refused as overloaded (also in triad_client_errors_total)");
  late_verdicts_ =
      total("triad_late_verdicts_total", "Verdicts that arrived after their seq was closed");
  malformed_replica_messages_ = total("triad_malformed_replica_messages_total",
                                      "Replica messages that failed the verifier or checks");
  entries_read_back_ =
      total("triad_journal_entries_read_back_total",
            "Transactions read back from the input journal to resend to a replica far behind");
  journal_syncs_ = total("triad_journal_syncs_total",
                         "fdatasync calls that made the input journal durable (answers wait "
                         "for them with --fsync batch or always)");
  journal_sync_time_ =
      total("triad_journal_sync_seconds_total", "Time spent in the input journal's fdatasyncs");
  journal_sync_time_.unit = 1e-6;
  journal_slow_syncs_ =
      total("triad_journal_slow_syncs_total", "Input journal fdatasyncs that took 100 ms or more");
  journal_longest_sync_ = &prometheus::BuildGauge()
                               .Name("triad_journal_sync_longest_seconds")
                               .Help("The longest fdatasync of the input journal since start")
                               .Register(r)
                               .Add({});
  auto& refused = prometheus::BuildCounter()
                      .Name("triad_refused_connections_total")
                      .Help(
                          "Connections refused by CURVE authentication (key not admitted, no "
                          "CURVE, wrong server key), by socket")
                      .Register(r);
  for (std::size_t i = 0; i < kSocketNames.size(); ++i) {
    refused_connections_[i] = Total{&refused.Add({{"socket", kSocketNames[i]}})};
  }
  set_levels(Levels{});
}

Metrics::~Metrics() = default;

Status Metrics::serve(const std::string& host, std::uint16_t port) {
  TRIAD_ASSERT(exposer_ == nullptr);
  if (host.find(':') != std::string::npos) {
    // Debian's civetweb is built without IPv6 (mg_check_feature(8) is 0).
    return Status::invalid_argument("cannot serve metrics on " + host +
                                    ": the metrics server takes IPv4 addresses only (e.g. "
                                    "127.0.0.1 or 0.0.0.0)");
  }
  const std::string address = host + ":" + std::to_string(port);
  try {
    // A server thread serves one connection at a time, and civetweb waits
    // 30 s by default for a request that does not come: one idle connection
    // held every scrape that long (longer than Prometheus' 10 s scrape
    // timeout). A few threads, and 5 s for a request.
    exposer_ = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", address, "num_threads", "4", "request_timeout_ms", "5000"});
  } catch (const std::exception& e) {
    return Status::unavailable("cannot serve metrics on " + address +
                               " (port in use?): " + e.what());
  }
  const std::vector<int> ports = exposer_->GetListeningPorts();
  TRIAD_ASSERT(ports.size() == 1);
  exposer_->RegisterCollectable(registry_);
  url_ = "http://" + host + ":" + std::to_string(ports[0]) + "/metrics";
  return Status::ok();
}

void Metrics::count_decision(std::string_view code, bool fail_safe, std::uint64_t latency_us) {
  const std::string_view outcome = fail_safe ? "fail_safe" : "agreed";
  std::string key;
  key.reserve(code.size() + 1 + outcome.size());
  key.append(code).append("/").append(outcome);
  prometheus::Counter* counter = nullptr;
  for (const auto& [k, c] : decision_counters_) {
    if (k == key) counter = c;
  }
  if (counter == nullptr) {
    counter = &decisions_->Add({{"code", std::string(code)}, {"outcome", std::string(outcome)}});
    decision_counters_.emplace_back(std::move(key), counter);
  }
  counter->Increment();
  latency_->Observe(static_cast<double>(latency_us) / 1e6);
}

void Metrics::count_divergence(int replica, std::string_view kind) {
  TRIAD_ASSERT(replica >= 0 && replica < kReplicaCount);
  // Rare (a few per fault), so the family's own label lookup is cheap enough.
  divergences_->Add({{"replica", replica_label(replica)}, {"kind", std::string(kind)}}).Increment();
}

void Metrics::count_transition(int replica, std::string_view from, std::string_view to) {
  TRIAD_ASSERT(replica >= 0 && replica < kReplicaCount);
  const std::string_view healthy = repair::to_string(repair::ReplicaState::kHealthy);
  const auto i = static_cast<std::size_t>(replica);
  if (from == healthy && to != healthy) failures_[i]->Increment();
  if (from != healthy && to == healthy) repairs_[i]->Increment();
}

void Metrics::set_levels(const Levels& levels) {
  in_flight_->Set(static_cast<double>(levels.in_flight));
  intake_cap_->Set(levels.intake_cap_per_second);
  for (std::size_t r = 0; r < kReplicaCount; ++r) {
    for (std::size_t s = 0; s < kStates; ++s) {
      replica_state_[r][s]->Set(levels.replica_states[r] == kAllStates[s] ? 1 : 0);
    }
  }
  for (std::size_t m = 0; m < kModes; ++m) mode_[m]->Set(levels.mode == kAllModes[m] ? 1 : 0);
  sequenced_.advance_to(levels.sequenced);
  replayed_.advance_to(levels.replayed);
  client_errors_.advance_to(levels.client_errors);
  overloaded_.advance_to(levels.overloaded);
  late_verdicts_.advance_to(levels.late_verdicts);
  malformed_replica_messages_.advance_to(levels.malformed_replica_messages);
  entries_read_back_.advance_to(levels.entries_read_back);
  journal_syncs_.advance_to(levels.journal_syncs);
  journal_sync_time_.advance_to(levels.journal_sync_us);
  journal_slow_syncs_.advance_to(levels.journal_slow_syncs);
  journal_longest_sync_->Set(static_cast<double>(levels.journal_longest_sync_us) * 1e-6);
  for (std::size_t i = 0; i < kSocketNames.size(); ++i) {
    refused_connections_[i].advance_to(levels.refused_connections[i]);
  }
}

std::string Metrics::render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace triad::metrics
