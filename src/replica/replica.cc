#include "replica/replica.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <zmq.hpp>

#include "common/assert.h"
#include "common/clock.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/sequenced.h"
#include "common/stop_signals.h"
#include "crypto/card_ref.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "crypto/key_files.h"
#include "replica/node.h"
#include "transport/curve.h"
#include "transport/poll.h"
#include "wire/codec.h"

namespace triad::replica {
namespace {

// The state digest is a hash chain: digest_n = SHA-256(digest_{n-1} || seq ||
// ts || tx digest || code). Two replicas with equal digests applied the same
// inputs and made the same decisions from the same card file.
Digest chain(const Digest& previous, const voter::VerdictContent& c) {
  crypto::Sha256 h;
  h.update(previous);
  std::uint8_t buf[16];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<std::uint8_t>(c.seq >> (56 - 8 * i));
  const auto ts = static_cast<std::uint64_t>(c.ts_ms);
  for (int i = 0; i < 8; ++i) buf[8 + i] = static_cast<std::uint8_t>(ts >> (56 - 8 * i));
  h.update(std::span<const std::uint8_t>(buf, sizeof buf));
  h.update(c.tx_digest);
  const std::string code = to_string(c.code);
  h.update(code);
  return h.finish();
}

ResponseCode flipped(ResponseCode code) {
  return code == ResponseCode::kApproved ? ResponseCode::kDoNotHonour : ResponseCode::kApproved;
}

}  // namespace

bool is_checkpoint_seq(std::uint64_t seq, std::uint64_t every) {
  TRIAD_ASSERT(every > 0);
  return seq % every == 0;
}

ReplicaCore::ReplicaCore(int replica, const rules::CardFile& cards, const Digest& card_file_digest,
                         crypto::SigningKey key, const crypto::SymmetricKey& card_ref_key,
                         Fault fault, std::uint64_t seed, std::uint64_t checkpoint_interval)
    : replica_(replica),
      engine_(cards),
      key_(std::move(key)),
      card_ref_key_(card_ref_key),
      dice_(seed, replica),
      seed_(seed),
      checkpoint_interval_(checkpoint_interval),
      state_digest_(card_file_digest) {
  TRIAD_ASSERT(checkpoint_interval_ > 0);
  set_fault(fault);
  take_checkpoint(0);
}

void ReplicaCore::set_fault(const Fault& fault) {
  fault_ = fault;
  applied_since_fault_ = 0;
  corrupted_ = false;
  if (fault_.kind == Fault::Kind::kBadSig && !wrong_key_.has_key()) {
    // Derived from the seed, so the bad signatures repeat exactly too.
    crypto::Sha256 h;
    h.update(std::string_view("triad-badsig-key"));
    const std::uint8_t tag[1] = {static_cast<std::uint8_t>(replica_)};
    h.update(std::span<const std::uint8_t>(tag, 1));
    h.update(std::to_string(seed_));
    TRIAD_ASSERT(crypto::SigningKey::from_seed(h.finish(), &wrong_key_).is_ok());
  }
}

void ReplicaCore::take_checkpoint(std::uint64_t seq) {
  checkpoint_.seq = seq;
  checkpoint_.state_digest = state_digest_;
  checkpoint_.checkpoint_digest = checkpointer_.update(engine_);
}

ReplicaCore::Snapshot ReplicaCore::latest_snapshot() const {
  return {checkpoint_, checkpointer_.engine_state()};
}

void ReplicaCore::start_snapshot_copy() {
  snapshot_copy_.reset();
  snapshot_copy_ = std::make_unique<SnapshotCopy>(checkpoint_, checkpointer_);
}

const ReplicaCore::Checkpoint& ReplicaCore::snapshot_copy_of() const {
  TRIAD_ASSERT(snapshot_copy_ != nullptr);
  return snapshot_copy_->of;
}

std::size_t ReplicaCore::snapshot_copy_bytes() const {
  TRIAD_ASSERT(snapshot_copy_ != nullptr);
  return snapshot_copy_->state.total_bytes();
}

std::optional<ReplicaCore::Snapshot> ReplicaCore::continue_snapshot_copy(std::size_t max_bytes) {
  TRIAD_ASSERT(snapshot_copy_ != nullptr);
  if (!snapshot_copy_->state.step(max_bytes)) return std::nullopt;
  Snapshot snapshot{snapshot_copy_->of, snapshot_copy_->state.take()};
  snapshot_copy_.reset();
  return snapshot;
}

Status ReplicaCore::install(const Snapshot& snapshot) {
  if (const Status checked =
          check_checkpoint_digest(snapshot.engine_state, snapshot.checkpoint_digest);
      !checked.is_ok()) {
    return Status::corruption("snapshot at seq " + std::to_string(snapshot.seq) + ": " +
                              checked.message());
  }
  TRIAD_RETURN_IF_ERROR(engine_.restore(snapshot.engine_state));
  checkpoint_ = snapshot;
  state_digest_ = snapshot.state_digest;
  next_seq_ = snapshot.seq + 1;
  snapshot_copy_.reset();  // of the state replaced
  // The kept pages start again from the restored engine, which serializes
  // to the same bytes (Engine::restore), so to the same digest.
  checkpointer_.reset();
  const Digest kept = checkpointer_.update(engine_);
  TRIAD_ASSERT(kept == snapshot.checkpoint_digest);
  return Status::ok();
}

ReplicaCore::Step ReplicaCore::apply(std::uint64_t seq, std::int64_t ts_ms, const Transaction& tx) {
  TRIAD_ASSERT(seq == next_seq_);
  Step step;
  voter::VerdictContent& c = step.verdict.content;
  c.seq = seq;
  c.ts_ms = ts_ms;
  c.tx_digest = wire::transaction_digest(tx, crypto::card_ref_of(card_ref_key_, tx));
  c.code = engine_.apply(ts_ms, tx);
  c.rules_version = rules::kRulesVersion;
  state_digest_ = chain(state_digest_, c);  // the state follows the correct decision
  c.state_digest = state_digest_;
  ++next_seq_;
  ++applied_since_fault_;

  switch (fault_.kind) {
    case Fault::Kind::kFlip:
      if (dice_.roll(fault_.probability_ppm)) c.code = flipped(c.code);
      break;
    case Fault::Kind::kBadSig:
      step.bad_signature = dice_.roll(fault_.probability_ppm);
      break;
    case Fault::Kind::kDrop:
      if (dice_.roll(fault_.probability_ppm)) step.action = Action::kDrop;
      break;
    case Fault::Kind::kCrash:
      if (applied_since_fault_ > fault_.after_count) step.action = Action::kCrash;
      break;
    case Fault::Kind::kHang:
      if (applied_since_fault_ > fault_.after_count) step.action = Action::kHang;
      break;
    case Fault::Kind::kCorruptState:
      // One silent bit flip in memory; decisions go on as if nothing happened
      // until the corrupted card is used or the next checkpoint is voted.
      if (!corrupted_ && applied_since_fault_ >= fault_.after_count) {
        engine_.corrupt_for_fault_injection(seed_ + static_cast<std::uint64_t>(replica_));
        corrupted_ = true;
      }
      break;
    case Fault::Kind::kDelay:  // applied by the I/O loop
    case Fault::Kind::kNone:
      break;
  }
  if (is_checkpoint_seq(seq, checkpoint_interval_)) {
    take_checkpoint(seq);
    c.checkpoint_digest = checkpoint_.checkpoint_digest;
  }
  step.verdict.replica = replica_;
  step.verdict.fingerprint = build_fingerprint();
  return step;
}

void ReplicaCore::sign(std::span<voter::ReplicaVerdict> verdicts, bool bad_signature) const {
  const crypto::SigningKey& key = bad_signature ? wrong_key_ : key_;
  if (!key.has_key() || verdicts.empty()) return;  // the offline replay runs without a key
  wire::sign_verdict_batch(verdicts, key);
}

namespace {

// The I/O shell around ReplicaNode: one DEALER socket to the front end,
// signals and the monotonic clock. All the protocol is in the node.
class Loop {
 public:
  Loop(const Config& config, std::unique_ptr<ReplicaCore> core, transport::CurveClient curve)
      : config_(config),
        node_(std::move(core), monotonic_us(), wire::kSnapshotPartBytes, config.launch),
        socket_(context_, zmq::socket_type::dealer),
        curve_(std::move(curve)) {}

