// Divergence injection (interface.md, "Faults for --inject"): what a replica
// is told to do wrong, on purpose, seeded so that a run repeats exactly.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "triad/status.h"

namespace triad::replica {

struct Fault {
  enum class Kind : std::uint8_t {
    kNone,
    kFlip,
    kCorruptState,
    kCrash,
    kHang,
    kDelay,
    kBadSig,
    kDrop
  };
  Kind kind = Kind::kNone;
  std::uint32_t probability_ppm = 0;  // flip, badsig, drop: parts per million
  std::uint64_t after_count = 0;      // corrupt-state, crash, hang: after N transactions
  std::uint64_t delay_ms = 0;         // delay
};

// Parses "flip:0.01", "crash:1000", "delay:50", "none" ... InvalidArgument
// naming the fault and the expected form otherwise.
Status parse_fault(std::string_view text, Fault* out);
std::string to_string(const Fault& fault);

// Draws the per-transaction coin of the probabilistic faults. Integer only,
// so one seed gives the same draws on every build.
class FaultDice {
 public:
  FaultDice(std::uint64_t seed, int replica)
      : rng_(seed * 3 + static_cast<std::uint64_t>(replica)) {}
  bool roll(std::uint32_t probability_ppm) { return rng_() % 1'000'000 < probability_ppm; }

 private:
  std::mt19937_64 rng_;
};

}  // namespace triad::replica
