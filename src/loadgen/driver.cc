#include "loadgen/driver.h"

#include <poll.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <zmq.hpp>

#include "wire/codec.h"

namespace triad::loadgen {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::vector<std::uint8_t> encode_ping(std::uint64_t tag) {
  flatbuffers::FlatBufferBuilder fbb(64);
  const auto ping = wire::CreatePingRequest(fbb, tag);
  wire::ClientRequestBuilder b(fbb);
  b.add_ping(ping);
  fbb.Finish(b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

// Waits until the socket has a message to read or `deadline_ns` passes, with
// microsecond resolution: ppoll on ZeroMQ's notification descriptor, which
// only signals that ZMQ_EVENTS must be looked at again.
bool wait_readable(zmq::socket_t& socket, int fd, std::int64_t deadline_ns) {
  while (true) {
    if (socket.get(zmq::sockopt::events) & ZMQ_POLLIN) return true;
    const std::int64_t left = deadline_ns - now_ns();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
    ::ppoll(&p, 1, &ts, nullptr);
  }
}

bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// Sends `parts` (encoded requests) in one frame: alone as they are, or as a
// batch; then empties it.
void send_parts(zmq::socket_t& socket, std::vector<std::span<const std::uint8_t>>* parts,
                std::uint64_t* frames_sent) {
  if (!parts->empty()) ++*frames_sent;
  if (parts->size() == 1) {
    socket.send(zmq::const_buffer(parts->front().data(), parts->front().size()),
                zmq::send_flags::none);
  } else if (parts->size() > 1) {
    const std::vector<std::uint8_t> batch = wire::encode_request_batch(*parts);
    socket.send(zmq::const_buffer(batch.data(), batch.size()), zmq::send_flags::none);
  }
  parts->clear();
}

}  // namespace

std::vector<std::uint8_t> encode_submit(std::uint64_t tag, const Transaction& tx) {
  flatbuffers::FlatBufferBuilder fbb(512);
  const auto wtx = wire::build_transaction(fbb, tx);
  const auto submit = wire::CreateSubmitRequest(fbb, tag, wtx);
  wire::ClientRequestBuilder b(fbb);
  b.add_submit(submit);
  fbb.Finish(b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::uint64_t request_count(const RunOptions& options) {
  return static_cast<std::uint64_t>(
      std::ceil(options.rate * (options.warmup_s + options.duration_s) - 1e-9));
}

bool run_open_loop(const RunOptions& options, std::span<const Transaction> txs, RunResult* result,
                   std::string* error) {
  RunResult& r = *result;
  r = RunResult{};
  r.offered_rate = options.rate;
  const std::uint64_t n = std::min<std::uint64_t>(request_count(options), txs.size());
  const auto warmup_n = static_cast<std::uint64_t>(std::ceil(options.rate * options.warmup_s));
  // Encode everything first: the timed loop only copies bytes.
  std::vector<std::vector<std::uint8_t>> frames;
  frames.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) frames.push_back(encode_submit(i + 1, txs[i]));

  // Timer slack would add ~50 us to every wake-up.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::sndhwm, 0);
  socket.set(zmq::sockopt::rcvhwm, 0);
  socket.set(zmq::sockopt::maxmsgsize, wire::kMaxTransportMessageBytes);
  options.curve.apply(socket);
  try {
    socket.connect(options.endpoint);
  } catch (const zmq::error_t& e) {
    *error = "cannot connect to " + options.endpoint + ": " + e.what();
    return false;
  }
  const int fd = socket.get(zmq::sockopt::fd);

  // Ping until the front end answers: the connection is then established.
  {
    const auto ping = encode_ping(0);
    const std::int64_t deadline = now_ns() + std::int64_t{options.connect_timeout_ms} * 1'000'000;
    // Bounded: a refused handshake leaves no connection to send on, for good
    // (libzmq does not reconnect after a protocol error).
    socket.set(zmq::sockopt::sndtimeo, options.connect_timeout_ms);
    const bool pinged =
        socket.send(zmq::const_buffer(ping.data(), ping.size()), zmq::send_flags::none).has_value();
    socket.set(zmq::sockopt::sndtimeo, -1);
    bool ponged = false;
    while (pinged && !ponged && wait_readable(socket, fd, deadline)) {
      zmq::message_t msg;
      if (!socket.recv(msg, zmq::recv_flags::dontwait)) continue;
      const wire::AlignedFrame frame(msg.data(), msg.size());
      const wire::ClientReply* reply = nullptr;
      ponged = wire::verify_client_reply(frame.bytes(), &reply).is_ok() && reply->pong();
    }
    if (!ponged) {
      *error = "no front end answered at " + options.endpoint;
      return false;
    }
  }

  const double interval_ns = 1e9 / options.rate;
  const std::int64_t start = now_ns() + 1'000'000;  // 1 ms from now
  auto scheduled = [&](std::uint64_t i) {
    return start + static_cast<std::int64_t>(std::llround(static_cast<double>(i) * interval_ns));
  };
  const std::int64_t measured_start = scheduled(warmup_n);
  std::int64_t last_measured_reply = measured_start;
  std::vector<std::uint8_t> answered(n, 0);
  std::uint64_t outstanding = 0;
  std::uint64_t next = 0;
  std::int64_t grace_deadline = 0;
  const auto batch_window_ns = static_cast<std::int64_t>(options.batch_window_us) * 1000;
  std::int64_t next_batch_ns = 0;
  std::vector<std::span<const std::uint8_t>> parts;
  std::int64_t next_stop_check_ns = 0;

  while (true) {
    std::int64_t now = now_ns();
    if (options.stop_fd >= 0 && now >= next_stop_check_ns) {
      next_stop_check_ns = now + 10'000'000;
      if (readable_now(options.stop_fd)) {
        r.interrupted = true;
        break;
      }
    }
    if (next < n && scheduled(next) <= now && now >= next_batch_ns) {
      // Everything due now: one frame each without a batch window, else as
      // few frames as wire::kMaxRequestBatchBytes allows.
      std::size_t batch_bytes = 0;
      const auto send_batch = [&] {
        send_parts(socket, &parts, &r.frames_sent);
        batch_bytes = 0;
      };
      while (next < n && scheduled(next) <= now) {
        const auto& f = frames[next];
        const std::size_t cost = f.size() + wire::kBatchPartOverheadBytes;
        if (batch_bytes + cost > wire::kMaxRequestBatchBytes) send_batch();
        parts.emplace_back(f);
        batch_bytes += cost;
        if (batch_window_ns == 0) send_batch();
        r.max_send_lag_ns =
            std::max(r.max_send_lag_ns, static_cast<std::uint64_t>(now - scheduled(next)));
        ++next;
        ++outstanding;
        if (next == n) grace_deadline = now + std::int64_t{options.grace_ms} * 1'000'000;
      }
      send_batch();
      next_batch_ns = now + batch_window_ns;
    }
    if (next == n && (outstanding == 0 || now >= grace_deadline)) break;
    const std::int64_t wake = next < n ? std::max(scheduled(next), next_batch_ns) : grace_deadline;
    if (!wait_readable(socket, fd, std::min(wake, now + 100'000'000))) continue;
    // Drain everything that has arrived.
    while (true) {
      zmq::message_t msg;
      if (!socket.recv(msg, zmq::recv_flags::dontwait)) break;
      const std::int64_t received = now_ns();
      const wire::AlignedFrame frame(msg.data(), msg.size());
      const wire::ClientReply* frame_reply = nullptr;
      if (!wire::verify_client_reply(frame.bytes(), &frame_reply).is_ok()) continue;
      wire::for_each_reply(*frame_reply, [&](const wire::ClientReply& reply) {
        const std::uint64_t tag = reply.tag();
        if (reply.pong() || tag == 0 || tag > next || answered[tag - 1] != 0) return;
        const std::uint64_t i = tag - 1;
        answered[i] = 1;
        --outstanding;
        if (i < warmup_n) return;
        ++r.answered;
        last_measured_reply = std::max(last_measured_reply, received);
        const auto latency_ns =
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, received - scheduled(i)));
        r.latency.record(latency_ns);
        if (reply.error_kind() != wire::ClientErrorKind::None || reply.decision() == nullptr) {
          ++r.errors;
          r.error_latency.record(latency_ns);
          if (r.first_error.empty() && reply.error() != nullptr) {
            r.first_error = std::string(wire::as_view(reply.error()));
          }
          return;
        }
        const std::string_view code = wire::as_view(reply.decision()->code());
        ++r.codes[std::string(code)];
        if (code == "91" || code == "96") ++r.fail_safe;
        if (!wire::as_view(reply.decision()->divergent()).empty()) ++r.divergences;
      });
    }
  }
  r.sent = next;
  r.measured = next > warmup_n ? next - warmup_n : 0;
  r.unanswered = outstanding;
  r.measured_window_s = static_cast<double>(last_measured_reply - measured_start) / 1e9;
  return true;
}

void merge_run(const RunResult& from, RunResult* into) {
  RunResult& r = *into;
  r.sent += from.sent;
  r.measured += from.measured;
  r.answered += from.answered;
  r.unanswered += from.unanswered;
  r.fail_safe += from.fail_safe;
  r.divergences += from.divergences;
  r.errors += from.errors;
  if (r.first_error.empty()) r.first_error = from.first_error;
  r.max_send_lag_ns = std::max(r.max_send_lag_ns, from.max_send_lag_ns);
  r.frames_sent += from.frames_sent;
  r.measured_window_s += from.measured_window_s;
  for (const auto& [code, n] : from.codes) r.codes[code] += n;
  r.latency.merge(from.latency);
  r.error_latency.merge(from.error_latency);
  r.interrupted = r.interrupted || from.interrupted;
}

}  // namespace triad::loadgen
