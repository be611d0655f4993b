// The card file of rules.md section 2.
//
// Readings (see also engine.cc):
// - The header must be exactly the line of section 2 (no BOM, no spaces).
// - Lines end with "\n" or "\r\n"; one final line ending is optional. An
//   empty line anywhere (including a second trailing newline) is refused.
// - A file holding only the header is a valid file with no cards.
// - Fields are taken literally: no trimming, no quoting.
// - `pan`: one or more digits (no length or Luhn check here; rule 3 judges
//   the transaction's PAN). Unique in the file.
// - `credit_limit`, `cash_daily_limit`: one or more digits, value at most
//   999999999999; leading zeros are accepted.
// - `blocked_mccs`: empty, or 4-digit MCCs separated by ';' with no empty
//   item; a repeated MCC is accepted and kept once.
// - Error messages never quote a field's content (a misaligned line could
//   put a PAN in any column); a duplicate PAN is named masked.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>

#include "rules/engine.h"
#include "rules/formats.h"

namespace triad::rules {
namespace {

constexpr std::string_view kHeader =
    "pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs";
constexpr std::size_t kFieldCount = 7;

// 1 ..= 12 significant digits after any leading zeros, value <= kMaxAmount.
bool parse_limit(std::string_view s, std::int64_t* out) {
  if (!format::is_digits(s)) return false;
  std::size_t first = 0;
  while (first + 1 < s.size() && s[first] == '0') ++first;
  const std::string_view significant = s.substr(first);
  if (significant.size() > 12) return false;
  *out = format::digits_value(significant);
  return *out <= format::kMaxAmount;
}

bool parse_mccs(std::string_view s, std::vector<std::uint16_t>* out) {
  out->clear();
  if (s.empty()) return true;
  std::size_t pos = 0;
  while (true) {
    const std::size_t semi = s.find(';', pos);
    const std::string_view item =
        s.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos);
    if (!format::is_n_digits(item, 4)) return false;
    out->push_back(static_cast<std::uint16_t>(format::digits_value(item)));
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return true;
}

// Parses one card line; returns the reason of the first bad field, or an
// empty string.
std::string parse_card_line(std::string_view line, CardRecord* card) {
  std::string_view fields[kFieldCount];
  std::size_t count = 0;
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = line.find(',', pos);
    const std::string_view field =
        line.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (count < kFieldCount) fields[count] = field;
    ++count;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (count != kFieldCount) {
    return "expected " + std::to_string(kFieldCount) + " comma-separated fields, found " +
           std::to_string(count);
  }
  if (!format::is_digits(fields[0])) return "pan must be one or more digits";
  card->pan = std::string(fields[0]);

  const auto expiry = format::parse_yymm(fields[1]);
  if (!expiry) return "expiry must be YYMM with MM in 01..12";
  card->expiry_yymm = *expiry;

  if (fields[2] == "A") {
    card->status = CardStatus::kActive;
  } else if (fields[2] == "L") {
    card->status = CardStatus::kLost;
  } else if (fields[2] == "S") {
    card->status = CardStatus::kStolen;
  } else if (fields[2] == "B") {
    card->status = CardStatus::kBlocked;
  } else {
    return "status must be one of A, L, S, B";
  }

  if (!format::is_n_digits(fields[3], 3)) return "currency must be 3 digits";
  card->currency = static_cast<std::uint16_t>(format::digits_value(fields[3]));
  if (currency_exponent(card->currency) < 0) {
    return "currency is not one of the supported codes (rules.md section 3)";
  }

  if (!parse_limit(fields[4], &card->credit_limit)) {
    return "credit_limit must be an integer 0..999999999999 (digits only)";
  }
  if (!parse_limit(fields[5], &card->cash_daily_limit)) {
    return "cash_daily_limit must be an integer 0..999999999999 (digits only)";
  }
  if (!parse_mccs(fields[6], &card->blocked_mccs)) {
    return "blocked_mccs must be 4-digit MCCs separated by ';' (or empty)";
  }
  return {};
}

Status line_error(std::uint64_t line_number, const std::string& reason) {
  return Status::invalid_argument("line " + std::to_string(line_number) + ": " + reason);
}

}  // namespace

Status parse_card_file(std::string_view text, CardFile* out) {
  if (text.empty()) return line_error(1, "empty file; expected the header line");
  CardFile result;
  // PAN -> line of first occurrence; views into `text`. Lookups only.
  std::unordered_map<std::string_view, std::uint64_t> first_line;
  std::uint64_t line_number = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++line_number;
    const std::size_t newline = text.find('\n', pos);
    std::string_view line = text.substr(
        pos, newline == std::string_view::npos ? std::string_view::npos : newline - pos);
    pos = newline == std::string_view::npos ? text.size() : newline + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    if (line_number == 1) {
      if (line != kHeader) {
        return line_error(1, "header must be exactly \"" + std::string(kHeader) + "\"");
      }
      continue;
    }
    if (line.empty()) return line_error(line_number, "empty line");
    CardRecord card;
    const std::string reason = parse_card_line(line, &card);
    if (!reason.empty()) return line_error(line_number, reason);
    const std::string_view pan_view = line.substr(0, card.pan.size());
    const auto [it, inserted] = first_line.emplace(pan_view, line_number);
    if (!inserted) {
      return line_error(line_number, "duplicate pan " + mask_pan(card.pan) + " (first on line " +
                                         std::to_string(it->second) + ")");
    }
    result.cards.push_back(std::move(card));
  }
  *out = std::move(result);
  return Status::ok();
}

Status load_card_file(const std::string& path, CardFile* out, std::string* text_out) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    const std::string message = "cannot open card file " + path + ": " + std::strerror(error);
    return error == ENOENT ? Status::not_found(message) : Status::io_error(message);
  }
  std::string text;
  char buffer[64 * 1024];
  while (true) {
    const std::size_t n = std::fread(buffer, 1, sizeof buffer, file);
    text.append(buffer, n);
    if (n < sizeof buffer) break;
  }
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  if (failed) {
    return Status::io_error("cannot read card file " + path + ": " + std::strerror(error));
  }
  TRIAD_RETURN_IF_ERROR(parse_card_file(text, out));
  if (text_out != nullptr) *text_out = std::move(text);
  return Status::ok();
}

}  // namespace triad::rules
