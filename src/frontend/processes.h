// The replica child processes of `triad up`: start, notice exits, stop.
#pragma once

#include <sys/types.h>

#include <array>
#include <string>
#include <vector>

#include "common/types.h"
#include "triad/status.h"

namespace triad::frontend {

class ReplicaProcesses {
 public:
  ReplicaProcesses() { pids_.fill(-1); }
  ~ReplicaProcesses() { stop_all(); }
  ReplicaProcesses(const ReplicaProcesses&) = delete;
  ReplicaProcesses& operator=(const ReplicaProcesses&) = delete;

  // Starts `argv` (argv[0] is the binary path) as replica `replica`'s process.
  // IoError when the binary cannot be spawned.
  Status start(int replica, const std::vector<std::string>& argv);

  struct Exit {
    int replica;
    std::string how;  // "exited with status 70", "killed by signal 9"
  };
  // Reaps children that ended since the last call; never blocks.
  std::vector<Exit> reap();

  // SIGKILL to the replica's process (its exit is then seen by reap()).
  // False when it has no running process.
  bool kill(int replica);

  bool running(int replica) const { return pids_[static_cast<std::size_t>(replica)] > 0; }
  pid_t pid(int replica) const { return pids_[static_cast<std::size_t>(replica)]; }

  // SIGTERM to every child, SIGKILL to those still alive after `grace_ms`;
  // returns once all are reaped, so nothing is left behind.
  void stop_all(int grace_ms = 3000);

 private:
  std::array<pid_t, kReplicaCount> pids_{};
};

}  // namespace triad::frontend
