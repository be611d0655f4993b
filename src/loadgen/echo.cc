#include "loadgen/echo.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "common/layout.h"
#include "common/stop_signals.h"
#include "common/types.h"
#include "journal/background_sync.h"
#include "journal/journal.h"
#include "loadgen/process.h"
#include "transport/curve.h"
#include "transport/poll.h"
#include "transport/zap.h"
#include "wire/codec.h"

namespace triad::loadgen {
namespace {

// As Triad's processes: the stop signals as a polled descriptor, so the
// floor's poll sets have the same descriptors as theirs.
bool take_signals() {
  std::signal(SIGPIPE, SIG_IGN);
  const Status s = stop_signals::block();
  if (!s.is_ok()) std::fprintf(stderr, "triad bench-echo: %s\n", s.message().c_str());
  return s.is_ok();
}

zmq::pollitem_t stop_item() { return {nullptr, stop_signals::fd(), ZMQ_POLLIN, 0}; }

bool recv_dontwait(zmq::socket_t& s, zmq::message_t& msg) {
  return s.recv(msg, zmq::recv_flags::dontwait).has_value();
}

// Replies per batch frame, within the client's limit for one frame.
constexpr std::size_t kRepliesPerBatch = wire::kMaxReplyBatchBytes / (kEchoReplyBytes + 256);

struct Pending {
  zmq::message_t client;
  std::vector<std::uint64_t> tags;  // one request, or a batch's parts
  bool batch = false;
  int replies = 0;
  // The journal write that holds the request (0: no journal), and whether
  // the client was answered (two replies, and that write durable).
  std::uint64_t write = 0;
  bool answered = false;
};

// The durable journal's share of a request's path (echo.h): a turn's
// requests appended to a file in one write, synced by the front end's own
// background thread. Records are the request frames as they came: the
// floor measures the write and the sync, not the journal's framing and
// encryption (a few µs a record, README "Input journal and restart").
class EchoJournal {
 public:
  static Status open(const std::string& path, std::unique_ptr<EchoJournal>* out) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Status::io_error("cannot open " + path + ": " + std::strerror(errno));
    }
    const int sync_fd = ::dup(fd);
    if (sync_fd < 0) {
      const int e = errno;
      ::close(fd);
      return Status::io_error("cannot dup " + path + ": " + std::strerror(e));
    }
    std::unique_ptr<journal::BackgroundSync> sync;
    if (Status s = journal::BackgroundSync::start(sync_fd, path, &sync); !s.is_ok()) {
      ::close(fd);
      return s;
    }
    out->reset(new EchoJournal(fd, path, std::move(sync)));
    return Status::ok();
  }
  ~EchoJournal() { ::close(fd_); }

  void append(const zmq::message_t& request) {
    const auto* p = static_cast<const std::uint8_t*>(request.data());
    buffer_.insert(buffer_.end(), p, p + request.size());
  }
  // Writes what was appended since the last call and asks for its sync;
  // *write numbers it (durable once durable_write() reaches it).
  Status write(std::uint64_t* write) {
    TRIAD_RETURN_IF_ERROR(
        journal::write_all(fd_, buffer_.data(), buffer_.size(), size_bytes_, path_));
    size_bytes_ += buffer_.size();
    buffer_.clear();
    *write = ++writes_;
    sync_->request(writes_);
    return Status::ok();
  }
  std::uint64_t durable_write() const { return sync_->durable_seq(); }
  zmq::pollitem_t poll_item() const { return {nullptr, sync_->wake_fd(), ZMQ_POLLIN, 0}; }
  // After the wake-up descriptor fired: the sync's error, if it failed.
  Status on_wake() {
    sync_->drain();
    return sync_->error();
  }

 private:
  EchoJournal(int fd, std::string path, std::unique_ptr<journal::BackgroundSync> sync)
      : fd_(fd), path_(std::move(path)), sync_(std::move(sync)) {}

