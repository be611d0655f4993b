#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace triad {

// Lower-case hexadecimal, two characters per byte.
std::string to_hex(std::span<const std::uint8_t> bytes);

}  // namespace triad
