// A deliberately naive second implementation of rules.md sections 4 and 5,
// for differential testing of triad::rules::Engine. It keeps every past
// transaction and rescans the whole list for every rule; it shares no code
// with src/rules except the types (Transaction, ResponseCode, CardFile) and
// the card file parser.
#pragma once

#include <cstdint>
#include <vector>

#include "common/response_code.h"
#include "rules/engine.h"
#include "triad/transaction.h"

namespace triad::rules::testing {

class NaiveEngine {
 public:
  explicit NaiveEngine(const CardFile& cards);
  ResponseCode apply(std::int64_t ts_ms, const Transaction& tx);

 private:
  struct Past {
    Transaction tx;
    std::int64_t ts_ms = 0;
    bool passed_rule_1 = false;  // a 0100/0200 that passed rule 1
    bool approved = false;       // an approved 0100/0200
    bool reversed = false;
    std::int64_t account_amount = 0;
  };
  ResponseCode decide(std::int64_t ts_ms, const Transaction& tx, Past* me);
  ResponseCode decide_reversal(const Transaction& tx);

  CardFile cards_;
  std::vector<Past> history_;
};

}  // namespace triad::rules::testing
