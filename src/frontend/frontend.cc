#include "frontend/frontend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <zmq.hpp>

#include "audit/reader.h"
#include "audit/store.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/hardening.h"
#include "common/hex.h"
#include "common/layout.h"
#include "common/log.h"
#include "common/stop_signals.h"
#include "crypto/aead.h"
#include "crypto/card_ref.h"
#include "crypto/hash.h"
#include "crypto/key_files.h"
#include "frontend/core.h"
#include "frontend/file_archive.h"
#include "frontend/keys.h"
#include "frontend/processes.h"
#include "frontend/reply_gate.h"
#include "frontend/snapshot_writer.h"
#include "journal/background_sync.h"
#include "metrics/metrics.h"
#include "rules/engine.h"
#include "transport/curve.h"
#include "transport/poll.h"
#include "transport/zap.h"
#include "wire/codec.h"

namespace triad::frontend {
namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::span<const std::uint8_t> bytes_of(const zmq::message_t& m) {
  return {static_cast<const std::uint8_t*>(m.data()), m.size()};
}

std::string replica_label(int r) { return std::string("replica ") + replica_name(r); }

// High-water marks (messages) of the ROUTER sockets, explained where set.
constexpr int kClientReplyHwm = 25'000;
constexpr std::size_t kClientRecvHwm = IntakeThrottle::kBacklogRequests;
// Each drain of the client or the replica socket stops after this long.
constexpr std::uint64_t kDrainUs = 5'000;
constexpr int kReplicaSendHwm = 256;
// At most this many answers go out ahead of the rest of a turn (just decided,
// or just made durable by the sync); more wait for the turn's end and leave
// together, in fewer sends, as before early answers existed. Early answers
// are for light load, where one saves tens of µs (bench/README.md, "Light
// load").
// Without the limit, one CI run of the overload test dropped 4,213 replies at
// the client's high-water mark during its flood probe; that the early answers
// caused it is not established, so heavy load keeps the old behaviour.
constexpr std::size_t kPromptAnswers = 8;
// How often the replica processes are checked for an exit.
constexpr std::uint64_t kReapIntervalUs = 10'000;

// The I/O shell around Core: sockets, the replica processes, the clock.
class FrontEnd {
 public:
  FrontEnd(const Config& config, zmq::context_t& context)
      : config_(config),
        context_(context),
        clients_(context, zmq::socket_type::router),
        replicas_(context, zmq::socket_type::router),
        control_(context, zmq::socket_type::rep) {}

  // Opens the audit store and the input journal (recovering what it holds),
  // loads the public keys and binds the sockets. No process is started yet,
  // so a failure here leaves nothing running.
  // `origin`: what the journal's transactions are decided over
  // (journal::check_origin).
  Status open(const crypto::SymmetricKey& journal_key, const crypto::SymmetricKey& card_ref_key,
              const std::string& origin) {
    if (config_.audit) {
      audit::StoreOptions options;
      options.retention_days = config_.audit_retention_days;
      if (Status s = audit::AuditStore::open(layout::audit_db(config_.dir), options, &audit_);
          !s.is_ok()) {
        return Status::io_error("audit store: " + s.message());
      }
    }
    TRIAD_RETURN_IF_ERROR(
        FileArchive::open(journal_, layout::certificates(config_.dir), &archive_));
    // A journalled seq the replay cannot decide again (replicas that disagree
    // in it) is answered with the certificate its answer had before the
    // restart, found in the audit store, which keeps every run's.
    if (config_.audit) {
      auto reader = std::make_shared<audit::AuditReader>();
      if (const Status s = audit::AuditReader::open(layout::audit_db(config_.dir), reader.get());
          s.is_ok()) {
        archive_->set_earlier_certificates(
            [reader](std::uint64_t seq, std::vector<std::uint8_t>* out) {
              return reader->certificate_at(seq, out);
            });
      } else {
        log::warn("audit store: " + s.message() +
                  "; a seq the replay cannot decide again will be declined fail-safe");
      }
    }
    Core::Config core_config;
    core_config.archive = archive_.get();
    core_config.trust_client_time = config_.trust_client_time;
    core_config.card_ref_key = card_ref_key;
    crypto::random_bytes(core_config.id_hash_key);
    core_config.deadline_us = config_.deadline_ms * 1000;
    core_config.max_in_flight = config_.max_in_flight;
    core_config.simplex = config_.simplex;
    core_config.store_snapshot_every = config_.snapshot_every;
    core_config.repair.transient_limit = config_.transient_limit;
    core_config.repair.transient_window_us = config_.transient_window_ms * 1000;
    // A snapshot may wait for the vote at its seq, up to a deadline.
    core_config.repair.snapshot_wait_us =
        std::max<std::uint64_t>(core_config.repair.snapshot_wait_us, 2 * core_config.deadline_us);
    for (int r = 0; r < kReplicaCount; ++r) {
      TRIAD_RETURN_IF_ERROR(
          crypto::load_public_key(layout::replica_public_key(config_.dir, r),
                                  &core_config.replica_keys[static_cast<std::size_t>(r)]));
    }
    TRIAD_RETURN_IF_ERROR(Core::create(core_config, monotonic_us(), &core_));
    TRIAD_RETURN_IF_ERROR(open_journal(journal_key, origin));
    if (config_.curve) TRIAD_RETURN_IF_ERROR(set_up_curve());
    clients_.set(zmq::sockopt::linger, 0);
    clients_.set(zmq::sockopt::maxmsgsize, wire::kMaxTransportMessageBytes);
    // Replies queued for one client: a second of them at 25,000/s, ~15 MB of
    // decisions at most, so a client that does not read its replies cannot
    // grow this process much. Beyond it a reply is dropped and counted
    // (send_out); router_mandatory makes the full queue visible instead of
    // silent. The mark counts messages; a batch of replies is no larger than
    // one reply may be (wire::kMaxReplyBatchBytes).
    clients_.set(zmq::sockopt::sndhwm, kClientReplyHwm);
    clients_.set(zmq::sockopt::router_mandatory, 1);
    // Requests queued per client before ZeroMQ stops reading its TCP
    // connection (the client then queues them itself). More than a client
    // keeps in flight (`triad submit`: 1,000), so reading this many in a row
    // without finding the socket empty (receive_clients) means a backlog,
    // not a burst. Admission control answers the ones read, promptly.
    clients_.set(zmq::sockopt::rcvhwm, static_cast<int>(kClientRecvHwm));
    replicas_.set(zmq::sockopt::linger, 0);
    replicas_.set(zmq::sockopt::router_mandatory, 1);
    // Without CURVE a replica names its connection by its letter, and a
    // restarted one takes the name back. With CURVE replicas pick no name
    // (the socket names their connections) and messages are told apart by
    // their key (receive_replicas); a name a peer does pick counts for
    // nothing. With handover, a name one key picked could be taken by
    // another with its connection (a review helper's rogue, with replica a's
    // key and routing id "b", cut b off and got it repaired).
    replicas_.set(zmq::sockopt::router_handover, config_.curve ? 0 : 1);
    // Messages (of up to 512 entries) queued for one replica: 256, ~130,000
    // entries, more than a catch-up replay sends at once on the journals of
    // these runs; only a replica that stops reading reaches it. Beyond it a
    // message is dropped and counted: the replica fetches the gap when it
    // reads again (as after any loss), and the front end never blocks on it.
    // A snapshot install's part dropped is not fetched: the replica refuses
    // the install (a part missing), or waits, and the repair fails and is
    // tried again.
    replicas_.set(zmq::sockopt::sndhwm, kReplicaSendHwm);
    // Verdicts in: unbounded here, but bounded at the source, since a replica
    // answers only entries that were admitted and sequenced.
    replicas_.set(zmq::sockopt::rcvhwm, 0);
    replicas_.set(zmq::sockopt::maxmsgsize, wire::kMaxReplicaTransportBytes);
    try {
      clients_.bind(config_.listen_endpoint);
    } catch (const zmq::error_t& e) {
      return Status::unavailable("cannot listen on " + config_.listen_endpoint + ": " + e.what());
    }
    replicas_.bind("tcp://127.0.0.1:*");
    control_.set(zmq::sockopt::linger, 0);
    control_.set(zmq::sockopt::maxmsgsize, std::int64_t{4096});
    control_.bind("tcp://127.0.0.1:*");
    client_endpoint_ = clients_.get(zmq::sockopt::last_endpoint);
    replica_endpoint_ = replicas_.get(zmq::sockopt::last_endpoint);
    control_endpoint_ = control_.get(zmq::sockopt::last_endpoint);
    if (config_.metrics_port) {
      metrics_ = std::make_unique<metrics::Metrics>();
      TRIAD_RETURN_IF_ERROR(metrics_->serve(config_.metrics_host, *config_.metrics_port));
    }
    return Status::ok();
  }

