// The transport floor of `triad bench --compare`: the same shape as Triad's
// front end (client ROUTER, fan-out of each request to three replica
// processes over loopback ZeroMQ, answer at the second reply) with no work at
// all: no sequencing, no rules, no signatures, no voting, no batching. A
// replica sends back a fixed-size reply (kEchoReplyBytes) at once; the front
// end answers the client with a decision "00" carrying a dummy certificate of
// similar size to a real one. What it measures is the cost of the process
// hops and ZeroMQ on this machine: a lower bound for TMR's latency.
//
// With a journal path it also does what Triad's durable journal does to a
// request's path (`--fsync batch`): each turn's requests are written to the
// file in one write before they are fanned out, a background thread
// (journal::BackgroundSync, the front end's own) fdatasyncs them while the
// echo processes answer, and an answer waits for both. That floor is a lower
// bound for TMR with a durable journal: the hops plus the disk.
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
// same per-message encryption as the cluster it is compared with. With
// `journal_path`, the durable journal's write and sync as above (the file is
// created or emptied).
int run_echo_frontend(const std::string& listen, const std::string& self_exe,
                      const std::string& curve_dir, const std::string& journal_path);

// `triad bench-echo --replica EP`: connects to the echo front end and answers
// every message at once. Ends with its parent (PR_SET_PDEATHSIG) or a signal.
// With `curve_key` and `curve_server_key` (files), a CURVE client.
int run_echo_replica(const std::string& endpoint, const std::string& curve_key,
                     const std::string& curve_server_key);

}  // namespace triad::loadgen
