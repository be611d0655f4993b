#include "frontend/frontend.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <zmq.hpp>

#include "common/assert.h"
#include "common/layout.h"
#include "common/log.h"
#include "crypto/key_files.h"
#include "frontend/core.h"
#include "frontend/keys.h"
#include "frontend/processes.h"
#include "rules/engine.h"
#include "wire/codec.h"

namespace triad::frontend {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

std::uint64_t mono_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::span<const std::uint8_t> bytes_of(const zmq::message_t& m) {
  return {static_cast<const std::uint8_t*>(m.data()), m.size()};
}

std::string replica_label(int r) { return std::string("replica ") + replica_name(r); }

// The I/O shell around Core: sockets, the replica processes, the clock.
class FrontEnd {
 public:
  FrontEnd(const Config& config, zmq::context_t& context)
      : config_(config),
        clients_(context, zmq::socket_type::router),
        replicas_(context, zmq::socket_type::router) {}

  // Loads the public keys and binds both sockets. Nothing is started yet, so
  // a failure here leaves nothing behind.
  Status open() {
    Core::Config core_config;
    core_config.trust_client_time = config_.trust_client_time;
    core_config.deadline_us = config_.deadline_ms * 1000;
    core_config.max_in_flight = config_.max_in_flight;
    for (int r = 0; r < kReplicaCount; ++r) {
      TRIAD_RETURN_IF_ERROR(crypto::load_public_key(
          layout::replica_public_key(config_.dir, r),
          &core_config.replica_keys[static_cast<std::size_t>(r)]));
    }
    TRIAD_RETURN_IF_ERROR(Core::create(core_config, &core_));
    clients_.set(zmq::sockopt::linger, 0);
    clients_.set(zmq::sockopt::maxmsgsize, wire::kMaxTransportMessageBytes);
    clients_.set(zmq::sockopt::sndhwm, 0);
    replicas_.set(zmq::sockopt::linger, 0);
    replicas_.set(zmq::sockopt::router_mandatory, 1);
    replicas_.set(zmq::sockopt::router_handover, 1);  // a restarted replica takes its name back
    replicas_.set(zmq::sockopt::sndhwm, 0);
    replicas_.set(zmq::sockopt::rcvhwm, 0);
    replicas_.set(zmq::sockopt::maxmsgsize, wire::kMaxTransportMessageBytes);
    try {
      clients_.bind(config_.listen_endpoint);
    } catch (const zmq::error_t& e) {
      return Status::unavailable("cannot listen on " + config_.listen_endpoint + ": " + e.what());
    }
    replicas_.bind("tcp://127.0.0.1:*");
    client_endpoint_ = clients_.get(zmq::sockopt::last_endpoint);
    replica_endpoint_ = replicas_.get(zmq::sockopt::last_endpoint);
    return Status::ok();
  }

  const std::string& client_endpoint() const { return client_endpoint_; }

  Status start_replicas() {
    for (int r = 0; r < kReplicaCount; ++r) {
      TRIAD_RETURN_IF_ERROR(start_replica(r, config_.faults[static_cast<std::size_t>(r)]));
    }
    return Status::ok();
  }

  // Serves until every replica said hello; Unavailable after `timeout_ms`.
  Status wait_ready(int timeout_ms) {
    const std::uint64_t deadline = mono_us() + static_cast<std::uint64_t>(timeout_ms) * 1000;
    while (g_stop == 0) {
      if (core_->all_connected()) return check_fingerprints();
      if (mono_us() > deadline) {
        std::string missing;
        for (int r = 0; r < kReplicaCount; ++r) {
          if (!core_->replica(r).connected) missing.push_back(replica_name(r));
        }
        return Status::unavailable("replicas " + missing + " did not connect within " +
                                   std::to_string(timeout_ms) + " ms (see " +
                                   layout::logs_dir(config_.dir) + ")");
      }
      for (const auto& e : processes_.reap()) {
        return Status::unavailable(replica_label(e.replica) + " failed to start: " + e.how +
                                   " (see " + layout::replica_log(config_.dir, e.replica) + ")");
      }
      poll_once(50);
    }
    return Status::unavailable("interrupted while starting");
  }

  void serve() {
    while (g_stop == 0) {
      long timeout_ms = 50;
      if (const auto t = core_->next_timer_us()) {
        const std::uint64_t now = mono_us();
        timeout_ms = *t <= now ? 0 : std::min<long>(timeout_ms, static_cast<long>((*t - now) / 1000 + 1));
      }
      poll_once(timeout_ms);
      supervise();
    }
  }

