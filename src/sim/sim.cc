#include "sim/sim.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "common/assert.h"
#include "common/layout.h"
#include "common/log.h"
#include "crypto/hash.h"
#include "crypto/key_files.h"
#include "frontend/core.h"
#include "frontend/memory_archive.h"
#include "replica/node.h"
#include "rules/engine.h"
#include "sample/sample.h"
#include "wire/codec.h"

namespace triad::sim {

std::uint64_t Rng::below(std::uint64_t n) {
  TRIAD_ASSERT(n > 0);
  // The largest multiple of n that fits: draws at or above it are redrawn.
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  while (true) {
    const std::uint64_t x = engine_();
    if (x < limit) return x % n;
  }
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

ResponseCode flipped(ResponseCode code) {
  return code == ResponseCode::kApproved ? ResponseCode::kDoNotHonour : ResponseCode::kApproved;
}

std::uint8_t faulty_mask(const Scenario& scenario) {
  std::uint8_t mask = 0;
  for (int r = 0; r < kReplicaCount; ++r) {
    if (scenario.faults[static_cast<std::size_t>(r)].kind != replica::Fault::Kind::kNone) {
      mask = static_cast<std::uint8_t>(mask | (1u << r));
    }
  }
  return mask;
}

// ---- scenarios ----------------------------------------------------------------

Scenario scenario_for_seed(std::uint64_t seed) {
  Scenario s;
  s.seed = seed;
  Rng rng(derive_seed(seed, 0x5CE7));
  s.card_count = 50;
  s.transaction_count = rng.between(200, 400);
  s.client_count = static_cast<int>(rng.between(1, 4));
  s.window = rng.between(1, 32);
  s.max_burst = rng.between(1, 8);
  s.max_gap_us = rng.between(1, 4) * 10'000;
  constexpr std::uint32_t kRetry[] = {0, 20'000, 100'000};
  s.retry_ppm = kRetry[rng.below(3)];
  s.duplicate_ppm = kRetry[rng.below(3)];

  // 0, 1 or 2 faulty replicas (20%, 50%, 30%), each with one kind.
  const std::uint64_t draw = rng.below(100);
  const int faulty = draw < 20 ? 0 : draw < 70 ? 1 : 2;
  const int first = static_cast<int>(rng.below(kReplicaCount));
  const int second = (first + 1 + static_cast<int>(rng.below(2))) % kReplicaCount;
  for (int i = 0; i < faulty; ++i) {
    replica::Fault& f = s.faults[static_cast<std::size_t>(i == 0 ? first : second)];
    using K = replica::Fault::Kind;
    constexpr K kKinds[] = {K::kFlip,  K::kBadSig, K::kDrop,        K::kDelay,
                            K::kCrash, K::kHang,   K::kCorruptState};
    f.kind = kKinds[rng.below(7)];
    constexpr std::uint32_t kProbabilities[] = {10'000, 50'000, 200'000, 500'000, 1'000'000};
    constexpr std::uint64_t kDelaysMs[] = {1, 20, 200, 900, 1'500, 5'000};
    switch (f.kind) {
      case K::kFlip:
      case K::kBadSig:
      case K::kDrop:
        f.probability_ppm = kProbabilities[rng.below(5)];
        break;
      case K::kDelay:
        f.delay_ms = kDelaysMs[rng.below(6)];
        break;
      case K::kCrash:
      case K::kHang:
      case K::kCorruptState:
        f.after_count = rng.below(s.transaction_count);
        break;
      case K::kNone:
        break;
    }
  }
  for (auto& fs : s.fault_seeds) fs = rng.next();

  constexpr std::uint64_t kCheckpoints[] = {16, 50, 100, 1000};
  s.checkpoint_interval = kCheckpoints[rng.below(4)];
  // Loss in a third of the seeds.
  constexpr std::uint32_t kLoss[] = {0, 0, 0, 0, 0, 0, 2'000, 10'000, 30'000};
  s.loss_ppm = kLoss[rng.below(9)];
  constexpr std::uint32_t kTransient[] = {1, 2, 3, 3, 5};
  s.repair.transient_limit = kTransient[rng.below(5)];
  return s;
}

std::string describe(const Scenario& s) {
  std::string out = "seed " + std::to_string(s.seed) + ": " + std::to_string(s.transaction_count) +
                    " tx, " + std::to_string(s.card_count) + " cards, " +
                    std::to_string(s.client_count) + " clients (window " +
                    std::to_string(s.window) + ", burst " + std::to_string(s.max_burst) + ")";
  std::string faults;
  for (int r = 0; r < kReplicaCount; ++r) {
    const replica::Fault& f = s.faults[static_cast<std::size_t>(r)];
    if (f.kind == replica::Fault::Kind::kNone) continue;
    faults +=
        std::string(faults.empty() ? "" : " ") + replica_name(r) + "=" + replica::to_string(f);
  }
  out += ", faults " + (faults.empty() ? std::string("none") : faults);
  out += ", loss " + std::to_string(s.loss_ppm) + " ppm, retry " + std::to_string(s.retry_ppm) +
         " ppm, duplicate " + std::to_string(s.duplicate_ppm) + " ppm, checkpoint every " +
         std::to_string(s.checkpoint_interval) + ", transient limit " +
         std::to_string(s.repair.transient_limit);
  return out;
}

// ---- keys -----------------------------------------------------------------------

namespace {

crypto::Ed25519Seed key_seed(int replica) {
  return crypto::sha256(std::string("triad-sim-replica-key-") + replica_name(replica));
}

}  // namespace

crypto::SigningKey replica_signing_key(int replica) {
  crypto::SigningKey key;
  TRIAD_ASSERT(crypto::SigningKey::from_seed(key_seed(replica), &key).is_ok());
  return key;
}

PublicKey replica_public_key(int replica) {
  static const std::array<PublicKey, kReplicaCount> keys = [] {
    std::array<PublicKey, kReplicaCount> k{};
    for (int r = 0; r < kReplicaCount; ++r) {
      k[static_cast<std::size_t>(r)] = replica_signing_key(r).public_key();
    }
    return k;
  }();
  return keys[static_cast<std::size_t>(replica)];
}

const crypto::SymmetricKey& card_ref_key() {
  static const crypto::SymmetricKey key = [] {
    crypto::SymmetricKey k;
    const Digest bytes = crypto::sha256(std::string_view("triad-sim-card-ref-key"));
    static_assert(sizeof(bytes) == sizeof(k.bytes()));
    std::copy(bytes.begin(), bytes.end(), k.bytes().begin());
    return k;
  }();
  return key;
}

Status write_keys(const std::string& dir) {
  for (const std::string& d : {dir, layout::keys_dir(dir)}) {
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::io_error("cannot create " + d);
    }
  }
  for (int r = 0; r < kReplicaCount; ++r) {
    TRIAD_RETURN_IF_ERROR(crypto::write_key_pair(layout::replica_secret_key(dir, r),
                                                 layout::replica_public_key(dir, r),
                                                 replica_signing_key(r)));
  }
  return Status::ok();
}

// ---- the reference -----------------------------------------------------------------

std::vector<ResponseCode> reference_codes(const Result& result) {
  // seq -> (transaction, ts) from the decisions the clients got.
  std::vector<const Transaction*> tx(result.last_seq, nullptr);
  std::vector<std::int64_t> ts(result.last_seq, 0);
  for (std::size_t i = 0; i < result.submissions.size(); ++i) {
    for (const Reply& reply : result.replies[i]) {
      if (!reply.error.empty() || reply.seq == 0 || reply.seq > result.last_seq) continue;
      tx[reply.seq - 1] = &result.traffic[result.submissions[i].tx];
      ts[reply.seq - 1] = reply.ts_ms;
    }
  }
  for (const Transaction* t : tx) {
    if (t == nullptr) return {};
  }
  rules::CardFile cards;
  TRIAD_ASSERT(rules::parse_card_file(result.card_file, &cards).is_ok());
  rules::Engine engine(cards);
  std::vector<ResponseCode> codes;
  codes.reserve(result.last_seq);
  for (std::uint64_t seq = 1; seq <= result.last_seq; ++seq) {
    codes.push_back(engine.apply(ts[seq - 1], *tx[seq - 1]));
  }
  return codes;
}

// ---- the simulation ------------------------------------------------------------------

namespace {

using Bytes = std::vector<std::uint8_t>;

// Monotonic time starts here (a real clock is never near zero either).
constexpr std::uint64_t kStartUs = 1'000'000'000;
constexpr std::int64_t kWallStartMs = 1798761600000;  // 2027-01-01, the sample's epoch

enum class Kind : std::uint8_t {
  kClientTick,      // a client may send a burst
  kSettleTick,      // one settle transaction
  kClientToFront,   // a burst of client requests reaches the front end
  kFrontToClient,   // a reply reaches a client
  kFrontToReplica,  // a message reaches replica `who` (process `incarnation`)
  kReplicaToFront,  // a message of replica `who` reaches the front end
  kBoot,            // replica process `incarnation` of `who` is up and connects
  kExitReaped,      // the front end notices that `who`'s process ended
  kFrontTimer,
  kReplicaTimer,
};

struct Event {
  std::uint64_t at_us = 0;
  std::uint64_t order = 0;
  Kind kind = Kind::kClientTick;
  int who = 0;
  std::uint32_t incarnation = 0;
  std::vector<Bytes> messages;
};

// std::push_heap builds a max-heap: "later" events sink.
struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return a.at_us != b.at_us ? a.at_us > b.at_us : a.order > b.order;
  }
};

constexpr int kMaxClients = 16;
// Link indices: one FIFO per direction and peer.
int client_to_front(int c) { return c; }
int front_to_client(int c) { return kMaxClients + c; }
int front_to_replica(int r) { return 2 * kMaxClients + r; }
int replica_to_front(int r) { return 2 * kMaxClients + kReplicaCount + r; }
constexpr int kLinks = 2 * kMaxClients + 2 * kReplicaCount;

struct Capture {
  bool keep = false;
  std::string* log = nullptr;
  const std::uint64_t* now_us = nullptr;
  const char* actor = "sim";
};

void capture_line(void* context, log::Level level, std::string_view text) {
  auto* c = static_cast<Capture*>(context);
  if (!c->keep) return;
  const std::uint64_t t = *c->now_us - kStartUs;
  char stamp[48];
  std::snprintf(stamp, sizeof stamp, "%llu.%06llu ", static_cast<unsigned long long>(t / 1'000'000),
                static_cast<unsigned long long>(t % 1'000'000));
  c->log->append(stamp);
  c->log->append(level == log::Level::kError  ? "ERROR "
                 : level == log::Level::kWarn ? "WARN  "
                                              : "INFO  ");
  c->log->append(c->actor);
  c->log->append(": ");
  c->log->append(text);
  c->log->push_back('\n');
}

class Simulation {
 public:
  explicit Simulation(const Scenario& scenario)
      : sc_(scenario),
        net_(derive_seed(scenario.seed, 1)),
        client_rng_(derive_seed(scenario.seed, 2)),
        proc_rng_(derive_seed(scenario.seed, 3)),
        ahead_rng_(derive_seed(scenario.seed, 5)),
        turn_rng_(derive_seed(scenario.seed, 6)) {
    TRIAD_ASSERT(sc_.client_count >= 1 && sc_.client_count <= kMaxClients);
    TRIAD_ASSERT(sc_.window >= 1 && sc_.max_burst >= 1);
  }

