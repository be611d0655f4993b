// The client library against a scripted front end (a ROUTER socket on
// loopback in this process): what it refuses before connecting, how it
// counts tags in flight, what it keeps of a batched reply with a bad part,
// and that neither a front end that stops reading nor one that floods the
// client can grow the client's queues without bound.
#include "triad/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "wire/codec.h"

namespace triad {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes finished(const flatbuffers::FlatBufferBuilder& fbb) {
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

Bytes pong() {
  flatbuffers::FlatBufferBuilder fbb;
  wire::ClientReplyBuilder b(fbb);
  b.add_pong(true);
  fbb.Finish(b.Finish());
  return finished(fbb);
}

// A transaction with an id of `id_bytes` bytes (or `id`); nothing else is
// read by the scripted front ends.
Transaction transaction(std::size_t id_bytes = 8) {
  Transaction tx;
  tx.id = std::string(id_bytes, 'x');
  return tx;
}
Transaction transaction(const std::string& id) {
  Transaction tx;
  tx.id = id;
  return tx;
}

// A fail-safe decline (no certificate) for `tag`, on the transaction with
// id `id` (by default transaction()'s).
Bytes decision(std::uint64_t tag, std::uint64_t seq, const std::string& id = *transaction().id) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto d = wire::CreateDecisionDirect(fbb, id.c_str(), seq, 1'798'761'600'000, "96", "", "",
                                            false, nullptr);
  fbb.Finish(wire::CreateClientReply(fbb, tag, d));
  return finished(fbb);
}

// The front end's side: a ROUTER bound on a free loopback port. connect()
// waits for a pong, so one is sent from a thread while the client connects;
// after that the test drives the socket itself.
class FakeFrontEnd {
 public:
  explicit FakeFrontEnd(int rcvhwm = 1000, int sndhwm = 1000,
                        const std::string& endpoint = "tcp://127.0.0.1:*") {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::rcvhwm, rcvhwm);
    socket_.set(zmq::sockopt::sndhwm, sndhwm);
    socket_.set(zmq::sockopt::router_mandatory, 1);
    socket_.bind(endpoint);
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  }
  // A front end started again where another one was.
  explicit FakeFrontEnd(const std::string& endpoint) : FakeFrontEnd(1000, 1000, endpoint) {}

  const std::string& endpoint() const { return endpoint_; }

  // Connects a client with `options` (plain TCP), answering its ping; to
  // `via` when given (a proxy in between), else to this socket.
  std::unique_ptr<Client> connect(ClientOptions options = {}, const std::string& via = "") {
    options.plain_tcp = true;
    std::thread answer([this] {
      zmq::message_t peer, ping;
      socket_.set(zmq::sockopt::rcvtimeo, 5000);
      if (!socket_.recv(peer) || !socket_.recv(ping)) return;
      peer_ = std::string(peer.to_string_view());
      send(pong());
    });
    std::unique_ptr<Client> client;
    const Status s = Client::connect(via.empty() ? endpoint_ : via, options, &client);
    answer.join();
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return client;
  }

  // Receives one request message; false when none came within a second.
  bool receive() {
    zmq::message_t peer, body;
    socket_.set(zmq::sockopt::rcvtimeo, 1000);
    return socket_.recv(peer).has_value() && socket_.recv(body).has_value();
  }

  // Receives requests until none comes for a second; the transactions in
  // them (each part of a batch counts).
  std::size_t receive_all() {
    std::size_t transactions = 0;
    zmq::message_t peer, body;
    socket_.set(zmq::sockopt::rcvtimeo, 1000);
    while (socket_.recv(peer).has_value() && socket_.recv(body).has_value()) {
      const wire::AlignedFrame frame(body.data(), body.size());
      const wire::ClientRequest* request = nullptr;
      if (!wire::verify_client_request(frame.bytes(), &request).is_ok()) continue;
      transactions += request->batch() != nullptr ? request->batch()->size() : 1;
    }
    return transactions;
  }

