#include "triad/client.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <deque>
#include <span>
#include <unordered_map>
#include <utility>
#include <zmq.hpp>

#include "common/hex.h"
#include "common/layout.h"
#include "common/types.h"
#include "transport/curve.h"
#include "wire/codec.h"

namespace triad {

struct Client::Impl {
  using Clock = std::chrono::steady_clock;

  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  // The socket's connection events (zmq_socket_monitor), while
  // ClientOptions::resubmit_within_ms is not 0.
  zmq::socket_t monitor{context, zmq::socket_type::pair};
  bool monitor_started = false;  // zmq_socket_monitor on `socket`
  std::string endpoint;
  // A tag submitted and not answered: the transaction's id, the request it
  // was last sent in (to send again after a reconnect; empty when not kept)
  // and when.
  struct InFlight {
    std::string id;
    std::vector<std::uint8_t> request;
    Clock::time_point sent_at;
  };
  std::unordered_map<std::uint64_t, InFlight> in_flight;
  // ClientOptions', set once connected; 0: requests not kept, events not read.
  std::chrono::milliseconds resubmit_within{0};
  int send_timeout_ms = 0;  // ClientOptions'
  // The connection dropped, and no new handshake has been read since.
  bool dropped = false;
  // The front end refused a handshake (a key it no longer admits, another
  // server key): libzmq does not connect again after that, so this client
  // does, in the first call at or after `reconnect_at`, waiting twice as
  // long after each refusal in a row (kFirstReconnectWait to
  // kLongestReconnectWait), counted from when the refusal is read.
  bool refused = false;
  Clock::time_point reconnect_at;
  std::chrono::milliseconds reconnect_wait{0};
  std::uint64_t reconnects = 0;
  static constexpr std::chrono::milliseconds kFirstReconnectWait{250};
  static constexpr std::chrono::milliseconds kLongestReconnectWait{8'000};
  // After a reconnect: the tags in flight then, in order, from `resend_next`
  // on still to send again (a send that found no room is tried again at the
  // next call).
  std::vector<std::uint64_t> resend;
  std::size_t resend_next = 0;
  std::uint64_t resubmitted = 0;
  flatbuffers::FlatBufferBuilder fbb{1024};
  std::deque<Reply> ready;  // the rest of a batched reply frame, and local refusals
  // Parts of the last batched reply that failed verification, reported after
  // its usable answers.
  std::size_t unusable_parts = 0;

  ~Impl() {
    if (monitor_started) zmq_socket_monitor(socket.handle(), nullptr, 0);
  }

  // Whether the connection's events are read and requests kept to resend.
  bool monitoring() const { return resubmit_within.count() > 0; }

  void sent(std::uint64_t tag, const Transaction& tx, std::span<const std::uint8_t> request) {
    InFlight& f = in_flight[tag];
    f.id = tx.id.value_or("");
    f.sent_at = Clock::now();
    if (monitoring()) f.request.assign(request.begin(), request.end());
  }
  // Counts an answer off; false when its tag was not in flight, or was but
  // for another transaction (a decision carries its id): the late answer to
  // a tag the caller gave up on and used again must not pass for the new
  // transaction's.
  bool answered(const Reply& reply) {
    const auto it = in_flight.find(reply.tag);
    if (it == in_flight.end()) return false;
    if (reply.status.is_ok() && reply.decision.id != it->second.id) return false;
    in_flight.erase(it);
    return true;
  }

  // Sends `requests` (whole encoded requests) in as few frames as the front
  // end's limit allows, calling went(first, count) for each frame that went
  // out, as it goes (so a tag is in flight before a later frame waits for a
  // connection). Returns how many went (whole frames, the first ones): all
  // unless a send was refused.
  template <typename Went>
  std::size_t send_grouped(std::span<const std::span<const std::uint8_t>> requests, bool dontwait,
                           Went&& went) {
    std::size_t first = 0;  // of the frame being filled
    std::size_t bytes = 0;
    for (std::size_t i = 0; i <= requests.size(); ++i) {
      const std::size_t cost =
          i < requests.size() ? requests[i].size() + wire::kBatchPartOverheadBytes : 0;
      if (i > first && (i == requests.size() || bytes + cost > wire::kMaxRequestBatchBytes)) {
        const auto frame = requests.subspan(first, i - first);
        const bool ok = frame.size() == 1 ? send(frame.front(), dontwait)
                                          : send(wire::encode_request_batch(frame), dontwait);
        if (!ok) return first;
        went(first, frame.size());
        first = i;
        bytes = 0;
      }
      bytes += cost;
    }
    return requests.size();
  }

  // Reads the connection events that came. After a drop, once a new
  // handshake is done, sends again the tags in flight that were sent within
  // resubmit_within (older ones the caller has likely given up on: one sent
  // now could be sequenced long after that).
  void watch_connection() {
    if (!monitoring()) return;
    zmq::message_t event;
    zmq::message_t address;
    for (;;) {
      try {
        if (!monitor.recv(event, zmq::recv_flags::dontwait)) break;
        if (event.more()) (void)monitor.recv(address, zmq::recv_flags::dontwait);
      } catch (const zmq::error_t&) {
        break;
      }
      std::uint16_t kind = 0;
      if (event.size() < sizeof kind) continue;
      std::memcpy(&kind, event.data(), sizeof kind);
      if (kind == ZMQ_EVENT_DISCONNECTED) {
        dropped = true;
        resend.clear();
        resend_next = 0;
      } else if (kind == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                 kind == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        // A refusal (a handshake failed for a connection or timeout error,
        // NO_DETAIL, is one libzmq retries by itself).
        dropped = true;
        resend.clear();
        resend_next = 0;
        if (!refused) {
          refused = true;
          reconnect_wait =
              std::clamp(reconnect_wait * 2, kFirstReconnectWait, kLongestReconnectWait);
          reconnect_at = Clock::now() + reconnect_wait;
        }
      } else if (kind == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        refused = false;
        reconnect_wait = std::chrono::milliseconds(0);
        if (!dropped) continue;
        dropped = false;
        resend.clear();
        resend_next = 0;
        const auto now = Clock::now();
        for (const auto& [tag, f] : in_flight) {
          if (to_send_again(f, now)) resend.push_back(tag);
        }
        std::sort(resend.begin(), resend.end());
      }
    }
    reconnect_if_due();
    resend_pending();
  }

  // After a refused handshake, once reconnect_at has come: a new connection
  // (the old one is gone for good), whose handshake the monitor reports.
  void reconnect_if_due() {
    if (!refused || Clock::now() < reconnect_at) return;
    refused = false;
    // Whatever connection the socket still has goes with the disconnect
    // (libzmq reports no event for that): the next handshake resends
    // what is in flight.
    dropped = true;
    resend.clear();
    resend_next = 0;
    try {
      socket.disconnect(endpoint);
    } catch (const zmq::error_t&) {
      // Already gone with its session: connect() below makes a new one.
    }
    try {
      socket.connect(endpoint);
      ++reconnects;
    } catch (const zmq::error_t&) {
      refused = true;  // tried again after the next wait
      reconnect_at = Clock::now() + std::max(reconnect_wait, kFirstReconnectWait);
    }
  }

  // How long a wait for an event may last before a reconnect is due.
  std::chrono::milliseconds until_reconnect(std::chrono::milliseconds left) const {
    if (!refused) return left;
    const auto due = std::max(std::chrono::milliseconds(1),
                              std::chrono::duration_cast<std::chrono::milliseconds>(
                                  reconnect_at - Clock::now() + std::chrono::milliseconds(1)));
    return left.count() < 0 ? due : std::min(left, due);
  }

  // Whether a request in flight is sent again: one kept, sent within
  // resubmit_within (older ones the caller has likely given up on). Asked
  // again when a resend that found no room goes later.
  bool to_send_again(const InFlight& f, Clock::time_point now) const {
    return !f.request.empty() && f.sent_at >= now - resubmit_within;
  }

  // Sends what is left of `resend` (never waiting: the caller's call is not
  // held up by a connection that dropped again or a full queue).
  void resend_pending() {
    if (!resend_waiting()) return;
    std::vector<std::span<const std::uint8_t>> requests;
    std::vector<std::size_t> at;  // each request's index in `resend`
    const auto now = Clock::now();
    for (std::size_t i = resend_next; i < resend.size(); ++i) {
      const auto it = in_flight.find(resend[i]);
      // Answered, forgotten, or too old by now.
      if (it == in_flight.end() || !to_send_again(it->second, now)) continue;
      requests.emplace_back(it->second.request);
      at.push_back(i);
    }
    const std::size_t went =
        send_grouped(requests, /*dontwait=*/true, [](std::size_t, std::size_t) {});
    resubmitted += went;
    if (went == requests.size()) {
      resend.clear();
      resend_next = 0;
    } else {
      resend_next = at[went];
    }
  }
  bool resend_waiting() const { return resend_next < resend.size(); }

  // The wait of a send, here rather than in ZeroMQ: after a drop nothing is
  // sent until the new connection's handshake has been read and what was in
  // flight sent again, so a frame (not in flight yet) that goes out on the
  // new connection is not sent a second time by that resend. The events are
  // read only when a frame cannot go at once (reading them is a system call
  // or two, which every submit would pay): a drop leaves no connection to
  // send on, so a send finds it, unless no call came during the whole
  // outage (then a frame sent before the events are read may go twice).
  bool send_watching(std::span<const std::uint8_t> frame) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(send_timeout_ms, 0));
    // A resend still under way goes first: it is older, and would otherwise
    // wait for the next call that finds no room.
    const auto try_send = [&] {
      resend_pending();
      return !dropped && !resend_waiting() &&
             socket.send(zmq::const_buffer(frame.data(), frame.size()), zmq::send_flags::dontwait)
                 .has_value();
    };
    for (;;) {
      try {
        if (try_send()) return true;
        watch_connection();
        if (try_send()) return true;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (send_timeout_ms < 0) {
          left = std::chrono::milliseconds(-1);  // for good, as ZeroMQ's -1
        } else if (left.count() <= 0) {
          return false;
        }
        // While dropped, the socket may take a frame before the handshake's
        // event is here: wait for the event.
        zmq::pollitem_t items[] = {{monitor.handle(), 0, ZMQ_POLLIN, 0},
                                   {socket.handle(), 0, ZMQ_POLLOUT, 0}};
        zmq::poll(items, dropped ? 1 : 2, until_reconnect(left));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) return false;
      }
    }
  }

  // Answers `tag` here, without sending: the front end would refuse the
  // frame as a whole, with no tag to tell the caller which it was.
  void refuse_too_large(std::uint64_t tag, const Transaction& tx, std::size_t bytes) {
    Reply r;
    r.tag = tag;
    r.status = Status::invalid_argument("the transaction encodes to " + std::to_string(bytes) +
                                        " bytes, over the front end's limit of " +
                                        std::to_string(wire::kMaxClientMessageBytes) +
                                        " bytes a message; not sent");
    ready.push_back(std::move(r));
    sent(tag, tx, {});
  }

  Status not_sent() const {
    return Status::unavailable("the front end at " + endpoint +
                               " did not take the message within the send timeout (down, "
                               "refusing this client, or not reading); not sent");
  }

  // Sends `frame`; unless `dontwait`, waits up to send_timeout_ms for a
  // connection or for room in the send queue.
  bool send(std::span<const std::uint8_t> frame, bool dontwait) {
    if (!dontwait && monitoring()) return send_watching(frame);
    try {
      return socket
          .send(zmq::const_buffer(frame.data(), frame.size()),
                dontwait ? zmq::send_flags::dontwait : zmq::send_flags::none)
          .has_value();
    } catch (const zmq::error_t&) {
      return false;
    }
  }
};