  Result run() {
    Capture capture{sc_.capture_log, &res_.log, &now_, "sim"};
    capture_ = &capture;
    log::set_capture(&capture_line, &capture);
    setup();
    loop();
    finish();
    log::set_capture(nullptr, nullptr);
    return std::move(res_);
  }

 private:
  enum class ProcState : std::uint8_t { kNone, kBooting, kRunning, kDead };
  struct Process {
    ProcState state = ProcState::kNone;
    std::uint32_t incarnation = 0;
    replica::Fault fault;
    std::unique_ptr<replica::ReplicaNode> node;
  };
  struct Client {
    std::vector<std::size_t> todo;  // traffic indices, in order
    std::size_t next = 0;
    std::deque<std::size_t> again;  // retries waiting to go
    std::size_t in_flight = 0;
    bool tick_pending = false;
    bool has_work() const { return next < todo.size() || !again.empty(); }
  };

  // -- setup ------------------------------------------------------------------

  void setup() {
    now_ = kStartUs;
    res_.start_us = now_;
    sample::Options options;
    options.seed = derive_seed(sc_.seed, 4);
    options.card_count = sc_.card_count;
    options.transaction_count = sc_.transaction_count + (sc_.settle ? sc_.settle_reserve : 0);
    res_.card_file = sample::generate_card_file(options);
    TRIAD_ASSERT(rules::parse_card_file(res_.card_file, &cards_).is_ok());
    initial_digest_ = crypto::sha256("triad-state-v1" + res_.card_file);
    for (const std::string& line : sample::generate_traffic(options)) {
      Transaction tx;
      TRIAD_ASSERT(parse_transaction_json(line, &tx).is_ok());
      res_.traffic.push_back(std::move(tx));
    }
    res_.replies.reserve(res_.traffic.size());
    res_.submissions.reserve(res_.traffic.size());

    frontend::Core::Config config;
    config.trust_client_time = true;
    config.deadline_us = sc_.deadline_us;
    config.repair = sc_.repair;
    config.archive = &archive_;
    config.card_ref_key = card_ref_key();
    // Few in memory, so resends after a repair or a lost message are read
    // back from the archive, as in a long-running process.
    config.keep_recent = kKeepRecent;
    config.snapshot_part_bytes = kSnapshotPartBytes;
    config.snapshot_check_step_bytes = kSnapshotPartBytes;  // a check takes several turns
    for (int r = 0; r < kReplicaCount; ++r) {
      config.replica_keys[static_cast<std::size_t>(r)] = replica_public_key(r);
    }
    TRIAD_ASSERT(frontend::Core::create(config, now_, &fe_).is_ok());

    clients_.resize(static_cast<std::size_t>(sc_.client_count));
    for (std::size_t i = 0; i < sc_.transaction_count; ++i) {
      clients_[i % clients_.size()].todo.push_back(i);
    }
    settle_next_ = sc_.transaction_count;
    for (int r = 0; r < kReplicaCount; ++r)
      start_process(r, sc_.faults[static_cast<std::size_t>(r)]);
  }

