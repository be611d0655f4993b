// LineReader (line_reader.h): lines from a file, a pipe, a FIFO or a
// terminal, with read errors reported and long lines bounded.
#include "cli/line_reader.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace triad::cli {

LineReader::~LineReader() {
  if (own_fd_) ::close(fd_);
}

Status LineReader::open(const std::string& path) {
  if (path == "-") {
    name_ = "standard input";
    fd_ = STDIN_FILENO;
  } else {
    name_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return Status::io_error("cannot read " + path + ": " + std::strerror(errno));
    own_fd_ = true;
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    return Status::io_error("cannot read " + name_ + ": " + std::strerror(errno));
  }
  // A directory opens; only its first read fails. Said before anything is
  // done with the input.
  if (S_ISDIR(st.st_mode)) {
    return Status::io_error("cannot read " + name_ + ": " + std::strerror(EISDIR));
  }
  streaming_ = !S_ISREG(st.st_mode);
  return Status::ok();
}

void LineReader::fill() {
  if (end_) return;
  if (start_ > 0) {
    buffer_.erase(0, start_);
    scanned_ -= start_;
    start_ = 0;
  }
  char chunk[64 * 1024];
  ssize_t n = 0;
  while ((n = ::read(fd_, chunk, sizeof chunk)) < 0) {
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) break;
    // An input left non-blocking by whoever passed it (a parent's
    // O_NONBLOCK on a shared pipe): wait for it as a blocking read would.
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, -1);
  }
  if (n > 0) {
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return;
  }
  end_ = true;
  if (n < 0) error_ = Status::io_error("cannot read " + name_ + ": " + std::strerror(errno));
}

bool LineReader::line_complete() {
  const auto newline = buffer_.find('\n', scanned_);
  if (newline != std::string::npos) {
    scanned_ = newline;
    return true;
  }
  scanned_ = buffer_.size();
  // Past the limit before its end: only its length is kept from here to its
  // newline, so the buffer holds at most the limit and one read.
  if (max_line_bytes_ > 0 && skipped_ + (buffer_.size() - start_) > max_line_bytes_) {
    skipped_ += buffer_.size() - start_;
    buffer_.clear();
    start_ = 0;
    scanned_ = 0;
  }
  return false;
}

std::optional<LineReader::Got> LineReader::take(std::string* line, std::size_t* bytes) {
  std::size_t end = 0;
  if (line_complete()) {
    end = scanned_;
  } else if (!end_) {
    return std::nullopt;
  } else if (!error_.is_ok() || (skipped_ == 0 && start_ == buffer_.size())) {
    // A line cut short by a read error is not handed out.
    return Got::kEnd;
  } else {
    end = buffer_.size();  // the last line, without a newline
  }
  const std::size_t length = skipped_ + (end - start_);
  if (bytes != nullptr) *bytes = length;
  Got got = Got::kTooLong;
  if (max_line_bytes_ == 0 || length <= max_line_bytes_) {
    line->assign(buffer_, start_, end - start_);
    got = Got::kLine;
  }
  start_ = std::min(end + 1, buffer_.size());
  scanned_ = start_;
  skipped_ = 0;
  return got;
}

LineReader::Got LineReader::next(std::string* line, std::size_t* bytes) {
  while (true) {
    if (const std::optional<Got> got = take(line, bytes)) return *got;
    fill();
  }
}

bool LineReader::next_ready() {
  if (!streaming_ || end_ || line_complete()) return true;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  // Something has arrived (or the end, or an error): this read does not
  // wait. Once per call, so that a line that never ends cannot keep the
  // caller from its other work.
  fill();
  return end_ || line_complete();
}

}  // namespace triad::cli
