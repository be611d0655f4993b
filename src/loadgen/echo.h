// The transport floor of `triad bench --compare`: the same shape as Triad's
// front end (client ROUTER, fan-out of each request to three replica
// processes over loopback ZeroMQ, answer at the second reply) with no work at
// all: no sequencing, no rules, no signatures, no voting, no batching. A
// replica sends back a fixed-size reply (kEchoReplyBytes) at once; the front
// end answers the client with a decision "00" carrying a dummy certificate of
// similar size to a real one. What it measures is the cost of the process
// hops and ZeroMQ on this machine: a lower bound for TMR's latency.
#pragma once

#include <csignal>
#include <string>

namespace triad::loadgen {

inline constexpr std::size_t kEchoReplyBytes = 256;

// `triad bench-echo --listen EP`: binds the client endpoint, starts three
// `SELF bench-echo --replica EP2` children, prints "ready ENDPOINT" and serves
// until SIGINT/SIGTERM. Returns the exit status. With `curve_dir` (a cluster
// directory whose CURVE keys exist, layout.h), both hops use CURVE as `triad
// up` does: the same keys, roles and ZAP check, so the floor carries the
// same per-message encryption as the cluster it is compared with.
int run_echo_frontend(const std::string& listen, const std::string& self_exe,
                      const std::string& curve_dir);

// `triad bench-echo --replica EP`: connects to the echo front end and answers
// every message at once. Ends with its parent (PR_SET_PDEATHSIG) or a signal.
// With `curve_key` and `curve_server_key` (files), a CURVE client.
int run_echo_replica(const std::string& endpoint, const std::string& curve_key,
                     const std::string& curve_server_key);

}  // namespace triad::loadgen