  // Receives requests until none comes for a second: the tags submitted in
  // them (each part of a batch), in the order they came. The client that
  // sent them is the one send() answers.
  std::vector<std::uint64_t> receive_tags() {
    std::vector<std::uint64_t> tags;
    zmq::message_t peer, body;
    socket_.set(zmq::sockopt::rcvtimeo, 1000);
    while (socket_.recv(peer).has_value() && socket_.recv(body).has_value()) {
      peer_ = std::string(peer.to_string_view());
      const wire::AlignedFrame frame(body.data(), body.size());
      const wire::ClientRequest* request = nullptr;
      if (!wire::verify_client_request(frame.bytes(), &request).is_ok()) continue;
      if (request->submit() != nullptr) tags.push_back(request->submit()->tag());
      if (request->batch() == nullptr) continue;
      for (const wire::RequestPart* part : *request->batch()) {
        const wire::ClientRequest* one = wire::request_part(part);
        if (one != nullptr && one->submit() != nullptr) tags.push_back(one->submit()->tag());
      }
    }
    return tags;
  }

  // Sends `body` to the client; false when its queue is full (EAGAIN).
  bool send(const Bytes& body) {
    try {
      if (!socket_.send(zmq::buffer(peer_), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        return false;
      }
      return socket_.send(zmq::buffer(body), zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t&) {
      return false;  // EHOSTUNREACH: the client's connection is gone
    }
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_{context_, zmq::socket_type::router};
  std::string endpoint_;
  std::string peer_;
};

// A TCP proxy on loopback between a client and a front end, which can go
// silent: it stops passing bytes either way but keeps every connection
// open, as a network cut or a vanished host without a reset does (the
// kernel's TCP then retransmits for minutes before it reports anything).
class SilentableProxy {
 public:
  explicit SilentableProxy(const std::string& upstream_endpoint) {
    upstream_port_ = static_cast<std::uint16_t>(
        std::stoi(upstream_endpoint.substr(upstream_endpoint.rfind(':') + 1)));
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = loopback(0);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listener_, 16), 0);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
    thread_ = std::thread([this] { run(); });
  }
  ~SilentableProxy() {
    stop_ = true;
    thread_.join();
    for (const int fd : fds_) ::close(fd);
    ::close(listener_);
  }
  const std::string& endpoint() const { return endpoint_; }
  void go_silent() { silent_ = true; }

 private:
  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
  }
  // fds_ holds pairs: client side at 2i, front end side at 2i + 1.
  void run() {
    while (!stop_) {
      if (silent_) {  // nothing read, accepted or passed on
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      std::vector<pollfd> polled{{listener_, POLLIN, 0}};
      for (const int fd : fds_) polled.push_back({fd, POLLIN, 0});
      if (::poll(polled.data(), polled.size(), 10) <= 0) continue;
      if (polled[0].revents & POLLIN) {
        const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        const int front_end = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address = loopback(upstream_port_);
        if (::connect(front_end, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
          fds_.push_back(client);
          fds_.push_back(front_end);
        } else {
          ::close(client);
          ::close(front_end);
        }
      }
      for (std::size_t i = 1; i < polled.size(); ++i) {
        if (!(polled[i].revents & (POLLIN | POLLHUP))) continue;
        char bytes[65536];
        const ssize_t n = ::read(polled[i].fd, bytes, sizeof bytes);
        const std::size_t other = (i - 1) ^ 1;  // the pair's other side
        if (n > 0) (void)!::write(fds_[other], bytes, static_cast<std::size_t>(n));
      }
    }
  }

  std::uint16_t upstream_port_ = 0;
  int listener_ = -1;
  std::string endpoint_;
  std::vector<int> fds_;
  std::atomic<bool> silent_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(ClientConnect, PlainTcpMustBeAskedForAndKeysCannotComeWithIt) {
  std::unique_ptr<Client> client;
  // No server key and no plain_tcp: a configured key that came out empty
  // must not turn into an unencrypted connection.
  Status s = Client::connect("tcp://127.0.0.1:1", {}, &client);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message().find("plain_tcp"), std::string::npos) << s.message();

  ClientOptions own_keys_only;
  own_keys_only.curve_public_key = std::string(40, 'a');
  own_keys_only.curve_secret_key = std::string(40, 'b');
  s = Client::connect("tcp://127.0.0.1:1", own_keys_only, &client);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.to_string();

  own_keys_only.plain_tcp = true;
  s = Client::connect("tcp://127.0.0.1:1", own_keys_only, &client);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message().find("either"), std::string::npos) << s.message();

  ClientOptions unbounded;
  unbounded.plain_tcp = true;
  unbounded.receive_queue_messages = 0;
  s = Client::connect("tcp://127.0.0.1:1", unbounded, &client);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.to_string();
  EXPECT_EQ(client, nullptr);

  FakeFrontEnd front_end;
  EXPECT_NE(front_end.connect(), nullptr) << "asked for, plain TCP connects";
}

TEST(ClientTags, AnAnswerToATagNotInFlightIsMarkedAndNotCountedOff) {
  FakeFrontEnd front_end;
  std::unique_ptr<Client> client = front_end.connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->submit(5, transaction()).is_ok());
  ASSERT_TRUE(client->submit(5, transaction()).is_ok());  // sent again, as after a timeout
  ASSERT_TRUE(client->submit(6, transaction()).is_ok());
  EXPECT_EQ(client->in_flight(), 2u) << "a tag sent again is one tag in flight";
  std::vector<std::uint64_t> tags = client->tags_in_flight();
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::uint64_t>{5, 6}));

  for (const std::uint64_t tag : {9u, 5u, 5u, 5u}) ASSERT_TRUE(front_end.send(decision(tag, 1)));
  Reply reply;
  ASSERT_TRUE(client->next_reply(5000, &reply).is_ok());
  EXPECT_EQ(reply.tag, 9u);
  EXPECT_FALSE(reply.tag_in_flight);
  EXPECT_EQ(client->in_flight(), 2u) << "a stray answer counts nothing off";
  // The first answer to tag 5 answers it; the others are strays.
  for (const bool expected : {true, false, false}) {
    ASSERT_TRUE(client->next_reply(5000, &reply).is_ok());
    EXPECT_EQ(reply.tag, 5u);
    EXPECT_EQ(reply.tag_in_flight, expected);
  }
  EXPECT_EQ(client->in_flight(), 1u);
  EXPECT_EQ(client->tags_in_flight(), (std::vector<std::uint64_t>{6}));
}

