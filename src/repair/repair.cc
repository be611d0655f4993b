#include "repair/repair.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "common/assert.h"

namespace triad::repair {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint32_t kMillion = 1'000'000;

std::uint64_t add_saturating(std::uint64_t a, std::uint64_t b) {
  return a > kMax - b ? kMax : a + b;
}

std::uint64_t multiply_saturating(std::uint64_t a, std::uint64_t b) {
  return b != 0 && a > kMax / b ? kMax : a * b;
}

std::size_t index_of(Fault fault) { return static_cast<std::size_t>(fault); }

// floor(part * 1,000,000 / whole) for part <= whole, whole > 0, without
// overflow: six rounds of decimal long division.
std::uint32_t parts_per_million(std::uint64_t part, std::uint64_t whole) {
  TRIAD_ASSERT(whole > 0 && part <= whole);
  if (part == whole) return kMillion;
  // rem * 10 must fit: scale both down when whole is huge (over 58,000 years
  // in microseconds; the loss of precision there does not matter).
  while (whole > kMax / 10) {
    whole >>= 1;
    part >>= 1;
  }
  if (whole == 0) return kMillion;
  std::uint64_t rem = part;
  std::uint32_t result = 0;
  for (int digit = 0; digit < 6; ++digit) {
    rem *= 10;
    result = result * 10 + static_cast<std::uint32_t>(rem / whole);
    rem %= whole;
  }
  return result;
}

}  // namespace

const char* to_string(ReplicaState state) {
  switch (state) {
    case ReplicaState::kHealthy:
      return "healthy";
    case ReplicaState::kQuarantined:
      return "quarantined";
    case ReplicaState::kDown:
      return "down";
    case ReplicaState::kRepairing:
      return "repairing";
  }
  return "unknown";
}

const char* to_string(Fault fault) {
  switch (fault) {
    case Fault::kWrongVerdict:
      return "wrong_verdict";
    case Fault::kBadSignature:
      return "bad_signature";
    case Fault::kMissing:
      return "missing";
    case Fault::kStateDigestMismatch:
      return "state_digest_mismatch";
    case Fault::kCheckpointMismatch:
      return "checkpoint_mismatch";
    case Fault::kProcessExited:
      return "process_exited";
    case Fault::kHung:
      return "hung";
  }
  return "unknown";
}

bool is_transient(Fault fault) {
  return fault == Fault::kWrongVerdict || fault == Fault::kBadSignature || fault == Fault::kMissing;
}

const char* to_string(Mode mode) {
  switch (mode) {
    case Mode::kTmr:
      return "tmr";
    case Mode::kDuplex:
      return "duplex";
    case Mode::kDown:
      return "down";
  }
  return "unknown";
}

const char* to_string(Action::Kind kind) {
  switch (kind) {
    case Action::Kind::kStopProcess:
      return "stop_process";
    case Action::Kind::kStartProcess:
      return "start_process";
    case Action::Kind::kTransferSnapshot:
      return "transfer_snapshot";
  }
  return "unknown";
}

Supervisor::Supervisor(Config config, std::uint64_t now_us) : config_(config), now_us_(now_us) {
  TRIAD_ASSERT(config.transient_limit >= 1 && config.transient_limit <= kMaxTransientLimit);
  TRIAD_ASSERT(config.transient_window_us > 0);
  TRIAD_ASSERT(config.missing_limit >= 1);
  TRIAD_ASSERT(config.backoff_initial_us > 0);
  TRIAD_ASSERT(config.backoff_initial_us <= config.backoff_max_us);
  TRIAD_ASSERT(config.repair_timeout_us > 0);
  TRIAD_ASSERT(config.snapshot_wait_us > 0);
  for (Replica& rep : replicas_) {
    rep.healthy_since_us = now_us;
    rep.transient_us.assign(config.transient_limit, 0);
  }
}

Supervisor::Replica& Supervisor::at(int replica) {
  TRIAD_ASSERT(replica >= 0 && replica < kReplicaCount);
  return replicas_[static_cast<std::size_t>(replica)];
}

const Supervisor::Replica& Supervisor::at(int replica) const {
  TRIAD_ASSERT(replica >= 0 && replica < kReplicaCount);
  return replicas_[static_cast<std::size_t>(replica)];
}

std::uint64_t Supervisor::doubled(std::uint64_t backoff_us) const {
  if (backoff_us == 0) return config_.backoff_initial_us;
  const std::uint64_t twice = backoff_us > kMax / 2 ? kMax : backoff_us * 2;
  return std::clamp(twice, config_.backoff_initial_us, config_.backoff_max_us);
}

