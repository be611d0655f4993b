// Base64 with the standard alphabet and '=' padding (RFC 4648 section 4).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "triad/status.h"

namespace triad::crypto {

// Padded, no line breaks. Never fails.
std::string base64_encode(std::span<const std::uint8_t> data);

// Strict decoding. Leading and trailing ASCII whitespace is ignored (so a file
// ending in a newline decodes); anything else must be canonical base64.
// Returns InvalidArgument, naming the 0-based position in `text`, for a
// character outside the alphabet (including whitespace inside the text), '='
// anywhere but the last one or two characters, a length that is not a multiple
// of 4 once trimmed, or non-zero bits in the unused part of the last character.
// *out is replaced on success and left unchanged on failure.
Status base64_decode(std::string_view text, std::vector<std::uint8_t>* out);

}  // namespace triad::crypto