  const int fd_;
  const std::string path_;
  std::unique_ptr<journal::BackgroundSync> sync_;
  std::vector<std::uint8_t> buffer_;
  std::uint64_t size_bytes_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace

int run_echo_replica(const std::string& endpoint, const std::string& curve_key,
                     const std::string& curve_server_key) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (!take_signals()) return 2;
  transport::CurveClient curve;
  if (!curve_key.empty()) {
    Status s = transport::load_curve_key_pair(curve_key, &curve.own);
    if (s.is_ok()) s = transport::load_curve_public_key(curve_server_key, &curve.server_public_key);
    if (!s.is_ok()) {
      std::fprintf(stderr, "triad bench-echo: %s\n", s.message().c_str());
      return 2;
    }
  }
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::sndhwm, 0);
  socket.set(zmq::sockopt::rcvhwm, 0);
  curve.apply(socket);
  socket.connect(endpoint);
  socket.send(zmq::str_buffer("hello"), zmq::send_flags::none);
  const std::vector<std::uint8_t> reply(kEchoReplyBytes, 0x5a);
  std::vector<zmq::pollitem_t> items{{socket.handle(), 0, ZMQ_POLLIN, 0}, stop_item()};
  while (true) {
    transport::poll_readable(items, 100);
    if (items[1].revents & ZMQ_POLLIN) break;
    zmq::message_t key;
    while (recv_dontwait(socket, key)) {
      zmq::message_t payload;
      if (key.more()) (void)recv_dontwait(socket, payload);  // the request: not even read
      socket.send(key, zmq::send_flags::sndmore);
      socket.send(zmq::const_buffer(reply.data(), reply.size()), zmq::send_flags::none);
    }
  }
  return 0;
}

// The echo front end's CURVE set-up, as the real front end's: its key pair,
// any client key on the client socket, the three replica keys on the other.
Status set_up_echo_curve(const std::string& dir, zmq::context_t& context, zmq::socket_t& clients,
                         zmq::socket_t& replicas, std::unique_ptr<transport::ZapHandler>* zap) {
  transport::CurveKeyPair own;
  TRIAD_RETURN_IF_ERROR(
      transport::load_curve_key_pair(layout::curve_secret_key(dir, layout::kCurveFrontEnd), &own));
  transport::ZapPolicy policy;
  policy.admit_any("client");
  for (int r = 0; r < kReplicaCount; ++r) {
    std::string key;
    TRIAD_RETURN_IF_ERROR(transport::load_curve_public_key(
        layout::curve_public_key(dir, layout::curve_replica_party(r)), &key));
    policy.admit("replica", key, layout::curve_replica_party(r));
  }
  *zap = std::make_unique<transport::ZapHandler>(context, std::move(policy));
  TRIAD_RETURN_IF_ERROR((*zap)->start());
  transport::set_curve_server(clients, own, "client");
  transport::set_curve_server(replicas, own, "replica");
  return Status::ok();
}

