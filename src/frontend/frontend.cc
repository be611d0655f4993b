#include "frontend/frontend.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <zmq.hpp>

#include "common/assert.h"
#include "common/layout.h"
#include "common/log.h"
#include "crypto/ed25519.h"
#include "crypto/key_files.h"
#include "frontend/keys.h"
#include "frontend/processes.h"
#include "rules/engine.h"
#include "sequencer/sequencer.h"
#include "voter/voter.h"
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

std::string names_of(std::uint8_t mask) {
  std::string out;
  for (int r = 0; r < kReplicaCount; ++r) {
    if (mask & (1u << r)) out.push_back(replica_name(r));
  }
  return out;
}

std::span<const std::uint8_t> bytes_of(const zmq::message_t& m) {
  return {static_cast<const std::uint8_t*>(m.data()), m.size()};
}

// Entries resent to a replica per message when it catches up.
constexpr std::size_t kResendBatch = 512;

class FrontEnd {
 public:
  FrontEnd(const Config& config, zmq::context_t& context)
      : config_(config),
        clients_(context, zmq::socket_type::router),
        replicas_(context, zmq::socket_type::router),
        sequencer_({.trust_client_time = config.trust_client_time}),
        voter_({.deadline_us = config.deadline_ms * 1000}) {}

  // Binds both sockets and loads the public keys. Nothing is started yet, so
  // a failure here leaves nothing behind.
  Status open() {
    for (int r = 0; r < kReplicaCount; ++r) {
      PublicKey pub{};
      TRIAD_RETURN_IF_ERROR(crypto::load_public_key(layout::replica_public_key(config_.dir, r), &pub));
      TRIAD_RETURN_IF_ERROR(crypto::VerifyingKey::from_public_key(pub, &links_[static_cast<std::size_t>(r)].key));
    }
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
      bool all = true;
      for (const auto& l : links_) all = all && l.connected;
      if (all) return check_fingerprints();
      if (mono_us() > deadline) {
        std::string missing;
        for (int r = 0; r < kReplicaCount; ++r) {
          if (!links_[static_cast<std::size_t>(r)].connected) missing.push_back(replica_name(r));
        }
        return Status::unavailable("replicas " + missing + " did not connect within " +
                                   std::to_string(timeout_ms) + " ms (see " +
                                   layout::logs_dir(config_.dir) + ")");
      }
      for (const auto& e : processes_.reap()) {
        return Status::unavailable(std::string("replica ") + replica_name(e.replica) +
                                   " failed to start: " + e.how + " (see " +
                                   layout::replica_log(config_.dir, e.replica) + ")");
      }
      poll_once(50);
    }
    return Status::unavailable("interrupted while starting");
  }

  // Diversity is the point of three replicas: two identical builds share
  // every compiler and library bug, so that is refused unless intended.
  Status check_fingerprints() const {
    for (int r = 0; r < kReplicaCount; ++r) {
      log::info(std::string("replica ") + replica_name(r) + " fingerprint: " +
                links_[static_cast<std::size_t>(r)].fingerprint);
    }
    const std::string same = identical_builds();
    if (same.empty()) return Status::ok();
    if (config_.allow_identical_builds) {
      log::warn("WARNING: " + same + "; one build bug can now hit two replicas at once");
      return Status::ok();
    }
    return Status::invalid_argument(same + "; start three different builds, or pass "
                                           "--allow-identical-builds if this is intended");
  }

  // "replicas a and b report the same build fingerprint", or empty.
  std::string identical_builds() const {
    for (int r = 0; r < kReplicaCount; ++r) {
      for (int q = r + 1; q < kReplicaCount; ++q) {
        const Link& x = links_[static_cast<std::size_t>(r)];
        const Link& y = links_[static_cast<std::size_t>(q)];
        if (x.connected && y.connected && x.fingerprint == y.fingerprint) {
          return std::string("replicas ") + replica_name(r) + " and " + replica_name(q) +
                 " report the same build fingerprint \"" + x.fingerprint + "\"";
        }
      }
    }
    return "";
  }

  void serve() {
    ready_ = true;
    while (g_stop == 0) {
      long timeout_ms = 50;
      if (const auto d = voter_.next_deadline_us()) {
        const std::uint64_t now = mono_us();
        timeout_ms = *d <= now ? 0 : std::min<long>(timeout_ms, static_cast<long>((*d - now) / 1000 + 1));
      }
      poll_once(timeout_ms);
      supervise();
    }
  }

  void stop() {
    processes_.stop_all();
    std::ostringstream s;
    s << "stopped: " << sequencer_.last_seq() << " sequenced, " << decisions_ << " decided ("
      << fail_safe_ << " fail-safe), " << replayed_ << " replayed, " << client_errors_
      << " client errors, " << late_verdicts_ << " late verdicts, divergences";
    for (int r = 0; r < kReplicaCount; ++r) {
      s << " " << replica_name(r) << "=" << links_[static_cast<std::size_t>(r)].divergences;
    }
    log::info(s.str());
  }

 private:
  struct Link {
    crypto::VerifyingKey key;
    bool connected = false;
    std::string fingerprint;
    std::uint64_t divergences = 0;
    std::uint64_t restarts = 0;
    std::uint64_t started_us = 0;
    std::uint64_t restart_at_us = 0;  // non-zero: restart pending
    std::uint64_t backoff_ms = 0;
  };

  struct JournalEntry {
    std::int64_t ts_ms;
    Transaction tx;
  };

  struct Waiter {
    std::string client;  // ZeroMQ routing id
    std::uint64_t tag;
    bool replayed;
  };

  // The answer given for a seq, kept to answer repeated ids identically.
  struct Answer {
    std::string code;
    std::string agree;
    std::string divergent;
    std::vector<std::uint8_t> certificate;
  };

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
    links_[static_cast<std::size_t>(r)].started_us = mono_us();
    return Status::ok();
  }

  // A replica that died is restarted (without any injected fault) and catches
  // up from the journal; a replica that keeps dying is retried with back-off.
  void supervise() {
    const std::uint64_t now = mono_us();
    for (const auto& e : processes_.reap()) {
      Link& l = links_[static_cast<std::size_t>(e.replica)];
      l.connected = false;
      if (now - l.started_us > 30'000'000) l.backoff_ms = 0;
      l.backoff_ms = l.backoff_ms == 0 ? 200 : std::min<std::uint64_t>(l.backoff_ms * 2, 10'000);
      l.restart_at_us = now + l.backoff_ms * 1000;
      log::error(std::string("replica ") + replica_name(e.replica) + " " + e.how +
                 "; restarting in " + std::to_string(l.backoff_ms) + " ms");
    }
    for (int r = 0; r < kReplicaCount; ++r) {
      Link& l = links_[static_cast<std::size_t>(r)];
      if (l.restart_at_us == 0 || now < l.restart_at_us) continue;
      l.restart_at_us = 0;
      ++l.restarts;
      if (Status s = start_replica(r, replica::Fault{}); !s.is_ok()) {
        log::error(std::string("replica ") + replica_name(r) + ": " + s.to_string());
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
    voter_.on_time(mono_us(), &out_);
    handle_voter_output();
  }

  // ---- clients ------------------------------------------------------------

  void receive_clients() {
    const std::uint64_t first_new = sequencer_.last_seq() + 1;
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
      on_client_message(client.to_string(), payload);
    }
    send_new_entries(first_new);
  }

  void on_client_message(const std::string& client, const zmq::message_t& payload) {
    if (payload.size() > wire::kMaxClientMessageBytes) {
      return reply_error(client, 0, wire::ClientErrorKind::TooLarge,
                         "request of " + std::to_string(payload.size()) +
                             " bytes exceeds the limit of " +
                             std::to_string(wire::kMaxClientMessageBytes));
    }
    const wire::ClientRequest* request = nullptr;
    if (Status s = wire::verify_client_request(bytes_of(payload), &request); !s.is_ok()) {
      return reply_error(client, 0, wire::ClientErrorKind::Malformed, s.message());
    }
    if (request->ping() != nullptr) {
      flatbuffers::FlatBufferBuilder fbb(64);
      wire::ClientReplyBuilder b(fbb);
      b.add_tag(request->ping()->tag());
      b.add_pong(true);
      fbb.Finish(b.Finish());
      return send_client(client, fbb);
    }
    const wire::SubmitRequest* submit = request->submit();
    if (submit == nullptr || submit->tx() == nullptr) {
      return reply_error(client, 0, wire::ClientErrorKind::Malformed,
                         "request carries neither a transaction nor a ping");
    }
    const std::uint64_t tag = submit->tag();
    Transaction tx = wire::read_transaction(submit->tx());
    if (!tx.id || !is_valid_transaction_id(*tx.id)) {
      return reply_error(client, tag, wire::ClientErrorKind::InvalidId,
                         tx.id ? "id must be 1..64 characters of [A-Za-z0-9._:-]"
                               : "id is missing or not a string");
    }
    if (voter_.open_count() >= config_.max_in_flight) {
      return reply_error(client, tag, wire::ClientErrorKind::Overloaded,
                         "front end overloaded: " + std::to_string(voter_.open_count()) +
                             " transactions in flight; retry later");
    }
    const std::optional<std::int64_t> client_ts =
        tx.is_malformed(Field::kTs) ? std::nullopt : tx.ts;
    const sequencer::Admission a =
        sequencer_.admit(*tx.id, wire::transaction_digest(tx), client_ts, wall_ms());
    switch (a.kind) {
      case sequencer::Admission::Kind::kIdReused:
        return reply_error(client, tag, wire::ClientErrorKind::IdReused,
                           "id " + *tx.id +
                               " was already sequenced with different content; not sequenced");
      case sequencer::Admission::Kind::kRepeated:
        ++replayed_;
        if (a.seq <= answers_.size() && answers_[a.seq - 1]) {
          return reply_decision(client, tag, a.seq, /*replayed=*/true);
        }
        waiters_[a.seq].push_back({client, tag, true});
        return;
      case sequencer::Admission::Kind::kNew:
        break;
    }
    TRIAD_ASSERT(a.seq == journal_.size() + 1);
    journal_.push_back({a.ts_ms, std::move(tx)});
    answers_.emplace_back();
    voter_.open(a.seq, mono_us());
    waiters_[a.seq].push_back({client, tag, false});
  }

  void reply_error(const std::string& client, std::uint64_t tag, wire::ClientErrorKind kind,
                   const std::string& message) {
    ++client_errors_;
    flatbuffers::FlatBufferBuilder fbb(256);
    const auto text = fbb.CreateString(message);
    wire::ClientReplyBuilder b(fbb);
    b.add_tag(tag);
    b.add_error_kind(kind);
    b.add_error(text);
    fbb.Finish(b.Finish());
    send_client(client, fbb);
  }

  void reply_decision(const std::string& client, std::uint64_t tag, std::uint64_t seq,
                      bool replayed) {
    const Answer& answer = *answers_[seq - 1];
    const JournalEntry& entry = journal_[seq - 1];
    flatbuffers::FlatBufferBuilder fbb(512 + answer.certificate.size());
    const auto decision = wire::CreateDecision(
        fbb, fbb.CreateString(*entry.tx.id), seq, entry.ts_ms, fbb.CreateString(answer.code),
        fbb.CreateString(answer.agree), fbb.CreateString(answer.divergent), replayed,
        fbb.CreateVector(answer.certificate));
    wire::ClientReplyBuilder b(fbb);
    b.add_tag(tag);
    b.add_decision(decision);
    fbb.Finish(b.Finish());
    send_client(client, fbb);
  }

  void send_client(const std::string& client, const flatbuffers::FlatBufferBuilder& fbb) {
    // A client that went away is not an error of ours; the message is dropped.
    try {
      clients_.send(zmq::buffer(client), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      clients_.send(zmq::const_buffer(fbb.GetBufferPointer(), fbb.GetSize()),
                    zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      log::warn(std::string("reply to a client dropped: ") + e.what());
    }
  }

  // ---- replicas -----------------------------------------------------------

  void send_new_entries(std::uint64_t first_seq) {
    const std::uint64_t last = sequencer_.last_seq();
    if (first_seq > last) return;
    for (int r = 0; r < kReplicaCount; ++r) {
      if (links_[static_cast<std::size_t>(r)].connected) send_range(r, first_seq, last);
    }
  }

  void send_range(int r, std::uint64_t from, std::uint64_t to) {
    to = std::min<std::uint64_t>(to, journal_.size());
    while (from <= to) {
      const std::uint64_t end = std::min<std::uint64_t>(to, from + kResendBatch - 1);
      flatbuffers::FlatBufferBuilder fbb(512 * (end - from + 1));
      std::vector<flatbuffers::Offset<wire::Sequenced>> entries;
      for (std::uint64_t seq = from; seq <= end; ++seq) {
        const JournalEntry& e = journal_[seq - 1];
        entries.push_back(wire::CreateSequenced(fbb, seq, e.ts_ms, wire::build_transaction(fbb, e.tx)));
      }
      fbb.Finish(wire::CreateToReplica(fbb, fbb.CreateVector(entries)));
      try {
        replicas_.send(zmq::const_buffer(&"abc"[r], 1), zmq::send_flags::sndmore);
        replicas_.send(zmq::const_buffer(fbb.GetBufferPointer(), fbb.GetSize()),
                       zmq::send_flags::none);
      } catch (const zmq::error_t& e) {
        // Not connected (restarting): it catches up from the journal on hello.
        links_[static_cast<std::size_t>(r)].connected = false;
        return;
      }
      from = end + 1;
    }
  }

  void receive_replicas() {
    zmq::message_t from;
    zmq::message_t payload;
    for (int i = 0; i < 4096 && replicas_.recv(from, zmq::recv_flags::dontwait); ++i) {
      if (!from.more() || !replicas_.recv(payload, zmq::recv_flags::none)) continue;
      const int r = from.size() == 1 ? replica_index(static_cast<const char*>(from.data())[0]) : -1;
      if (r < 0) {
        ++malformed_replica_messages_;
        log::warn("message from an unknown replica identity dropped");
        continue;
      }
      const wire::FromReplica* msg = nullptr;
      if (Status s = wire::verify_from_replica(bytes_of(payload), &msg); !s.is_ok()) {
        ++malformed_replica_messages_;
        log::warn(std::string("replica ") + replica_name(r) + ": " + s.message());
        continue;
      }
      if (msg->hello() != nullptr) on_hello(r, *msg->hello());
      if (msg->fetch() != nullptr) {
        send_range(r, msg->fetch()->from_seq(), msg->fetch()->to_seq());
      }
      if (msg->verdicts() != nullptr) {
        for (const wire::Verdict* v : *msg->verdicts()) on_verdict(r, v);
      }
    }
    handle_voter_output();
  }

  void on_hello(int r, const wire::Hello& hello) {
    Link& l = links_[static_cast<std::size_t>(r)];
    const std::string fingerprint(wire::as_view(hello.fingerprint()));
    if (!l.connected) {
      log::info(std::string("replica ") + replica_name(r) + " connected at seq " +
                std::to_string(hello.next_seq()) + ", fingerprint \"" + fingerprint + "\"");
      if (hello.rules_version() != rules::kRulesVersion) {
        log::error(std::string("replica ") + replica_name(r) + " runs rules version " +
                   std::to_string(hello.rules_version()) + ", front end expects " +
                   std::to_string(rules::kRulesVersion));
      }
    }
    const bool was_connected = l.connected;
    l.connected = true;
    l.fingerprint = fingerprint;
    if (!was_connected && ready_) {
      if (const std::string same = identical_builds(); !same.empty()) log::warn("WARNING: " + same);
    }
    send_range(r, std::max<std::uint64_t>(hello.next_seq(), 1), sequencer_.last_seq());
  }

  void on_verdict(int r, const wire::Verdict* v) {
    voter::ReplicaVerdict verdict;
    if (Status s = wire::read_verdict(v, &verdict); !s.is_ok()) {
      ++malformed_replica_messages_;
      log::warn(std::string("replica ") + replica_name(r) + ": " + s.message());
      return;
    }
    if (!voter_.wants(verdict.content.seq, r)) {
      ++late_verdicts_;  // e.g. a restarted replica catching up: nothing to vote on
      return;
    }
    // The name comes from the connection, not from what the message claims.
    verdict.signature_valid =
        verdict.replica == r &&
        links_[static_cast<std::size_t>(r)].key.verify(
            wire::verdict_signing_bytes(verdict.content, r, verdict.fingerprint),
            verdict.signature);
    verdict.replica = r;
    voter_.on_verdict(verdict, mono_us(), &out_);
  }

  void handle_voter_output() {
    for (const voter::Decision& d : out_.decisions) on_decision(d);
    for (const voter::Divergence& d : out_.divergences) on_divergence(d);
    out_.clear();
  }

  void on_decision(const voter::Decision& d) {
    ++decisions_;
    Answer answer;
    answer.code = to_string(d.code);
    answer.agree = names_of(d.agree_mask);
    answer.divergent = names_of(d.divergent_mask);
    if (d.kind == voter::DecisionKind::kAgreed) {
      answer.certificate = wire::build_certificate(d.signers.front().content, d.signers);
    } else {
      ++fail_safe_;
      log::warn("seq " + std::to_string(d.seq) + ": fail-safe decline " + answer.code +
                (d.kind == voter::DecisionKind::kNoAgreement ? " (no two replicas agreed)"
                                                             : " (fewer than two replicas answered)"));
    }
    answers_[d.seq - 1] = std::move(answer);
    const auto it = waiters_.find(d.seq);
    if (it == waiters_.end()) return;
    for (const Waiter& w : it->second) reply_decision(w.client, w.tag, d.seq, w.replayed);
    waiters_.erase(it);
  }

  void on_divergence(const voter::Divergence& d) {
    Link& l = links_[static_cast<std::size_t>(d.replica)];
    ++l.divergences;
    std::string evidence;
    if (d.observed) evidence += " observed code " + to_string(d.observed->code);
    if (d.majority) evidence += ", majority code " + to_string(d.majority->code);
    log::warn(std::string("divergence: replica ") + replica_name(d.replica) + " seq " +
              std::to_string(d.seq) + " " + voter::to_string(d.kind) + evidence);
  }

  Config config_;
  zmq::socket_t clients_;
  zmq::socket_t replicas_;
  std::string client_endpoint_;
  std::string replica_endpoint_;
  std::array<Link, kReplicaCount> links_;
  ReplicaProcesses processes_;
  sequencer::Sequencer sequencer_;
  voter::Voter voter_;
  voter::Output out_;
  // In memory for now: index seq - 1. The durable journal is issue 6's.
  std::vector<JournalEntry> journal_;
  std::vector<std::optional<Answer>> answers_;
  std::unordered_map<std::uint64_t, std::vector<Waiter>> waiters_;
  std::uint64_t decisions_ = 0;
  std::uint64_t fail_safe_ = 0;
  std::uint64_t replayed_ = 0;
  std::uint64_t client_errors_ = 0;
  std::uint64_t malformed_replica_messages_ = 0;
  std::uint64_t late_verdicts_ = 0;
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