  // -- the event queue ----------------------------------------------------------

  void push(std::uint64_t at_us, Kind kind, int who, std::uint32_t incarnation,
            std::vector<Bytes> messages) {
    queue_.push_back(Event{at_us, next_order_++, kind, who, incarnation, std::move(messages)});
    std::push_heap(queue_.begin(), queue_.end(), Later());
  }

  // When a message sent now on `link` arrives: a random delay, never before
  // the previous message of the same link (FIFO).
  std::uint64_t arrival(int link) {
    std::uint64_t at = now_ + net_.between(sc_.min_delay_us, sc_.max_delay_us);
    if (sc_.spike_ppm > 0 && net_.chance(sc_.spike_ppm)) at += net_.below(sc_.max_spike_us + 1);
    std::uint64_t& last = link_last_[static_cast<std::size_t>(link)];
    at = std::max(at, last);
    last = at;
    return at;
  }

  void trace(Kind kind, int who, std::uint32_t incarnation, const std::vector<Bytes>& messages) {
    std::uint8_t head[14];
    for (int i = 0; i < 8; ++i) head[i] = static_cast<std::uint8_t>(now_ >> (56 - 8 * i));
    head[8] = static_cast<std::uint8_t>(kind);
    head[9] = static_cast<std::uint8_t>(who);
    for (int i = 0; i < 4; ++i)
      head[10 + i] = static_cast<std::uint8_t>(incarnation >> (24 - 8 * i));
    trace_.update(std::span<const std::uint8_t>(head, sizeof head));
    for (const Bytes& m : messages) {
      const Digest d = crypto::sha256(std::span<const std::uint8_t>(m));
      trace_.update(d);
    }
  }