// ---------------------------------------------------------------------------
// Time and timers.

void Supervisor::set_time(std::uint64_t now_us, Output* out) {
  TRIAD_ASSERT(out != nullptr);
  if (now_us > now_us_) now_us_ = now_us;
}

void Supervisor::fire_timers(Output* out) {
  for (int r = 0; r < kReplicaCount; ++r) fire_due(r, out);
}

void Supervisor::fire_due(int replica, Output* out) {
  Replica& rep = at(replica);
  switch (rep.state) {
    case ReplicaState::kHealthy:
      return;
    case ReplicaState::kQuarantined:
      if (rep.deadline_us <= now_us_) stop(replica, out);  // the stop again
      return;
    case ReplicaState::kDown:
      if (!rep.start_issued) {
        if (rep.restart_at_us > now_us_) return;
        rep.start_issued = true;
        rep.restart_at_us = 0;
        rep.deadline_us = add_saturating(now_us_, config_.repair_timeout_us);
        out->actions.push_back(Action{Action::Kind::kStartProcess, replica, -1});
        return;
      }
      if (rep.deadline_us <= now_us_) {
        fail_attempt(replica, "repair timed out: process not started", false, out);
      }
      return;
    case ReplicaState::kRepairing:
      if (rep.deadline_us <= now_us_) {
        fail_attempt(replica, "repair timed out: not caught up", false, out);
      } else if (awaits_snapshot(rep) && rep.snapshot_deadline_us <= now_us_) {
        pass_over_source(replica, out);
      }
      return;
  }
}

void Supervisor::on_time(std::uint64_t now_us, Output* out) {
  set_time(now_us, out);
  fire_timers(out);
}

std::optional<std::uint64_t> Supervisor::next_timer_us() const {
  std::optional<std::uint64_t> next;
  for (const Replica& rep : replicas_) {
    std::optional<std::uint64_t> t;
    if (rep.state == ReplicaState::kDown && !rep.start_issued) {
      t = rep.restart_at_us;
    } else if (rep.state != ReplicaState::kHealthy) {
      t = rep.deadline_us;
      if (awaits_snapshot(rep)) t = std::min(*t, rep.snapshot_deadline_us);
    }
    if (t && (!next || *t < *next)) next = t;
  }
  return next;
}

// ---------------------------------------------------------------------------
// Faults.

std::uint32_t Supervisor::transient_in_window(const Replica& rep) const {
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < rep.transient_count; ++i) {
    if (now_us_ - rep.transient_us[i] < config_.transient_window_us) ++n;
  }
  return n;
}

void Supervisor::count_fault(int replica, Fault fault) {
  ++at(replica).faults_by_kind[index_of(fault)];
}

void Supervisor::on_fault(int replica, Fault fault, std::uint64_t now_us, Output* out) {
  set_time(now_us, out);
  if (fault == Fault::kProcessExited) {
    handle_exit(replica, out);
  } else {
    handle_fault(replica, fault, out);
  }
  fire_timers(out);
}

void Supervisor::on_unattributed_missing(int replica) { count_fault(replica, Fault::kMissing); }

void Supervisor::handle_fault(int replica, Fault fault, Output* out) {
  count_fault(replica, fault);
  Replica& rep = at(replica);
  if (rep.state != ReplicaState::kHealthy) return;

  if (!is_transient(fault)) {
    fail(replica, to_string(fault), false, out);
    return;
  }
  rep.consecutive_missing = fault == Fault::kMissing ? rep.consecutive_missing + 1 : 0;
  if (rep.consecutive_missing >= config_.missing_limit) {
    fail(replica, std::to_string(rep.consecutive_missing) + " consecutive missing verdicts (hung)",
         false, out);
    return;
  }
  // The ring keeps the last transient_limit fault times; the limit is reached
  // when it is full and its oldest entry is still in the window.
  rep.transient_us[rep.transient_next] = now_us_;
  rep.transient_next = (rep.transient_next + 1) % rep.transient_us.size();
  rep.transient_count = std::min(rep.transient_count + 1, rep.transient_us.size());
  if (transient_in_window(rep) >= config_.transient_limit) {
    fail(replica,
         std::to_string(config_.transient_limit) + " transient faults within " +
             std::to_string(config_.transient_window_us) + " us (last: " + to_string(fault) + ")",
         false, out);
  }
}

void Supervisor::on_verdict_ok(int replica, std::uint64_t now_us, Output* out) {
  set_time(now_us, out);
  Replica& rep = at(replica);
  if (rep.state == ReplicaState::kHealthy) rep.consecutive_missing = 0;
  fire_timers(out);
}

