// A small logger: one line per event, "2026-11-26T04:27:02.123Z LEVEL component: text",
// to standard error and optionally to a file. Thread-safe. Callers must never
// pass a PAN in clear: use triad::mask_pan.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace triad::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Sets the component name printed on each line (e.g. "frontend", "replica-a").
void set_component(std::string component);
void set_level(Level level);
// Also append every line to `path` (created if missing). Returns false when it cannot be opened.
bool set_file(const std::string& path);

// Sends every line at or above the level to `capture` instead of standard
// error and the file (with no time stamp: the caller knows its own clock);
// nullptr restores them. The deterministic simulator keeps its cluster's log
// in memory this way. `capture` runs under the logger's lock: it must not log.
using CaptureFn = void (*)(void* context, Level level, std::string_view text);
void set_capture(CaptureFn capture, void* context);

void write(Level level, std::string_view text);
inline void debug(std::string_view text) { write(Level::kDebug, text); }
inline void info(std::string_view text) { write(Level::kInfo, text); }
inline void warn(std::string_view text) { write(Level::kWarn, text); }
inline void error(std::string_view text) { write(Level::kError, text); }

// For a warning a peer can cause at will (a faulty replica sending malformed
// messages as fast as it can): at most `per_second` lines a second, on the
// caller's clock. The lines over it are counted, and the count is written
// with the next line let through. Each line is written synchronously, so a
// flood of them took the event loop and the disk (200,000 lines, 17.8 MB, in
// seconds in a helper's run, 2026-12-05). Not thread-safe: one per thread.
class Limiter {
 public:
  explicit Limiter(std::uint32_t per_second) : per_second_(per_second) {}

  void write(Level level, std::uint64_t now_us, std::string_view text) {
    if (now_us - second_start_us_ >= 1'000'000) {
      second_start_us_ = now_us;
      written_ = 0;
    }
    if (written_ >= per_second_) {
      ++held_back_;
      return;
    }
    ++written_;
    if (held_back_ == 0) {
      log::write(level, text);
      return;
    }
    log::write(level, std::string(text) + " (and " + std::to_string(held_back_) +
                          " more like it before this, not logged)");
    held_back_ = 0;
  }
  void warn(std::uint64_t now_us, std::string_view text) { write(Level::kWarn, now_us, text); }

 private:
  std::uint32_t per_second_;
  std::uint64_t second_start_us_ = 0;
  std::uint32_t written_ = 0;
  std::uint64_t held_back_ = 0;
};

}  // namespace triad::log