namespace {

// The heartbeat TTL the front end is told: libzmq 4.3 sends it in tenths
// of a second and reads it back into 16 bits of milliseconds, so a longer
// one wraps to a few ms there.
constexpr int kLongestHeartbeatTimeoutMs = 65'500;

void build_submit(flatbuffers::FlatBufferBuilder& fbb, std::uint64_t tag, const Transaction& tx) {
  fbb.Clear();
  const auto wtx = wire::build_transaction(fbb, tx);
  const auto submit = wire::CreateSubmitRequest(fbb, tag, wtx);
  wire::ClientRequestBuilder b(fbb);
  b.add_submit(submit);
  fbb.Finish(b.Finish());
}

// Whether a decision's fields are what a front end sends: its id as the
// front end admits ids, a code of two digits, agree and divergent replica
// letters. A faulty front end's others would reach the caller's records.
bool well_formed(const Decision& d) {
  const auto letters = [](const std::string& text) {
    return text.size() <= kReplicaCount &&
           std::all_of(text.begin(), text.end(), [](char c) { return replica_index(c) >= 0; });
  };
  return is_valid_transaction_id(d.id) && d.code.size() == 2 &&
         std::isdigit(static_cast<unsigned char>(d.code[0])) != 0 &&
         std::isdigit(static_cast<unsigned char>(d.code[1])) != 0 && letters(d.agree) &&
         letters(d.divergent);
}

Reply read_reply(const wire::ClientReply& reply) {
  Reply r;
  r.tag = reply.tag();
  if (reply.error_kind() != wire::ClientErrorKind::None || reply.decision() == nullptr) {
    // A faulty front end's text goes into a Status, and from there into
    // logs and JSON lines, which it must not break.
    const std::string message = wire::printable_ascii(wire::as_view(reply.error()));
    switch (reply.error_kind()) {
      case wire::ClientErrorKind::IdReused:
        r.status = Status::rejected(message);
        break;
      case wire::ClientErrorKind::Overloaded:
        r.status = Status::overloaded(message);
        break;
      case wire::ClientErrorKind::Unavailable:
        r.status = Status::unavailable(message);
        break;
      case wire::ClientErrorKind::NotAdmitted:
        r.status = Status::permission_denied(message);
        break;
      default:
        r.status = Status::invalid_argument(message.empty() ? "malformed reply" : message);
    }
    return r;
  }
  const wire::Decision& d = *reply.decision();
  r.decision.id = std::string(wire::as_view(d.id()));
  r.decision.seq = d.seq();
  r.decision.ts_ms = d.ts();
  r.decision.code = std::string(wire::as_view(d.code()));
  r.decision.approved = r.decision.code == "00";
  r.decision.agree = std::string(wire::as_view(d.agree()));
  r.decision.divergent = std::string(wire::as_view(d.divergent()));
  r.decision.replayed = d.replayed();
  const auto cert = wire::as_bytes(d.certificate());
  r.decision.certificate.assign(cert.begin(), cert.end());
  r.decision.card_ref = to_hex(wire::as_bytes(d.card_ref()));
  if (!well_formed(r.decision)) {
    r.status =
        Status::corruption("a decision from the front end with a malformed field (id '" +
                           wire::printable_ascii(r.decision.id) + "', code '" +
                           wire::printable_ascii(r.decision.code) + "'); its answer is lost");
    r.decision = Decision{};
  }
  return r;
}

}  // namespace