// ---------------------------------------------------------------------------
// The repair cycle.

void Supervisor::set_state(int replica, ReplicaState to, std::string reason, Output* out) {
  Replica& rep = at(replica);
  out->transitions.push_back(Transition{replica, rep.state, to, now_us_, std::move(reason)});
  rep.state = to;
}

void Supervisor::stop(int replica, Output* out) {
  Replica& rep = at(replica);
  TRIAD_ASSERT(rep.state == ReplicaState::kQuarantined);
  rep.deadline_us = add_saturating(now_us_, config_.repair_timeout_us);
  out->actions.push_back(Action{Action::Kind::kStopProcess, replica, -1});
}

void Supervisor::schedule_restart(int replica) {
  Replica& rep = at(replica);
  TRIAD_ASSERT(rep.state == ReplicaState::kDown);
  TRIAD_ASSERT(rep.backoff_us >= config_.backoff_initial_us &&
               rep.backoff_us <= config_.backoff_max_us);
  rep.start_issued = false;
  rep.deadline_us = 0;
  rep.restart_at_us = add_saturating(now_us_, rep.backoff_us);
}

// kHealthy -> out of service.
void Supervisor::fail(int replica, std::string reason, bool process_gone, Output* out) {
  Replica& rep = at(replica);
  TRIAD_ASSERT(rep.state == ReplicaState::kHealthy);
  rep.total_up_us += now_us_ - rep.healthy_since_us;
  ++rep.failures;
  rep.left_healthy_us = now_us_;
  const bool soon_after_rejoin =
      rep.rejoined && now_us_ - rep.last_rejoin_us < config_.stable_after_us;
  rep.backoff_us = soon_after_rejoin ? doubled(rep.backoff_us) : config_.backoff_initial_us;
  rep.transient_count = 0;
  rep.transient_next = 0;
  rep.consecutive_missing = 0;
  rep.snapshot_installed = false;
  rep.source = -1;
  if (process_gone) {
    set_state(replica, ReplicaState::kDown, std::move(reason), out);
    schedule_restart(replica);
  } else {
    set_state(replica, ReplicaState::kQuarantined, std::move(reason), out);
    stop(replica, out);
  }
  reassign_sources(replica, out);
}

// A repair attempt failed: the replica stays out and is retried after a
// doubled back-off.
void Supervisor::fail_attempt(int replica, std::string reason, bool process_gone, Output* out) {
  Replica& rep = at(replica);
  TRIAD_ASSERT(rep.state == ReplicaState::kRepairing ||
               (rep.state == ReplicaState::kDown && rep.start_issued));
  ++rep.failed_attempts;
  rep.backoff_us = doubled(rep.backoff_us);
  // Only a source still awaited when the attempt ran out of time: not one
  // whose snapshot came (the front end may hold it for a vote, or be
  // checking it), nor any when the replica's own process ended.
  rep.held_last_attempt = !process_gone && awaits_snapshot(rep) ? rep.source : -1;
  rep.snapshot_installed = false;
  rep.source = -1;
  if (process_gone) {
    set_state(replica, ReplicaState::kDown, std::move(reason), out);
    schedule_restart(replica);
  } else {
    rep.start_issued = false;
    set_state(replica, ReplicaState::kQuarantined, std::move(reason), out);
    stop(replica, out);
  }
}

void Supervisor::transfer(int replica, Output* out) {
  Replica& rep = at(replica);
  TRIAD_ASSERT(rep.state == ReplicaState::kRepairing);
  rep.source = -1;
  const auto may_ask = [&](int h) {
    return h != replica && at(h).state == ReplicaState::kHealthy &&
           (rep.sources_passed_over & (1U << h)) == 0;
  };
  for (int h = 0; h < kReplicaCount && rep.source < 0; ++h) {
    if (may_ask(h) && h != rep.held_last_attempt) rep.source = h;
  }
  if (rep.source < 0 && rep.held_last_attempt >= 0 && may_ask(rep.held_last_attempt)) {
    rep.source = rep.held_last_attempt;
  }
  rep.snapshot_installed = false;
  rep.snapshot_received = false;
  rep.snapshot_deadline_us = add_saturating(now_us_, config_.snapshot_wait_us);
  out->actions.push_back(Action{Action::Kind::kTransferSnapshot, replica, rep.source});
}

bool Supervisor::snapshot_pending(const Replica& rep) {
  return rep.state == ReplicaState::kRepairing && rep.source >= 0 && !rep.snapshot_installed;
}

bool Supervisor::awaits_snapshot(const Replica& rep) {
  return snapshot_pending(rep) && !rep.snapshot_received;
}

