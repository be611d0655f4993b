#include "transport/poll.h"

#include <poll.h>

#include <cerrno>
#include <vector>

#include "common/assert.h"

namespace triad::transport {

int poll_readable(std::span<zmq::pollitem_t> items, long timeout_ms) {
  // A socket's descriptor is edge-triggered: it turns readable when commands
  // reach the socket, not while messages wait. Asking for ZMQ_EVENTS
  // processes those commands and, when nothing is readable, arms the
  // descriptor again (libzmq's contract for ZMQ_FD), so after this loop a
  // blocking poll(2) cannot sleep through a message.
  int ready = 0;
  thread_local std::vector<pollfd> fds;
  fds.resize(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    zmq::pollitem_t& item = items[i];
    TRIAD_ASSERT(item.events == ZMQ_POLLIN);
    item.revents = 0;
    fds[i] = {item.fd, POLLIN, 0};
    if (item.socket == nullptr) continue;
    zmq::socket_ref socket(zmq::from_handle, item.socket);
    fds[i].fd = socket.get(zmq::sockopt::fd);
    if ((socket.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0) {
      item.revents = ZMQ_POLLIN;
      ++ready;
    }
  }
  // The descriptors are polled even when a socket is ready, without waiting,
  // so a busy socket cannot starve them.
  const int rc = ::poll(fds.data(), fds.size(), ready > 0 ? 0 : static_cast<int>(timeout_ms));
  if (rc < 0) {
    if (errno == EINTR) return ready;
    throw zmq::error_t();
  }
  for (std::size_t i = 0; rc > 0 && i < items.size(); ++i) {
    if ((fds[i].revents & (POLLIN | POLLERR | POLLHUP)) == 0 || items[i].revents != 0) continue;
    items[i].revents = ZMQ_POLLIN;
    ++ready;
  }
  return ready;
}

}  // namespace triad::transport
