#include "replica/fault.h"

#include <charconv>

namespace triad::replica {
namespace {

bool parse_u64(std::string_view text, std::uint64_t* out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// A probability "0", "1", "0.05", "1e-3" is not accepted: plain decimals only,
// kept as parts per million so no floating point is involved.
bool parse_probability(std::string_view text, std::uint32_t* ppm) {
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole != "0" && whole != "1") return false;
  if (dot != std::string_view::npos && (frac.empty() || frac.size() > 6)) return false;
  std::uint64_t value = whole == "1" ? 1'000'000 : 0;
  std::uint64_t scale = 100'000;
  for (const char c : frac) {
    if (c < '0' || c > '9') return false;
    value += static_cast<std::uint64_t>(c - '0') * scale;
    scale /= 10;
  }
  if (value > 1'000'000) return false;
  *ppm = static_cast<std::uint32_t>(value);
  return true;
}

}  // namespace

Status parse_fault(std::string_view text, Fault* out) {
  Fault f;
  if (text == "none") {
    *out = f;
    return Status::ok();
  }
  const auto colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  const std::string_view arg = colon == std::string_view::npos ? "" : text.substr(colon + 1);
  const auto bad = [&](const char* form) {
    return Status::invalid_argument("fault '" + std::string(text) + "': expected " + form);
  };
  if (name == "flip" || name == "badsig" || name == "drop") {
    f.kind = name == "flip"     ? Fault::Kind::kFlip
             : name == "badsig" ? Fault::Kind::kBadSig
                                : Fault::Kind::kDrop;
    if (!parse_probability(arg, &f.probability_ppm)) {
      return bad("NAME:P with P a decimal probability from 0 to 1, e.g. flip:0.01");
    }
  } else if (name == "corrupt-state" || name == "crash" || name == "hang") {
    f.kind = name == "crash"  ? Fault::Kind::kCrash
             : name == "hang" ? Fault::Kind::kHang
                              : Fault::Kind::kCorruptState;
    if (!parse_u64(arg, &f.after_count))
      return bad("NAME:N with N a transaction count, e.g. crash:1000");
  } else if (name == "delay") {
    f.kind = Fault::Kind::kDelay;
    if (!parse_u64(arg, &f.delay_ms) || f.delay_ms > 3'600'000) {
      return bad("delay:MS with MS milliseconds up to 3600000");
    }
  } else {
    return Status::invalid_argument(
        "unknown fault '" + std::string(text) +
        "': one of flip:P, corrupt-state:N, crash:N, hang:N, delay:MS, badsig:P, drop:P, none");
  }
  *out = f;
  return Status::ok();
}

std::string to_string(const Fault& f) {
  const auto prob = [&](const char* name) {
    std::string frac = std::to_string(f.probability_ppm % 1'000'000 + 1'000'000).substr(1);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    return std::string(name) + ":" + std::to_string(f.probability_ppm / 1'000'000) +
           (frac.empty() ? "" : "." + frac);
  };
  switch (f.kind) {
    case Fault::Kind::kNone:
      return "none";
    case Fault::Kind::kFlip:
      return prob("flip");
    case Fault::Kind::kBadSig:
      return prob("badsig");
    case Fault::Kind::kDrop:
      return prob("drop");
    case Fault::Kind::kCorruptState:
      return "corrupt-state:" + std::to_string(f.after_count);
    case Fault::Kind::kCrash:
      return "crash:" + std::to_string(f.after_count);
    case Fault::Kind::kHang:
      return "hang:" + std::to_string(f.after_count);
    case Fault::Kind::kDelay:
      return "delay:" + std::to_string(f.delay_ms);
  }
  return "?";
}

}  // namespace triad::replica
