// Cuts the admission rate while the front end falls behind its own intake.
//
// Why: where the replicas share the front end's cores, deciding at full
// capacity leaves no CPU to read requests, so under a flood the refusals
// queue behind the decisions. Measured on a 2-core machine at 80,000/s
// offered against a capacity of about 16,000 decisions/s: 14,700 decided per
// second, refusals answered 10 s late, 280,000 requests never answered.
// Answering every request at once means deciding fewer while flooded. A
// bound on undecided seqs alone does not do it: with fast replicas even a
// small one lets nearly as many decisions through, so the rate is what is
// cut.
//
// The signal: kBacklogRequests requests read from the client socket in a row
// without ever finding it empty. That is a socket's whole receive queue (more
// requests than any client keeps in flight, so a burst does not do it), and
// more wait in TCP behind it. The first such signal halves the admission rate
// (what was being decided); each further one while the throttle holds cuts a
// quarter off the current cap (or off what was being decided, if lower), at
// most once per hold period, so that the previous cut has shown its effect
// first (halving every time took a release front end flooded at 40,000-52,000/s
// down to 4,900-5,500 decisions/s; a quarter kept 5,800-7,100/s, refusals as
// prompt). The cap grows by an eighth for every hold period in which no drain
// ended with requests still waiting, and is lifted once it exceeds any rate
// that matters. It does not grow while the intake is behind: growing by time
// alone, it outgrew the decision rate within 0.3 s of each cut, long before the
// next signal (4,096 reads took 0.3 s to over 2 s under AddressSanitizer, whose
// front end read 1,800-15,000 requests/s in a traced flood), so the cut hardly
// held and refusals waited 2-7 s behind a flood of 8,000/s. Admissions within
// the cap are spread by a token bucket holding one hold period's worth. Pure:
// time comes from the caller.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace triad::frontend {

class IntakeThrottle {
 public:
  static constexpr std::uint64_t kHoldUs = 50'000;
  // The front end's receive queue per client (ZeroMQ's rcvhwm), well above
  // `triad submit`'s 1,000 in flight.
  static constexpr std::size_t kBacklogRequests = 4096;
  // Enough for decisions to keep flowing, and for a light load (which
  // never fills the socket) to pass untouched while the cap grows back.
  static constexpr double kMinPerSecond = 1'000;

  // One drain of the client socket: `read` requests, and whether it ended by
  // finding the socket empty. `decided_per_second` (the recent decision
  // rate) is asked for only when the throttle cuts.
  template <class DecidedPerSecond>
  void on_drain(std::size_t read, bool emptied, std::uint64_t now_us,
                DecidedPerSecond&& decided_per_second) {
    if (emptied) {
      read_unbroken_ = 0;
      return;
    }
    if (throttled()) note_behind(now_us);
    read_unbroken_ += read;
    if (read_unbroken_ < kBacklogRequests) return;
    read_unbroken_ = 0;
    cut(decided_per_second(), now_us);
  }

  // Whether a transaction may be admitted at `now_us`; takes its token.
  bool admit(std::uint64_t now_us) {
    if (!throttled()) return true;
    const double cap = cap_per_second(now_us);
    if (cap <= 0) {  // grown past any rate that matters: lifted
      cut_per_second_ = 0;
      return true;
    }
    const double burst = std::max(1.0, cap * static_cast<double>(kHoldUs) / 1e6);
    tokens_ = std::min(burst, tokens_ + cap * static_cast<double>(now_us - tokens_us_) / 1e6);
    tokens_us_ = now_us;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

  bool throttled() const { return cut_per_second_ > 0; }

  // Admissions per second allowed at `now_us`: 0 when not throttled (or no
  // longer: the cap has grown past kLiftAbove).
  double cap_per_second(std::uint64_t now_us) const {
    if (!throttled()) return 0;
    const std::uint64_t completed = hold_of(now_us);
    const std::uint64_t behind = behind_holds_ - (last_behind_hold_ == completed ? 1 : 0);
    const double cap = cut_per_second_ * std::pow(1.125, static_cast<double>(completed - behind));
    return cap > kLiftAbove ? 0 : cap;
  }

 private:
  // Hold periods are counted from the last cut: 0 is the one it fell in.
  std::uint64_t hold_of(std::uint64_t now_us) const { return (now_us - cut_us_) / kHoldUs; }

  // A drain ended with requests still waiting: no growth for this hold.
  void note_behind(std::uint64_t now_us) {
    const std::uint64_t hold = hold_of(now_us);
    if (hold == last_behind_hold_) return;
    last_behind_hold_ = hold;
    ++behind_holds_;
  }

  void cut(double decided_per_second, std::uint64_t now_us) {
    const double cap = cap_per_second(now_us);  // 0: not throttled, or grown past it
    if (cap > 0 && now_us - cut_us_ < kHoldUs) return;
    const double to = cap > 0 ? std::min(cap, decided_per_second) * 0.75 : decided_per_second * 0.5;
    cut_per_second_ = std::max(kMinPerSecond, to);
    cut_us_ = now_us;
    last_behind_hold_ = 0;  // the backlog that cut
    behind_holds_ = 1;
    tokens_ = 0;
    tokens_us_ = now_us;
  }

  // Beyond what two cores decide many times over.
  static constexpr double kLiftAbove = 1e6;

  std::size_t read_unbroken_ = 0;  // requests read since the socket was last empty
  double cut_per_second_ = 0;      // 0: not throttled
  std::uint64_t cut_us_ = 0;
  std::uint64_t last_behind_hold_ = 0;  // the latest hold a drain ended behind in
  std::uint64_t behind_holds_ = 0;      // holds since the cut a drain ended behind in
  double tokens_ = 0;
  std::uint64_t tokens_us_ = 0;
};

}  // namespace triad::frontend
