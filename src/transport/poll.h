// zmq::poll with fewer system calls, for loops that read their sockets until
// empty. zmq::poll asks each ZeroMQ socket for its events (ZMQ_EVENTS: a
// poll(2) and a getpid(2) inside libzmq) before it blocks and again after it
// wakes. Here a socket is asked once, before blocking, and after a wake-up
// its descriptor (ZMQ_FD) says whether to try it. On a virtualized machine,
// where a system call costs microseconds, that is measurable: the front end's
// poll(2) calls per request at 500/s fell from 54 to 21 (bench/README.md,
// "Light load").
#pragma once

#include <span>
#include <zmq.hpp>

namespace triad::transport {

// Like zmq::poll for items that ask only ZMQ_POLLIN, with one difference: a
// ZeroMQ socket's revents may say ZMQ_POLLIN when a non-blocking receive then
// finds nothing (its descriptor fired for another reason). Items without a
// socket are plain descriptors, as with zmq::poll. Returns how many items
// have revents set. Throws zmq::error_t as zmq::poll does, except on EINTR,
// which returns what was found without waiting.
int poll_readable(std::span<zmq::pollitem_t> items, long timeout_ms);

// A ZeroMQ socket that is seldom readable (control requests, ZAP requests,
// handshake events), polled as a plain item by its ZMQ_FD descriptor so that
// a turn of poll_readable asks it nothing. The descriptor is edge-triggered:
// whenever due() says so, the owner reads the socket until a receive fails,
// which arms it again.
class QuietSocket {
 public:
  explicit QuietSocket(zmq::socket_ref socket) : fd_(socket.get(zmq::sockopt::fd)) {}

  zmq::pollitem_t poll_item() const { return {nullptr, fd_, ZMQ_POLLIN, 0}; }
  // Whether to read it now: its descriptor fired, or it was never read.
  bool due(const zmq::pollitem_t& item) {
    const bool due = !read_ || (item.revents & ZMQ_POLLIN) != 0;
    read_ = true;
    return due;
  }

 private:
  zmq_fd_t fd_;
  bool read_ = false;
};

}  // namespace triad::transport
