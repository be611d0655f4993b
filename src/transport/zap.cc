#include "transport/zap.h"

#include <cstring>

#include "common/assert.h"
#include "common/log.h"

namespace triad::transport {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

// The public key in Z85, for decisions and logs (a public key is no secret,
// and an operator needs it to allow-list a client).
std::string z85_of(std::span<const std::uint8_t> key) {
  char text[41] = {};
  if (key.size() != 32 || zmq_z85_encode(text, key.data(), key.size()) == nullptr) return {};
  return text;
}

std::string protocol_reason(std::uint32_t value) {
  switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
      return "security mechanism mismatch (a client without CURVE?)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
      return "CURVE handshake failed (a client with another server key?)";
    default: {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%08x", value);
      return std::string("handshake protocol error ") + hex;
    }
  }
}

// The metadata frame of a ZAP answer (RFC 27: ZMTP 3.0 properties, a name
// of at most 255 bytes after its length byte, a value after its 4-byte
// big-endian length) holding kClientKeyProperty.
std::string key_property(const std::string& key_z85) {
  const std::string name = kClientKeyProperty;
  std::string out(1, static_cast<char>(name.size()));
  out += name;
  const auto size = static_cast<std::uint32_t>(key_z85.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((size >> shift) & 0xff);
  return out + key_z85;
}

// Logs the first refusals of a domain, then one in a thousand: a client
// retrying with a bad key reconnects several times a second.
bool worth_logging(std::uint64_t count) { return count <= 10 || count % 1000 == 0; }

}  // namespace

void ZapPolicy::admit_any(const std::string& domain) { domains_[domain].any = true; }

void ZapPolicy::admit(const std::string& domain, const std::string& public_key_z85,
                      const std::string& user_id) {
  domains_[domain].keys[public_key_z85] = user_id;
}

void ZapPolicy::replace_keys(const std::string& domain, KeyNames keys) {
  domains_[domain].keys = std::move(keys);
}

const ZapPolicy::KeyNames& ZapPolicy::keys(const std::string& domain) const {
  static const KeyNames kNone;
  const auto it = domains_.find(domain);
  return it == domains_.end() ? kNone : it->second.keys;
}

bool ZapPolicy::admits(std::string_view domain, std::string_view public_key_z85) const {
  const auto it = domains_.find(domain);
  return it != domains_.end() && (it->second.any || it->second.keys.contains(public_key_z85));
}

ZapDecision ZapPolicy::decide(std::string_view domain, std::string_view mechanism,
                              std::span<const std::uint8_t> credential) const {
  ZapDecision d;
  const auto it = domains_.find(domain);
  if (it == domains_.end()) {
    d.reason = "unknown ZAP domain";
    return d;
  }
  if (mechanism != "CURVE") {
    d.reason = "mechanism " + std::string(mechanism) + ", CURVE required";
    return d;
  }
  const std::string key = z85_of(credential);
  if (key.empty()) {
    d.reason = "malformed CURVE credential";
    return d;
  }
  if (const auto k = it->second.keys.find(key); k != it->second.keys.end()) {
    d.allowed = true;
    d.user_id = k->second;
    return d;
  }
  if (it->second.any) {
    d.allowed = true;
    d.user_id = "any";
    return d;
  }
  d.reason = "key not admitted";
  return d;
}

ZapHandler::ZapHandler(zmq::context_t& context, ZapPolicy policy)
    : context_(context), policy_(std::move(policy)), zap_(context, zmq::socket_type::rep) {
  zap_.set(zmq::sockopt::linger, 0);
}

Status ZapHandler::start() {
  try {
    zap_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    return Status::unavailable(std::string("cannot bind the ZAP handler at ") + kZapEndpoint +
                               ": " + e.what());
  }
  return Status::ok();
}

