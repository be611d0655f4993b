// Checks of option values shared by the `triad` sub-commands.
#pragma once

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace triad::cli {

// An integer option within [min, max], written in plain decimal digits.
// CLI11 (2.1) converts integers with strtoull/strtoll in base 0, so for an
// unsigned option "-1" reads as 2^64-1, a number past 2^64 as 2^64-1 and
// "010" as 8, and CLI::Range cannot tell those from a value really given.
// This refuses a sign, a base prefix, a leading zero and what does not fit.
// (A check() cannot rewrite the value: CLI11 hands it a copy.)
inline CLI::Validator decimal_range(std::uint64_t min, std::uint64_t max) {
  const std::string range = std::to_string(min) + " to " + std::to_string(max);
  return CLI::Validator(
      [min, max, range](const std::string& input) -> std::string {
        std::uint64_t value = 0;
        const char* end = input.data() + input.size();
        const auto [ptr, ec] = std::from_chars(input.data(), end, value);
        if (ec != std::errc() || ptr != end || (input.size() > 1 && input[0] == '0') ||
            value < min || value > max) {
          return "Value " + input + " is not a decimal whole number from " + range;
        }
        return {};
      },
      "INT in [" + std::to_string(min) + " - " + std::to_string(max) + "]");
}

// A real-valued option within [min, max]. CLI::Range lets "nan" through: it
// compares false with both bounds.
inline CLI::Validator real_range(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& input) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(input, value) || !(value >= min && value <= max)) {
          return "Value " + input + " is not a number from " + CLI::detail::to_string(min) +
                 " to " + CLI::detail::to_string(max);
        }
        return {};
      },
      "FLOAT in [" + CLI::detail::to_string(min) + " - " + CLI::detail::to_string(max) + "]");
}

// Why a "tcp://HOST:PORT" endpoint names no TCP port, or empty when its PORT
// is "*" or decimal 0..65535 (0 and "*": any free port). libzmq reads the port
// with atoi into 16 bits, so 70000 would listen on 4464 and -5 on 65531.
// Other transports are left to libzmq.
inline std::string tcp_port_problem(const std::string& endpoint) {
  constexpr std::string_view kTcp = "tcp://";
  if (endpoint.compare(0, kTcp.size(), kTcp) != 0) return {};
  const auto colon = endpoint.rfind(':');
  if (colon < kTcp.size()) return "no port: expected tcp://HOST:PORT";
  const std::string port = endpoint.substr(colon + 1);
  if (port == "*") return {};
  unsigned value = 0;
  const char* end = port.data() + port.size();
  const auto [ptr, ec] = std::from_chars(port.data(), end, value);
  if (port.empty() || ec != std::errc() || ptr != end || value > 65535) {
    return "port '" + port + "' is not 0..65535 or *";
  }
  return {};
}

}  // namespace triad::cli