void Supervisor::pass_over_source(int replica, Output* out) {
  Replica& rep = at(replica);
  rep.sources_passed_over |= static_cast<std::uint8_t>(1U << rep.source);
  transfer(replica, out);
}

// `left` just left kHealthy: a repair waiting for its snapshot gets another
// source.
void Supervisor::reassign_sources(int left, Output* out) {
  for (int r = 0; r < kReplicaCount; ++r) {
    const Replica& rep = at(r);
    if (rep.state == ReplicaState::kRepairing && rep.source == left && !rep.snapshot_installed) {
      transfer(r, out);
    }
  }
}

void Supervisor::on_process_exited(int replica, std::uint64_t now_us, Output* out) {
  set_time(now_us, out);
  handle_exit(replica, out);
  fire_timers(out);
}

void Supervisor::handle_exit(int replica, Output* out) {
  Replica& rep = at(replica);
  switch (rep.state) {
    case ReplicaState::kHealthy:
      count_fault(replica, Fault::kProcessExited);
      fail(replica, "process exited", true, out);
      return;
    case ReplicaState::kQuarantined:
      // The exit the stop asked for.
      set_state(replica, ReplicaState::kDown, "process stopped", out);
      schedule_restart(replica);
      return;
    case ReplicaState::kDown:
      if (!rep.start_issued) {
        ++ignored_events_;  // no process to exit
        return;
      }
      count_fault(replica, Fault::kProcessExited);
      fail_attempt(replica, "process exited before it started", true, out);
      return;
    case ReplicaState::kRepairing:
      count_fault(replica, Fault::kProcessExited);
      fail_attempt(replica, "process exited during repair", true, out);
      return;
  }
}

void Supervisor::on_process_started(int replica, std::uint64_t now_us, Output* out) {
  set_time(now_us, out);
  handle_started(replica, out);
  fire_timers(out);
}

void Supervisor::handle_started(int replica, Output* out) {
  Replica& rep = at(replica);
  if (rep.state != ReplicaState::kDown || !rep.start_issued) {
    ++ignored_events_;
    return;
  }
  rep.start_issued = false;  // the attempt's deadline stays
  rep.sources_passed_over = 0;
  set_state(replica, ReplicaState::kRepairing, "process started", out);
  transfer(replica, out);
}

void Supervisor::on_snapshot_progress(int replica, std::uint64_t now_us, Output* out) {
  set_time(now_us, out);
  Replica& rep = at(replica);
  if (awaits_snapshot(rep)) {
    rep.snapshot_deadline_us = add_saturating(now_us_, config_.snapshot_wait_us);
  } else {
    ++ignored_events_;
  }
  fire_timers(out);
}

void Supervisor::on_snapshot_received(int replica, std::uint64_t now_us, Output* out) {
  set_time(now_us, out);
  Replica& rep = at(replica);
  if (snapshot_pending(rep)) {
    rep.snapshot_received = true;
  } else {
    ++ignored_events_;
  }
  fire_timers(out);
}

void Supervisor::on_snapshot_unusable(int replica, std::uint64_t now_us, Output* out) {
  set_time(now_us, out);
  const Replica& rep = at(replica);
  if (snapshot_pending(rep)) {
    pass_over_source(replica, out);
  } else {
    ++ignored_events_;
  }
  fire_timers(out);
}

void Supervisor::allow_from_now(Replica* rep, std::uint64_t allowance_us) {
  rep->deadline_us = std::max(rep->deadline_us, add_saturating(now_us_, allowance_us));
}

void Supervisor::on_snapshot_installed(int replica, std::uint64_t state_bytes, std::uint64_t now_us,
                                       Output* out) {
  set_time(now_us, out);
  Replica& rep = at(replica);
  if (snapshot_pending(rep)) {
    rep.snapshot_installed = true;
    constexpr std::uint64_t kMiB = 1024 * 1024;
    const std::uint64_t mib = state_bytes / kMiB + (state_bytes % kMiB != 0 ? 1 : 0);
    allow_from_now(&rep, multiply_saturating(mib, config_.install_us_per_mib));
  } else {
    ++ignored_events_;
  }
  fire_timers(out);
}

void Supervisor::on_replay(int replica, std::uint64_t seqs, std::uint64_t now_us, Output* out) {
  set_time(now_us, out);
  Replica& rep = at(replica);
  if (rep.state == ReplicaState::kRepairing) {
    allow_from_now(&rep, multiply_saturating(seqs, config_.replay_us_per_seq));
  } else {
    ++ignored_events_;
  }
  fire_timers(out);
}