Status ZapHandler::watch(zmq::socket_ref socket, const std::string& domain) {
  const std::string endpoint =
      "inproc://triad-handshakes-" + domain + "-" + std::to_string(monitors_.size());
  // Authentication failures come from ZAP and are counted there.
  if (zmq_socket_monitor(
          socket.handle(), endpoint.c_str(),
          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
    return Status::internal("cannot monitor the " + domain +
                            " socket: " + zmq_strerror(zmq_errno()));
  }
  zmq::socket_t events(context_, zmq::socket_type::pair);
  events.set(zmq::sockopt::linger, 0);
  events.connect(endpoint);
  const QuietSocket quiet(events);
  monitors_.push_back(Monitor{domain, std::move(events), quiet});
  return Status::ok();
}

std::size_t ZapHandler::add_poll_items(std::vector<zmq::pollitem_t>* items) {
  const std::size_t first = items->size();
  items->push_back(zap_quiet_.poll_item());
  for (const Monitor& m : monitors_) items->push_back(m.quiet.poll_item());
  return first;
}

void ZapHandler::serve(std::span<const zmq::pollitem_t> items) {
  TRIAD_ASSERT(items.size() == monitors_.size() + 1);
  // Each read goes on until a receive fails (QuietSocket).
  if (zap_quiet_.due(items[0])) answer_request();
  for (std::size_t i = 0; i < monitors_.size(); ++i) {
    if (monitors_[i].quiet.due(items[i + 1])) read_monitor(i);
  }
}

std::uint64_t ZapHandler::refused_total(const std::string& domain) const {
  const auto it = totals_.find(domain);
  return it == totals_.end() ? 0 : it->second;
}

void ZapHandler::count(const std::string& domain, const std::string& reason,
                       const std::string& detail) {
  ++refused_[domain][reason];
  const std::uint64_t n = ++totals_[domain];
  if (worth_logging(n)) {
    log::warn("refused a connection on the " + domain + " socket: " + reason + detail + " (" +
              std::to_string(n) + " refused on it so far)");
  }
}

void ZapHandler::answer_request() {
  // A REP socket: each request is answered before the next is read.
  while (true) {
    std::vector<zmq::message_t> frames;
    zmq::message_t frame;
    if (!zap_.recv(frame, zmq::recv_flags::dontwait)) return;
    frames.push_back(std::move(frame));
    while (frames.back().more() && frames.size() < 16) {
      zmq::message_t next;
      if (!zap_.recv(next, zmq::recv_flags::none)) break;
      frames.push_back(std::move(next));
    }
    // version, request id, domain, address, identity, mechanism, credentials...
    ZapDecision d;
    std::string domain;
    std::string address;
    std::string key;
    if (frames.size() < 6 || frames[0].to_string_view() != "1.0") {
      d.reason = "malformed ZAP request";
    } else {
      domain = frames[2].to_string();
      address = frames[3].to_string();
      std::span<const std::uint8_t> credential;
      if (frames.size() >= 7) {
        credential = {static_cast<const std::uint8_t*>(frames[6].data()), frames[6].size()};
      }
      d = policy_.decide(domain, frames[5].to_string_view(), credential);
      key = z85_of(credential);
    }
    const std::string request_id = frames.size() > 1 ? frames[1].to_string() : std::string();
    const std::string code = d.allowed ? "200" : "400";
    zap_.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(code), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(d.allowed ? std::string("OK") : d.reason), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(d.user_id), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(d.allowed ? key_property(key) : std::string()), zmq::send_flags::none);
    if (!d.allowed) {
      count(
          domain.empty() ? "unknown" : domain, d.reason,
          (address.empty() ? "" : " from " + address) + (key.empty() ? "" : ", client key " + key));
    }
  }
}

void ZapHandler::read_monitor(std::size_t index) {
  Monitor& m = monitors_[index];
  zmq::message_t event;
  while (m.socket.recv(event, zmq::recv_flags::dontwait)) {
    zmq::message_t address;
    if (event.more()) (void)m.socket.recv(address, zmq::recv_flags::none);
    if (event.size() < 6) continue;
    std::uint16_t id = 0;
    std::uint32_t value = 0;
    std::memcpy(&id, event.data(), sizeof id);
    std::memcpy(&value, static_cast<const char*>(event.data()) + 2, sizeof value);
    const std::string reason =
        id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
            ? protocol_reason(value)
            : "handshake failed: " + std::string(zmq_strerror(static_cast<int>(value)));
    count(m.domain, reason, "");
  }
}

}  // namespace triad::transport
