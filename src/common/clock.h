// Microseconds on the monotonic clock: for deadlines, timeouts and
// durations, never for wall-clock time (which can step).
#pragma once

#include <chrono>
#include <cstdint>

namespace triad {

inline std::uint64_t monotonic_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace triad
