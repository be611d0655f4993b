#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>

#include "common/assert.h"
#include "common/hardening.h"
#include "common/hex.h"
#include "common/response_code.h"
#include "triad/status.h"

namespace triad {

bool disable_core_dumps() {
  const rlimit none{0, 0};
  return ::setrlimit(RLIMIT_CORE, &none) == 0;
}

namespace detail {
void assertion_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "triad: assertion failed: %s at %s:%d\n", expr, file, line);
  std::fflush(stderr);
  std::abort();
}
}  // namespace detail

const char* Status::code_name(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid argument";
    case Code::kNotFound:
      return "not found";
    case Code::kIoError:
      return "I/O error";
    case Code::kCorruption:
      return "corruption";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kTimeout:
      return "timeout";
    case Code::kRejected:
      return "rejected";
    case Code::kOverloaded:
      return "overloaded";
    case Code::kPermissionDenied:
      return "permission denied";
    case Code::kInternal:
      return "internal error";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(code_name(code_)) + ": " + message_;
}

std::optional<ResponseCode> parse_response_code(std::string_view text) {
  if (text.size() != 2 || text[0] < '0' || text[0] > '9' || text[1] < '0' || text[1] > '9') {
    return std::nullopt;
  }
  const auto value = static_cast<std::uint8_t>((text[0] - '0') * 10 + (text[1] - '0'));
  switch (static_cast<ResponseCode>(value)) {
    case ResponseCode::kApproved:
    case ResponseCode::kDoNotHonour:
    case ResponseCode::kInvalidTransaction:
    case ResponseCode::kInvalidAmount:
    case ResponseCode::kInvalidCardNumber:
    case ResponseCode::kUnableToLocateOriginal:
    case ResponseCode::kFormatError:
    case ResponseCode::kLostCard:
    case ResponseCode::kStolenCard:
    case ResponseCode::kInsufficientFunds:
    case ResponseCode::kExpiredCard:
    case ResponseCode::kNoCardRecord:
    case ResponseCode::kNotPermitted:
    case ResponseCode::kExceedsWithdrawalLimit:
    case ResponseCode::kRestrictedCard:
    case ResponseCode::kExceedsFrequencyLimit:
    case ResponseCode::kIssuerInoperative:
    case ResponseCode::kDuplicate:
    case ResponseCode::kSystemMalfunction:
      return static_cast<ResponseCode>(value);
  }
  return std::nullopt;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

bool from_hex(std::string_view text, std::span<std::uint8_t> out) {
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() != 2 * out.size()) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = digit(text[2 * i]);
    const int lo = digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace triad