// A tag given up on (forgotten) and used again for another transaction:
// the late answer to the first is not taken for the second's, which stays
// in flight until its own answer comes.
TEST(ClientTags, ALateAnswerToATagUsedAgainIsNotTheNewTransactions) {
  FakeFrontEnd front_end;
  std::unique_ptr<Client> client = front_end.connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->submit(17, transaction("tx-a")).is_ok());
  ASSERT_TRUE(client->forget(17));
  ASSERT_TRUE(client->submit(17, transaction("tx-b")).is_ok());
  ASSERT_TRUE(front_end.send(decision(17, 1, "tx-a")));
  ASSERT_TRUE(front_end.send(decision(17, 2, "tx-b")));
  Reply reply;
  ASSERT_TRUE(client->next_reply(5000, &reply).is_ok());
  EXPECT_EQ(reply.decision.id, "tx-a");
  EXPECT_FALSE(reply.tag_in_flight);
  EXPECT_EQ(client->tags_in_flight(), std::vector<std::uint64_t>{17});
  ASSERT_TRUE(client->next_reply(5000, &reply).is_ok());
  EXPECT_EQ(reply.decision.id, "tx-b");
  EXPECT_TRUE(reply.tag_in_flight);
  EXPECT_EQ(client->in_flight(), 0u);
}