  void loop() {
    while (true) {
      if (res_.events >= sc_.max_events) {
        res_.errors.push_back("event limit of " + std::to_string(sc_.max_events) + " reached");
        return;
      }
      // The next thing to happen: a queued event, else a timer (front end
      // first, then replicas in order), ties going to the queue.
      std::uint64_t at = std::numeric_limits<std::uint64_t>::max();
      int source = -1;  // 0 queue, 1 front end timer, 2 + r replica r's timer
      if (!queue_.empty()) {
        at = queue_.front().at_us;
        source = 0;
      }
      if (const auto t = fe_->next_timer_us(); t && timer_at(0, *t) < at) {
        at = timer_at(0, *t);
        source = 1;
      }
      for (int r = 0; r < kReplicaCount; ++r) {
        const Process& p = procs_[static_cast<std::size_t>(r)];
        if (p.state != ProcState::kRunning) continue;
        if (const auto t = p.node->next_timer_us(); t && timer_at(1 + r, *t) < at) {
          at = timer_at(1 + r, *t);
          source = 2 + r;
        }
      }
      if (source < 0) return;
      if (main_done_ && (!sc_.settle || at > res_.main_done_us + sc_.max_settle_us)) return;
      now_ = at;
      ++res_.events;
      if (source == 0) {
        std::pop_heap(queue_.begin(), queue_.end(), Later());
        Event e = std::move(queue_.back());
        queue_.pop_back();
        trace(e.kind, e.who, e.incarnation, e.messages);
        dispatch(e);
      } else if (source == 1) {
        trace(Kind::kFrontTimer, 0, 0, {});
        capture_->actor = "frontend";
        fe_->on_time(now_, &out_);
        end_turn(0);
        send_out();
      } else {
        const int r = source - 2;
        trace(Kind::kReplicaTimer, r, 0, {});
        Process& p = procs_[static_cast<std::size_t>(r)];
        std::vector<Bytes> messages;
        capture_->actor = actor(r);
        p.node->on_time(now_, &messages);
        end_turn(1 + r);
        from_replica(r, std::move(messages));
      }
      after_event();
      if (res_.settled) return;
    }
  }

  // When a timer of `actor` (0 the front end, 1 + r replica r) due at
  // `due_us` runs: not before now, nor before the actor's last timer turn ends.
  std::uint64_t timer_at(int actor, std::uint64_t due_us) const {
    return std::max({due_us, now_, turn_ends_us_[static_cast<std::size_t>(actor)]});
  }
  void end_turn(int actor) {
    if (sc_.max_turn_us == 0) return;
    turn_ends_us_[static_cast<std::size_t>(actor)] = now_ + turn_rng_.between(1, sc_.max_turn_us);
  }