int run_echo_frontend(const std::string& listen, const std::string& self_exe,
                      const std::string& curve_dir, const std::string& journal_path) {
  if (!take_signals()) return 2;
  std::unique_ptr<EchoJournal> journal;
  if (!journal_path.empty()) {
    if (Status s = EchoJournal::open(journal_path, &journal); !s.is_ok()) {
      std::fprintf(stderr, "triad bench-echo: %s\n", s.message().c_str());
      return 2;
    }
  }
  zmq::context_t context(1);
  zmq::socket_t clients(context, zmq::socket_type::router);
  zmq::socket_t replicas(context, zmq::socket_type::router);
  for (auto* s : {&clients, &replicas}) {
    s->set(zmq::sockopt::linger, 0);
    s->set(zmq::sockopt::sndhwm, 0);
    s->set(zmq::sockopt::rcvhwm, 0);
  }
  std::unique_ptr<transport::ZapHandler> zap;
  if (!curve_dir.empty()) {
    if (Status s = set_up_echo_curve(curve_dir, context, clients, replicas, &zap); !s.is_ok()) {
      std::fprintf(stderr, "triad bench-echo: %s\n", s.message().c_str());
      return 2;
    }
  }
  try {
    clients.bind(listen);
    replicas.bind("tcp://127.0.0.1:*");
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "triad bench-echo: cannot bind %s: %s\n", listen.c_str(), e.what());
    return 2;
  }
  const std::string replica_ep = replicas.get(zmq::sockopt::last_endpoint);
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> argv{self_exe, "bench-echo", "--replica", replica_ep};
    if (zap) {
      argv.insert(
          argv.end(),
          {"--curve-key", layout::curve_secret_key(curve_dir, layout::curve_replica_party(i)),
           "--curve-server-key", layout::curve_public_key(curve_dir, layout::kCurveFrontEnd)});
    }
    children.push_back(std::make_unique<ChildProcess>(argv));
  }
  // ZAP requests are answered in the same loops as the traffic.
  const auto with_zap = [&](std::vector<zmq::pollitem_t> items) {
    if (zap) zap->add_poll_items(&items);
    return items;
  };
  // Wait for the three hellos.
  std::vector<zmq::message_t> ids;
  std::vector<zmq::pollitem_t> rep_item =
      with_zap({{replicas.handle(), 0, ZMQ_POLLIN, 0}, stop_item()});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (ids.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    transport::poll_readable(rep_item, 100);
    if (rep_item[1].revents & ZMQ_POLLIN) return 0;
    if (zap) zap->serve(std::span(rep_item).subspan(2));
    zmq::message_t id;
    while (recv_dontwait(replicas, id)) {
      zmq::message_t body;
      if (id.more()) (void)recv_dontwait(replicas, body);
      ids.push_back(std::move(id));
    }
  }
  if (ids.size() < 3) {
    std::fprintf(stderr, "triad bench-echo: the echo replicas did not connect\n");
    return 1;
  }
  std::printf("ready %s\n", clients.get(zmq::sockopt::last_endpoint).c_str());
  std::fflush(stdout);

  std::unordered_map<std::uint64_t, Pending> pending;
  std::uint64_t next_key = 1;
  flatbuffers::FlatBufferBuilder fbb(1024);
  const std::vector<std::uint8_t> dummy_cert(kEchoReplyBytes, 0xa5);
  std::vector<zmq::pollitem_t> base{
      {clients.handle(), 0, ZMQ_POLLIN, 0}, {replicas.handle(), 0, ZMQ_POLLIN, 0}, stop_item()};
  if (journal) base.push_back(journal->poll_item());
  const std::size_t zap_items_from = base.size();
  std::vector<zmq::pollitem_t> items = with_zap(std::move(base));
  auto send_reply = [&](zmq::message_t& client) {
    clients.send(client, zmq::send_flags::sndmore);
    clients.send(zmq::const_buffer(fbb.GetBufferPointer(), fbb.GetSize()), zmq::send_flags::none);
  };
  auto fan_out = [&](std::uint64_t key, const zmq::message_t& body) {
    for (auto& id : ids) {
      zmq::message_t rid(id.data(), id.size());
      replicas.send(rid, zmq::send_flags::sndmore);
      replicas.send(zmq::const_buffer(&key, sizeof key), zmq::send_flags::sndmore);
      replicas.send(zmq::const_buffer(body.data(), body.size()), zmq::send_flags::none);
    }
  };
  auto answer = [&](std::uint64_t key, Pending& p) {
    std::vector<std::vector<std::uint8_t>> replies;
    for (const std::uint64_t tag : p.tags) {
      fbb.Clear();
      const auto d =
          wire::CreateDecisionDirect(fbb, "echo", key, 0, "00", "ab", "", false, &dummy_cert);
      wire::ClientReplyBuilder b(fbb);
      b.add_tag(tag);
      b.add_decision(d);
      fbb.Finish(b.Finish());
      if (!p.batch) break;
      replies.emplace_back(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
    }
    if (!p.batch) {
      send_reply(p.client);
    } else {
      const std::vector<std::span<const std::uint8_t>> parts(replies.begin(), replies.end());
      for (std::size_t i = 0; i < parts.size(); i += kRepliesPerBatch) {
        const std::vector<std::uint8_t> frame = wire::encode_reply_batch(
            std::span(parts).subspan(i, std::min(kRepliesPerBatch, parts.size() - i)));
        clients.send(zmq::const_buffer(p.client.data(), p.client.size()), zmq::send_flags::sndmore);
        clients.send(zmq::const_buffer(frame.data(), frame.size()), zmq::send_flags::none);
      }
    }
    p.answered = true;
  };
  // With a journal: this turn's requests, fanned out once written, and the
  // requests with two replies whose write is not durable yet.
  std::vector<std::pair<std::uint64_t, zmq::message_t>> turn;
  std::vector<std::uint64_t> held;
  while (true) {
    transport::poll_readable(items, 100);
    if (items[2].revents & ZMQ_POLLIN) break;
    if (zap) zap->serve(std::span(items).subspan(zap_items_from));
    // As Triad's front end: what waited only for this sync is answered
    // before the turn handles anything new.
    if (journal && (items[3].revents & ZMQ_POLLIN) != 0) {
      if (Status s = journal->on_wake(); !s.is_ok()) {
        std::fprintf(stderr, "triad bench-echo: %s\n", s.message().c_str());
        return 1;
      }
      std::erase_if(held, [&](std::uint64_t key) {
        const auto it = pending.find(key);
        if (it->second.write > journal->durable_write()) return false;
        answer(key, it->second);
        if (it->second.replies == 3) pending.erase(it);
        return true;
      });
    }
    zmq::message_t client;
    while (recv_dontwait(clients, client)) {
      zmq::message_t body;
      if (!client.more() || !recv_dontwait(clients, body)) continue;
      const wire::AlignedFrame frame(body.data(), body.size());
      const wire::ClientRequest* req = nullptr;
      if (!wire::verify_client_request(frame.bytes(), &req).is_ok()) continue;
      if (req->ping() != nullptr) {
        fbb.Clear();
        wire::ClientReplyBuilder b(fbb);
        b.add_tag(req->ping()->tag());
        b.add_pong(true);
        fbb.Finish(b.Finish());
        send_reply(client);
        continue;
      }
      // A batch goes to the echo processes as it came, like TMR's front end
      // sends them its entries in one message; its reply is one frame too.
      std::vector<std::uint64_t> tags;
      if (req->submit() != nullptr) {
        tags.push_back(req->submit()->tag());
      } else if (req->batch() != nullptr) {
        for (const wire::RequestPart* part : *req->batch()) {
          const wire::ClientRequest* r = wire::request_part(part);
          if (r != nullptr && r->submit() != nullptr) tags.push_back(r->submit()->tag());
        }
      }
      if (tags.empty()) continue;
      const std::uint64_t key = next_key++;
      Pending& p = pending[key];
      p.client = std::move(client);
      p.tags = std::move(tags);
      p.batch = req->batch() != nullptr;
      if (journal) {
        journal->append(body);
        turn.emplace_back(key, std::move(body));
      } else {
        fan_out(key, body);
      }
    }
    // As Triad's front end: the turn's requests are written in one write
    // before any of them is sent on.
    if (!turn.empty()) {
      std::uint64_t write = 0;
      if (Status s = journal->write(&write); !s.is_ok()) {
        std::fprintf(stderr, "triad bench-echo: %s\n", s.message().c_str());
        return 1;
      }
      for (auto& [key, body] : turn) {
        pending[key].write = write;
        fan_out(key, body);
      }
      turn.clear();
    }
    zmq::message_t rid;
    while (recv_dontwait(replicas, rid)) {
      zmq::message_t key_msg;
      zmq::message_t payload;
      if (!rid.more() || !recv_dontwait(replicas, key_msg)) continue;
      if (key_msg.more()) (void)recv_dontwait(replicas, payload);
      if (key_msg.size() != sizeof(std::uint64_t)) continue;
      std::uint64_t key = 0;
      std::memcpy(&key, key_msg.data(), sizeof key);
      const auto it = pending.find(key);
      if (it == pending.end()) continue;
      Pending& p = it->second;
      if (++p.replies == 2) {
        if (!journal || p.write <= journal->durable_write()) {
          answer(key, p);
        } else {
          held.push_back(key);
        }
      }
      if (p.replies == 3 && p.answered) pending.erase(it);
    }
  }
  return 0;  // children stopped by their destructors
}

}  // namespace triad::loadgen
