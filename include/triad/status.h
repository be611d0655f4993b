// Status: the one error type of Triad. A failed system call, a malformed
// frame or a refused request is a Status; a decline, a timeout of a replica
// or a divergence is a normal outcome and is returned as a value instead.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace triad {

class [[nodiscard]] Status {
 public:
  enum class Code : std::uint8_t {
    kOk = 0,
    kInvalidArgument,   // the caller's input is malformed (names the field or line)
    kNotFound,          // a file, key or record does not exist
    kIoError,           // a system call failed (message carries errno text)
    kCorruption,        // stored or received bytes fail a check (verifier, checksum, signature)
    kUnavailable,       // the peer cannot be reached or has gone away
    kTimeout,           // nothing arrived within the time asked for
    kRejected,          // the peer refused the request (client error from the front end)
    kOverloaded,        // the front end is saturated; the request was not sequenced
    kPermissionDenied,  // a key file is readable by others, or similar
    kInternal,          // a bug; should never be seen
  };

  Status() = default;
  static Status ok() { return Status(); }
  static Status invalid_argument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status io_error(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status rejected(std::string m) { return {Code::kRejected, std::move(m)}; }
  static Status overloaded(std::string m) { return {Code::kOverloaded, std::move(m)}; }
  static Status permission_denied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ok" or "<code name>: <message>".
  std::string to_string() const;
  static const char* code_name(Code code);

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace triad

// Returns early from the enclosing function when `expr` is not ok.
#define TRIAD_RETURN_IF_ERROR(expr)                   \
  do {                                                \
    ::triad::Status triad_status_ = (expr);           \
    if (!triad_status_.is_ok()) return triad_status_; \
  } while (0)
