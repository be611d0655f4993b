// Checks of option values shared by the `triad` sub-commands.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace triad::cli {

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
