// A small logger: one line per event, "2026-11-26T04:27:02.123Z LEVEL component: text",
// to standard error and optionally to a file. Thread-safe. Callers must never
// pass a PAN in clear: use triad::mask_pan.
#pragma once

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

}  // namespace triad::log