  int run() {
    curve_.apply(socket_);
    // Without CURVE the front end tells replicas apart by this name; with
    // it, by their keys, and a name of our own would only be one another
    // key could claim.
    if (!curve_.enabled()) {
      socket_.set(zmq::sockopt::routing_id, std::string(1, replica_name(config_.replica)));
    }
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::maxmsgsize, wire::kMaxReplicaTransportBytes);
    socket_.set(zmq::sockopt::rcvhwm, 0);
    socket_.set(zmq::sockopt::sndhwm, 0);
    socket_.connect(config_.endpoint);
    node_.start(monotonic_us(), &out_);
    send_out();
    // Whether the next checkpoint's work is being done ahead.
    bool ahead = false;
    while (true) {
      zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, stop_signals::fd(), ZMQ_POLLIN, 0}};
      long timeout_ms = ahead ? 0 : 100;
      if (const auto due = node_.next_timer_us()) {
        const std::uint64_t now = monotonic_us();
        timeout_ms = *due <= now
                         ? 0
                         : std::min<long>(timeout_ms, static_cast<long>((*due - now) / 1000 + 1));
      }
      transport::poll_readable(items, timeout_ms);
      if (items[1].revents & ZMQ_POLLIN) break;
      if (items[0].revents & ZMQ_POLLIN) {
        receive_all();
        ahead = ahead || node_.checkpoint_work_waiting();
      } else if (ahead) {
        ahead = node_.prepare_checkpoint();  // nothing waiting (node.h says why)
      }
      node_.on_time(monotonic_us(), &out_);
      send_out();
    }
    log::info("stopping on signal after seq " + std::to_string(node_.core().next_seq() - 1) + " (" +
              std::to_string(node_.checkpoint_steps_ahead()) +
              " steps of checkpoint work done ahead)");
    return 0;
  }

 private:
  // Drains what arrived; the verdicts of the burst go out in one message (or
  // one per ReplicaNode::kMaxVerdictsPerMessage).
  void receive_all() {
    zmq::message_t msg;
    while (socket_.recv(msg, zmq::recv_flags::dontwait)) {
      node_.receive({static_cast<const std::uint8_t*>(msg.data()), msg.size()}, monotonic_us(),
                    &out_);
      send_out();
      if (node_.crashed()) die();
    }
    node_.flush(&out_);
    send_out();
  }

  void send_out() {
    for (const auto& m : out_) {
      socket_.send(zmq::const_buffer(m.data(), m.size()), zmq::send_flags::none);
    }
    out_.clear();
  }

  // The crash fault: the verdicts up to it were just sent; the socket is
  // drained within a second, then the process dies without any clean-up.
  [[noreturn]] void die() {
    socket_.set(zmq::sockopt::linger, 1000);
    socket_.close();
    context_.close();
    std::_Exit(70);
  }

  Config config_;
  ReplicaNode node_;
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  transport::CurveClient curve_;
  ReplicaNode::Messages out_;
};

