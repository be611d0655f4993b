// Response codes [ISO 8583 DE39] that Triad can emit (rules.md sections 4-6).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace triad {

// The numeric value is the code itself, so to_string is two digits of it.
enum class ResponseCode : std::uint8_t {
  kApproved = 0,                 // 00
  kDoNotHonour = 5,              // 05 (only produced by the flip fault)
  kInvalidTransaction = 12,      // 12
  kInvalidAmount = 13,           // 13
  kInvalidCardNumber = 14,       // 14
  kUnableToLocateOriginal = 25,  // 25
  kFormatError = 30,             // 30
  kLostCard = 41,                // 41
  kStolenCard = 43,              // 43
  kInsufficientFunds = 51,       // 51
  kExpiredCard = 54,             // 54
  kNoCardRecord = 56,            // 56
  kNotPermitted = 57,            // 57
  kExceedsWithdrawalLimit = 61,  // 61
  kRestrictedCard = 62,          // 62
  kExceedsFrequencyLimit = 65,   // 65
  kIssuerInoperative = 91,       // 91 fail-safe: fewer than two replicas answered
  kDuplicate = 94,               // 94
  kSystemMalfunction = 96,       // 96 fail-safe: no two replicas agreed
};

// "00", "51", ...
inline std::string to_string(ResponseCode code) {
  const auto v = static_cast<unsigned>(code);
  return {static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
}

// Parses a two-digit code; nullopt when it is not one Triad knows.
std::optional<ResponseCode> parse_response_code(std::string_view text);

}  // namespace triad