// A faulty front end's text does not reach the caller as it is: a decision
// whose fields are not what a front end sends is an error for its tag (the
// caller prints its JSON lines and keeps records of those fields), and an
// error text's bytes outside printable ASCII come as '?'.
TEST(ClientTags, AMalformedDecisionOrErrorTextFromTheFrontEndIsNotPassedOn) {
  FakeFrontEnd front_end;
  std::unique_ptr<Client> client = front_end.connect();
  ASSERT_NE(client, nullptr);
  for (std::uint64_t tag = 1; tag <= 4; ++tag) {
    ASSERT_TRUE(client->submit(tag, transaction()).is_ok());
  }
  ASSERT_TRUE(front_end.send(decision(1, 1, "xx\xffxx")));
  ASSERT_TRUE(front_end.send(decision(2, 2)));
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(wire::CreateClientReplyDirect(fbb, 3, 0, wire::ClientErrorKind::Overloaded,
                                           "busy \xc3\x28 \n"));
  ASSERT_TRUE(front_end.send(finished(fbb)));
  fbb.Clear();
  const auto d = wire::CreateDecisionDirect(fbb, "xxxxxxxx", 4, 1'798'761'600'000, "0\xff", "ab",
                                            "", false, nullptr);
  fbb.Finish(wire::CreateClientReply(fbb, 4, d));
  ASSERT_TRUE(front_end.send(finished(fbb)));
  Reply reply;
  ASSERT_TRUE(client->next_reply(5000, &reply).is_ok());
  EXPECT_EQ(reply.tag, 1u);
  EXPECT_EQ(reply.status.code(), Status::Code::kCorruption);
  EXPECT_NE(reply.status.message().find("id 'xx?xx'"), std::string::npos) << reply.status.message();
  EXPECT_TRUE(reply.decision.id.empty());
  ASSERT_TRUE(client->next_reply(5000, &reply).is_ok());
  EXPECT_EQ(reply.tag, 2u);
  EXPECT_TRUE(reply.status.is_ok()) << "a well-formed one passes";
  ASSERT_TRUE(client->next_reply(5000, &reply).is_ok());
  EXPECT_EQ(reply.status.code(), Status::Code::kOverloaded);
  EXPECT_EQ(reply.status.message(), "busy ?( ?");
  ASSERT_TRUE(client->next_reply(5000, &reply).is_ok());
  EXPECT_EQ(reply.status.code(), Status::Code::kCorruption);
  EXPECT_EQ(client->in_flight(), 0u) << "each tag answered, with an error where malformed";
}

TEST(ClientBatchedReplies, ABadPartLosesOnlyItsOwnAnswer) {
  FakeFrontEnd front_end;
  std::unique_ptr<Client> client = front_end.connect();
  ASSERT_NE(client, nullptr);
  for (std::uint64_t tag = 1; tag <= 3; ++tag)
    ASSERT_TRUE(client->submit(tag, transaction()).is_ok());

  const Bytes first = decision(1, 11);
  const Bytes junk(48, 0xff);  // fails the part's verifier
  const Bytes third = decision(3, 13);
  const std::vector<std::span<const std::uint8_t>> parts = {first, junk, third};
  ASSERT_TRUE(front_end.send(wire::encode_reply_batch(parts)));

  Reply reply;
  ASSERT_TRUE(client->next_reply(5000, &reply).is_ok());
  EXPECT_EQ(reply.tag, 1u);
  EXPECT_EQ(reply.decision.seq, 11u);
  ASSERT_TRUE(client->next_reply(5000, &reply).is_ok());
  EXPECT_EQ(reply.tag, 3u);
  EXPECT_EQ(reply.decision.seq, 13u);
  const Status lost = client->next_reply(5000, &reply);
  EXPECT_EQ(lost.code(), Status::Code::kCorruption) << lost.to_string();
  EXPECT_NE(lost.message().find("1 part"), std::string::npos) << lost.message();
  EXPECT_EQ(client->tags_in_flight(), (std::vector<std::uint64_t>{2}))
      << "the lost answer's tag stays in flight, to be submitted again";
  EXPECT_EQ(client->next_reply(100, &reply).code(), Status::Code::kTimeout);
}

// What a client makes of one junk message of `bytes` from the front end.
Status answer_to_junk_of(std::size_t bytes) {
  FakeFrontEnd front_end;
  std::unique_ptr<Client> client = front_end.connect();
  if (client == nullptr) return Status::internal("no client");
  if (!client->submit(1, transaction()).is_ok()) return Status::internal("not sent");
  if (!front_end.send(Bytes(bytes, 0xff))) return Status::internal("junk not sent");
  Reply reply;
  return client->next_reply(1500, &reply);
}

TEST(ClientLimits, AReplyOverTheWireLimitIsNotTakenIn) {
  // Under the limit junk is read, and fails verification; over it ZeroMQ
  // ends the connection rather than hold it.
  EXPECT_EQ(answer_to_junk_of(wire::kMaxClientReplyTransportBytes).code(),
            Status::Code::kCorruption);
  EXPECT_EQ(answer_to_junk_of(wire::kMaxClientReplyTransportBytes + 1).code(),
            Status::Code::kTimeout);
}