  // The input journal could not be written: the front end stopped sending
  // and answering, and exits with an error.
  bool journal_failed() const { return journal_failed_; }
  const std::string& client_endpoint() const { return client_endpoint_; }
  // "CURVE, any client key" and the like, for the start-up log line.
  const std::string& security_summary() const { return security_summary_; }
  const std::string& control_endpoint() const { return control_endpoint_; }
  // Where the metrics are served; empty when they are off.
  std::string metrics_url() const { return metrics_ ? metrics_->url() : std::string(); }

  Status start_replicas() {
    for (int r = 0; r < (config_.simplex ? 1 : kReplicaCount); ++r) {
      TRIAD_RETURN_IF_ERROR(
          start_replica(r, config_.faults[static_cast<std::size_t>(r)], core_->replica(r).launch));
    }
    return Status::ok();
  }

  // Serves until every replica said hello; Unavailable after `timeout_ms`.
  Status wait_ready(int timeout_ms) {
    const std::uint64_t deadline = monotonic_us() + static_cast<std::uint64_t>(timeout_ms) * 1000;
    while (!stopping_) {
      if (core_->all_connected()) return check_fingerprints();
      if (monotonic_us() > deadline) {
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
    while (!stopping_) {
      long timeout_ms = 50;
      if (const auto t = core_->next_timer_us()) {
        const std::uint64_t now = monotonic_us();
        timeout_ms =
            *t <= now ? 0 : std::min<long>(timeout_ms, static_cast<long>((*t - now) / 1000 + 1));
      }
      if (const auto t = journal_->next_sync_us()) {  // the interval policy's sync
        const std::uint64_t now = monotonic_us();
        timeout_ms =
            *t <= now ? 0 : std::min<long>(timeout_ms, static_cast<long>((*t - now) / 1000 + 1));
      }
      poll_once(timeout_ms);
      supervise();
    }
  }

  void stop() {
    processes_.stop_all();
    close_audit();
    close_journal();
    if (!core_) return;
    const Core::Counters& c = core_->counters();
    std::ostringstream s;
    s << "stopped: " << c.sequenced << " sequenced, " << c.decisions << " decided (" << c.fail_safe
      << " fail-safe), " << c.replayed << " replayed, " << c.client_errors << " client errors ("
      << c.overloaded << " overloaded), " << replies_dropped_ << " replies dropped, "
      << c.late_verdicts << " late verdicts, faults (as triad status counts them: divergences "
      << "and process exits)";
    for (int r = 0; r < kReplicaCount; ++r) {
      const auto& by_kind = core_->supervisor().stats(r, monotonic_us()).faults_by_kind;
      s << " " << replica_name(r) << "=" << std::accumulate(by_kind.begin(), by_kind.end(), 0ull);
    }
    log::info(s.str());
  }

 private:
  // Reads back DIR/journal and hands it to the core, before any replica
  // starts: the fresh replicas replay it all once they connect.
  Status open_journal(const crypto::SymmetricKey& key, const std::string& origin) {
    // Checked whole here, but not kept: the core reads the records back in
    // parts (Core::recover).
    journal::Recovery recovery;
    recovery.keep_entries = false;
    const std::string path = layout::journal(config_.dir);
    TRIAD_RETURN_IF_ERROR(
        journal::Journal::open(path, key, config_.fsync, monotonic_us(), &recovery, &journal_));
    const std::uint64_t count = journal_->last_seq();  // seqs 1..count
    std::string message = "recovered " + std::to_string(count) + " transactions (last seq " +
                          std::to_string(count) + ") from " + path + "; fsync policy " +
                          journal::to_string(config_.fsync);
    if (recovery.truncated_at) {
      message += "; truncated a torn tail at offset " + std::to_string(*recovery.truncated_at) +
                 " (" + std::to_string(recovery.truncated_bytes) +
                 " bytes: " + recovery.truncation_reason + ")";
    }
    TRIAD_RETURN_IF_ERROR(journal::check_origin(layout::origin(config_.dir), origin, count == 0));
    // The answer log is made with the journal and only ever replaced by a
    // rename: without it, a journalled seq once declined fail-safe would be
    // answered as the replay decides it, an approval perhaps.
    if (count > 0 && ::access(layout::answer_log(config_.dir).c_str(), F_OK) != 0) {
      return Status::corruption(layout::answer_log(config_.dir) +
                                " is missing next to a journal that holds transactions: its "
                                "fail-safe declines would be answered anew. Restore it from a "
                                "backup of " +
                                config_.dir);
    }
    std::vector<journal::FailSafeAnswer> fail_safe;
    TRIAD_RETURN_IF_ERROR(journal::AnswerLog::open(layout::answer_log(config_.dir), config_.fsync,
                                                   count > 0, &fail_safe, &answer_log_));
    if (!fail_safe.empty()) {
      message += "; " + std::to_string(fail_safe.size()) + " fail-safe declines from " +
                 answer_log_->path();
    }
    const std::size_t logged = fail_safe.size();
    // Where the replay may start: the newest stored snapshot, which the
    // core checks before it uses it.
    journal::StoredSnapshot stored;
    const std::string snapshot_path = layout::snapshot(config_.dir);
    const Status read = journal::read_snapshot_file(snapshot_path, key, &stored);
    if (!read.is_ok() && read.code() != Status::Code::kNotFound) {
      log::warn(snapshot_path + ": " + read.message() + "; the whole journal is replayed");
    }
    // The writer syncs the journal before it stores a snapshot, whatever
    // the fsync policy: an authentic snapshot past the journal's end means
    // the journal lost records it had synced (deleted, cut short, damaged),
    // and going on would sequence new transactions under seqs, and ids,
    // already answered.
    if (read.is_ok() && stored.seq > count) {
      const std::uint64_t stored_seq = stored.seq;
      journal::wipe_state(&stored);
      return Status::corruption(
          snapshot_path + " holds the state after seq " + std::to_string(stored_seq) + ", but " +
          path + " ends at seq " + std::to_string(count) +
          ": the journal has lost transactions it had synced (a snapshot is stored only after "
          "the journal's sync through its seq), and those answered would be sequenced again. "
          "Restore " +
          path + " from a backup of " + config_.dir + "; to start afresh, use another --dir");
    }
    TRIAD_RETURN_IF_ERROR(archive_->read_kept(read.is_ok() ? std::min(stored.seq, count) : 0));
    std::uint64_t start_seq = 0;
    const Status recovered =
        core_->recover(count, &fail_safe, read.is_ok() ? &stored : nullptr, &start_seq);
    journal::wipe_state(&stored);  // recover() made the replicas' install message of it
    if (!recovered.is_ok()) {
      return Status::corruption("journal " + path + ": " + recovered.message());
    }
    if (start_seq > 0) {
      message += "; starting from the stored snapshot of seq " + std::to_string(start_seq);
    }
    TRIAD_RETURN_IF_ERROR(archive_->keep_through(start_seq));
    if (fail_safe.size() != logged) TRIAD_RETURN_IF_ERROR(answer_log_->rewrite(fail_safe));
    if (config_.snapshot_every > 0) {
      // Not dups: the writer's syncs must not take a write-back error away
      // from the journal's own (journal::open_for_sync says why).
      int journal_fd = -1;
      int certificates_fd = -1;
      TRIAD_RETURN_IF_ERROR(journal::open_for_sync(path, &journal_fd));
      if (Status s = journal::open_for_sync(layout::certificates(config_.dir), &certificates_fd);
          !s.is_ok()) {
        ::close(journal_fd);
        return s;
      }
      snapshot_writer_ = std::make_unique<SnapshotWriter>(snapshot_path, key, journal_fd,
                                                          certificates_fd, start_seq);
    }
    journaled_seq_ = journal_->last_seq();
    if (config_.fsync.kind == journal::FsyncPolicy::Kind::kBatch) {
      const int fd = ::dup(journal_->fd());
      if (fd < 0) {
        return Status::io_error(std::string("cannot dup the journal's descriptor: ") +
                                std::strerror(errno));
      }
      TRIAD_RETURN_IF_ERROR(journal::BackgroundSync::start(fd, path, &syncer_));
      journal_->sync_elsewhere();
      // What recovery read may be in the page cache only (a kill -9 does not
      // sync): the answers that replay gives wait for this first sync.
      syncer_->request(journal_->last_seq());
    }
    log::info(message);
    return Status::ok();
  }

  // Group commit: what was sequenced since the last call is written before
  // send_out sends anything, so no replica ever sees a seq the journal could
  // lose to a crash of this process. Under --fsync batch the background
  // thread then syncs it while the replicas work, and a decision is
  // answered only once its seq is synced (ReplyGate), so no client sees one
  // that a power cut could lose (journal/background_sync.h says why the
  // replicas may go first). The other policies sync here, as they promise.
  void persist() {
    if (journal_failed_) return;
    for (std::uint64_t seq = journaled_seq_ + 1; seq <= core_->last_seq(); ++seq) {
      journal_->append(seq, core_->sequenced_ts_ms(seq), core_->sequenced_tx(seq));
    }
    journaled_seq_ = core_->last_seq();
    if (Status s = journal_->commit(monotonic_us()); !s.is_ok()) {
      return stop_answering("input journal", s);
    }
    if (syncer_) syncer_->request(journaled_seq_);
    // Before their replies can go: a fail-safe decline must outlive a
    // restart, since the replay would decide its seq otherwise.
    if (Status s = answer_log_->append(out_.fail_safe_answers); !s.is_ok()) {
      return stop_answering("answer log", s);
    }
  }

  // Sends the held replies whose seqs are durable (all of them up to
  // `durable`).
  void release_replies(std::uint64_t durable) {
    replies_.release(
        durable, [this](const std::string& client, std::span<const std::uint8_t> frame) {
          // A client that went away, or lets kClientReplyHwm replies pile up, is
          // not an error of ours; the answer is dropped and counted.
          bool sent = false;
          try {
            sent = clients_.send(zmq::buffer(client),
                                 zmq::send_flags::sndmore | zmq::send_flags::dontwait) &&
                   clients_.send(zmq::const_buffer(frame.data(), frame.size()),
                                 zmq::send_flags::dontwait);
          } catch (const zmq::error_t&) {  // EHOSTUNREACH: gone
          }
          if (!sent && replies_dropped_++ % 10'000 == 0) {
            log::warn("reply to a client dropped (gone, or not reading); " +
                      std::to_string(replies_dropped_) + " so far");
          }
        });
  }

  // Every seq up to here may be answered: synced by the background thread
  // under --fsync batch; written (the policy's promise) otherwise.
  std::uint64_t durable_seq() const { return syncer_ ? syncer_->durable_seq() : journaled_seq_; }

  // The background sync advanced, or failed.
  void on_synced() {
    syncer_->drain();
    if (Status s = syncer_->error(); !s.is_ok()) {
      if (!journal_failed_) stop_answering("input journal", s);
      return;
    }
    if (!journal_failed_ && replies_.held() <= kPromptAnswers) release_replies(durable_seq());
  }

  // A write or sync of what answers depend on failed: answering on would
  // promise what may not be on disk, so nothing more is answered.
  void stop_answering(const char* what, const Status& s) {
    log::error(std::string(what) + ": " + s.message() + "; stopping, nothing more is answered");
    journal_failed_ = true;
    stopping_ = true;
  }

  // The syncs that answers wait for: a BackgroundSync's (--fsync batch) or
  // the journal's own (always); with never, there are none.
  const journal::SyncTimes& journal_sync_times() const {
    return syncer_ ? syncer_->times() : journal_->sync_times();
  }

  void close_journal() {
    if (!journal_) return;
    const journal::SyncTimes& times = journal_sync_times();
    std::string syncs = std::to_string(times.count()) + " syncs since start";
    if (times.count() > 0) {
      syncs += " (longest " + std::to_string(times.longest_us() / 1000) + " ms, " +
               std::to_string(times.slow()) + " of " +
               std::to_string(journal::SyncTimes::kSlowUs / 1000) + " ms or more)";
    }
    if (syncer_) {
      // Its last sync may fail after the event loop's last turn, and the
      // journal's own sync below would not see that error again.
      if (Status s = syncer_->stop(); !s.is_ok() && !journal_failed_) {
        stop_answering("input journal", s);
      }
      syncer_.reset();
    }
    answer_log_.reset();
    snapshot_writer_.reset();  // what it was given is written first
    if (Status s = journal_->close(); !s.is_ok()) {
      log::error("input journal: " + s.message());
    } else {
      log::info(
          "input journal " + journal_->path() + ": " + std::to_string(journal_->last_seq()) +
          " transactions, " + std::to_string(journal_->size_bytes()) + " bytes, " + syncs +
          (journal_failed_ ? "; a sync failed, so what was not answered may not be on disk" : ""));
      // All is durable now: what still waited for its sync goes out.
      if (!journal_failed_) release_replies(UINT64_MAX);
    }
    journal_.reset();
  }

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
    return Status::invalid_argument(same +
                                    "; start three different builds, or pass "
                                    "--allow-identical-builds if this is intended");
  }

  // `launch`: which process of replica r this is (ReplicaView::launch).
  Status start_replica(int r, const replica::Fault& fault, std::uint64_t launch) {
    std::vector<std::string> argv = {config_.replica_binaries[static_cast<std::size_t>(r)],
                                     "--id",
                                     std::string(1, replica_name(r)),
                                     "--cards",
                                     config_.cards_path,
                                     "--key",
                                     layout::replica_secret_key(config_.dir, r),
                                     "--card-ref-key",
                                     layout::card_ref_key(config_.dir),
                                     "--connect",
                                     replica_endpoint_,
                                     "--inject",
                                     replica::to_string(fault),
                                     "--seed",
                                     std::to_string(config_.seed),
                                     "--checkpoint-every",
                                     std::to_string(config_.checkpoint_interval),
                                     "--log",
                                     layout::replica_log(config_.dir, r),
                                     "--launch",
                                     std::to_string(launch)};
    if (config_.curve) {
      argv.insert(
          argv.end(),
          {"--curve-key", layout::curve_secret_key(config_.dir, layout::curve_replica_party(r)),
           "--curve-server-key", layout::curve_public_key(config_.dir, layout::kCurveFrontEnd)});
    }
    return processes_.start(r, argv);
  }

  // Carries out the repair supervisor's process commands, and reports
  // processes that ended, whether asked to or not.
  void supervise() {
    const std::uint64_t now = monotonic_us();
    // A waitpid per replica is three system calls; every event-loop turn
    // (several per request) is more often than an exit needs noticing.
    if (now < next_reap_us_) return;
    next_reap_us_ = now + kReapIntervalUs;
    for (const auto& e : processes_.reap()) {
      log::error(replica_label(e.replica) + " " + e.how);
      core_->on_process_exited(e.replica, now, &out_);
    }
    send_out();
  }

  void run_process_commands() {
    // Commands can produce more commands (a failed start reports an exit).
    while (!out_.processes.empty()) {
      const auto commands = std::move(out_.processes);
      out_.processes.clear();
      for (const auto& c : commands) {
        if (c.kind == Outbox::ProcessCommand::Kind::kStop) {
          if (!processes_.kill(c.replica))
            core_->on_process_exited(c.replica, monotonic_us(), &out_);
        } else if (Status s = start_replica(c.replica, replica::Fault{}, c.launch); s.is_ok()) {
          log::info("restarted " + replica_label(c.replica) + " from scratch");
          core_->on_process_started(c.replica, monotonic_us(), &out_);
        } else {
          log::error(replica_label(c.replica) + ": " + s.to_string());
          core_->on_process_exited(c.replica, monotonic_us(), &out_);
        }
      }
    }
  }

  // Keys, the ZAP policy (which key may connect to which socket) and the
  // socket roles: every socket of the front end is a CURVE server.
  Status set_up_curve() {
    for (std::string& route : replica_routes_) route.clear();  // known by key, once heard from
    const std::string& dir = config_.dir;
    TRIAD_RETURN_IF_ERROR(transport::load_curve_key_pair(
        layout::curve_secret_key(dir, layout::kCurveFrontEnd), &curve_keys_));
    transport::ZapPolicy policy;
    for (int r = 0; r < kReplicaCount; ++r) {
      const std::string party = layout::curve_replica_party(r);
      std::string key;
      TRIAD_RETURN_IF_ERROR(
          transport::load_curve_public_key(layout::curve_public_key(dir, party), &key));
      policy.admit(kReplicaDomain, key, party);
    }
    std::string operator_key;
    TRIAD_RETURN_IF_ERROR(transport::load_curve_public_key(
        layout::curve_public_key(dir, layout::kCurveOperator), &operator_key));
    policy.admit(kControlDomain, operator_key, layout::kCurveOperator);
    if (config_.client_allow_dir.empty()) {
      policy.admit_any(kClientDomain);
      security_summary_ = "CURVE, any client key";
    } else {
      transport::ZapPolicy::KeyNames allowed;
      if (Status s = read_client_allow_list(&allowed); !s.is_ok()) {
        return Status::invalid_argument("client allow-list: " + s.message());
      }
      policy.replace_keys(kClientDomain, std::move(allowed));
      on_client_allow_list(policy.keys(kClientDomain));
    }
    zap_ = std::make_unique<transport::ZapHandler>(context_, std::move(policy));
    TRIAD_RETURN_IF_ERROR(zap_->start());
    const std::pair<zmq::socket_t*, const char*> sockets[] = {
        {&clients_, kClientDomain}, {&replicas_, kReplicaDomain}, {&control_, kControlDomain}};
    for (const auto& [socket, domain] : sockets) {
      transport::set_curve_server(*socket, curve_keys_, domain);
      TRIAD_RETURN_IF_ERROR(zap_->watch(*socket, domain));
    }
    return Status::ok();
  }

  // The keys of --client-allow's directory: Z85 public key -> name.
  Status read_client_allow_list(transport::ZapPolicy::KeyNames* keys) const {
    std::vector<std::pair<std::string, std::string>> named;
    TRIAD_RETURN_IF_ERROR(transport::load_curve_public_keys(config_.client_allow_dir, &named));
    keys->clear();
    for (const auto& [name, key] : named) (*keys)[key] = name;
    return Status::ok();
  }

  void on_client_allow_list(const transport::ZapPolicy::KeyNames& keys) {
    security_summary_ = "CURVE, " + std::to_string(keys.size()) +
                        " allow-listed client keys from " + config_.client_allow_dir;
    if (keys.empty()) log::warn("the client allow-list is empty: no client can connect");
  }

  // `triad reload-clients`: reads --client-allow's directory again. New
  // handshakes are decided by the new list; requests on a connection whose
  // key it no longer holds are refused (admitted_client_key). A directory
  // that cannot be read whole leaves the old list in place.
  nlohmann::json reload_client_allow_list() {
    using Json = nlohmann::json;
    if (!config_.curve || config_.client_allow_dir.empty()) {
      return Json{{"error", std::string("no client allow-list to reload: this cluster was "
                                        "started ") +
                                (config_.curve ? "without --client-allow (any client key is "
                                                 "admitted)"
                                               : "with --no-curve (no client key is checked)")}};
    }
    transport::ZapPolicy::KeyNames keys;
    if (Status s = read_client_allow_list(&keys); !s.is_ok()) {
      log::warn("client allow-list not reloaded, the one in use stays: " + s.message());
      return Json{
          {"error", "client allow-list not reloaded, the one in use stays: " + s.message()}};
    }
    transport::ZapPolicy& policy = zap_->policy();
    const transport::ZapPolicy::KeyNames old = policy.keys(kClientDomain);
    Json added = Json::array();
    Json removed = Json::array();
    for (const auto& [key, name] : keys) {
      if (!old.contains(key)) added.push_back(name);
    }
    for (const auto& [key, name] : old) {
      if (!keys.contains(key)) removed.push_back(name);
    }
    policy.replace_keys(kClientDomain, std::move(keys));
    const std::size_t listed = policy.keys(kClientDomain).size();
    on_client_allow_list(policy.keys(kClientDomain));
    ++client_allow_reloads_;
    log::info("client allow-list reloaded from " + config_.client_allow_dir + ": " +
              std::to_string(listed) + " keys, added " + added.dump() + ", removed " +
              removed.dump() +
              (removed.empty() ? "" : " (requests on their connections are refused from now on)"));
    return Json{{"ok", true}, {"keys", listed}, {"added", added}, {"removed", removed}};
  }

  // Whether a client message may be read: always, but with an allow-list,
  // only when the key its connection was admitted with is still on it. ZAP
  // decides once, at the handshake; a key taken off the list by a reload
  // keeps its connection, and this is what refuses its requests.
  bool admitted_client_key(zmq::message_t& payload, std::string* why) {
    if (!config_.curve || config_.client_allow_dir.empty()) return true;
    const char* key = zmq_msg_gets(payload.handle(), transport::kClientKeyProperty);
    if (key != nullptr && zap_->policy().admits(kClientDomain, key)) return true;
    const char* name = zmq_msg_gets(payload.handle(), "User-Id");
    *why = std::string("client key ") + (name != nullptr ? name : "?") + " (" +
           (key != nullptr ? key : "?") + ") is no longer on the allow-list " +
           config_.client_allow_dir + "; not sequenced";
    unadmitted_log_.warn(monotonic_us(), "refused a request: " + *why);
    return false;
  }

  void poll_once(long timeout_ms) {
    std::vector<zmq::pollitem_t>& items = poll_items_;
    // While a stalled disk holds --max-in-flight answers, no request is read:
    // none could be answered before the sync ends, and a refusal would be
    // held behind them too. The client socket's high-water mark makes the
    // clients wait instead of the front end's memory growing; the sync's end
    // wakes the loop. (A negative descriptor is one poll(2) skips.)
    const bool intake_paused = replies_.held() >= config_.max_in_flight;
    items.assign({intake_paused ? zmq::pollitem_t{nullptr, -1, ZMQ_POLLIN, 0}
                                : zmq::pollitem_t{clients_.handle(), 0, ZMQ_POLLIN, 0},
                  {replicas_.handle(), 0, ZMQ_POLLIN, 0},
                  control_quiet_.poll_item(),
                  {nullptr, stop_signals::fd(), ZMQ_POLLIN, 0}});
    if (syncer_) items.push_back({nullptr, syncer_->wake_fd(), ZMQ_POLLIN, 0});
    const std::size_t zap_first = zap_ ? zap_->add_poll_items(&items) : items.size();
    transport::poll_readable(items, timeout_ms);
    // ZAP first: a connection waiting for its answer carries no traffic yet.
    if (zap_) zap_->serve(std::span(items).subspan(zap_first));
    // The answers that waited only for this sync go before anything new is
    // handled (a few of them, kPromptAnswers): at 500/s a fifth of the sync's
    // wake-ups found client requests or verdicts too, and those took 190 µs
    // on average.
    if (items[3].revents & ZMQ_POLLIN) stopping_ = true;  // this turn is still finished
    if (syncer_ && (items[4].revents & ZMQ_POLLIN)) on_synced();
    if (items[0].revents & ZMQ_POLLIN) receive_clients();
    if (items[1].revents & ZMQ_POLLIN) receive_replicas();
    if (control_quiet_.due(items[2])) receive_control();
    core_->on_time(monotonic_us(), &out_);
    send_out();
  }

  void receive_clients() {
    zmq::message_t client;
    zmq::message_t payload;
    // Bounded, in count and in time, so replica traffic keeps flowing under
    // a client flood. Whether it found the socket empty feeds the intake's
    // backlog signal (IntakeThrottle): while the backlog lasts, fewer
    // transactions are admitted, which leaves the CPU for reading and
    // refusing.
    const std::uint64_t until_us = monotonic_us() + kDrainUs;
    std::size_t read = 0;
    bool emptied = false;
    while (read < kClientRecvHwm && (read == 0 || monotonic_us() < until_us)) {
      if (!clients_.recv(client, zmq::recv_flags::dontwait)) {
        emptied = true;
        break;
      }
      ++read;
      if (!client.more() || !clients_.recv(payload, zmq::recv_flags::none)) continue;
      while (payload.more()) {  // extra frames are not part of the protocol
        zmq::message_t extra;
        if (!clients_.recv(extra, zmq::recv_flags::none)) break;
        payload.swap(extra);
      }
      if (std::string why; !admitted_client_key(payload, &why)) {
        core_->refuse_unadmitted_client(client.to_string(), bytes_of(payload), why, &out_);
        continue;
      }
      core_->on_client_message(client.to_string(), bytes_of(payload), monotonic_us(), wall_ms(),
                               &out_);
    }
    core_->on_client_drain(read, emptied, monotonic_us());
    core_->flush_new_entries(&out_);
    send_out();
  }

  void receive_replicas() {
    zmq::message_t from;
    zmq::message_t payload;
    // Bounded in time as well: one message can carry thousands of verdicts,
    // and while they are counted no client request is read, not even to be
    // refused. The client drain has the same bound, so neither starves the
    // other (a verdict not counted by its deadline is reported missing).
    const std::uint64_t until_us = monotonic_us() + kDrainUs;
    for (int i = 0; i < 4096 && (i == 0 || monotonic_us() < until_us) &&
                    replicas_.recv(from, zmq::recv_flags::dontwait);
         ++i) {
      if (!from.more() || !replicas_.recv(payload, zmq::recv_flags::none)) continue;
      const int r = zap_               ? replica_of_key(from, payload)
                    : from.size() == 1 ? replica_index(static_cast<const char*>(from.data())[0])
                                       : -1;
      if (r < 0) {
        unknown_identity_log_.warn(monotonic_us(),
                                   "message from an unknown replica identity dropped");
        continue;
      }
      const bool was_connected = core_->replica(r).connected;
      core_->on_replica_message(r, bytes_of(payload), monotonic_us(), &out_);
      // A few decisions' answers go now (once durable), not after the rest
      // of the drain: at 500/s the rest held 72% of answers for over 20 µs,
      // 45 µs on average (most likely the third replica's verdict and its
      // signature check).
      if (!out_.to_clients.empty() && out_.to_clients.size() <= kPromptAnswers) send_out();
      if (!was_connected && ready_ && core_->replica(r).connected) {
        if (const std::string same = core_->identical_builds(); !same.empty()) {
          log::warn("WARNING: " + same);
        }
      }
    }
    send_out();
  }

  // With CURVE, ZAP names each connection by its key ("replica-b"), and
  // that is what says which replica a message is from; its connection is
  // where that replica is sent to from then on (a restarted process's new
  // one). Another replica's key can only take its own key's place.
  int replica_of_key(const zmq::message_t& from, zmq::message_t& payload) {
    const char* user = zmq_msg_gets(payload.handle(), "User-Id");
    for (int r = 0; r < kReplicaCount && user != nullptr; ++r) {
      if (layout::curve_replica_party(r) != user) continue;
      std::string& route = replica_routes_[static_cast<std::size_t>(r)];
      if (route != from.to_string_view()) {
        route = from.to_string();
        ++replica_routes_changed_;
      }
      return r;
    }
    return -1;
  }

  // Where replica r's messages go: its letter without CURVE, else the
  // connection of its key's latest message (empty before one).
  const std::string& replica_route(int r) const {
    return replica_routes_[static_cast<std::size_t>(r)];
  }

  // Until a receive fails (QuietSocket).
  void receive_control() {
    zmq::message_t request;
    while (control_.recv(request, zmq::recv_flags::dontwait)) answer_control(request);
  }

  // `triad status` and `triad inject`: one JSON request, one JSON answer.
  void answer_control(const zmq::message_t& request) {
    using Json = nlohmann::json;
    const Json j = Json::parse(request.to_string_view(), nullptr, /*allow_exceptions=*/false);
    std::string answer;
    const auto field = [&](const char* name) {
      return j.is_object() && j.contains(name) && j[name].is_string() ? j[name].get<std::string>()
                                                                      : std::string();
    };
    const std::string cmd = field("cmd");
    if (cmd == "status") {
      answer = status_with_audit(monotonic_us());
    } else if (cmd == "inject") {
      const std::string name = field("replica");
      const int r = name.size() == 1 ? replica_index(name[0]) : -1;
      replica::Fault fault;
      const Status s = replica::parse_fault(field("fault"), &fault);
      if (r < 0) {
        answer = Json{{"error", "replica must be a, b or c"}}.dump();
      } else if (!s.is_ok()) {
        answer = Json{{"error", s.message()}}.dump();
      } else {
        core_->inject(r, replica::to_string(fault), &out_);
        answer = Json{{"ok", true}}.dump();
      }
    } else if (cmd == "reload-clients") {
      answer = reload_client_allow_list().dump();
    } else {
      answer = Json{{"error", "unknown request; expected status, inject or reload-clients"}}.dump();
    }
    control_.send(zmq::buffer(answer), zmq::send_flags::dontwait);
    send_out();
  }

  void send_out() {
    persist();
    if (journal_failed_) {
      out_.clear();
      return;
    }
    run_process_commands();
    for (auto& m : out_.to_clients) replies_.hold(std::move(m));
    release_replies(durable_seq());
    for (const auto& m : out_.to_replicas) {
      if (!core_->replica(m.replica).connected) continue;
      try {
        const std::string& route = replica_route(m.replica);
        if (route.empty()) continue;  // not heard from: it says hello at connection
        if (!replicas_.send(zmq::buffer(route),
                            zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
            !replicas_.send(zmq::buffer(m.bytes), zmq::send_flags::dontwait)) {
          // kReplicaSendHwm reached: it is not reading; it fetches the gap later.
          if (replica_sends_dropped_++ % 1'000 == 0) {
            log::warn("message to " + replica_label(m.replica) + " dropped (not reading); " +
                      std::to_string(replica_sends_dropped_) + " so far");
          }
        }
      } catch (const zmq::error_t&) {
        // Not connected (restarting): it catches up from the journal on hello.
        core_->on_replica_gone(m.replica);
      }
    }
    record_audit();
    record_metrics();
    if (out_.snapshot_to_store && snapshot_writer_) {
      archive_->flush();  // its certificates on file, for the writer's sync
      if (archive_->buffered_bytes() == 0) {
        snapshot_writer_->write(*std::move(out_.snapshot_to_store));
      } else {  // a restart would find answers missing, and not use it
        const std::string reason = layout::certificates(config_.dir) + " cannot be written";
        log::error("snapshot of seq " + std::to_string(out_.snapshot_to_store->seq) +
                   " not stored: " + reason);
        snapshot_writer_->count_failure("seq " + std::to_string(out_.snapshot_to_store->seq) +
                                        ": " + reason);
      }
    }
    out_.clear();
    archive_->flush_if_due(monotonic_us());
    core_->release_journaled(journaled_seq_);
  }

  // Hands what happened to the audit store's writer thread; nothing here
  // waits for the disk. Copies rather than moves: other consumers of the
  // same Outbox may follow.
  void record_audit() {
    if (!audit_ || (out_.decisions.empty() && out_.divergences.empty() && out_.repairs.empty())) {
      return;
    }
    const std::int64_t now_ms = wall_ms();
    for (const auto& d : out_.decisions) {
      audit_->add(audit::DecisionRow{
          .seq = d.seq,
          .id = d.id,
          .ts_ms = d.ts_ms,
          .code = d.code,
          .agree = d.agree,
          .divergent = d.divergent,
          .fail_safe = d.fail_safe,
          .latency_us = d.latency_us,
          .certificate = d.certificate,
          .decided_at_ms = now_ms,
          .run = 0,
          .card_ref = d.card_ref == CardRef{} ? std::string() : to_hex(d.card_ref)});
    }
    for (const auto& d : out_.divergences) {
      audit_->add(audit::DivergenceRow{d.seq, replica_name(d.replica), d.kind, d.evidence, now_ms});
    }
    for (const auto& r : out_.repairs) {
      audit_->add(
          audit::RepairRow{replica_name(r.replica), r.from, r.to, r.reason, r.mode, now_ms});
    }
  }

  // Commits what is still queued; a failure is logged, the stop goes on.
  void close_audit() {
    if (!audit_) return;
    const Status s = audit_->close();
    const audit::AuditStore::Counters c = audit_->counters();
    log::info("audit store " + audit_->path() + ": " + std::to_string(c.written) +
              " records written, " + std::to_string(c.dropped) + " dropped (queue full), " +
              std::to_string(c.failed) + " failed, " + std::to_string(c.expired) + " expired");
    if (!s.is_ok()) log::error("audit store: " + s.to_string());
    audit_.reset();
  }

  // `triad status` also shows the audit store's counters: a drop or a
  // failed write is a gap in the audit trail that an operator must see.
  // ... and the sockets: endpoints, CURVE, connections refused per socket.
  std::string status_with_audit(std::uint64_t now_us) const {
    std::string status = core_->status_json(now_us);
    nlohmann::json j = nlohmann::json::parse(status, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return status;
    {
      // Without a writer (--snapshot-every 0) the one on file is the one this
      // run started from, if any: a restart starts from it still.
      const SnapshotWriter::Progress p =
          snapshot_writer_ ? snapshot_writer_->progress()
                           : SnapshotWriter::Progress{.written_seq = core_->start_seq(),
                                                      .pending_seq = 0,
                                                      .written = 0,
                                                      .failed = 0,
                                                      .last_error = {}};
      nlohmann::json& n = j["snapshots"];
      n["written_seq"] = p.written_seq;
      n["pending_seq"] = p.pending_seq;
      n["written"] = p.written;
      n["write_failures"] = p.failed;
      n["last_write_error"] =
          p.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.last_error);
    }
    j["replies_dropped"] = replies_dropped_;
    j["replica_sends_dropped"] = replica_sends_dropped_;
    if (audit_) {
      const audit::AuditStore::Counters c = audit_->counters();
      j["audit"] = {{"written", c.written},
                    {"dropped", c.dropped},
                    {"failed", c.failed},
                    {"expired", c.expired},
                    {"queued", c.added - c.written - c.failed}};
    }
    j["endpoints"] = {{"client", client_endpoint_},
                      {"replica", replica_endpoint_},
                      {"control", control_endpoint_}};
    nlohmann::json refused = nlohmann::json::object();
    nlohmann::json reasons = nlohmann::json::object();
    for (const char* domain : {kClientDomain, kReplicaDomain, kControlDomain}) {
      refused[domain] = zap_ ? zap_->refused_total(domain) : 0;
      reasons[domain] = nlohmann::json::object();
    }
    if (zap_) {
      for (const auto& [domain, by_reason] : zap_->refused()) {
        for (const auto& [reason, n] : by_reason) reasons[domain][reason] = n;
      }
    }
    j["transport"] = {
        {"curve", config_.curve},
        {"client_allow_list", config_.curve && !config_.client_allow_dir.empty()
                                  ? nlohmann::json(zap_->policy().keys(kClientDomain).size())
                                  : nlohmann::json(nullptr)},
        {"client_allow_reloads", client_allow_reloads_},
        {"not_admitted_requests", core_->counters().not_admitted},
        {"refused_by_reason", reasons},
        {"replica_connections", replica_routes_changed_}};
    j["refused_connections"] = refused;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);  // as Core's
  }

  // What Core reported since the last send_out, and its levels now.
  void record_metrics() {
    if (!metrics_) return;
    for (const auto& d : out_.decisions)
      metrics_->count_decision(d.code, d.fail_safe, d.latency_us);
    for (const auto& d : out_.divergences) metrics_->count_divergence(d.replica, d.kind);
    for (const auto& t : out_.repairs) metrics_->count_transition(t.replica, t.from, t.to);
    const Core::Counters& c = core_->counters();
    metrics::Levels levels;
    levels.in_flight = core_->in_flight();
    for (int r = 0; r < kReplicaCount; ++r) {
      levels.replica_states[static_cast<std::size_t>(r)] = core_->supervisor().state(r);
    }
    levels.mode = core_->supervisor().mode();
    levels.sequenced = c.sequenced;
    levels.replayed = c.replayed;
    levels.client_errors = c.client_errors;
    levels.overloaded = c.overloaded;
    levels.intake_cap_per_second = core_->intake_cap_per_second(monotonic_us());
    levels.late_verdicts = c.late_verdicts;
    levels.malformed_replica_messages = c.malformed_replica_messages;
    levels.entries_read_back = c.entries_read_back;
    if (journal_) {
      const journal::SyncTimes& t = journal_sync_times();
      levels.journal_syncs = t.count();
      levels.journal_sync_us = t.total_us();
      levels.journal_slow_syncs = t.slow();
      levels.journal_longest_sync_us = t.longest_us();
    }
    for (std::size_t i = 0; zap_ && i < metrics::kSocketNames.size(); ++i) {
      levels.refused_connections[i] = zap_->refused_total(metrics::kSocketNames[i]);
    }
    metrics_->set_levels(levels);
  }

  static constexpr const char* kClientDomain = "client";
  static constexpr const char* kReplicaDomain = "replica";
  static constexpr const char* kControlDomain = "control";

  Config config_;
  zmq::context_t& context_;
  zmq::socket_t clients_;
  zmq::socket_t replicas_;
  zmq::socket_t control_;
  transport::QuietSocket control_quiet_{control_};
  std::string client_endpoint_;
  std::string control_endpoint_;
  std::string replica_endpoint_;
  std::unique_ptr<FileArchive> archive_;  // before core_, which uses it
  std::unique_ptr<Core> core_;
  std::unique_ptr<audit::AuditStore> audit_;
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<journal::BackgroundSync> syncer_;  // --fsync batch only
  std::unique_ptr<journal::AnswerLog> answer_log_;
  std::unique_ptr<SnapshotWriter> snapshot_writer_;
  ReplyGate replies_;
  std::uint64_t journaled_seq_ = 0;  // seqs up to here were appended to journal_
  bool journal_failed_ = false;
  bool stopping_ = false;  // SIGINT/SIGTERM/SIGHUP arrived, or the journal failed
  Outbox out_;
  log::Limiter unknown_identity_log_{10};  // a peer can send these at will
  ReplicaProcesses processes_;
  bool ready_ = false;
  std::uint64_t replies_dropped_ = 0;           // at kClientReplyHwm, or the client gone
  std::uint64_t replica_sends_dropped_ = 0;     // at kReplicaSendHwm
  std::unique_ptr<metrics::Metrics> metrics_;   // null when --metrics-port is not given
  transport::CurveKeyPair curve_keys_;          // empty with --no-curve
  std::unique_ptr<transport::ZapHandler> zap_;  // null with --no-curve
  std::string security_summary_ = "plain TCP (--no-curve): not encrypted, not authenticated";
  std::uint64_t client_allow_reloads_ = 0;
  // Requests refused on connections whose key was taken off the list: a
  // client may send them as fast as it can.
  log::Limiter unadmitted_log_{10};
  // Per replica, the ZeroMQ routing id its messages go to (replica_route).
  std::array<std::string, kReplicaCount> replica_routes_{std::string(1, replica_name(0)),
                                                         std::string(1, replica_name(1)),
                                                         std::string(1, replica_name(2))};
  std::uint64_t replica_routes_changed_ = 0;  // with CURVE: connections heard from, in turn
  std::uint64_t next_reap_us_ = 0;
  std::vector<zmq::pollitem_t> poll_items_;
};

int fail_start(const std::string& message) {
  std::fprintf(stderr, "triad up: %s\n", message.c_str());
  return 2;
}

// What would otherwise fail the start only after keys, journal and audit
// store were made in DIR and the log had begun: a port in use or an
// endpoint that does not parse, a missing allow-list directory. Checked
// first, so that the error is the one line interface.md asks for. (The
// real binds come later: a port taken in between still fails the start,
// after the log lines before it.)
Status check_endpoints(const Config& config) {
  {
    zmq::context_t context(1);  // ended on leaving the scope: the port is free again
    zmq::socket_t probe(context, zmq::socket_type::router);
    probe.set(zmq::sockopt::linger, 0);
    try {
      probe.bind(config.listen_endpoint);
    } catch (const zmq::error_t& e) {
      return Status::unavailable("cannot listen on " + config.listen_endpoint + ": " + e.what());
    }
  }
  if (config.metrics_port && *config.metrics_port != 0) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(*config.metrics_port);
    // Another host form is for Metrics::serve to judge.
    if (::inet_pton(AF_INET, config.metrics_host.c_str(), &address.sin_addr) == 1) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return Status::io_error(std::string("socket: ") + std::strerror(errno));
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as the server does
      const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
      const int err = errno;
      ::close(fd);
      if (bound != 0) {
        return Status::unavailable("cannot serve metrics on " + config.metrics_host + ":" +
                                   std::to_string(*config.metrics_port) + ": " +
                                   std::strerror(err));
      }
    }
  }
  if (config.curve && !config.client_allow_dir.empty()) {
    struct stat st {};
    if (::stat(config.client_allow_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::invalid_argument("client allow-list " + config.client_allow_dir +
                                      " is not a directory of client public keys");
    }
  }
  return Status::ok();
}

}  // namespace