  static const char* actor(int r) {
    static const char* names[] = {"replica-a", "replica-b", "replica-c"};
    return names[r];
  }

  void dispatch(Event& e) {
    switch (e.kind) {
      case Kind::kClientTick:
        return client_tick(e.who);
      case Kind::kSettleTick:
        return settle_tick();
      case Kind::kClientToFront: {
        capture_->actor = "frontend";
        const std::string name = "c" + std::to_string(e.who);
        for (const Bytes& m : e.messages) {
          fe_->on_client_message(name, m, now_,
                                 kWallStartMs + static_cast<std::int64_t>((now_ - kStartUs) / 1000),
                                 &out_);
          while (res_.seqs.size() < fe_->last_seq()) {
            SeqRecord rec;
            rec.opened_us = now_;
            rec.voting_mask = fe_->supervisor().voting_mask();
            res_.seqs.push_back(rec);
          }
        }
        fe_->flush_new_entries(&out_);
        return send_out();
      }
      case Kind::kFrontToClient:
        return on_reply(e.who, e.messages.front());
      case Kind::kFrontToReplica: {
        Process& p = procs_[static_cast<std::size_t>(e.who)];
        // Lost with the connection it was sent on.
        if (p.state != ProcState::kRunning || p.incarnation != e.incarnation) return;
        std::vector<Bytes> messages;
        capture_->actor = actor(e.who);
        p.node->on_message(e.messages.front(), now_, &messages);
        // Some of the next checkpoint's work done ahead, as the real loop
        // does while no message waits, but at random and whatever the
        // amount (the real loop waits until the card pages waiting
        // outnumber the seqs left before the checkpoint by
        // ReplicaNode::kPrepareMinPages; the sim's cards fill 2), so that
        // every run checks it changes no digest.
        for (std::uint64_t steps = ahead_rng_.below(3); steps > 0 && p.node->prepare_checkpoint();
             --steps) {
        }
        return from_replica(e.who, std::move(messages));
      }
      case Kind::kReplicaToFront: {
        note_verdicts(e.who, e.messages.front());
        capture_->actor = "frontend";
        fe_->on_replica_message(e.who, e.messages.front(), now_, &out_);
        return send_out();
      }
      case Kind::kBoot: {
        Process& p = procs_[static_cast<std::size_t>(e.who)];
        if (p.state != ProcState::kBooting || p.incarnation != e.incarnation) return;
        capture_->actor = actor(e.who);
        const auto i = static_cast<std::size_t>(e.who);
        auto core = std::make_unique<replica::ReplicaCore>(
            e.who, cards_, initial_digest_, replica_signing_key(e.who), card_ref_key(), p.fault,
            derive_seed(sc_.fault_seeds[i], p.incarnation), sc_.checkpoint_interval);
        p.node = std::make_unique<replica::ReplicaNode>(std::move(core), now_, kSnapshotPartBytes,
                                                        p.incarnation);
        p.state = ProcState::kRunning;
        turn_ends_us_[1 + i] = 0;  // a new process: no turn of the old one runs on
        std::vector<Bytes> messages;
        p.node->start(now_, &messages);
        return from_replica(e.who, std::move(messages));
      }
      case Kind::kExitReaped: {
        Process& p = procs_[static_cast<std::size_t>(e.who)];
        TRIAD_ASSERT(p.state == ProcState::kDead);
        p.state = ProcState::kNone;
        capture_->actor = "frontend";
        fe_->on_process_exited(e.who, now_, &out_);
        return send_out();
      }
      case Kind::kFrontTimer:
      case Kind::kReplicaTimer:
        break;
    }
    TRIAD_ASSERT(false);
  }

  // -- processes ------------------------------------------------------------------

  void start_process(int r, const replica::Fault& fault) {
    Process& p = procs_[static_cast<std::size_t>(r)];
    p.state = ProcState::kBooting;
    ++p.incarnation;
    p.fault = fault;
    p.node.reset();
    push(now_ + proc_rng_.between(sc_.min_boot_us, sc_.max_boot_us), Kind::kBoot, r, p.incarnation,
         {});
  }

  void end_process(int r) {
    Process& p = procs_[static_cast<std::size_t>(r)];
    p.state = ProcState::kDead;
    p.node.reset();
    push(now_ + proc_rng_.between(1, sc_.max_reap_us), Kind::kExitReaped, r, p.incarnation, {});
  }

