#include "triad/transaction.h"

#include <array>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/sequenced.h"

namespace triad {
namespace {

constexpr std::array<const char*, static_cast<std::size_t>(Field::kCount)> kFieldNames = {
    "id",
    "mti",
    "pan",
    "proc",
    "amount",
    "currency",
    "billing_amount",
    "billing_currency",
    "expiry",
    "mcc",
    "stan",
    "terminal",
    "merchant",
    "orig_id",
    "ts"};

void read_string(const nlohmann::json& object, Field field, std::optional<std::string>* out,
                 Transaction* tx) {
  const auto it = object.find(field_name(field));
  if (it == object.end()) return;
  if (it->is_string()) {
    *out = it->get<std::string>();
  } else {
    tx->set_malformed(field);
  }
}

// As read_string, but a PAN sent as a JSON number keeps its digits (still
// malformed: rule 1 declines it 30), so that the front end can refuse an id
// that holds them (Core::on_client_message): the id is kept in clear.
void read_pan(const nlohmann::json& object, Transaction* tx) {
  read_string(object, Field::kPan, &tx->pan, tx);
  const auto it = object.find(field_name(Field::kPan));
  if (it != object.end() && it->is_number_unsigned()) {
    tx->pan = std::to_string(it->get<std::uint64_t>());
  }
}

void read_integer(const nlohmann::json& object, Field field, std::optional<std::int64_t>* out,
                  Transaction* tx) {
  const auto it = object.find(field_name(field));
  if (it == object.end()) return;
  if (it->is_number_unsigned()) {
    const auto value = it->get<std::uint64_t>();
    if (value <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      *out = static_cast<std::int64_t>(value);
      return;
    }
  } else if (it->is_number_integer()) {
    *out = it->get<std::int64_t>();
    return;
  }
  tx->set_malformed(field);  // a string, a fraction, a bool, null, or beyond 64 bits
}

}  // namespace

const char* field_name(Field field) {
  const auto index = static_cast<std::size_t>(field);
  return index < kFieldNames.size() ? kFieldNames[index] : "?";
}

Status line_too_long(std::size_t bytes) {
  return Status::invalid_argument("line of " + std::to_string(bytes) +
                                  " bytes exceeds the limit of " +
                                  std::to_string(kMaxTransactionLineBytes));
}

Status parse_transaction_json(std::string_view line, Transaction* out) {
  if (line.size() > kMaxTransactionLineBytes) return line_too_long(line.size());
  // No exceptions out of the parser; its messages quote the input, which may
  // hold a PAN, so we word our own.
  nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return Status::invalid_argument("not valid JSON");
  if (!object.is_object()) return Status::invalid_argument("not a JSON object");

  Transaction tx;
  read_string(object, Field::kId, &tx.id, &tx);
  read_string(object, Field::kMti, &tx.mti, &tx);
  read_pan(object, &tx);
  read_string(object, Field::kProc, &tx.proc, &tx);
  read_integer(object, Field::kAmount, &tx.amount, &tx);
  read_string(object, Field::kCurrency, &tx.currency, &tx);
  read_integer(object, Field::kBillingAmount, &tx.billing_amount, &tx);
  read_string(object, Field::kBillingCurrency, &tx.billing_currency, &tx);
  read_string(object, Field::kExpiry, &tx.expiry, &tx);
  read_string(object, Field::kMcc, &tx.mcc, &tx);
  read_string(object, Field::kStan, &tx.stan, &tx);
  read_string(object, Field::kTerminal, &tx.terminal, &tx);
  read_string(object, Field::kMerchant, &tx.merchant, &tx);
  read_string(object, Field::kOrigId, &tx.orig_id, &tx);
  read_integer(object, Field::kTs, &tx.ts, &tx);
  *out = std::move(tx);
  return Status::ok();
}

Status parse_sequenced_header(std::string_view line, std::uint64_t* seq, std::int64_t* ts) {
  if (line.size() > kMaxTransactionLineBytes) return Status::invalid_argument("line too long");
  const nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    return Status::invalid_argument("not a JSON object");
  }
  const auto s = object.find("seq");
  if (s == object.end() || !s->is_number_unsigned() || s->get<std::uint64_t>() == 0) {
    return Status::invalid_argument("seq must be an integer >= 1");
  }
  const auto t = object.find("ts");
  if (t == object.end() || !t->is_number_integer() ||
      (t->is_number_unsigned() &&
       t->get<std::uint64_t>() >
           static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))) {
    return Status::invalid_argument("ts must be a 64-bit integer");
  }
  *seq = s->get<std::uint64_t>();
  *ts = t->get<std::int64_t>();
  return Status::ok();
}

std::string mask_pan(std::string_view pan) {
  std::string masked(pan.size(), '*');
  if (pan.size() > 10) {
    for (std::size_t i = 0; i < 6; ++i) masked[i] = pan[i];
    for (std::size_t i = pan.size() - 4; i < pan.size(); ++i) masked[i] = pan[i];
  }
  return masked;
}

std::string mask_digit_runs(std::string_view text) {
  constexpr std::size_t kShortestPan = 12;
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < text.size()) {
    if (!is_digit(text[i])) {
      out += text[i++];
      continue;
    }
    // Digits with the separators a card number is written with (spaces,
    // dashes) between them, joined (the front end's PAN-in-id check joins an
    // id's digits across any character; an echo masks no more than a card
    // number can be written as); separators after the last digit are not
    // part of it.
    std::string digits;
    std::size_t end = i;
    for (std::size_t j = i;
         j < text.size() && (is_digit(text[j]) || text[j] == ' ' || text[j] == '-'); ++j) {
      if (is_digit(text[j])) {
        digits += text[j];
        end = j + 1;
      }
    }
    out += digits.size() >= kShortestPan ? mask_pan(digits) : std::string(text.substr(i, end - i));
    i = end;
  }
  return out;
}

}  // namespace triad