void Supervisor::on_caught_up(int replica, std::uint64_t now_us, Output* out) {
  set_time(now_us, out);
  handle_caught_up(replica, out);
  fire_timers(out);
}

void Supervisor::handle_caught_up(int replica, Output* out) {
  Replica& rep = at(replica);
  if (rep.state != ReplicaState::kRepairing || (rep.source >= 0 && !rep.snapshot_installed)) {
    ++ignored_events_;
    return;
  }
  const std::uint64_t time_to_repair_us = now_us_ - rep.left_healthy_us;
  ++rep.repairs;
  rep.last_time_to_repair_us = time_to_repair_us;
  rep.total_repair_us += time_to_repair_us;
  rep.healthy_since_us = now_us_;
  rep.last_rejoin_us = now_us_;
  rep.rejoined = true;
  rep.held_last_attempt = -1;
  rep.deadline_us = 0;
  rep.source = -1;
  rep.snapshot_installed = false;
  set_state(replica, ReplicaState::kHealthy, "caught up", out);
}

void Supervisor::on_repair_failed(int replica, std::uint64_t now_us, std::string_view reason,
                                  Output* out) {
  set_time(now_us, out);
  Replica& rep = at(replica);
  const bool attempting = rep.state == ReplicaState::kRepairing ||
                          (rep.state == ReplicaState::kDown && rep.start_issued);
  if (attempting) {
    fail_attempt(replica, "repair failed: " + std::string(reason), false, out);
  } else {
    ++ignored_events_;
  }
  fire_timers(out);
}

// ---------------------------------------------------------------------------
// Queries.

ReplicaState Supervisor::state(int replica) const { return at(replica).state; }

std::uint8_t Supervisor::voting_mask() const {
  unsigned mask = 0;
  for (int r = 0; r < kReplicaCount; ++r) {
    if (at(r).state == ReplicaState::kHealthy) mask |= 1u << static_cast<unsigned>(r);
  }
  return static_cast<std::uint8_t>(mask);
}

Mode Supervisor::mode() const {
  int healthy = 0;
  for (const Replica& rep : replicas_) healthy += rep.state == ReplicaState::kHealthy ? 1 : 0;
  if (healthy == kReplicaCount) return Mode::kTmr;
  return healthy == 2 ? Mode::kDuplex : Mode::kDown;
}

Supervisor::Stats Supervisor::stats(int replica, std::uint64_t now_us) const {
  const Replica& rep = at(replica);
  const std::uint64_t now = std::max(now_us, now_us_);
  const bool healthy = rep.state == ReplicaState::kHealthy;
  Stats s;
  s.state = rep.state;
  s.faults_by_kind = rep.faults_by_kind;
  s.failures = rep.failures;
  s.repairs = rep.repairs;
  s.failed_attempts = rep.failed_attempts;
  s.last_time_to_repair_us = rep.last_time_to_repair_us;
  s.total_up_us = rep.total_up_us + (healthy ? now - rep.healthy_since_us : 0);
  s.total_repair_us = rep.total_repair_us;
  s.current_outage_us = healthy ? 0 : now - rep.left_healthy_us;
  s.backoff_us = rep.backoff_us;
  s.restart_at_us = rep.state == ReplicaState::kDown && !rep.start_issued ? rep.restart_at_us : 0;
  s.snapshot_source = rep.state == ReplicaState::kRepairing ? rep.source : -1;
  s.asked_last = rep.held_last_attempt;
  if (healthy) {
    // As of `now`, which may be later than the last call.
    for (std::size_t i = 0; i < rep.transient_count; ++i) {
      if (now - rep.transient_us[i] < config_.transient_window_us) ++s.transient_in_window;
    }
    s.consecutive_missing = rep.consecutive_missing;
  }

  if (rep.failures > 0) {
    s.mtbf_us = s.total_up_us / rep.failures;
  } else {
    s.mtbf_us = s.total_up_us;
    s.mtbf_lower_bound = true;
  }
  // An ongoing outage counts as a repair of at least its length so far: a
  // replica out for hours after one quick repair showed the availability
  // of that quick repair.
  if (const std::uint64_t outages = rep.repairs + (healthy ? 0 : 1); outages > 0) {
    s.mttr_us = add_saturating(rep.total_repair_us, s.current_outage_us) / outages;
    s.mttr_lower_bound = !healthy;
  }
  const std::uint64_t sum = add_saturating(s.mtbf_us, s.mttr_us);
  if (sum == 0) {
    s.availability_ppm = healthy ? kMillion : 0;
  } else {
    s.availability_ppm = parts_per_million(std::min(s.mtbf_us, sum), sum);
  }
  return s;
}

}  // namespace triad::repair
