#include "frontend/processes.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/stop_signals.h"

namespace triad::frontend {
namespace {

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended (wait status " + std::to_string(status) + ")";
}

}  // namespace

Status ReplicaProcesses::start(int replica, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = stop_signals::spawn(&pid, args[0], nullptr, args.data());
  if (rc != 0) {
    return Status::io_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  pids_[static_cast<std::size_t>(replica)] = pid;
  return Status::ok();
}

std::vector<ReplicaProcesses::Exit> ReplicaProcesses::reap() {
  std::vector<Exit> exits;
  for (std::size_t r = 0; r < pids_.size(); ++r) {
    if (pids_[r] <= 0) continue;
    int status = 0;
    const pid_t got = ::waitpid(pids_[r], &status, WNOHANG);
    if (got == pids_[r] || (got < 0 && errno == ECHILD)) {
      exits.push_back({static_cast<int>(r), got > 0 ? describe(status) : "vanished"});
      pids_[r] = -1;
    }
  }
  return exits;
}

bool ReplicaProcesses::kill(int replica) {
  const pid_t pid = pids_[static_cast<std::size_t>(replica)];
  if (pid <= 0) return false;
  ::kill(pid, SIGKILL);
  return true;
}

void ReplicaProcesses::stop_all(int grace_ms) {
  for (const pid_t pid : pids_) {
    if (pid > 0) ::kill(pid, SIGTERM);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    reap();
    bool any = false;
    for (const pid_t pid : pids_) any = any || pid > 0;
    if (!any) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (pid_t& pid : pids_) {
    if (pid <= 0) continue;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
}

}  // namespace triad::frontend
