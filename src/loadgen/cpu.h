// CPU time spent by processes, for the cost of a decision: the sum over the
// system under test (the front end and its replicas, or the echo processes)
// and, separately, the load generator itself. On a machine where everything
// shares the same cores, this is what bounds throughput, whatever the latency.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace triad::loadgen {

// User + system CPU time of `root` and every live descendant, in µs, from
// /proc (clock-tick resolution, usually 10 ms). 0 when `root` is gone.
// Descendants that already exited are not counted (their time moves to the
// parent only when it reaps them), so measure while the processes run.
std::uint64_t process_tree_cpu_us(pid_t root);

// This process's own user + system CPU time, in µs.
std::uint64_t self_cpu_us();

}  // namespace triad::loadgen