  // What replica r's node sent, onto its link; then a crash ends the process.
  void from_replica(int r, std::vector<Bytes> messages) {
    for (Bytes& m : messages) {
      push(arrival(replica_to_front(r)), Kind::kReplicaToFront, r, 0, {std::move(m)});
    }
    Process& p = procs_[static_cast<std::size_t>(r)];
    if (p.state == ProcState::kRunning && p.node->crashed()) end_process(r);
  }

  // The front end's send_out(): process commands first, then the messages.
  void send_out() {
    capture_->actor = "frontend";
    while (!out_.processes.empty()) {
      const auto commands = std::move(out_.processes);
      out_.processes.clear();
      for (const auto& c : commands) {
        Process& p = procs_[static_cast<std::size_t>(c.replica)];
        if (c.kind == frontend::Outbox::ProcessCommand::Kind::kStop) {
          if (p.state == ProcState::kBooting || p.state == ProcState::kRunning) {
            end_process(c.replica);  // SIGKILL; reaped a little later
          } else if (p.state == ProcState::kNone) {
            fe_->on_process_exited(c.replica, now_, &out_);  // nothing to kill
          }  // kDead: its exit is about to be reaped
        } else {
          if (p.state != ProcState::kNone) {
            res_.errors.push_back("at " + std::to_string(now_ - kStartUs) +
                                  " us: start of replica " + replica_name(c.replica) +
                                  " while its process still exists");
            continue;
          }
          start_process(c.replica, replica::Fault{});
          // The front end numbers the processes it starts as the simulator
          // does, the first (started here, at boot) being 1.
          if (c.launch != p.incarnation) {
            res_.errors.push_back("at " + std::to_string(now_ - kStartUs) + " us: replica " +
                                  replica_name(c.replica) + " started as launch " +
                                  std::to_string(c.launch) + ", process " +
                                  std::to_string(p.incarnation) + " of it");
          }
          fe_->on_process_started(c.replica, now_, &out_);
        }
      }
    }
    for (auto& m : out_.to_clients) {
      const int c = std::stoi(m.client.substr(1));
      push(arrival(front_to_client(c)), Kind::kFrontToClient, c, 0, {std::move(m.bytes)});
    }
    for (auto& m : out_.to_replicas) {
      const int r = m.replica;
      if (!fe_->replica(r).connected) continue;
      const Process& p = procs_[static_cast<std::size_t>(r)];
      if (p.state != ProcState::kRunning) {
        fe_->on_replica_gone(r);  // EHOSTUNREACH: the peer is gone
        continue;
      }
      if (loss_active() && net_.chance(sc_.loss_ppm)) {
        res_.lost_us[static_cast<std::size_t>(r)].push_back(now_);
        continue;
      }
      push(arrival(front_to_replica(r)), Kind::kFrontToReplica, r, p.incarnation,
           {std::move(m.bytes)});
    }
    out_.clear();
    archive_.journal(fe_.get());
  }

  bool loss_active() const { return sc_.loss_ppm > 0 && !main_done_; }

  // When each replica's first verdict for a seq reached the front end.
  void note_verdicts(int r, const Bytes& bytes) {
    const wire::AlignedFrame frame(bytes.data(), bytes.size());
    const wire::FromReplica* msg = nullptr;
    if (!wire::verify_from_replica(frame.bytes(), &msg).is_ok() || msg->batches() == nullptr) {
      return;
    }
    for (const wire::VerdictBatch* batch : *msg->batches()) {
      if (batch->verdicts() == nullptr) continue;
      for (const wire::Verdict* v : *batch->verdicts()) note_verdict(r, *v);
    }
  }

  void note_verdict(int r, const wire::Verdict& v) {
    const std::uint64_t seq = v.seq();
    if (seq == 0 || seq > res_.seqs.size()) return;
    SeqRecord& rec = res_.seqs[seq - 1];
    auto& at = rec.verdict_us[static_cast<std::size_t>(r)];
    if (at) return;
    at = now_;
    const auto code = parse_response_code(wire::as_view(v.code()));
    rec.verdict_code[static_cast<std::size_t>(r)] = code ? static_cast<std::uint8_t>(*code) : 0xFE;
  }

  // -- clients ----------------------------------------------------------------------

  void start_clients() {
    clients_started_ = true;
    for (int c = 0; c < sc_.client_count; ++c) schedule_tick(c, 0);
  }

  void schedule_tick(int c, std::uint64_t gap_us) {
    Client& client = clients_[static_cast<std::size_t>(c)];
    if (client.tick_pending || !client.has_work() || client.in_flight >= sc_.window) return;
    client.tick_pending = true;
    push(now_ + gap_us, Kind::kClientTick, c, 0, {});
  }

