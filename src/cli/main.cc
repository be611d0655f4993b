// triad: the command-line front door (interface.md).
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "cli/commands.h"
#include "cli/line_reader.h"
#include "common/hardening.h"
#include "common/thread_name.h"

namespace triad::cli {

std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

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
  do {
    n = ::read(fd_, chunk, sizeof chunk);
  } while (n < 0 && errno == EINTR);
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

namespace {

constexpr const char* kUsage =
    "usage: triad COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  up       start the front end and the three replicas (stays in the foreground)\n"
    "  submit   send JSON Lines transactions, print one verdict per line\n"
    "  verify   check a decision certificate offline with the replicas' public keys\n"
    "  keygen   create the replicas' Ed25519 keys in a directory\n"
    "  sample   write a sample card file and sample traffic\n"
    "  status   show a running cluster: replica states, repairs, MTBF/MTTR, mode\n"
    "  inject   inject a fault into one replica of a running cluster\n"
    "  audit    a decision and its verified certificate by id; the decisions on a card;\n"
    "           divergences and repairs since T\n"
    "  bench    open-loop latency benchmark of a local cluster (--compare: vs. transport floor)\n"
    "\n"
    "`triad COMMAND --help` describes each command's options.\n";

// `triad up` runs with glibc malloc's heap on transparent huge pages, and so
// do the replicas it starts (they inherit its environment). The front end
// keeps what it sequences in memory, and touching that fresh heap a 4 KiB
// page at a time was 11% of its event loop at 9,000 transactions/s (page
// faults, in a call-graph profile). With huge pages, three alternating pairs
// of `triad bench` runs: at 9,000/s p99 94-134 ms against 142-276 ms, at
// 16,000/s offered p99 326-365 ms against 405-444 ms and 5-8% less CPU per
// request, at 500/s no difference. glibc reads the tunable only when a
// program starts, hence the exec of ourselves. An operator's own
// GLIBC_TUNABLES (empty included) is left as it is.
void reexec_with_huge_page_heap(char** argv) {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  if (::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  ::unsetenv("GLIBC_TUNABLES");  // the exec failed: run as we are
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  // Every command may hold card data or keys: submit and audit read PANs,
  // up holds everything. A failure here is reported by `up`, which sets the
  // limit again where it can log.
  (void)triad::disable_core_dumps();
  const std::string_view command = argv[1];
  if (command == "up") {
    reexec_with_huge_page_heap(argv);
    // Exec'd as /proc/self/exe, the process would be called "exe" in ps,
    // top and pgrep.
    triad::name_this_thread("triad");
  }
  // Each command parses its own options, with argv[0] set to "triad COMMAND".
  std::string name = std::string("triad ") + argv[1];
  argv[1] = name.data();
  if (command == "up") return triad::cli::run_up_command(argc - 1, argv + 1);
  if (command == "submit") return triad::cli::run_submit_command(argc - 1, argv + 1);
  if (command == "verify") return triad::cli::run_verify_command(argc - 1, argv + 1);
  if (command == "keygen") return triad::cli::run_keygen_command(argc - 1, argv + 1);
  if (command == "sample") return triad::cli::run_sample_command(argc - 1, argv + 1);
  if (command == "status") return triad::cli::run_status_command(argc - 1, argv + 1);
  if (command == "inject") return triad::cli::run_inject_command(argc - 1, argv + 1);
  if (command == "audit") return triad::cli::run_audit_command(argc - 1, argv + 1);
  if (command == "bench") return triad::cli::run_bench_command(argc - 1, argv + 1);
  if (command == "bench-echo") return triad::cli::run_bench_echo_command(argc - 1, argv + 1);
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "triad: unknown command '%s'\n\n%s", std::string(command).c_str(), kUsage);
  return 2;
}
