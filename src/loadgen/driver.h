// An open-loop load driver: request i is due at start + i / rate, whatever
// happened to the requests before it, and its latency is measured from that
// SCHEDULED time to the arrival of its reply. A stall of the system under test
// (or of the driver itself) therefore shows up in full in the latencies of
// every request that should have been sent during it: no coordinated
// omission. Requests are encoded before the run starts, so the send path is a
// memcpy into ZeroMQ; sends and receives share one thread, which waits for
// replies (ZMQ_FD + ppoll, microsecond timeouts) until the next send is due.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "loadgen/histogram.h"
#include "transport/curve.h"
#include "triad/transaction.h"

namespace triad::loadgen {

struct RunOptions {
  std::string endpoint;    // the front end's client endpoint (ROUTER)
  double rate = 500;       // requests per second, offered
  double duration_s = 10;  // measured part
  double warmup_s = 2;     // sent first, at the same rate, not measured
  int grace_ms = 3000;     // wait for late replies after the last send
  int connect_timeout_ms = 10'000;
  // 0: each request goes out alone, at its scheduled time. Otherwise the
  // requests due go out together in one batch frame (schemas/client.fbs), at
  // most one batch per this many µs: what a switch front end does to cut the
  // per-message cost. Latency still counts from each request's own
  // scheduled time, so the wait for the batch is measured.
  std::uint64_t batch_window_us = 0;
  // The front end's CURVE key and the driver's own pair; none: plain TCP.
  transport::CurveClient curve;
  // A descriptor that turns readable to stop the run early (the stop
  // signals' signalfd); -1: none. Looked at every 10 ms at most.
  int stop_fd = -1;
};

struct RunResult {
  double offered_rate = 0;
  std::uint64_t sent = 0;             // every request sent, warm-up included
  std::uint64_t measured = 0;         // requests due in the measured window
  std::uint64_t answered = 0;         // of those, answered (by a decision or an error)
  std::uint64_t unanswered = 0;       // of every request sent, no reply after the grace period
  std::uint64_t fail_safe = 0;        // decisions 91 or 96
  std::uint64_t divergences = 0;      // decisions naming a divergent replica
  std::uint64_t errors = 0;           // refused by the front end (overloaded, id reused, ...)
  std::string first_error;            // the first measured refusal's text (which limit, ...)
  std::uint64_t max_send_lag_ns = 0;  // worst actual-minus-scheduled send time
  std::uint64_t frames_sent = 0;      // messages the requests went in (batches count once)
  double measured_window_s = 0;       // measured start to last measured reply
  std::map<std::string, std::uint64_t> codes;  // measured decisions per response code
  Histogram latency;                           // measured requests only, ns
  Histogram error_latency;                     // ... of those answered by an error
  bool interrupted = false;

  // Measured replies per second over the measured window.
  double achieved_rate() const {
    return measured_window_s > 0 ? static_cast<double>(answered) / measured_window_s : 0;
  }
};

// Adds the run `from` to `into`, as if one run: counts and histograms add up,
// the achieved rate is over both measured windows, the offered rate is
// `into`'s (the caller merges runs at one rate).
void merge_run(const RunResult& from, RunResult* into);

// A ClientRequest{submit{tag, tx}} frame, ready to send.
std::vector<std::uint8_t> encode_submit(std::uint64_t tag, const Transaction& tx);

// Runs the load: txs[i] is sent as request i (tag i + 1), so txs must hold at
// least ceil(rate * (warmup_s + duration_s)) transactions with ids the front
// end has not seen. Fails (with a message in *error) only when the endpoint
// does not answer a ping within connect_timeout_ms.
bool run_open_loop(const RunOptions& options, std::span<const Transaction> txs, RunResult* result,
                   std::string* error);

// Requests a run of `options` sends: ceil(rate * (warmup_s + duration_s)).
std::uint64_t request_count(const RunOptions& options);

}  // namespace triad::loadgen