  std::uint64_t gap() {
    return sc_.fixed_gap_us > 0 ? sc_.fixed_gap_us : client_rng_.between(1, sc_.max_gap_us);
  }

  Bytes submit(int c, std::size_t tx, bool repeat, bool settle) {
    Submission s;
    s.tx = tx;
    s.client = c;
    s.tag = res_.submissions.size() + 1;
    s.repeat = repeat;
    s.settle = settle;
    s.sent_us = now_;
    res_.submissions.push_back(s);
    res_.replies.emplace_back();
    ++clients_[static_cast<std::size_t>(c)].in_flight;
    flatbuffers::FlatBufferBuilder fbb(512);
    const auto wtx = wire::build_transaction(fbb, res_.traffic[tx]);
    const auto request = wire::CreateSubmitRequest(fbb, s.tag, wtx);
    wire::ClientRequestBuilder b(fbb);
    b.add_submit(request);
    fbb.Finish(b.Finish());
    return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
  }

  void client_tick(int c) {
    Client& client = clients_[static_cast<std::size_t>(c)];
    client.tick_pending = false;
    std::vector<Bytes> burst;
    std::uint64_t room =
        sc_.fixed_gap_us > 0 ? sc_.max_burst : client_rng_.between(1, sc_.max_burst);
    while (room > 0 && client.in_flight < sc_.window && client.has_work()) {
      --room;
      if (!client.again.empty()) {
        const std::size_t tx = client.again.front();
        client.again.pop_front();
        burst.push_back(submit(c, tx, /*repeat=*/true, false));
        continue;
      }
      const std::size_t tx = client.todo[client.next++];
      burst.push_back(submit(c, tx, /*repeat=*/false, false));
      if (sc_.duplicate_ppm > 0 && client_rng_.chance(sc_.duplicate_ppm) &&
          client.in_flight < sc_.window) {
        burst.push_back(submit(c, tx, /*repeat=*/true, false));
      }
    }
    if (!burst.empty()) {
      push(arrival(client_to_front(c)), Kind::kClientToFront, c, 0, std::move(burst));
    }
    schedule_tick(c, gap());
  }

  void settle_tick() {
    if (settle_next_ >= res_.traffic.size()) return;
    Client& client = clients_[0];
    if (client.in_flight < sc_.window) {
      std::vector<Bytes> burst;
      burst.push_back(submit(0, settle_next_++, false, /*settle=*/true));
      push(arrival(client_to_front(0)), Kind::kClientToFront, 0, 0, std::move(burst));
    }
    push(now_ + sc_.settle_interval_us, Kind::kSettleTick, 0, 0, {});
  }

  void on_reply(int c, const Bytes& bytes) {
    const wire::AlignedFrame frame(bytes.data(), bytes.size());
    const wire::ClientReply* reply = nullptr;
    if (!wire::verify_client_reply(frame.bytes(), &reply).is_ok()) {
      res_.errors.push_back("client " + std::to_string(c) + " got a malformed reply");
      return;
    }
    const std::uint64_t tag = reply->tag();
    if (tag == 0 || tag > res_.submissions.size() || res_.submissions[tag - 1].client != c) {
      res_.errors.push_back("client " + std::to_string(c) + " got a reply with unknown tag " +
                            std::to_string(tag));
      return;
    }
    Reply r;
    r.at_us = now_;
    if (const wire::Decision* d = reply->decision(); d != nullptr) {
      r.id = std::string(wire::as_view(d->id()));
      r.seq = d->seq();
      r.ts_ms = d->ts();
      r.code = std::string(wire::as_view(d->code()));
      r.agree = std::string(wire::as_view(d->agree()));
      r.divergent = std::string(wire::as_view(d->divergent()));
      r.replayed = d->replayed();
      if (sc_.keep_certificates) {
        const auto cert = wire::as_bytes(d->certificate());
        r.certificate.assign(cert.begin(), cert.end());
      }
      const auto card_ref = wire::as_bytes(d->card_ref());
      r.card_ref.assign(card_ref.begin(), card_ref.end());
      if (r.code == "91" || r.code == "96") ++res_.fail_safe;
      ++res_.decisions;
    } else {
      r.error = reply->error() != nullptr ? std::string(wire::as_view(reply->error()))
                                          : std::string("error without a message");
    }
    const bool first = res_.replies[tag - 1].empty();
    res_.replies[tag - 1].push_back(std::move(r));
    if (!first) return;  // a second answer: the checker reports it
    Client& client = clients_[static_cast<std::size_t>(c)];
    --client.in_flight;
    const Submission& s = res_.submissions[tag - 1];
    if (!s.settle && !s.repeat && sc_.retry_ppm > 0 && client_rng_.chance(sc_.retry_ppm)) {
      client.again.push_back(s.tx);
    }
    schedule_tick(c, gap());
  }