Status use_cluster_keys(const std::string& dir, ClientOptions* options, const std::string& client) {
  transport::CurveClient curve;
  TRIAD_RETURN_IF_ERROR(
      transport::load_curve_client(dir, layout::curve_client_secret_key(dir, client), &curve));
  options->curve_server_public_key = curve.server_public_key;
  options->curve_public_key = curve.own.public_key;
  options->curve_secret_key = curve.own.secret_key;
  options->plain_tcp = curve.server_public_key.empty();
  return Status::ok();
}

Client::Client() : impl_(std::make_unique<Impl>()) {}
Client::~Client() = default;

Status Client::connect(const std::string& endpoint, const ClientOptions& options,
                       std::unique_ptr<Client>* out) {
  // ZeroMQ reports what it cannot do (no file descriptors left, say) by
  // throwing: no exception leaves this library.
  try {
    std::unique_ptr<Client> client(new Client());
    Impl& impl = *client->impl_;
    impl.endpoint = endpoint;
    const bool curve = !options.curve_server_public_key.empty();
    const bool any_key =
        curve || !options.curve_public_key.empty() || !options.curve_secret_key.empty();
    if (options.plain_tcp && any_key) {
      return Status::invalid_argument(
          "CURVE keys given with plain_tcp: connect either with CURVE or without");
    }
    if (!options.plain_tcp && !curve) {
      return Status::invalid_argument(
          "no CURVE server key given (the front end's public key): set it, or set plain_tcp "
          "for a front end run with --no-curve");
    }
    if (options.send_queue_messages < 1 || options.receive_queue_messages < 1) {
      return Status::invalid_argument(
          "send_queue_messages and receive_queue_messages must be "
          "at least 1 (a queue without bound is not offered)");
    }
    impl.socket.set(zmq::sockopt::linger, 0);
    impl.socket.set(zmq::sockopt::sndhwm, options.send_queue_messages);
    impl.socket.set(zmq::sockopt::rcvhwm, options.receive_queue_messages);
    // Queue only for a connection that is up: a request that waited for a
    // front end to come back could be sequenced long after the switch gave
    // up on it. A send then waits (sndtimeo) and is refused, not sent.
    impl.socket.set(zmq::sockopt::immediate, 1);
    // A larger reply fails verification anyway; past this ZeroMQ ends the
    // connection before holding it.
    impl.socket.set(zmq::sockopt::maxmsgsize,
                    static_cast<std::int64_t>(wire::kMaxClientReplyTransportBytes));
    if (curve) {
      transport::CurveClient keys;
      keys.server_public_key = options.curve_server_public_key;
      keys.own.public_key = options.curve_public_key;
      keys.own.secret_key = options.curve_secret_key;
      TRIAD_RETURN_IF_ERROR(transport::check_z85_key(keys.server_public_key, "the server key"));
      TRIAD_RETURN_IF_ERROR(transport::check_z85_key(keys.own.public_key, "the client public key"));
      TRIAD_RETURN_IF_ERROR(transport::check_z85_key(keys.own.secret_key, "the client secret key"));
      keys.apply(impl.socket);
    }
    if (options.heartbeat_interval_ms < 0 ||
        (options.heartbeat_interval_ms > 0 &&
         (options.heartbeat_timeout_ms < options.heartbeat_interval_ms ||
          options.heartbeat_timeout_ms > kLongestHeartbeatTimeoutMs))) {
      return Status::invalid_argument(
          "heartbeat_interval_ms must be 0 (off) or more, and heartbeat_timeout_ms at least it "
          "and at most " +
          std::to_string(kLongestHeartbeatTimeoutMs) + " ms");
    }
    if (options.heartbeat_interval_ms > 0) {
      impl.socket.set(zmq::sockopt::heartbeat_ivl, options.heartbeat_interval_ms);
      impl.socket.set(zmq::sockopt::heartbeat_timeout, options.heartbeat_timeout_ms);
      impl.socket.set(zmq::sockopt::heartbeat_ttl, options.heartbeat_timeout_ms);
    }
    if (options.resubmit_within_ms < 0) {
      return Status::invalid_argument("resubmit_within_ms must be 0 (off) or more");
    }
    impl.send_timeout_ms = options.send_timeout_ms;
    if (options.resubmit_within_ms > 0) {
      // Before connect(), so that no event is missed. The address is one
      // per context, and each Client has a context of its own. No limit on
      // the events queued: libzmq's monitor blocks the I/O thread on a full
      // queue (a front end restarting over and over while the caller makes
      // no call), and each is a few bytes.
      const char* monitor_address = "inproc://triad-client-connection";
      if (zmq_socket_monitor(impl.socket.handle(), monitor_address,
                             ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
        return Status::io_error(std::string("cannot watch the connection to ") + endpoint + ": " +
                                zmq_strerror(zmq_errno()));
      }
      impl.monitor_started = true;
      impl.monitor.set(zmq::sockopt::linger, 0);
      impl.monitor.set(zmq::sockopt::rcvhwm, 0);
      impl.monitor.connect(monitor_address);
    }
    try {
      impl.socket.connect(endpoint);
    } catch (const zmq::error_t& e) {
      return Status::invalid_argument("cannot connect to '" + endpoint + "': " + e.what());
    }
    // ZeroMQ connects in the background; a ping tells "nobody there" early.
    impl.fbb.Clear();
    const auto ping = wire::CreatePingRequest(impl.fbb, 0);
    wire::ClientRequestBuilder b(impl.fbb);
    b.add_ping(ping);
    impl.fbb.Finish(b.Finish());
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options.connect_timeout_ms);
    // A blocking send waits for a connection, and a handshake the front end
    // refuses (a key not admitted, no CURVE) leaves none for good: libzmq does
    // not reconnect after a protocol error. So the ping's send is bounded too.
    impl.socket.set(zmq::sockopt::sndtimeo, options.connect_timeout_ms);
    const bool pinged = impl.send(std::span(impl.fbb.GetBufferPointer(), impl.fbb.GetSize()),
                                  /*dontwait=*/false);
    // And every later send: a front end restarted with other keys or an
    // allow-list without this client refuses the new handshake, and a send
    // would otherwise wait for good.
    impl.socket.set(zmq::sockopt::sndtimeo, options.send_timeout_ms);
    zmq::pollitem_t item{impl.socket.handle(), 0, ZMQ_POLLIN, 0};
    while (pinged) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      zmq::message_t msg;
      try {
        zmq::poll(&item, 1, left);
        if (!(item.revents & ZMQ_POLLIN)) break;
        if (!impl.socket.recv(msg, zmq::recv_flags::dontwait)) continue;
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        return Status::io_error("connecting to " + endpoint + ": " + e.what());
      }
      const wire::ClientReply* reply = nullptr;
      const wire::AlignedFrame frame(msg.data(), msg.size());
      if (wire::verify_client_reply(frame.bytes(), &reply).is_ok() && reply->pong()) {
        impl.resubmit_within = std::chrono::milliseconds(options.resubmit_within_ms);
        *out = std::move(client);
        return Status::ok();
      }
    }
    return Status::unavailable(
        "no Triad front end answered at " + endpoint + " within " +
        std::to_string(options.connect_timeout_ms) + " ms" +
        (curve ? " (with CURVE: is this client's key admitted, and the server key the front end's?)"
               : " (plain TCP: a front end with CURVE, the default, needs its keys)"));
  } catch (const zmq::error_t& e) {
    return Status::io_error("connecting to " + endpoint + ": " + e.what());
  }
}