Status read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return Status::ok();
}

// Reads and parses the card file; the initial state digest is SHA-256 of
// a domain tag and the file's bytes, so every replica starts from the same one.
Status load_cards(const std::string& path, rules::CardFile* cards, Digest* initial_state) {
  std::string text;
  TRIAD_RETURN_IF_ERROR(read_file(path, &text));
  if (Status s = rules::parse_card_file(text, cards); !s.is_ok()) {
    return Status::invalid_argument(path + ": " + s.message());
  }
  crypto::Sha256 h;
  h.update(std::string_view("triad-state-v1"));
  h.update(text);
  *initial_state = h.finish();
  return Status::ok();
}

}  // namespace

int replay(const std::string& cards_path, const std::string& card_ref_key_path,
           const std::string& input_path, std::uint64_t checkpoint_interval, std::FILE* out) {
  const auto fail = [](const std::string& message) {
    std::fprintf(stderr, "triad-replica --replay: %s\n", message.c_str());
    return 2;
  };
  rules::CardFile cards;
  Digest initial_state{};
  if (Status s = load_cards(cards_path, &cards, &initial_state); !s.is_ok())
    return fail(s.message());
  crypto::SymmetricKey card_ref_key;
  if (!card_ref_key_path.empty()) {
    if (Status s = crypto::load_symmetric_key(card_ref_key_path, &card_ref_key); !s.is_ok())
      return fail(s.message());
  }
  std::ifstream in(input_path);
  if (!in) return fail("cannot read " + input_path);
  ReplicaCore core(0, cards, initial_state, crypto::SigningKey(), card_ref_key, Fault{}, 0,
                   checkpoint_interval);
  std::string line;
  std::uint64_t line_no = 0;
  std::int64_t last_ts = INT64_MIN;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string where = input_path + " line " + std::to_string(line_no) + ": ";
    std::uint64_t seq = 0;
    std::int64_t ts = 0;
    if (Status s = parse_sequenced_header(line, &seq, &ts); !s.is_ok())
      return fail(where + s.message());
    if (seq != core.next_seq()) {
      return fail(where + "seq " + std::to_string(seq) + ", expected " +
                  std::to_string(core.next_seq()));
    }
    if (ts < last_ts) return fail(where + "ts goes backwards");
    last_ts = ts;
    Transaction tx;
    if (Status s = parse_transaction_json(line, &tx); !s.is_ok()) return fail(where + s.message());
    const ReplicaCore::Step step = core.apply(seq, ts, tx);
    const voter::VerdictContent& c = step.verdict.content;
    std::fprintf(out, "%llu %s %s%s%s\n", static_cast<unsigned long long>(seq),
                 to_string(c.code).c_str(), to_hex(c.state_digest).c_str(),
                 c.checkpoint_digest == Digest{} ? "" : " checkpoint ",
                 c.checkpoint_digest == Digest{} ? "" : to_hex(c.checkpoint_digest).c_str());
  }
  std::fflush(out);
  return 0;
}