  // -- phases -------------------------------------------------------------------------

  void after_event() {
    if (!clients_started_) {
      if (fe_->all_connected()) start_clients();
      return;
    }
    if (!main_done_) {
      for (const Client& c : clients_) {
        if (c.has_work() || c.in_flight > 0) return;
      }
      main_done_ = true;
      res_.main_done_us = now_;
      if (sc_.settle) push(now_ + sc_.settle_interval_us, Kind::kSettleTick, 0, 0, {});
      return;
    }
    if (sc_.settle && settled()) {
      res_.settled = true;
    }
  }

  // Three healthy, connected replicas at the last seq with the same state,
  // and nothing undecided or unanswered.
  bool settled() const {
    if (fe_->in_flight() != 0) return false;
    for (const Client& c : clients_) {
      if (c.in_flight > 0) return false;
    }
    const Digest* digest = nullptr;
    const replica::ReplicaCore::Checkpoint* checkpoint = nullptr;
    for (int r = 0; r < kReplicaCount; ++r) {
      const Process& p = procs_[static_cast<std::size_t>(r)];
      if (fe_->supervisor().state(r) != repair::ReplicaState::kHealthy) return false;
      if (p.state != ProcState::kRunning || p.node->hung() || !fe_->replica(r).connected) {
        return false;
      }
      const replica::ReplicaCore& core = p.node->core();
      if (core.next_seq() != fe_->last_seq() + 1) return false;
      if (digest != nullptr && *digest != core.state_digest()) return false;
      digest = &core.state_digest();
      // A latent difference (memory corruption whose checkpoint could not be
      // voted because another fault hit the same seq) is not settled: the
      // trickle goes on until the next checkpoint catches it.
      const replica::ReplicaCore::Checkpoint& latest = core.latest_checkpoint();
      if (checkpoint != nullptr && (checkpoint->seq != latest.seq ||
                                    checkpoint->checkpoint_digest != latest.checkpoint_digest)) {
        return false;
      }
      checkpoint = &latest;
    }
    return true;
  }

  void finish() {
    res_.end_us = now_;
    res_.last_seq = fe_->last_seq();
    res_.archive_reads = archive_.reads();
    res_.reaped_process_messages = fe_->counters().reaped_process_messages;
    while (res_.seqs.size() < res_.last_seq) res_.seqs.emplace_back();
    for (int r = 0; r < kReplicaCount; ++r) {
      const auto i = static_cast<std::size_t>(r);
      const Process& p = procs_[i];
      ReplicaEnd& end = res_.replicas[i];
      end.state = fe_->supervisor().state(r);
      end.stats = fe_->supervisor().stats(r, now_);
      end.running = p.state == ProcState::kRunning;
      end.connected = fe_->replica(r).connected;
      end.processes = p.incarnation;
      if (end.running) {
        const replica::ReplicaCore& core = p.node->core();
        end.hung = p.node->hung();
        end.next_seq = core.next_seq();
        end.state_digest = core.state_digest();
        end.snapshot = core.latest_snapshot();
      }
      trace_.update(end.state_digest);
    }
    res_.trace = trace_.finish();
  }

  Scenario sc_;
  Rng net_;
  Rng client_rng_;
  Rng proc_rng_;
  Rng ahead_rng_;  // when replicas do checkpoint work ahead
  Rng turn_rng_;   // how long a timer's turn takes (Scenario::max_turn_us)
  // When the front end's (0) and each replica's (1 + r) last timer turn
  // ends: the next timer of that actor is not before.
  std::array<std::uint64_t, 1 + kReplicaCount> turn_ends_us_{};
  Result res_;
  Capture* capture_ = nullptr;
  std::uint64_t now_ = 0;
  std::vector<Event> queue_;
  std::uint64_t next_order_ = 0;
  std::array<std::uint64_t, kLinks> link_last_{};
  crypto::Sha256 trace_;

  rules::CardFile cards_;
  Digest initial_digest_{};
  static constexpr std::size_t kKeepRecent = 64;
  // Small, so that every snapshot goes in several parts, which message loss
  // then reaches.
  static constexpr std::size_t kSnapshotPartBytes = 1024;
  frontend::MemoryArchive archive_;  // before fe_, which uses it
  std::unique_ptr<frontend::Core> fe_;
  frontend::Outbox out_;
  std::array<Process, kReplicaCount> procs_;
  std::vector<Client> clients_;
  std::size_t settle_next_ = 0;
  bool clients_started_ = false;
  bool main_done_ = false;
};

}  // namespace

Result run(const Scenario& scenario) { return Simulation(scenario).run(); }

}  // namespace triad::sim