int run(const Config& config) {
  // Before any thread starts: every thread inherits the mask.
  if (Status s = stop_signals::block(); !s.is_ok()) return fail_start(s.message());
  // Before the card file is read; the replicas inherit the limit.
  const bool core_dumps_off = disable_core_dumps();
  // Whatever this process and its replicas create in DIR (the audit store,
  // the logs, DIR itself) is theirs alone: the audit store holds card
  // references and certificates, the logs masked PANs and repair history.
  // The key and journal files are made 0600 whatever the mask.
  ::umask(077);
  // Check everything a user can get wrong before starting anything.
  rules::CardFile cards;
  std::string card_text;
  if (Status s = rules::load_card_file(config.cards_path, &cards, &card_text); !s.is_ok()) {
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
  if (Status s = check_endpoints(config); !s.is_ok()) return fail_start(s.message());
  std::string report;
  if (Status s = ensure_replica_keys(config.dir, &report); !s.is_ok())
    return fail_start(s.message());
  crypto::SymmetricKey journal_key;
  crypto::SymmetricKey card_ref_key;
  for (const auto& [path, key] : {std::pair{layout::journal_key(config.dir), &journal_key},
                                  std::pair{layout::card_ref_key(config.dir), &card_ref_key}}) {
    if (Status s = ensure_symmetric_key(config.dir, path, key, &report); !s.is_ok()) {
      return fail_start(s.message());
    }
  }
  if (config.curve) {
    if (Status s = ensure_curve_keys(config.dir, &report); !s.is_ok())
      return fail_start(s.message());
  }
  if (::mkdir(layout::logs_dir(config.dir).c_str(), 0700) != 0 && errno != EEXIST) {
    return fail_start("cannot create " + layout::logs_dir(config.dir));
  }
  const int lock_fd =
      ::open(layout::lock_file(config.dir).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return fail_start("another triad up is already running on " + config.dir);
  }
  log::set_component("frontend");
  log::set_file(layout::frontend_log(config.dir));
  // One log line per key, each with its time and level.
  for (std::size_t from = 0, end; from < report.size(); from = end + 1) {
    end = report.find('\n', from);
    if (end == std::string::npos) end = report.size();
    log::info(report.substr(from, end - from));
  }
  if (!core_dumps_off) log::warn("cannot turn core dumps off (setrlimit RLIMIT_CORE)");

  std::signal(SIGPIPE, SIG_IGN);

  zmq::context_t context(1);
  FrontEnd fe(config, context);
  // The replicas' start state is this digest's (replica::load_cards).
  // The transaction digests name their scheme and key: the answer log keeps
  // digests, and one made otherwise would not match its seq's, so its
  // fail-safe decline would be decided anew.
  const std::string origin =
      "card file with start state sha256:" + to_hex(crypto::sha256("triad-state-v1" + card_text)) +
      ", rules version " + std::to_string(rules::kRulesVersion) + ", transaction digests " +
      std::string(wire::kTransactionDigestScheme) + " under card reference key " +
      crypto::card_ref_key_id(card_ref_key) + "\n";
  card_text.clear();
  if (Status s = fe.open(journal_key, card_ref_key, origin); !s.is_ok()) {
    fe.stop();
    return fail_start(s.message());
  }
  if (Status s = fe.start_replicas(); !s.is_ok()) {
    fe.stop();
    return fail_start(s.message());
  }
  if (Status s = fe.wait_ready(15'000); !s.is_ok()) {
    fe.stop();
    if (stop_signals::requested()) return 0;
    return fail_start(s.message());
  }
  std::ofstream(layout::endpoint_file(config.dir)) << fe.client_endpoint() << "\n";
  std::ofstream(layout::control_file(config.dir)) << fe.control_endpoint() << "\n";
  std::ofstream(layout::transport_file(config.dir)) << (config.curve ? "curve" : "plain") << "\n";
  if (config.simplex) {
    log::warn("SIMPLEX benchmark baseline: replica a decides alone; no vote, no fault tolerance");
  }
  log::info(std::to_string(cards.cards.size()) + " cards; deadline " +
            std::to_string(config.deadline_ms) + " ms; client time " +
            (config.trust_client_time ? "trusted" : "ignored") + "; listening on " +
            fe.client_endpoint() + " (" + fe.security_summary() + ")" +
            (fe.metrics_url().empty() ? "" : "; metrics at " + fe.metrics_url()));
  std::printf("ready %s\n", fe.client_endpoint().c_str());
  std::fflush(stdout);
  fe.serve();
  log::info(fe.journal_failed() ? "stopping: the input journal failed" : "stopping on signal");
  fe.stop();
  ::unlink(layout::endpoint_file(config.dir).c_str());
  ::unlink(layout::control_file(config.dir).c_str());
  ::unlink(layout::transport_file(config.dir).c_str());
  return fe.journal_failed() ? 1 : 0;
}

}  // namespace triad::frontend