  void stop() {
    processes_.stop_all();
    if (!core_) return;
    const Core::Counters& c = core_->counters();
    std::ostringstream s;
    s << "stopped: " << c.sequenced << " sequenced, " << c.decisions << " decided ("
      << c.fail_safe << " fail-safe), " << c.replayed << " replayed, " << c.client_errors
      << " client errors, " << c.late_verdicts << " late verdicts, divergences";
    for (int r = 0; r < kReplicaCount; ++r) {
      s << " " << replica_name(r) << "=" << core_->replica(r).divergences.total();
    }
    log::info(s.str());
  }

 private:
  struct Restart {
    std::uint64_t started_us = 0;
    std::uint64_t restart_at_us = 0;  // non-zero: restart pending
    std::uint64_t backoff_ms = 0;
  };

  // Diversity is the point of three replicas: two identical builds share
  // every compiler and library bug, so that is refused unless intended.
  Status check_fingerprints() {
    for (int r = 0; r < kReplicaCount; ++r) {
      log::info(replica_label(r) + " fingerprint: " + core_->replica(r).fingerprint);
    }
    ready_ = true;
    const std::string same = core_->identical_builds();
    if (same.empty()) return Status::ok();
    if (config_.allow_identical_builds) {
      log::warn("WARNING: " + same + "; one build bug can now hit two replicas at once");
      return Status::ok();
    }
    return Status::invalid_argument(same + "; start three different builds, or pass "
                                           "--allow-identical-builds if this is intended");
  }

  Status start_replica(int r, const replica::Fault& fault) {
    std::vector<std::string> argv = {config_.replica_binaries[static_cast<std::size_t>(r)],
                                     "--id", std::string(1, replica_name(r)),
                                     "--cards", config_.cards_path,
                                     "--key", layout::replica_secret_key(config_.dir, r),
                                     "--connect", replica_endpoint_,
                                     "--inject", replica::to_string(fault),
                                     "--seed", std::to_string(config_.seed),
                                     "--log", layout::replica_log(config_.dir, r)};
    TRIAD_RETURN_IF_ERROR(processes_.start(r, argv));
    restarts_[static_cast<std::size_t>(r)].started_us = mono_us();
    return Status::ok();
  }