Status Client::submit(std::uint64_t tag, const Transaction& tx) {
  Impl& impl = *impl_;
  build_submit(impl.fbb, tag, tx);
  if (impl.fbb.GetSize() > wire::kMaxClientMessageBytes) {
    impl.refuse_too_large(tag, tx, impl.fbb.GetSize());
    return Status::ok();
  }
  if (!impl.send(std::span(impl.fbb.GetBufferPointer(), impl.fbb.GetSize()),
                 /*dontwait=*/false)) {
    return impl.not_sent();
  }
  impl.sent(tag, tx, std::span(impl.fbb.GetBufferPointer(), impl.fbb.GetSize()));
  return Status::ok();
}

Status Client::submit_batch(std::span<const Submission> batch) {
  Impl& impl = *impl_;
  for (const Submission& s : batch) {
    if (s.tx == nullptr) {
      return Status::invalid_argument("submission with tag " + std::to_string(s.tag) +
                                      " has no transaction; nothing sent");
    }
  }
  std::vector<std::vector<std::uint8_t>> encoded;
  std::vector<const Submission*> sent;  // encoded[i]'s
  encoded.reserve(batch.size());
  sent.reserve(batch.size());
  for (const Submission& s : batch) {
    build_submit(impl.fbb, s.tag, *s.tx);
    if (impl.fbb.GetSize() > wire::kMaxClientMessageBytes) {
      impl.refuse_too_large(s.tag, *s.tx, impl.fbb.GetSize());
      continue;
    }
    encoded.emplace_back(impl.fbb.GetBufferPointer(),
                         impl.fbb.GetBufferPointer() + impl.fbb.GetSize());
    sent.push_back(&s);
  }
  const std::vector<std::span<const std::uint8_t>> parts(encoded.begin(), encoded.end());
  const std::size_t went =
      impl.send_grouped(parts, /*dontwait=*/false, [&](std::size_t first, std::size_t count) {
        for (std::size_t i = first; i < first + count; ++i) {
          impl.sent(sent[i]->tag, *sent[i]->tx, parts[i]);
        }
      });
  return went == parts.size() ? Status::ok() : impl.not_sent();
}

