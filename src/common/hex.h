#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace triad {

// Lower-case hexadecimal, two characters per byte.
std::string to_hex(std::span<const std::uint8_t> bytes);

// Reads exactly out.size() bytes written as 2 * out.size() hexadecimal
// digits of either case. False, `out` left partly written, when `text` is
// not that.
bool from_hex(std::string_view text, std::span<std::uint8_t> out);

}  // namespace triad
