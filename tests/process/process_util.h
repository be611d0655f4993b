// Helpers for process-level tests: start the real binaries, read their
// output with time limits, and make sure every process a test starts ends.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace triad::testing {

// A card file of one card: PAN 4111111111111111, expiry 2912, USD, credit
// limit 5,000.00, daily cash limit 1,000.00.
inline constexpr const char* kOneCardFile =
    "pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs\n"
    "4111111111111111,2912,A,840,500000,100000,\n";

// Where the build put `triad` and `triad-replica` (set by tests/CMakeLists.txt).
inline std::string bin(const std::string& name) {
  const char* dir = std::getenv("TRIAD_BIN_DIR");
  return std::string(dir != nullptr ? dir : ".") + "/" + name;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "triad-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  // TRIAD_TEST_KEEP=1 keeps the directory (logs, journal, audit store) to
  // look at after a failure.
  ~TempDir() {
    if (const char* keep = std::getenv("TRIAD_TEST_KEEP"); keep != nullptr && *keep == '1') return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The lines of `text`, without their newlines (a command's output).
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) lines.push_back(line);
  return lines;
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A child process with its standard output on a pipe (optionally) and its
// standard input from a file (optionally). Killed on destruction if still
// running, so a failing test leaves nothing behind.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& stdin_path = "",
        const std::string& stderr_path = "", bool pipe_stdout = true) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int out[2] = {-1, -1};
    if (pipe_stdout) {
      if (::pipe2(out, O_CLOEXEC) != 0) std::abort();
      posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    }
    if (!stdin_path.empty()) {
      posix_spawn_file_actions_addopen(&actions, 0, stdin_path.c_str(), O_RDONLY, 0);
    }
    if (!stderr_path.empty()) {
      posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(),
                                       O_WRONLY | O_CREAT | O_APPEND, 0644);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    if (pipe_stdout) {
      ::close(out[1]);
      out_fd_ = out[0];
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // The next line of standard output, or nullopt at end of output or timeout.
  std::optional<std::string> read_line(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      const auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return std::nullopt;
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  // Everything left on standard output until it closes (or the timeout).
  std::string read_all(int timeout_ms) {
    std::string all;
    while (auto line = read_line(timeout_ms)) all += *line + "\n";
    all += buffer_;
    buffer_.clear();
    return all;
  }

  // Exit status (0..255), 128 + signal when killed, or -1 on timeout.
  int wait(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (pid_ > 0) {
      int st = 0;
      const pid_t got = ::waitpid(pid_, &st, WNOHANG);
      if (got == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
};

// Runs a command to completion; returns its exit status and standard output.
inline int run(const std::vector<std::string>& argv, std::string* out,
               const std::string& stdin_path = "", int timeout_ms = 120'000) {
  Child c(argv, stdin_path);
  if (!c.started()) return -1;
  *out = c.read_all(timeout_ms);
  return c.wait(timeout_ms);
}

// Runs a command to completion with its standard error appended to the file
// `stderr_path`; returns its exit status.
inline int run_with_stderr(const std::vector<std::string>& argv, const std::string& stderr_path,
                           int timeout_ms = 120'000) {
  Child c(argv, "", stderr_path, false);
  if (!c.started()) return -1;
  return c.wait(timeout_ms);
}

// What `triad args...` did, for tests of its command line.
struct TriadOutcome {
  int status = -1;       // -1: still running after the time limit (then killed)
  std::string out;       // its standard output
  std::string err;       // its standard error
  bool started = false;  // it printed `triad up`'s ready line (and was then stopped)
};

// `triad args...`, with standard error in tmp/err (replaced). A command
// that started a cluster where it should have been refused is sent SIGTERM
// once ready, so that the test ends what it started.
inline TriadOutcome run_triad(const TempDir& tmp, const std::vector<std::string>& args,
                              int timeout_ms = 20'000) {
  std::vector<std::string> argv = {bin("triad")};
  argv.insert(argv.end(), args.begin(), args.end());
  std::filesystem::remove(tmp.file("err"));
  TriadOutcome o;
  {
    Child c(argv, "", tmp.file("err"));
    if (const auto first = c.read_line(timeout_ms)) {
      if (first->rfind("ready ", 0) == 0) {
        o.started = true;
        c.signal(SIGTERM);
      }
      o.out = *first + "\n";
    }
    o.out += c.read_all(timeout_ms);
    o.status = c.wait(timeout_ms);
  }  // a child still running is killed here
  o.err = read_file(tmp.file("err"));
  return o;
}

// Pids of processes whose command line mentions `needle` (e.g. a test's
// temporary directory), to check that nothing was left running.
inline std::vector<pid_t> processes_mentioning(const std::string& needle) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* e = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == ::getpid()) continue;
    std::string cmdline = read_file("/proc/" + std::string(e->d_name) + "/cmdline");
    for (char& ch : cmdline) {
      if (ch == '\0') ch = ' ';
    }
    // A zombie has an empty command line and is not running anything.
    if (cmdline.find(needle) != std::string::npos) found.push_back(pid);
  }
  ::closedir(proc);
  return found;
}

}  // namespace triad::testing