  // A replica that died is restarted (without any injected fault) and catches
  // up from the journal; a replica that keeps dying is retried with back-off.
  void supervise() {
    const std::uint64_t now = mono_us();
    for (const auto& e : processes_.reap()) {
      Restart& l = restarts_[static_cast<std::size_t>(e.replica)];
      core_->on_replica_gone(e.replica);
      if (now - l.started_us > 30'000'000) l.backoff_ms = 0;
      l.backoff_ms = l.backoff_ms == 0 ? 200 : std::min<std::uint64_t>(l.backoff_ms * 2, 10'000);
      l.restart_at_us = now + l.backoff_ms * 1000;
      log::error(replica_label(e.replica) + " " + e.how + "; restarting in " +
                 std::to_string(l.backoff_ms) + " ms");
    }
    for (int r = 0; r < kReplicaCount; ++r) {
      Restart& l = restarts_[static_cast<std::size_t>(r)];
      if (l.restart_at_us == 0 || now < l.restart_at_us) continue;
      l.restart_at_us = 0;
      if (Status s = start_replica(r, replica::Fault{}); !s.is_ok()) {
        log::error(replica_label(r) + ": " + s.to_string());
        l.restart_at_us = now + 1'000'000;
      }
    }
  }

  void poll_once(long timeout_ms) {
    zmq::pollitem_t items[] = {{clients_.handle(), 0, ZMQ_POLLIN, 0},
                               {replicas_.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(timeout_ms));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    if (items[0].revents & ZMQ_POLLIN) receive_clients();
    if (items[1].revents & ZMQ_POLLIN) receive_replicas();
    core_->on_time(mono_us(), &out_);
    send_out();
  }

  void receive_clients() {
    zmq::message_t client;
    zmq::message_t payload;
    // A bounded drain keeps replica traffic flowing under a client flood.
    for (int i = 0; i < 4096 && clients_.recv(client, zmq::recv_flags::dontwait); ++i) {
      if (!client.more() || !clients_.recv(payload, zmq::recv_flags::none)) continue;
      while (payload.more()) {  // extra frames are not part of the protocol
        zmq::message_t extra;
        if (!clients_.recv(extra, zmq::recv_flags::none)) break;
        payload.swap(extra);
      }
      core_->on_client_message(client.to_string(), bytes_of(payload), mono_us(), wall_ms(), &out_);
    }
    core_->flush_new_entries(&out_);
    send_out();
  }

  void receive_replicas() {
    zmq::message_t from;
    zmq::message_t payload;
    for (int i = 0; i < 4096 && replicas_.recv(from, zmq::recv_flags::dontwait); ++i) {
      if (!from.more() || !replicas_.recv(payload, zmq::recv_flags::none)) continue;
      const int r = from.size() == 1 ? replica_index(static_cast<const char*>(from.data())[0]) : -1;
      if (r < 0) {
        log::warn("message from an unknown replica identity dropped");
        continue;
      }
      const bool was_connected = core_->replica(r).connected;
      core_->on_replica_message(r, bytes_of(payload), mono_us(), &out_);
      if (!was_connected && ready_ && core_->replica(r).connected) {
        if (const std::string same = core_->identical_builds(); !same.empty()) {
          log::warn("WARNING: " + same);
        }
      }
    }
    send_out();
  }

  void send_out() {
    for (const auto& m : out_.to_clients) {
      // A client that went away is not an error of ours; the answer is dropped.
      try {
        clients_.send(zmq::buffer(m.client), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        clients_.send(zmq::buffer(m.bytes), zmq::send_flags::dontwait);
      } catch (const zmq::error_t& e) {
        log::warn(std::string("reply to a client dropped: ") + e.what());
      }
    }
    for (const auto& m : out_.to_replicas) {
      if (!core_->replica(m.replica).connected) continue;
      try {
        const char name = replica_name(m.replica);
        replicas_.send(zmq::const_buffer(&name, 1), zmq::send_flags::sndmore);
        replicas_.send(zmq::buffer(m.bytes), zmq::send_flags::none);
      } catch (const zmq::error_t&) {
        // Not connected (restarting): it catches up from the journal on hello.
        core_->on_replica_gone(m.replica);
      }
    }
    out_.clear();
  }

  Config config_;
  zmq::socket_t clients_;
  zmq::socket_t replicas_;
  std::string client_endpoint_;
  std::string replica_endpoint_;
  std::unique_ptr<Core> core_;
  Outbox out_;
  ReplicaProcesses processes_;
  std::array<Restart, kReplicaCount> restarts_;
  bool ready_ = false;
};

int fail_start(const std::string& message) {
  std::fprintf(stderr, "triad up: %s\n", message.c_str());
  return 2;
}

}  // namespace

int run(const Config& config) {
  // Check everything a user can get wrong before starting anything.
  rules::CardFile cards;
  if (Status s = rules::load_card_file(config.cards_path, &cards); !s.is_ok()) {
    // Parse errors say "line N: reason"; open errors already name the file.
    return fail_start(s.code() == Status::Code::kInvalidArgument
                          ? "card file " + config.cards_path + ": " + s.message()
                          : s.message());
  }
  for (const std::string& binary : config.replica_binaries) {
    if (::access(binary.c_str(), X_OK) != 0) {
      return fail_start("replica program " + binary + " is missing or not executable");
    }
  }
  std::string report;
  if (Status s = ensure_replica_keys(config.dir, &report); !s.is_ok()) return fail_start(s.message());
  if (::mkdir(layout::logs_dir(config.dir).c_str(), 0755) != 0 && errno != EEXIST) {
    return fail_start("cannot create " + layout::logs_dir(config.dir));
  }
  const int lock_fd = ::open(layout::lock_file(config.dir).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return fail_start("another triad up is already running on " + config.dir);
  }
  log::set_component("frontend");
  log::set_file(layout::frontend_log(config.dir));
  if (!report.empty()) log::info(report.substr(0, report.size() - 1));

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  zmq::context_t context(1);
  FrontEnd fe(config, context);
  if (Status s = fe.open(); !s.is_ok()) return fail_start(s.message());
  if (Status s = fe.start_replicas(); !s.is_ok()) {
    fe.stop();
    return fail_start(s.message());
  }
  if (Status s = fe.wait_ready(15'000); !s.is_ok()) {
    fe.stop();
    if (g_stop != 0) return 0;
    return fail_start(s.message());
  }
  std::ofstream(layout::endpoint_file(config.dir)) << fe.client_endpoint() << "\n";
  log::info(std::to_string(cards.cards.size()) + " cards; deadline " +
            std::to_string(config.deadline_ms) + " ms; client time " +
            (config.trust_client_time ? "trusted" : "ignored") + "; listening on " +
            fe.client_endpoint());
  std::printf("ready %s\n", fe.client_endpoint().c_str());
  std::fflush(stdout);
  fe.serve();
  log::info("stopping on signal");
  fe.stop();
  ::unlink(layout::endpoint_file(config.dir).c_str());
  return 0;
}

}  // namespace triad::frontend
