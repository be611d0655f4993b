#include "triad/client.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <span>
#include <unordered_set>
#include <utility>
#include <zmq.hpp>

#include "common/hex.h"
#include "common/layout.h"
#include "transport/curve.h"
#include "wire/codec.h"

namespace triad {

struct Client::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  std::string endpoint;
  std::unordered_set<std::uint64_t> in_flight;  // tags submitted and not answered
  flatbuffers::FlatBufferBuilder fbb{1024};
  std::deque<Reply> ready;  // the rest of a batched reply frame, and local refusals
  // Parts of the last batched reply that failed verification, reported after
  // its usable answers.
  std::size_t unusable_parts = 0;

  void sent(std::uint64_t tag) { in_flight.insert(tag); }
  // Counts an answer to `tag` off; false when the tag was not in flight.
  bool answered(std::uint64_t tag) { return in_flight.erase(tag) == 1; }

  // Answers `tag` here, without sending: the front end would refuse the
  // frame as a whole, with no tag to tell the caller which it was.
  void refuse_too_large(std::uint64_t tag, std::size_t bytes) {
    Reply r;
    r.tag = tag;
    r.status = Status::invalid_argument("the transaction encodes to " + std::to_string(bytes) +
                                        " bytes, over the front end's limit of " +
                                        std::to_string(wire::kMaxClientMessageBytes) +
                                        " bytes a message; not sent");
    ready.push_back(std::move(r));
    sent(tag);
  }

  Status not_sent() const {
    return Status::unavailable("the front end at " + endpoint +
                               " did not take the message within the send timeout (down, "
                               "refusing this client, or not reading); not sent");
  }

  bool send(bool dontwait) {
    return send(std::span(fbb.GetBufferPointer(), fbb.GetSize()), dontwait);
  }
  bool send(std::span<const std::uint8_t> frame, bool dontwait) {
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

void build_submit(flatbuffers::FlatBufferBuilder& fbb, std::uint64_t tag, const Transaction& tx) {
  fbb.Clear();
  const auto wtx = wire::build_transaction(fbb, tx);
  const auto submit = wire::CreateSubmitRequest(fbb, tag, wtx);
  wire::ClientRequestBuilder b(fbb);
  b.add_submit(submit);
  fbb.Finish(b.Finish());
}

Reply read_reply(const wire::ClientReply& reply) {
  Reply r;
  r.tag = reply.tag();
  if (reply.error_kind() != wire::ClientErrorKind::None || reply.decision() == nullptr) {
    const std::string message(wire::as_view(reply.error()));
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
    const bool pinged = impl.send(/*dontwait=*/false);
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
    impl.refuse_too_large(tag, impl.fbb.GetSize());
    return Status::ok();
  }
  if (!impl.send(/*dontwait=*/false)) return impl.not_sent();
  impl.sent(tag);
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
  std::vector<std::span<const std::uint8_t>> parts;
  std::vector<std::uint64_t> tags;
  std::size_t parts_bytes = 0;
  auto send_parts = [&]() -> Status {
    if (parts.empty()) return Status::ok();
    const bool sent = parts.size() == 1 ? impl.send(parts.front(), /*dontwait=*/false)
                                        : impl.send(wire::encode_request_batch(parts), false);
    if (!sent) return impl.not_sent();
    for (const std::uint64_t tag : tags) impl.sent(tag);
    parts.clear();
    encoded.clear();
    tags.clear();
    parts_bytes = 0;
    return Status::ok();
  };
  encoded.reserve(batch.size());
  for (const Submission& s : batch) {
    build_submit(impl.fbb, s.tag, *s.tx);
    if (impl.fbb.GetSize() > wire::kMaxClientMessageBytes) {
      impl.refuse_too_large(s.tag, impl.fbb.GetSize());
      continue;
    }
    std::vector<std::uint8_t> part(impl.fbb.GetBufferPointer(),
                                   impl.fbb.GetBufferPointer() + impl.fbb.GetSize());
    const std::size_t cost = part.size() + wire::kBatchPartOverheadBytes;
    if (parts_bytes + cost > wire::kMaxRequestBatchBytes) TRIAD_RETURN_IF_ERROR(send_parts());
    parts_bytes += cost;
    encoded.push_back(std::move(part));
    parts.emplace_back(encoded.back());
    tags.push_back(s.tag);
  }
  return send_parts();
}

Status Client::next_reply(int timeout_ms, Reply* out) {
  Impl& impl = *impl_;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  for (;;) {
    if (!impl.ready.empty()) {
      *out = std::move(impl.ready.front());
      impl.ready.pop_front();
      out->tag_in_flight = impl.answered(out->tag);
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
    zmq::pollitem_t item{impl.socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::message_t msg;
    try {
      zmq::poll(&item, 1, left);
      if (!(item.revents & ZMQ_POLLIN)) {
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
  return {impl_->in_flight.begin(), impl_->in_flight.end()};
}

}  // namespace triad