int run(const Config& config) {
  // If the front end dies, so do we: a replica never runs unsupervised.
  // SIGKILL, not SIGTERM: a stopped process (SIGSTOP, a debugger) holds a
  // SIGTERM until it is continued, so a replica stopped when its front end
  // was killed stayed behind; and a replica has nothing to save.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const Status signals = stop_signals::block();  // before any thread starts
  log::set_component(std::string("replica-") + replica_name(config.replica));
  if (!config.log_path.empty() && !log::set_file(config.log_path)) {
    std::fprintf(stderr, "triad-replica: cannot open log file %s\n", config.log_path.c_str());
    return 2;
  }
  const auto fail = [](const Status& s) {
    log::error("cannot start: " + s.to_string());
    return 2;
  };
  if (!signals.is_ok()) return fail(signals);
  rules::CardFile cards;
  Digest initial_state{};
  if (Status s = load_cards(config.cards_path, &cards, &initial_state); !s.is_ok()) return fail(s);
  crypto::SigningKey key;
  if (Status s = crypto::load_signing_key(config.key_path, &key); !s.is_ok()) return fail(s);
  transport::CurveClient curve;
  if (config.curve_key_path.empty() != config.curve_server_key_path.empty()) {
    return fail(Status::invalid_argument("--curve-key and --curve-server-key go together"));
  }
  if (!config.curve_key_path.empty()) {
    if (Status s = transport::load_curve_key_pair(config.curve_key_path, &curve.own); !s.is_ok())
      return fail(s);
    if (Status s = transport::load_curve_public_key(config.curve_server_key_path,
                                                    &curve.server_public_key);
        !s.is_ok())
      return fail(s);
  }
  crypto::SymmetricKey card_ref_key;
  if (Status s = crypto::load_symmetric_key(config.card_ref_key_path, &card_ref_key); !s.is_ok())
    return fail(s);
  auto core = std::make_unique<ReplicaCore>(config.replica, cards, initial_state, std::move(key),
                                            card_ref_key, config.fault, config.seed,
                                            config.checkpoint_interval);
  log::info("started: " + std::to_string(cards.cards.size()) + " cards, fingerprint \"" +
            build_fingerprint() + "\", fault " + to_string(config.fault) + ", front end " +
            config.endpoint + (curve.enabled() ? " (CURVE)" : " (plain TCP)"));
  try {
    return Loop(config, std::move(core), std::move(curve)).run();
  } catch (const zmq::error_t& e) {
    return fail(Status::io_error(std::string("ZeroMQ: ") + e.what()));
  }
}

}  // namespace triad::replica
