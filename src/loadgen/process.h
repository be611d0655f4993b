// Child processes for `triad bench`: started with posix_spawn, standard
// output on a pipe (to read its "ready ENDPOINT" line), stopped with SIGTERM
// (then SIGKILL after a timeout) when the object goes, so every exit path of
// the bench, errors included, stops what it started.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace triad::loadgen {

class ChildProcess {
 public:
  // argv[0] is the program path. Standard error goes to `stderr_path` when
  // not empty (appended), else it is inherited.
  ChildProcess(const std::vector<std::string>& argv, const std::string& stderr_path = "");
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // The next line of standard output; nullopt at end of output or timeout.
  std::optional<std::string> read_line(int timeout_ms);

  // SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit status
  // (128 + signal when killed by one), -1 if nothing was running.
  int stop(int timeout_ms = 10'000);

  // True (and reaps it) when the process has exited.
  bool exited();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
};

// Reads lines from `child` until one starts with "ready "; returns the rest.
std::optional<std::string> wait_ready_line(ChildProcess& child, int timeout_ms);

}  // namespace triad::loadgen
