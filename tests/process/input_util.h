// Standard input for a command under test that a file path cannot give: a
// stream whose read fails part-way, a pipe the test writes to as it goes.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace triad::testing {

// Writes all of `text` to `fd` (a test's own pipe or socket).
inline void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
}

// A socket that gives its reader `text`, then a read error: ECONNRESET, as
// its peer was closed with data it had not read. An input that fails
// mid-way, as a disk's EIO would.
inline int socket_failing_after(const std::string& text) {
  int sv[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
  write_all(sv[0], text);
  write_all(sv[1], "x");  // left unread by sv[0]
  ::close(sv[0]);
  return sv[1];
}

// While it lives, the children a test starts without a stdin path (Child's
// default) read `fd` as their standard input; the test's own comes back
// after. `fd` stays the caller's to close.
class StdinFrom {
 public:
  explicit StdinFrom(int fd) : saved_(::dup(0)) {
    if (saved_ < 0 || ::dup2(fd, 0) < 0) std::abort();
  }
  ~StdinFrom() {
    ::dup2(saved_, 0);
    ::close(saved_);
  }
  StdinFrom(const StdinFrom&) = delete;
  StdinFrom& operator=(const StdinFrom&) = delete;

 private:
  int saved_;
};

}  // namespace triad::testing
