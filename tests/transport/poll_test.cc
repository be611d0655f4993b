#include "transport/poll.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>
#include <zmq.hpp>

namespace triad::transport {
namespace {

// Two connected PAIR sockets over inproc.
struct Pair {
  zmq::context_t context;
  zmq::socket_t a{context, zmq::socket_type::pair};
  zmq::socket_t b{context, zmq::socket_type::pair};
  Pair() {
    a.bind("inproc://poll-test");
    b.connect("inproc://poll-test");
  }
};

// Reads `socket` until empty, as the event loops do; returns how many.
int drain(zmq::socket_t& socket) {
  int n = 0;
  zmq::message_t m;
  while (socket.recv(m, zmq::recv_flags::dontwait)) ++n;
  return n;
}

TEST(PollReadable, ReportsAQueuedMessageAtOnce) {
  Pair p;
  p.a.send(zmq::str_buffer("x"));
  std::vector<zmq::pollitem_t> items{{p.b.handle(), 0, ZMQ_POLLIN, 0}};
  // A long timeout: the queued message must be found without waiting.
  EXPECT_EQ(poll_readable(items, 2'000), 1);
  EXPECT_EQ(items[0].revents, ZMQ_POLLIN);
  EXPECT_EQ(drain(p.b), 1);
}

TEST(PollReadable, TimesOutWithNothingReady) {
  Pair p;
  std::vector<zmq::pollitem_t> items{{p.b.handle(), 0, ZMQ_POLLIN, 0}};
  EXPECT_EQ(poll_readable(items, 5), 0);
  EXPECT_EQ(items[0].revents, 0);
}

TEST(PollReadable, WakesForAMessageSentWhileWaiting) {
  Pair p;
  std::vector<zmq::pollitem_t> items{{p.b.handle(), 0, ZMQ_POLLIN, 0}};
  EXPECT_EQ(poll_readable(items, 0), 0);  // arms the descriptor
  std::thread sender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    p.a.send(zmq::str_buffer("late"));
  });
  // Spurious wake-ups are allowed (the loop goes on); a timeout is not.
  int ready = 0;
  for (int i = 0; i < 100 && ready == 0; ++i) {
    if (poll_readable(items, 5'000) == 0) break;
    ready = drain(p.b);
  }
  sender.join();
  EXPECT_EQ(ready, 1);
}

// The edge-triggered descriptor's trap: a send on the socket can consume the
// command that announced an incoming message. Found anyway, since the socket
// is asked for its events before the wait.
TEST(PollReadable, FindsAMessageAfterTheSocketSentMeanwhile) {
  Pair p;
  std::vector<zmq::pollitem_t> items{{p.b.handle(), 0, ZMQ_POLLIN, 0}};
  for (int round = 0; round < 200; ++round) {
    EXPECT_EQ(drain(p.b), 0);
    p.a.send(zmq::str_buffer("in"));
    p.b.send(zmq::str_buffer("out"));
    ASSERT_EQ(poll_readable(items, 2'000), 1) << "round " << round;
    EXPECT_EQ(drain(p.b), 1);
    EXPECT_EQ(drain(p.a), 1);
  }
}

TEST(PollReadable, PlainDescriptorsAreNotStarvedByAReadySocket) {
  Pair p;
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::uint64_t one = 1;
  ASSERT_EQ(::write(fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  p.a.send(zmq::str_buffer("x"));
  std::vector<zmq::pollitem_t> items{{p.b.handle(), 0, ZMQ_POLLIN, 0},
                                     {nullptr, fd, ZMQ_POLLIN, 0}};
  EXPECT_EQ(poll_readable(items, 2'000), 2);
  EXPECT_EQ(items[0].revents, ZMQ_POLLIN);
  EXPECT_EQ(items[1].revents, ZMQ_POLLIN);
  ::close(fd);
}

}  // namespace
}  // namespace triad::transport