Status Client::next_reply(int timeout_ms, Reply* out) {
  Impl& impl = *impl_;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  for (;;) {
    if (!impl.ready.empty()) {
      *out = std::move(impl.ready.front());
      impl.ready.pop_front();
      out->tag_in_flight = impl.answered(*out);
      return Status::ok();
    }
    if (impl.unusable_parts > 0) {
      const std::size_t n = std::exchange(impl.unusable_parts, 0);
      return Status::corruption(std::to_string(n) +
                                " part(s) of a batched reply from the front end failed "
                                "verification; their answers are lost");
    }
    const auto left =
        timeout_ms < 0
            ? std::chrono::milliseconds(-1)
            : std::max(
                  std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    // A resend that found no room is tried again at every call, and every
    // 10 ms while this one waits; a reconnect after a refused handshake
    // when it is due.
    if (impl.resend_waiting() || impl.refused) impl.watch_connection();
    zmq::pollitem_t items[] = {{impl.socket.handle(), 0, ZMQ_POLLIN, 0},
                               {impl.monitor.handle(), 0, ZMQ_POLLIN, 0}};
    const std::size_t watched = impl.monitoring() ? 2 : 1;
    constexpr std::chrono::milliseconds kResendRetry{10};
    const bool retrying = impl.resend_waiting() && (left.count() < 0 || left > kResendRetry);
    zmq::message_t msg;
    try {
      zmq::poll(items, watched, impl.until_reconnect(retrying ? kResendRetry : left));
      const bool events = watched == 2 && (items[1].revents & ZMQ_POLLIN) != 0;
      if (events) impl.watch_connection();
      if (!(items[0].revents & ZMQ_POLLIN)) {
        // The deadline is checked again above.
        if (retrying || events || (impl.refused && left.count() != 0)) continue;
        return Status::timeout("no answer within " + std::to_string(timeout_ms) + " ms");
      }
      if (!impl.socket.recv(msg, zmq::recv_flags::dontwait)) continue;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return Status::io_error(std::string("receiving from ") + impl.endpoint + ": " + e.what());
    }
    const wire::ClientReply* reply = nullptr;
    const wire::AlignedFrame frame(msg.data(), msg.size());
    TRIAD_RETURN_IF_ERROR(wire::verify_client_reply(frame.bytes(), &reply));
    if (reply->pong()) continue;  // a late answer to connect()'s ping
    impl.unusable_parts = wire::for_each_reply(
        *reply, [&](const wire::ClientReply& r) { impl.ready.push_back(read_reply(r)); });
  }
}

std::size_t Client::in_flight() const { return impl_->in_flight.size(); }

std::vector<std::uint64_t> Client::tags_in_flight() const {
  std::vector<std::uint64_t> tags;
  tags.reserve(impl_->in_flight.size());
  for (const auto& [tag, f] : impl_->in_flight) tags.push_back(tag);
  return tags;
}

bool Client::forget(std::uint64_t tag) { return impl_->in_flight.erase(tag) == 1; }

std::uint64_t Client::resubmitted() const { return impl_->resubmitted; }

std::uint64_t Client::reconnects() const { return impl_->reconnects; }

}  // namespace triad