// How many messages a front end can hand a client that does not read before
// the client's side stops taking them: the client's queue and the kernel's
// socket buffers, then nothing (up to `cap`).
std::size_t replies_taken_by_a_client_not_reading(int receive_queue_messages, std::size_t cap) {
  FakeFrontEnd front_end(/*rcvhwm=*/1000, /*sndhwm=*/4);
  ClientOptions options;
  options.receive_queue_messages = receive_queue_messages;
  std::unique_ptr<Client> client = front_end.connect(options);
  if (client == nullptr) return 0;
  const Bytes reply(60 * 1024, 0x5a);
  std::size_t sent = 0;
  using Clock = std::chrono::steady_clock;
  auto last_progress = Clock::now();
  while (sent < cap && Clock::now() - last_progress < std::chrono::seconds(1)) {
    if (front_end.send(reply)) {
      ++sent;
      last_progress = Clock::now();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return sent;
}

TEST(ClientLimits, AFrontEndFloodingAClientThatDoesNotReadIsHeldBack) {
  // 60 KiB messages: 8 queued in the client, and what the loopback socket
  // buffers hold (a few MiB here; up to 32 MiB on some hosts), then the
  // front end's own queue of 4 is full.
  const std::size_t taken = replies_taken_by_a_client_not_reading(8, 3000);
  EXPECT_GT(taken, 8u);
  EXPECT_LT(taken, 3000u) << "bounded: 3,000 is 180 MiB held by the client";
}

// A client whose sends wait 200 ms at most, with room for 8 messages.
std::unique_ptr<Client> connect_with_a_small_send_queue(FakeFrontEnd& front_end) {
  ClientOptions options;
  options.send_queue_messages = 8;
  options.send_timeout_ms = 200;
  return front_end.connect(options);
}

TEST(ClientLimits, ASendToAFrontEndThatDoesNotReadWaitsAndIsRefused) {
  FakeFrontEnd front_end(/*rcvhwm=*/4);
  std::unique_ptr<Client> client = connect_with_a_small_send_queue(front_end);
  ASSERT_NE(client, nullptr);
  const Transaction large = transaction(60 * 1024);
  std::size_t sent = 0;
  Status s;
  while (sent < 3000 && (s = client->submit(sent + 1, large)).is_ok()) ++sent;
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.to_string() << " after " << sent;
  EXPECT_NE(s.message().find("not sent"), std::string::npos) << s.message();
  EXPECT_GT(sent, 8u);
  EXPECT_LT(sent, 3000u) << "bounded: 3,000 is 180 MiB queued";
  EXPECT_EQ(client->in_flight(), sent) << "the refused one is not in flight";
  EXPECT_TRUE(front_end.receive()) << "what was queued is still delivered";
}

TEST(ClientLimits, ABatchThatCannotAllBeSentLeavesExactlyTheSentOnesInFlight) {
  FakeFrontEnd front_end(/*rcvhwm=*/4);
  std::unique_ptr<Client> client = connect_with_a_small_send_queue(front_end);
  ASSERT_NE(client, nullptr);
  // Two transactions a message: 1,500 messages, 90 MiB, more than the
  // queues and socket buffers on the way take while nobody reads.
  const Transaction large = transaction(30 * 1024);
  std::vector<Client::Submission> batch;
  for (std::uint64_t tag = 1; tag <= 3000; ++tag) batch.push_back({tag, &large});
  const Status s = client->submit_batch(batch);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.to_string();
  std::vector<std::uint64_t> tags = client->tags_in_flight();
  std::sort(tags.begin(), tags.end());
  ASSERT_GT(tags.size(), 0u);
  ASSERT_LT(tags.size(), 3000u);
  EXPECT_EQ(tags.size() % 2, 0u) << "whole messages were sent";
  for (std::size_t i = 0; i < tags.size(); ++i) {
    ASSERT_EQ(tags[i], i + 1) << "the messages sent are the first ones";
  }
  EXPECT_EQ(front_end.receive_all(), tags.size()) << "in flight: what the front end got";
}

TEST(ClientLimits, NothingIsQueuedForAFrontEndThatIsGone) {
  ClientOptions options;
  options.send_timeout_ms = 300;
  std::unique_ptr<Client> client;
  {
    FakeFrontEnd front_end;
    client = front_end.connect(options);
    ASSERT_NE(client, nullptr);
  }
  // The front end's socket is closed: a request queued now could be
  // sequenced whenever one comes back, long after the switch gave up on it.
  // (Once the client has seen the connection close: a send in the moment
  // before goes out, as it would to a front end dying just then.)
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const Status s = client->submit(1, transaction());
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.to_string();
  EXPECT_EQ(client->in_flight(), 0u);
}

// The front end goes silent without closing anything (its host vanished,
// the network is cut): the heartbeat ends the connection within its
// timeout, so a request is refused rather than sent into a connection that
// could deliver it minutes later. Without a heartbeat the same request
// goes out (and would be sequenced whenever the network came back).
TEST(ClientLimits, AConnectionThatWentSilentIsEndedByTheHeartbeat) {
  for (const int heartbeat_ms : {100, 0}) {
    SCOPED_TRACE(heartbeat_ms);
    FakeFrontEnd front_end;
    SilentableProxy proxy(front_end.endpoint());
    ClientOptions options;
    options.heartbeat_interval_ms = heartbeat_ms;
    options.heartbeat_timeout_ms = 300;
    options.send_timeout_ms = 300;
    std::unique_ptr<Client> client = front_end.connect(options, proxy.endpoint());
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->submit(1, transaction()).is_ok());
    EXPECT_TRUE(front_end.receive());
    proxy.go_silent();
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
    const Status s = client->submit(2, transaction());
    if (heartbeat_ms > 0) {
      EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.to_string();
      EXPECT_EQ(client->tags_in_flight(), std::vector<std::uint64_t>{1});
    } else {
      EXPECT_TRUE(s.is_ok()) << "sent into the silent connection";
    }
  }
}

TEST(ClientConnect, AHeartbeatTimeoutShorterThanItsIntervalIsRefused) {
  std::unique_ptr<Client> client;
  ClientOptions options;
  options.plain_tcp = true;
  options.heartbeat_interval_ms = 1000;
  options.heartbeat_timeout_ms = 999;
  Status s = Client::connect("tcp://127.0.0.1:1", options, &client);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message().find("heartbeat_timeout_ms"), std::string::npos) << s.message();
  options.heartbeat_timeout_ms = 65'501;  // would wrap in the front end's libzmq
  EXPECT_EQ(Client::connect("tcp://127.0.0.1:1", options, &client).code(),
            Status::Code::kInvalidArgument);
  options.heartbeat_interval_ms = -1;
  EXPECT_EQ(Client::connect("tcp://127.0.0.1:1", options, &client).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(client, nullptr);
}

// The front end restarts with requests in flight: its answers to them had
// nowhere to go. Once the new connection's handshake is done the library
// sends every tag still in flight again (not the one answered before), so
// the switch gets every answer without submitting anything again.
TEST(ClientReconnect, TagsInFlightAreSentAgainOnceTheConnectionIsBack) {
  std::unique_ptr<Client> client;
  std::string endpoint;
  {
    FakeFrontEnd first;
    endpoint = first.endpoint();
    client = first.connect();
    ASSERT_NE(client, nullptr);
    for (std::uint64_t tag = 1; tag <= 3; ++tag)
      ASSERT_TRUE(client->submit(tag, transaction()).is_ok());
    EXPECT_EQ(first.receive_tags(), (std::vector<std::uint64_t>{1, 2, 3}));
    ASSERT_TRUE(first.send(decision(2, 2)));
    Reply reply;
    ASSERT_TRUE(client->next_reply(2000, &reply).is_ok());
    EXPECT_EQ(reply.tag, 2u);
  }  // gone with 1 and 3 unanswered
  FakeFrontEnd second(endpoint);
  Reply reply;
  // The library reads the drop and the new handshake while it waits.
  EXPECT_EQ(client->next_reply(1000, &reply).code(), Status::Code::kTimeout);
  EXPECT_EQ(second.receive_tags(), (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(client->resubmitted(), 2u);
  ASSERT_TRUE(second.send(decision(3, 3)));
  ASSERT_TRUE(second.send(decision(1, 1)));
  for (const std::uint64_t tag : {3u, 1u}) {
    ASSERT_TRUE(client->next_reply(2000, &reply).is_ok());
    EXPECT_EQ(reply.tag, tag);
    EXPECT_TRUE(reply.tag_in_flight);
  }
  EXPECT_EQ(client->in_flight(), 0u);
  // A tag submitted now goes once.
  ASSERT_TRUE(client->submit(4, transaction()).is_ok());
  EXPECT_EQ(second.receive_tags(), (std::vector<std::uint64_t>{4}));
}

// A tag submitted longer ago than resubmit_within_ms, or forgotten, is
// not sent again: the switch has given up on it, and it could otherwise be
// sequenced, and approved, long after.
TEST(ClientReconnect, ATagTooOldOrForgottenIsNotSentAgain) {
  ClientOptions options;
  options.resubmit_within_ms = 1000;
  std::unique_ptr<Client> client;
  std::string endpoint;
  {
    FakeFrontEnd first;
    endpoint = first.endpoint();
    client = first.connect(options);
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->submit(1, transaction()).is_ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    ASSERT_TRUE(client->submit(2, transaction()).is_ok());
    ASSERT_TRUE(client->submit(3, transaction()).is_ok());
    EXPECT_TRUE(client->forget(3));
    EXPECT_FALSE(client->forget(3));
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(first.receive());
  }
  FakeFrontEnd second(endpoint);
  Reply reply;
  EXPECT_EQ(client->next_reply(200, &reply).code(), Status::Code::kTimeout);
  EXPECT_EQ(second.receive_tags(), (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(client->in_flight(), 2u) << "1 is still the caller's to give up on";
  ASSERT_TRUE(second.send(decision(3, 3)));
  ASSERT_TRUE(client->next_reply(2000, &reply).is_ok());
  EXPECT_EQ(reply.tag, 3u);
  EXPECT_FALSE(reply.tag_in_flight) << "forgotten";
}

// A batch of many messages cut by the drop: each message's tags are in
// flight as soon as it goes, so the resend after the new handshake has the
// ones the first front end took in (and lost), and the rest follow it.
TEST(ClientReconnect, ABatchCutByTheDropReachesTheNextFrontEndWhole) {
  ClientOptions options;
  options.send_queue_messages = 8;
  options.send_timeout_ms = 30'000;
  auto first = std::make_unique<FakeFrontEnd>(/*rcvhwm=*/4);
  const std::string endpoint = first->endpoint();
  std::unique_ptr<Client> client = first->connect(options);
  ASSERT_NE(client, nullptr);
  // Two transactions a message, 200 messages, 12 MiB: more than the queues
  // and socket buffers on the way take while nobody reads, so the batch
  // waits part way.
  const Transaction large = transaction(30 * 1024);
  std::vector<Client::Submission> batch;
  for (std::uint64_t tag = 1; tag <= 400; ++tag) batch.push_back({tag, &large});
  Status sent;
  std::thread submitting([&] { sent = client->submit_batch(batch); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  first.reset();  // gone, with what it took in
  FakeFrontEnd second(endpoint);
  submitting.join();
  EXPECT_TRUE(sent.is_ok()) << sent.to_string();
  std::vector<std::uint64_t> tags = second.receive_tags();
  std::sort(tags.begin(), tags.end());
  ASSERT_EQ(tags.size(), 400u) << "each tag once";
  for (std::size_t i = 0; i < tags.size(); ++i) ASSERT_EQ(tags[i], i + 1);
  EXPECT_GT(client->resubmitted(), 0u);
  EXPECT_EQ(client->in_flight(), 400u);
}

TEST(ClientReconnect, NothingIsSentAgainWhenNotAskedFor) {
  ClientOptions options;
  options.resubmit_within_ms = 0;
  std::unique_ptr<Client> client;
  std::string endpoint;
  {
    FakeFrontEnd first;
    endpoint = first.endpoint();
    client = first.connect(options);
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->submit(1, transaction()).is_ok());
    EXPECT_EQ(first.receive_tags(), (std::vector<std::uint64_t>{1}));
  }
  FakeFrontEnd second(endpoint);
  Reply reply;
  EXPECT_EQ(client->next_reply(1000, &reply).code(), Status::Code::kTimeout);
  EXPECT_TRUE(second.receive_tags().empty());
  EXPECT_EQ(client->resubmitted(), 0u);
  EXPECT_EQ(client->in_flight(), 1u);
}

}  // namespace
}  // namespace triad
