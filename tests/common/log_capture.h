// The log's lines, captured for a test's assertions while this object lives
// (log::set_capture): every line, and the warnings alone.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"

namespace triad::testing {

struct LogCapture {
  LogCapture() { log::set_capture(&LogCapture::add, this); }
  ~LogCapture() { log::set_capture(nullptr, nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  static void add(void* self, log::Level level, std::string_view text) {
    auto* capture = static_cast<LogCapture*>(self);
    capture->lines.emplace_back(text);
    if (level == log::Level::kWarn) capture->warnings.emplace_back(text);
  }

  std::vector<std::string> lines;
  std::vector<std::string> warnings;
};

}  // namespace triad::testing
