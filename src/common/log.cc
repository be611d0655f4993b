#include "common/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace triad::log {
namespace {

struct Sink {
  std::mutex mutex;
  std::string component = "triad";
  Level level = Level::kInfo;
  std::FILE* file = nullptr;
  CaptureFn capture = nullptr;
  void* capture_context = nullptr;
};

Sink& sink() {
  static Sink s;
  return s;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kError:
      return "ERROR";
  }
  return "?";
}

}  // namespace

void set_component(std::string component) {
  std::lock_guard lock(sink().mutex);
  sink().component = std::move(component);
}

void set_level(Level level) {
  std::lock_guard lock(sink().mutex);
  sink().level = level;
}

bool set_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) return false;
  std::lock_guard lock(sink().mutex);
  if (sink().file != nullptr) std::fclose(sink().file);
  sink().file = f;
  return true;
}

void set_capture(CaptureFn capture, void* context) {
  std::lock_guard lock(sink().mutex);
  sink().capture = capture;
  sink().capture_context = context;
}

void write(Level level, std::string_view text) {
  Sink& s = sink();
  {
    std::lock_guard lock(s.mutex);
    if (level < s.level) return;
    if (s.capture != nullptr) {
      s.capture(s.capture_context, level, text);
      return;
    }
  }
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  std::lock_guard lock(s.mutex);
  if (level < s.level) return;
  for (std::FILE* out : {stderr, s.file}) {
    if (out == nullptr) continue;
    std::fprintf(out, "%s %s %s: %.*s\n", stamp, level_name(level), s.component.c_str(),
                 static_cast<int>(text.size()), text.data());
    std::fflush(out);
  }
}

}  // namespace triad::log
