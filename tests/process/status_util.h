// `triad status --json` for process tests: read once, or polled until a
// condition on it holds.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "process_util.h"

namespace triad::testing {

// The status of the cluster in `dir`, parsed; null when `triad status`
// failed or printed no JSON object.
inline nlohmann::json status_of(const std::string& dir, int timeout_ms = 20'000) {
  std::string out;
  if (run({bin("triad"), "status", "--dir", dir, "--json"}, &out, "", timeout_ms) != 0) return {};
  nlohmann::json j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : nlohmann::json();
}

// Polls the status every 100 ms until `done(status)` holds or `timeout_ms`
// passed; returns the last status seen, and in *met (when given) whether
// `done` held for it.
template <typename Pred>
nlohmann::json wait_for_status(const std::string& dir, int timeout_ms, Pred done,
                               bool* met = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  nlohmann::json s;
  while (true) {
    s = status_of(dir);
    const bool held = !s.is_null() && done(s);
    if (met != nullptr) *met = held;
    if (held || std::chrono::steady_clock::now() > deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace triad::testing
