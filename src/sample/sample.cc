// Sample card file and traffic generator (see sample.h).
//
// How the traffic is made: a loop picks, by weight, a "scenario" for the next
// slot: mostly an ordinary purchase by a cardholder at a merchant of the
// card's country, sometimes abroad (billing fields), an ATM withdrawal, a
// reversal of a recent approval, or one of the deliberately bad cases that
// exercise a decline (typo'd PAN, lost card, card-testing burst, terminal
// retransmission ...). A small model of the rules of rules.md sections 4 and
// 5 follows the traffic as it is written, so reversals name originals that
// really were approved, "over the limit" amounts are really over the limit,
// and retransmissions reuse a terminal+STAN that really was seen. Near the end
// of the run, any decline scenario not yet drawn is forced, so every response
// code appears even in a modest sample.
//
// Determinism: only the raw 64-bit outputs of std::mt19937_64 are used
// (the standard fixes that sequence); every distribution is integer
// arithmetic written here; no container iteration order depends on hashing.
#include "sample/sample.h"

#include "common/assert.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace triad::sample {
namespace {

using Json = nlohmann::ordered_json;  // keeps fields in the order written

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// ---------------------------------------------------------------------------
// Random numbers.

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Independent streams for the card file and the traffic, so that changing how
// traffic is drawn never changes the card file.
constexpr std::uint64_t kCardStream = 0xC4D5;
constexpr std::uint64_t kTrafficStream = 0x7AF1C;

class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream) : engine_(splitmix64(seed ^ splitmix64(stream))) {}

  // Uniform in [0, n), n > 0, without modulo bias (rejection sampling).
  std::uint64_t below(std::uint64_t n) {
    assert(n > 0);
    const std::uint64_t threshold = (std::uint64_t{0} - n) % n;  // 2^64 mod n
    for (;;) {
      const std::uint64_t x = engine_();
      if (x >= threshold) return x % n;
    }
  }
  std::size_t index(std::size_t n) { return static_cast<std::size_t>(below(n)); }
  // Uniform in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    assert(lo <= hi);
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  // In [lo, hi], small values more likely (minimum of two uniform draws).
  std::int64_t low_skewed(std::int64_t lo, std::int64_t hi) {
    const std::int64_t a = between(lo, hi);
    const std::int64_t b = between(lo, hi);
    return std::min(a, b);
  }
  // True with probability num/den.
  bool chance(std::uint64_t num, std::uint64_t den) { return below(den) < num; }
  // An index drawn with the given (not all zero) weights.
  std::size_t weighted(const std::vector<std::uint32_t>& weights) {
    std::uint64_t total = 0;
    for (const std::uint32_t w : weights) total += w;
    assert(total > 0);
    std::uint64_t r = below(total);
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (r < weights[i]) return i;
      r -= weights[i];
    }
    return weights.size() - 1;  // unreachable
  }
  char digit() { return static_cast<char>('0' + below(10)); }
  std::string digits(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(digit());
    return s;
  }

 private:
  std::mt19937_64 engine_;
};

// ---------------------------------------------------------------------------
// Money and currencies (rules.md section 3).

struct Currency {
  const char* code;
  const char* alpha;
  int exponent;
  std::int64_t per_usd_e4;  // units of this currency per US dollar, times 10^4
  std::int64_t note;        // smallest ATM denomination, major units
  std::int64_t round_unit;  // credit limits are multiples of this, major units
};

constexpr std::array<Currency, 19> kCurrencies = {{
    {"036", "AUD", 2, 15'200, 10, 100},
    {"048", "BHD", 3, 3'770, 5, 50},
    {"124", "CAD", 2, 13'600, 20, 100},
    {"152", "CLP", 0, 9'300'000, 10'000, 100'000},
    {"156", "CNY", 2, 72'000, 100, 1'000},
    {"344", "HKD", 2, 78'000, 100, 1'000},
    {"356", "INR", 2, 830'000, 100, 10'000},
    {"392", "JPY", 0, 1'500'000, 1'000, 10'000},
    {"410", "KRW", 0, 13'500'000, 10'000, 100'000},
    {"414", "KWD", 3, 3'100, 5, 50},
    {"484", "MXN", 2, 170'000, 100, 1'000},
    {"702", "SGD", 2, 13'400, 10, 100},
    {"710", "ZAR", 2, 185'000, 50, 1'000},
    {"752", "SEK", 2, 105'000, 100, 1'000},
    {"756", "CHF", 2, 8'800, 10, 100},
    {"826", "GBP", 2, 7'900, 10, 100},
    {"840", "USD", 2, 10'000, 20, 100},
    {"978", "EUR", 2, 9'200, 10, 100},
    {"986", "BRL", 2, 50'000, 10, 100},
}};

std::size_t currency_index(std::string_view code) {
  for (std::size_t i = 0; i < kCurrencies.size(); ++i) {
    if (code == kCurrencies[i].code) return i;
  }
  return kNone;
}

std::size_t must_currency(std::string_view code) {
  const std::size_t i = currency_index(code);
  assert(i != kNone);
  return i;
}

std::int64_t pow10(int exponent) {
  std::int64_t r = 1;
  for (int i = 0; i < exponent; ++i) r *= 10;
  return r;
}

std::int64_t checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  const bool overflow = __builtin_mul_overflow(a, b, &r);
  assert(!overflow);
  (void)overflow;
  return r;
}

std::int64_t minor_per_major(std::size_t cur) { return pow10(kCurrencies[cur].exponent); }

// Largest amount of a single transaction: 10^6 major units.
std::int64_t max_amount(std::size_t cur) { return checked_mul(1'000'000, minor_per_major(cur)); }

// US cents to minor units of `cur` at the table's rate (at least 1).
std::int64_t usd_cents_to_minor(std::size_t cur, std::int64_t cents) {
  const std::int64_t v =
      checked_mul(checked_mul(cents, minor_per_major(cur)), kCurrencies[cur].per_usd_e4) /
      1'000'000;
  return std::max<std::int64_t>(v, 1);
}

// Whole US dollars to major units of `cur`, rounded to a multiple of `unit`
// (at least one unit).
std::int64_t usd_to_major_rounded(std::size_t cur, std::int64_t usd, std::int64_t unit) {
  const std::int64_t major = checked_mul(usd, kCurrencies[cur].per_usd_e4) / 10'000;
  const std::int64_t rounded = (major + unit / 2) / unit * unit;
  return std::max(rounded, unit);
}

// Minor units of `from` to minor units of `to`, with a foreign-exchange
// markup in basis points (what the issuer bills the cardholder).
std::int64_t convert(std::int64_t minor, std::size_t from, std::size_t to, std::int64_t markup_bp) {
  const std::int64_t num =
      checked_mul(checked_mul(minor, minor_per_major(to)), kCurrencies[to].per_usd_e4);
  const std::int64_t den = checked_mul(minor_per_major(from), kCurrencies[from].per_usd_e4);
  const std::int64_t base = num / den;
  return std::max<std::int64_t>(checked_mul(base, 10'000 + markup_bp) / 10'000, 1);
}

// ---------------------------------------------------------------------------
// Calendar (UTC, proleptic Gregorian), integers only.

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Months since year 0 (year * 12 + month - 1) of a ms timestamp.
std::int64_t month_index_of(std::int64_t ts_ms) {
  // H. Hinnant's civil_from_days.
  std::int64_t z = floor_div(ts_ms, kDayMs) + 719'468;
  const std::int64_t era = floor_div(z, 146'097);
  const std::int64_t doe = z - era * 146'097;
  const std::int64_t yoe = (doe - doe / 1'460 + doe / 36'524 - doe / 146'096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return year * 12 + month - 1;
}

std::string two_digits(std::int64_t v) {
  return {static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
}

// YYMM of a month index in 2000..2099 (clamped into that range).
std::string yymm(std::int64_t month_index) {
  month_index = std::clamp<std::int64_t>(month_index, 2000 * 12, 2099 * 12 + 11);
  return two_digits(month_index / 12 - 2000) + two_digits(month_index % 12 + 1);
}

// ---------------------------------------------------------------------------
// PANs.

int luhn_sum(std::string_view digits, bool double_rightmost) {
  int sum = 0;
  bool dbl = double_rightmost;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum;
}

bool luhn_valid(std::string_view pan) { return luhn_sum(pan, false) % 10 == 0; }

// `prefix` completed with random digits and the Luhn check digit to `length`.
std::string make_pan(Rng& rng, const std::string& prefix, std::size_t length) {
  std::string pan = prefix;
  while (pan.size() + 1 < length) pan.push_back(rng.digit());
  pan.push_back(static_cast<char>('0' + (10 - luhn_sum(pan, true) % 10) % 10));
  assert(luhn_valid(pan));
  return pan;
}

// A six-digit issuer BIN of a card brand.
std::string make_bin(Rng& rng, char brand) {
  switch (brand) {
    case 'V':  // Visa
      return "4" + rng.digits(5);
    case 'M': {  // Mastercard 51-55
      // One draw per statement: the order of operands of + is unspecified,
      // and the file must be the same whichever compiler built it.
      const auto second = static_cast<char>('1' + rng.below(5));
      return "5" + std::string(1, second) + rng.digits(4);
    }
    case 'A': {  // American Express 34/37
      const std::string prefix = rng.chance(1, 2) ? "34" : "37";
      return prefix + rng.digits(4);
    }
    case 'J': {  // JCB 3528-3589
      const std::string range = two_digits(rng.between(28, 89));
      return "35" + range + rng.digits(2);
    }
    case 'U':  // UnionPay
      return "62" + rng.digits(4);
    default:
      assert(false);
      return "4" + rng.digits(5);
  }
}

struct Program {  // an issuer's card programme: brand, PAN length, account currency
  char brand;
  std::size_t length;
  const char* currency;
  std::uint32_t weight;
};

constexpr std::array<Program, 19> kPrograms = {{
    {'V', 16, "840", 18}, {'M', 16, "840", 14}, {'V', 16, "840", 8},  {'A', 15, "840", 4},
    {'V', 19, "840", 1},  {'V', 16, "978", 12}, {'M', 16, "978", 10}, {'M', 16, "978", 3},
    {'V', 19, "978", 1},  {'V', 16, "826", 8},  {'M', 16, "826", 7},  {'J', 16, "392", 3},
    {'V', 16, "392", 2},  {'V', 16, "048", 2},  {'M', 16, "048", 1},  {'M', 16, "124", 2},
    {'V', 16, "036", 1},  {'M', 16, "756", 1},  {'U', 19, "702", 1},
}};

// MCCs a cardholder may have blocked: gambling, pawn shops, arcades, tobacco,
// dating services, quasi-cash / crypto.
constexpr std::array<const char*, 6> kBlockableMccs = {"7995", "5933", "7994",
                                                       "5993", "7273", "6051"};

// ---------------------------------------------------------------------------
// Cards.

struct Card {
  std::string pan;
  std::int64_t expiry_month = 0;  // month index
  std::string expiry;             // YYMM
  char status = 'A';
  std::size_t currency = 0;  // index into kCurrencies
  std::int64_t credit_limit = 0;
  std::int64_t cash_limit = 0;
  std::vector<std::string> blocked_mccs;  // sorted
  std::uint32_t activity = 1;             // relative share of the traffic
};

struct CardSet {
  std::vector<Card> cards;
  std::vector<std::string> bins;  // issuer BINs in use, by programme
};

bool plain(const Card& c, std::int64_t start_month) {
  return c.status == 'A' && c.expiry_month >= start_month && c.blocked_mccs.empty();
}

CardSet make_cards(const Options& options) {
  Rng rng(options.seed, kCardStream);
  const std::int64_t start_month = month_index_of(options.start_ts_ms);

  CardSet set;
  std::set<std::string> used_bins;
  for (const Program& p : kPrograms) {
    std::string bin;
    do {
      bin = make_bin(rng, p.brand);
    } while (!used_bins.insert(bin).second);
    set.bins.push_back(bin);
  }
  std::vector<std::uint32_t> program_weights;
  for (const Program& p : kPrograms) program_weights.push_back(p.weight);

  // Credit limit tiers in US dollars: {from, to, step, weight}.
  struct Tier {
    std::int64_t from, to, step;
    std::uint32_t weight;
  };
  const std::vector<Tier> tiers = {{500, 2'000, 100, 12},
                                   {2'000, 8'000, 500, 43},
                                   {8'000, 20'000, 1'000, 35},
                                   {20'000, 50'000, 5'000, 10}};
  std::vector<std::uint32_t> tier_weights;
  for (const Tier& t : tiers) tier_weights.push_back(t.weight);
  const std::vector<std::int64_t> cash_usd = {200, 300, 400, 500, 600, 800, 1'000, 1'500, 2'000};

  std::set<std::string> pans;
  for (std::size_t i = 0; i < options.card_count; ++i) {
    Card c;
    const std::size_t prog = rng.weighted(program_weights);
    do {
      c.pan = make_pan(rng, set.bins[prog], kPrograms[prog].length);
    } while (!pans.insert(c.pan).second);
    c.currency = must_currency(kPrograms[prog].currency);

    const std::uint64_t s = rng.below(1000);
    c.status = s < 955 ? 'A' : s < 970 ? 'L' : s < 985 ? 'S' : 'B';

    // Cards run 3-5 years; the file holds cards issued over the past years,
    // plus a few that have already run out and not been purged.
    if (rng.chance(25, 1000)) {
      c.expiry_month = start_month - rng.between(1, 24);
    } else {
      c.expiry_month = start_month + rng.between(0, 59);
    }
    c.expiry_month = std::clamp<std::int64_t>(c.expiry_month, 2000 * 12, 2099 * 12 + 11);
    c.expiry = yymm(c.expiry_month);

    const Tier& tier = tiers[rng.weighted(tier_weights)];
    const std::int64_t limit_usd =
        tier.from + rng.between(0, (tier.to - tier.from) / tier.step) * tier.step;
    const Currency& cur = kCurrencies[c.currency];
    c.credit_limit = checked_mul(usd_to_major_rounded(c.currency, limit_usd, cur.round_unit),
                                 minor_per_major(c.currency));
    if (rng.chance(6, 100)) {
      c.cash_limit = 0;  // no cash access on this card
    } else {
      const std::int64_t usd = std::min(cash_usd[rng.index(cash_usd.size())], limit_usd);
      c.cash_limit = std::min(
          checked_mul(usd_to_major_rounded(c.currency, usd, cur.note), minor_per_major(c.currency)),
          c.credit_limit);
    }

    if (rng.chance(7, 100)) {
      const std::size_t n = 1 + rng.index(3);
      std::set<std::string> mccs;
      while (mccs.size() < n) mccs.insert(kBlockableMccs[rng.index(kBlockableMccs.size())]);
      c.blocked_mccs.assign(mccs.begin(), mccs.end());
    }
    c.activity = static_cast<std::uint32_t>(1 + rng.low_skewed(0, 9));
    set.cards.push_back(std::move(c));
  }

  // Make sure each kind of special card exists at least once, so that the
  // traffic can show every decline.
  if (set.cards.size() >= 8) {
    std::vector<std::size_t> plain_cards;
    for (std::size_t i = 0; i < set.cards.size(); ++i) {
      if (plain(set.cards[i], start_month)) plain_cards.push_back(i);
    }
    auto take = [&]() -> Card* {
      if (plain_cards.empty()) return nullptr;
      const std::size_t k = rng.index(plain_cards.size());
      Card* c = &set.cards[plain_cards[k]];
      plain_cards.erase(plain_cards.begin() + static_cast<std::ptrdiff_t>(k));
      return c;
    };
    auto any = [&](const std::function<bool(const Card&)>& pred) {
      return std::any_of(set.cards.begin(), set.cards.end(), pred);
    };
    for (const char st : {'L', 'S', 'B'}) {
      if (!any([st](const Card& c) { return c.status == st; })) {
        if (Card* c = take()) c->status = st;
      }
    }
    if (!any([start_month](const Card& c) {
          return c.status == 'A' && c.expiry_month < start_month;
        })) {
      if (Card* c = take()) {
        c->expiry_month = start_month - rng.between(1, 12);
        c->expiry = yymm(c->expiry_month);
      }
    }
    if (!any([start_month](const Card& c) {
          return c.status == 'A' && c.expiry_month >= start_month &&
                 std::find(c.blocked_mccs.begin(), c.blocked_mccs.end(), "7995") !=
                     c.blocked_mccs.end();
        })) {
      if (Card* c = take()) c->blocked_mccs = {"5933", "7995"};
    }
  }
  return set;
}

// ---------------------------------------------------------------------------
// Merchants.

struct Category {
  const char* mcc;
  std::uint32_t weight;   // relative share of ordinary purchases
  std::int64_t lo_cents;  // typical ticket range, US cents
  std::int64_t hi_cents;
  char mti;       // 'A' 0100 authorization, 'F' 0200 financial, 'M' mixed
  bool abroad;    // found in the foreign merchant pools
  char terminal;  // 'P' point of sale, 'W' e-commerce gateway
  std::array<const char*, 4> names;
};

// clang-format off
constexpr std::array<Category, 21> kCategories = {{
    // mcc  weight  ticket range (US cents)  mti  abroad  terminal
    {"5411", 220, 300, 25'000, 'M', false, 'P',
     {"FRESHMART", "GREENLEAF MKT", "VALUE FOODS", "CORNER GROCER"}},
    {"5812", 120, 1'200, 20'000, 'M', true, 'P',
     {"BISTRO LUMIERE", "TRATTORIA ROMA", "GRILL HOUSE", "NOODLE BAR"}},
    {"5814", 120, 300, 3'500, 'F', true, 'P',
     {"BEAN COFFEE", "BURGER SPOT", "BAGEL CORNER", "TACO STAND"}},
    {"5541", 80, 1'500, 12'000, 'A', true, 'P',
     {"FUELSTOP", "PETROWAY", "EXPRESS FUEL", "QUICKGAS"}},
    {"4111", 60, 150, 1'500, 'F', true, 'P',
     {"METRO TRANSIT", "CITY BUS", "RAIL LINK", "HARBOR FERRY"}},
    {"4121", 40, 800, 6'000, 'A', true, 'W',
     {"QUICKRIDE", "CITY CABS", "GOCAB", "YELLOW TAXI"}},
    {"5912", 50, 500, 8'000, 'F', false, 'P',
     {"CARE PHARMACY", "HEALTHPLUS", "MEDIMART", "WELLNESS RX"}},
    {"5311", 50, 1'500, 40'000, 'M', true, 'P',
     {"CITY STORES", "GRAND BAZAAR", "MAIN ST DEPT", "UNION STORES"}},
    {"5651", 50, 2'000, 30'000, 'M', true, 'P',
     {"STYLE CO", "DENIM DEPOT", "URBAN WEAR", "THREADS"}},
    {"5732", 30, 2'000, 250'000, 'M', false, 'P',
     {"TECHWORLD", "GADGET HUB", "PIXEL STORE", "VOLT STORE"}},
    {"5999", 80, 500, 30'000, 'A', true, 'W',
     {"SHOPNOW.COM", "MARKETPLACE", "BUYRIGHT ONLINE", "PARCELPOINT"}},
    {"5815", 30, 99, 2'499, 'A', true, 'W',
     {"STREAMFLIX", "TUNEBOX", "APPWORKS", "EBOOKS.COM"}},
    {"7011", 20, 8'000, 90'000, 'A', true, 'P',
     {"HARBOR HOTEL", "GRAND INN", "CITY SUITES", "SEASIDE RESORT"}},
    {"4511", 10, 9'000, 180'000, 'A', true, 'W',
     {"SKYWAYS AIR", "AIR ATLANTIC", "NORTHWIND AIR", "BLUEJET"}},
    {"5942", 20, 800, 6'000, 'F', false, 'P',
     {"PAGE TURNER", "BOOK NOOK", "READERS HUB", "INKWELL BOOKS"}},
    {"7995", 3, 2'000, 50'000, 'A', false, 'W',
     {"LUCKY 7 CASINO", "BETZONE", "ROYAL FLUSH", "JACKPOT CITY"}},
    {"5933", 2, 2'000, 40'000, 'F', false, 'P',
     {"CITY PAWN", "GOLD & PAWN", "EZ PAWN SHOP", "PAWN EXPRESS"}},
    {"7994", 2, 500, 5'000, 'F', false, 'P',
     {"GAME ZONE", "PIXEL ARCADE", "FUNPLEX", "ARCADIA"}},
    {"5993", 3, 500, 6'000, 'F', false, 'P',
     {"SMOKE SHOP", "CIGAR HOUSE", "VAPE CORNER", "TOBACCONIST"}},
    {"7273", 2, 999, 4'999, 'A', false, 'W',
     {"MATCHMAKERS", "LOVELINK", "HEARTS.COM", "DATEWISE"}},
    {"6051", 2, 2'000, 100'000, 'A', false, 'W',
     {"COINVAULT", "CRYPTOXCHANGE", "BITMARKET", "TOKENPAY"}},
}};
// clang-format on

constexpr std::array<const char*, 4> kAtmNames = {"UNION BANK ATM", "HARBOR BK ATM", "METRO CU ATM",
                                                  "CASHPOINT"};

std::size_t category_of_mcc(std::string_view mcc) {
  for (std::size_t i = 0; i < kCategories.size(); ++i) {
    if (mcc == kCategories[i].mcc) return i;
  }
  return kNone;
}

// Currencies of merchants cardholders meet abroad, with weights.
constexpr std::array<std::pair<const char*, std::uint32_t>, 12> kForeignCurrencies = {{
    {"840", 30},
    {"978", 30},
    {"826", 14},
    {"392", 6},
    {"124", 5},
    {"756", 4},
    {"036", 3},
    {"484", 3},
    {"702", 2},
    {"344", 2},
    {"410", 2},
    {"048", 1},
}};

struct Terminal {
  std::string id;  // 8 printable characters
  std::int64_t stan = 1;
};

struct Merchant {
  std::string name;              // 1..15 printable characters
  std::size_t category = kNone;  // kNone: ATM
  std::size_t currency = 0;
  std::vector<std::size_t> terminals;
};

struct Pool {  // the merchants of one currency (country)
  std::vector<std::vector<std::size_t>> by_category;
  std::vector<std::size_t> atms;
  bool exists = false;
};

// ---------------------------------------------------------------------------
// The transaction being written, and a model of its fate under the rules.

struct Tx {
  std::string mti, pan, proc;
  std::int64_t amount = 0;
  std::string currency;
  bool billing = false;
  std::int64_t billing_amount = 0;
  std::string billing_currency;
  std::string expiry, mcc, stan, terminal, merchant;
  std::optional<std::string> orig_id;
  // The JSON is damaged after it is built (rule 1 of sections 4/5 fires).
  bool format_error = false;
  std::function<void(Json&)> damage;
};

bool is_auth(const Tx& tx) { return tx.mti == "0100" || tx.mti == "0200"; }

struct Record {  // one written transaction
  Tx tx;
  std::string id;
  std::int64_t ts = 0;
  int code = 0;
  std::size_t card = kNone;
  std::int64_t account = 0;  // account amount, when it reached rule 12
  bool approved = false;     // an approved 0100/0200
  bool reversed = false;
  bool cash = false;
};

struct CardState {
  std::int64_t holds = 0;
  std::deque<std::int64_t> approvals;  // ts of approved 0100/0200, last minute
  std::vector<std::size_t> cash;       // records of approved cash, last day
};

struct Decision {
  int code = 0;
  std::size_t card = kNone;
  std::int64_t account = 0;
  bool counts_for_duplicates = false;  // a 0100/0200 that passed rule 1
  std::size_t original = kNone;        // 0400: the record reversed
};

enum Kind : std::size_t {
  kPurchase = 0,
  kCash,
  kReversal,
  // Decline scenarios, each forced near the end if not drawn before.
  kFormat,          // 30 rule 1: wrong type, missing or malformed field
  kBillingMissing,  // 30 rule 7: foreign currency without proper billing fields
  kInvalidTxn,      // 12
  kInvalidAmount,   // 13
  kBadPan,          // 14
  kUnknownCard,     // 56
  kLost,            // 41
  kStolen,          // 43
  kBlockedCard,     // 62
  kExpired,         // 54 card past its expiry
  kWrongExpiry,     // 54 expiry differs from the card file's
  kBlockedMcc,      // 57
  kDuplicate,       // 94
  kBurst,           // 65
  kOverLimit,       // 51
  kOverCash,        // 61
  kRevUnknown,      // 25
  kRevDeclined,     // 25
  kRevTwice,        // 25
  kRevWrongPan,     // 25
  kRevFormat,       // 30 (0400)
  kRevBadPan,       // 14 (0400)
  kKindCount,
};

// Relative weights of the scenarios, per slot (about per ten thousand).
constexpr std::array<std::uint32_t, kKindCount> kKindWeights = {
    8'880,  // kPurchase
    450,    // kCash
    220,    // kReversal
    40,     // kFormat
    12,     // kBillingMissing
    15,     // kInvalidTxn
    15,     // kInvalidAmount
    18,     // kBadPan
    15,     // kUnknownCard
    8,      // kLost
    8,      // kStolen
    8,      // kBlockedCard
    12,     // kExpired
    8,      // kWrongExpiry
    12,     // kBlockedMcc
    12,     // kDuplicate
    3,      // kBurst (11 to 15 transactions each)
    15,     // kOverLimit
    12,     // kOverCash
    6,      // kRevUnknown
    5,      // kRevDeclined
    6,      // kRevTwice
    2,      // kRevWrongPan
    3,      // kRevFormat
    2,      // kRevBadPan
};

constexpr std::size_t kBurstMax = 15;

class TrafficGenerator {
 public:
  TrafficGenerator(const Options& options, CardSet cards)
      : options_(options),
        rng_(options.seed, kTrafficStream),
        cards_(std::move(cards.cards)),
        bins_(std::move(cards.bins)),
        now_(options.start_ts_ms),
        start_month_(month_index_of(options.start_ts_ms)) {
    for (std::size_t i = 0; i < cards_.size(); ++i) {
      card_by_pan_.emplace(cards_[i].pan, i);
      const Card& c = cards_[i];
      if (c.status == 'A' && c.expiry_month >= start_month_) {
        usable_.push_back(i);
        usable_weights_.push_back(c.activity);
      }
    }
    states_.resize(cards_.size());
    make_merchants();
  }

  std::vector<std::string> run() {
    std::vector<std::string> out;
    out.reserve(options_.transaction_count);
    out_ = &out;
    std::vector<std::uint32_t> weights(kKindWeights.begin(), kKindWeights.end());
    std::array<bool, kKindCount> drawn{};
    while (out.size() < options_.transaction_count) {
      const std::size_t remaining = options_.transaction_count - out.size();
      // Room still needed by the decline scenarios not drawn yet.
      std::size_t owed = 0;
      std::size_t first_owed = kNone;
      for (std::size_t k = kFormat; k < kKindCount; ++k) {
        if (drawn[k]) continue;
        owed += k == kBurst ? kBurstMax : 2;
        if (first_owed == kNone) first_owed = k;
      }
      std::size_t kind = 0;
      if (first_owed != kNone && remaining <= owed && remaining >= 2) {
        kind = first_owed;
      } else {
        kind = rng_.weighted(weights);
      }
      const bool forced = kind == first_owed && remaining <= owed;
      const bool done = !usable_.empty() && run_scenario(static_cast<Kind>(kind));
      if (done || forced) drawn[kind] = true;
      if (!done) unknown_card();
    }
    out_ = nullptr;
    return out;
  }

 private:
  // ---- merchants ----

  std::string terminal_id(char kind) {
    std::string id;
    do {
      switch (kind) {
        case 'A':
          id = "ATM" + rng_.digits(5);
          break;
        case 'W':
          id = "EC" + rng_.digits(6);
          break;
        default:
          id = rng_.digits(8);
          break;
      }
    } while (!terminal_ids_.insert(id).second);
    return id;
  }

  std::size_t add_terminal(char kind) {
    Terminal t;
    t.id = terminal_id(kind);
    t.stan = rng_.between(1, 900'000);
    terminals_.push_back(std::move(t));
    return terminals_.size() - 1;
  }

  static std::string store_name(const std::string& base, std::int64_t number) {
    // A store number when the name leaves room for one; at most 15 chars.
    if (base.size() <= 10) return base + " " + std::to_string(1000 + number % 9000);
    if (base.size() <= 12) return base + " " + two_digits(number % 100);
    return base;
  }

  void add_merchant(std::size_t cur, std::size_t cat) {
    Merchant m;
    m.currency = cur;
    m.category = cat;
    if (cat == kNone) {
      const auto& base = kAtmNames[rng_.index(kAtmNames.size())];
      m.name = store_name(base, rng_.between(0, 9'999));
      m.terminals.push_back(add_terminal('A'));
    } else {
      const Category& c = kCategories[cat];
      const auto& base = c.names[rng_.index(c.names.size())];
      m.name = store_name(base, rng_.between(0, 9'999));
      const std::size_t n = c.terminal == 'W' ? 1 : 1 + rng_.index(3);
      for (std::size_t i = 0; i < n; ++i) m.terminals.push_back(add_terminal(c.terminal));
    }
    assert(!m.name.empty() && m.name.size() <= 15);
    merchants_.push_back(std::move(m));
    Pool& pool = pools_[cur];
    if (cat == kNone) {
      pool.atms.push_back(merchants_.size() - 1);
    } else {
      pool.by_category[cat].push_back(merchants_.size() - 1);
    }
  }

  void make_merchants() {
    pools_.resize(kCurrencies.size());
    for (Pool& p : pools_) p.by_category.resize(kCategories.size());
    std::vector<std::size_t> cards_per_currency(kCurrencies.size(), 0);
    for (const Card& c : cards_) ++cards_per_currency[c.currency];
    std::vector<bool> foreign(kCurrencies.size(), false);
    for (const auto& [code, w] : kForeignCurrencies) foreign[must_currency(code)] = true;
    foreign[must_currency("840")] = true;  // unknown cards shop here when no card exists

    std::vector<std::uint32_t> home_weights;
    std::vector<std::uint32_t> abroad_weights;
    for (const Category& c : kCategories) {
      home_weights.push_back(c.weight);
      abroad_weights.push_back(c.abroad ? c.weight : 0);
    }
    for (std::size_t cur = 0; cur < kCurrencies.size(); ++cur) {
      Pool& pool = pools_[cur];
      const std::size_t n_cards = cards_per_currency[cur];
      if (n_cards > 0) {  // a home market: every kind of merchant
        pool.exists = true;
        for (std::size_t cat = 0; cat < kCategories.size(); ++cat) add_merchant(cur, cat);
        const std::size_t extra = 10 + n_cards / 4;
        for (std::size_t i = 0; i < extra; ++i) add_merchant(cur, rng_.weighted(home_weights));
        for (std::size_t i = 0; i < 2 + n_cards / 40; ++i) add_merchant(cur, kNone);
      } else if (foreign[cur]) {  // only visited by travellers and online
        pool.exists = true;
        for (std::size_t cat = 0; cat < kCategories.size(); ++cat) {
          if (kCategories[cat].abroad) add_merchant(cur, cat);
        }
        for (std::size_t i = 0; i < 6; ++i) add_merchant(cur, rng_.weighted(abroad_weights));
        for (std::size_t i = 0; i < 2; ++i) add_merchant(cur, kNone);
      }
    }
  }

  // A merchant of currency `cur` whose category is drawn from the pool's
  // categories with `abroad_only` deciding the weights.
  std::size_t pick_merchant(std::size_t cur, bool abroad_only) {
    const Pool& pool = pools_[cur];
    assert(pool.exists);
    std::vector<std::uint32_t> w;
    for (std::size_t cat = 0; cat < kCategories.size(); ++cat) {
      const bool ok = !pool.by_category[cat].empty() && (!abroad_only || kCategories[cat].abroad);
      w.push_back(ok ? kCategories[cat].weight : 0);
    }
    const std::size_t cat = rng_.weighted(w);
    return pool.by_category[cat][rng_.index(pool.by_category[cat].size())];
  }

  std::size_t pick_merchant_of(std::size_t cur, std::size_t cat) {
    const auto& list = pools_[cur].by_category[cat];
    if (list.empty()) return kNone;
    return list[rng_.index(list.size())];
  }

  std::size_t pick_foreign_currency(std::size_t home) {
    std::vector<std::uint32_t> w;
    std::vector<std::size_t> idx;
    for (const auto& [code, weight] : kForeignCurrencies) {
      const std::size_t c = must_currency(code);
      if (c == home) continue;
      idx.push_back(c);
      w.push_back(weight);
    }
    return idx[rng_.weighted(w)];
  }

  std::string next_stan(std::size_t terminal) {
    Terminal& t = terminals_[terminal];
    const std::int64_t v = t.stan;
    t.stan = v >= 999'999 ? 1 : v + 1;
    std::string s = std::to_string(v);
    return std::string(6 - s.size(), '0') + s;
  }

  // ---- cards ----

  std::size_t pick_usable_card() { return usable_[rng_.weighted(usable_weights_)]; }

  std::size_t pick_card_where(const std::function<bool(const Card&)>& pred) {
    std::vector<std::size_t> match;
    for (std::size_t i = 0; i < cards_.size(); ++i) {
      if (pred(cards_[i])) match.push_back(i);
    }
    if (match.empty()) return kNone;
    return match[rng_.index(match.size())];
  }

  std::int64_t available(std::size_t card) const {
    return cards_[card].credit_limit - states_[card].holds;
  }

  std::int64_t cash_used(std::size_t card, std::int64_t t) const {
    std::int64_t sum = 0;
    for (const std::size_t r : states_[card].cash) {
      const Record& rec = records_[r];
      if (!rec.reversed && rec.ts > t - kDayMs) sum += rec.account;
    }
    return sum;
  }

  std::string unknown_pan() {
    for (;;) {
      std::string pan;
      if (!bins_.empty() && rng_.chance(1, 2)) {  // never issued, in one of our BINs
        pan = make_pan(rng_, bins_[rng_.index(bins_.size())], 16);
      } else {  // another issuer's card
        pan = make_pan(rng_, make_bin(rng_, rng_.chance(1, 2) ? 'V' : 'M'), 16);
      }
      if (card_by_pan_.find(pan) == card_by_pan_.end()) return pan;
    }
  }

  // ---- building transactions ----

  // A 0100/0200 of `card` (may be kNone: then pan/expiry are left to the
  // caller) at merchant `m` for `amount` minor units of the merchant's
  // currency, with billing fields when the currencies differ.
  Tx purchase(std::size_t card, std::size_t m, std::int64_t amount) {
    const Merchant& mer = merchants_[m];
    Tx tx;
    if (mer.category == kNone) {
      tx.mti = "0200";
      tx.proc = rng_.chance(4, 5) ? "010000" : "013000";
      tx.mcc = "6011";
    } else {
      const Category& cat = kCategories[mer.category];
      const char style = cat.mti == 'M' ? (rng_.chance(2, 5) ? 'A' : 'F') : cat.mti;
      tx.mti = style == 'A' ? "0100" : "0200";
      const std::uint64_t p = rng_.below(100);
      tx.proc = p < 85 ? "000000" : p < 97 ? "003000" : "002000";
      tx.mcc = cat.mcc;
    }
    tx.amount = amount;
    tx.currency = kCurrencies[mer.currency].code;
    if (card != kNone) {
      const Card& c = cards_[card];
      tx.pan = c.pan;
      tx.expiry = c.expiry;
      if (c.currency != mer.currency) {
        tx.billing = true;
        tx.billing_amount = convert(amount, mer.currency, c.currency, rng_.between(100, 300));
        tx.billing_currency = kCurrencies[c.currency].code;
      }
    }
    const std::size_t term = mer.terminals[rng_.index(mer.terminals.size())];
    tx.terminal = terminals_[term].id;
    tx.stan = next_stan(term);
    tx.merchant = mer.name;
    return tx;
  }

  std::int64_t ticket(std::size_t m) {
    const Merchant& mer = merchants_[m];
    const Category& cat = kCategories[mer.category];
    // Most tickets are near the low end of the range (minimum of three draws).
    const std::int64_t skewed = rng_.low_skewed(cat.lo_cents, cat.hi_cents);
    const std::int64_t cents = std::min(skewed, rng_.between(cat.lo_cents, cat.hi_cents));
    return usd_cents_to_minor(mer.currency, cents);
  }

  // Cash in whole notes of the ATM's currency, about 20..300 US dollars.
  std::int64_t cash_ticket(std::size_t m) {
    const std::size_t cur = merchants_[m].currency;
    const std::int64_t usd = rng_.low_skewed(1, 15) * 20;
    return checked_mul(usd_to_major_rounded(cur, usd, kCurrencies[cur].note), minor_per_major(cur));
  }

  // An ordinary purchase by `card` at home (mostly) or abroad.
  Tx ordinary_purchase(std::size_t card) {
    const std::size_t home = cards_[card].currency;
    const bool abroad = rng_.chance(8, 100);
    const std::size_t m =
        abroad ? pick_merchant(pick_foreign_currency(home), true) : pick_merchant(home, false);
    return purchase(card, m, ticket(m));
  }

  // A reversal of record `r` (its PAN, terminal and amounts), new STAN.
  Tx reversal_of(std::size_t r) {
    const Tx& orig = records_[r].tx;
    Tx tx;
    tx.mti = "0400";
    tx.pan = orig.pan;
    tx.proc = orig.proc;
    tx.amount = orig.amount;
    tx.currency = orig.currency;
    tx.terminal = orig.terminal;
    tx.stan = stan_for_terminal(orig.terminal);
    tx.merchant = orig.merchant;
    tx.orig_id = records_[r].id;
    return tx;
  }

  std::string stan_for_terminal(const std::string& id) {
    for (std::size_t i = 0; i < terminals_.size(); ++i) {
      if (terminals_[i].id == id) return next_stan(i);
    }
    return rng_.digits(6);
  }

  static Json to_json(const Tx& tx, const std::string& id, std::int64_t ts) {
    Json j;
    j["id"] = id;
    j["mti"] = tx.mti;
    j["pan"] = tx.pan;
    j["proc"] = tx.proc;
    j["amount"] = tx.amount;
    j["currency"] = tx.currency;
    if (tx.billing) {
      j["billing_amount"] = tx.billing_amount;
      j["billing_currency"] = tx.billing_currency;
    }
    if (tx.mti != "0400") {
      j["expiry"] = tx.expiry;
      j["mcc"] = tx.mcc;
    }
    j["stan"] = tx.stan;
    j["terminal"] = tx.terminal;
    j["merchant"] = tx.merchant;
    if (tx.orig_id) j["orig_id"] = *tx.orig_id;
    j["ts"] = ts;
    if (tx.damage) tx.damage(j);
    return j;
  }

  // ---- the model of rules.md sections 4 and 5 ----

  Decision decide(const Tx& tx, std::int64_t t) const {
    Decision d;
    if (tx.format_error) {
      d.code = 30;
      return d;
    }
    const bool valid_pan = tx.pan.size() >= 12 && tx.pan.size() <= 19 && luhn_valid(tx.pan);
    if (tx.mti == "0400") {
      if (!valid_pan) {
        d.code = 14;
        return d;
      }
      const auto it = tx.orig_id ? record_by_id_.find(*tx.orig_id) : record_by_id_.end();
      if (it == record_by_id_.end() || !records_[it->second].approved ||
          records_[it->second].tx.pan != tx.pan || records_[it->second].reversed) {
        d.code = 25;
        return d;
      }
      d.original = it->second;
      d.code = 0;
      return d;
    }
    if (!is_auth(tx)) {
      d.code = 12;
      return d;
    }
    d.counts_for_duplicates = true;
    if (tx.proc.rfind("00", 0) != 0 && tx.proc.rfind("01", 0) != 0) {
      d.code = 12;
      return d;
    }
    if (!valid_pan) {
      d.code = 14;
      return d;
    }
    const auto cit = card_by_pan_.find(tx.pan);
    if (cit == card_by_pan_.end()) {
      d.code = 56;
      return d;
    }
    const std::size_t ci = cit->second;
    const Card& card = cards_[ci];
    d.card = ci;
    if (card.status != 'A') {
      d.code = card.status == 'L' ? 41 : card.status == 'S' ? 43 : 62;
      return d;
    }
    if (tx.expiry != card.expiry || card.expiry_month < month_index_of(t)) {
      d.code = 54;
      return d;
    }
    const std::size_t cur = currency_index(tx.currency);
    assert(cur != kNone);
    if (cur != card.currency) {
      if (!tx.billing || tx.billing_currency != kCurrencies[card.currency].code) {
        d.code = 30;
        return d;
      }
      d.account = tx.billing_amount;
    } else {
      d.account = tx.amount;
    }
    if (tx.amount == 0 || tx.amount > max_amount(cur)) {
      d.code = 13;
      return d;
    }
    if (std::find(card.blocked_mccs.begin(), card.blocked_mccs.end(), tx.mcc) !=
        card.blocked_mccs.end()) {
      d.code = 57;
      return d;
    }
    const auto dup = last_seen_.find(tx.terminal + "|" + tx.stan);
    if (dup != last_seen_.end() && dup->second > t - kDayMs) {
      d.code = 94;
      return d;
    }
    const CardState& st = states_[ci];
    const auto in_last_minute = std::count_if(st.approvals.begin(), st.approvals.end(),
                                              [t](std::int64_t a) { return a > t - kMinuteMs; });
    if (in_last_minute >= 10) {
      d.code = 65;
      return d;
    }
    if (tx.proc.rfind("01", 0) == 0 && d.account + cash_used(ci, t) > card.cash_limit) {
      d.code = 61;
      return d;
    }
    if (d.account > card.credit_limit - st.holds) {
      d.code = 51;
      return d;
    }
    d.code = 0;
    return d;
  }

  // Writes `tx` `gap` ms after the previous one and follows its effect.
  // Returns the record index.
  std::size_t emit(Tx tx, std::int64_t gap) {
    assert(out_ != nullptr && out_->size() < options_.transaction_count);
    now_ += gap;
    std::string id = std::to_string(out_->size() + 1);
    if (id.size() < 6) id.insert(0, 6 - id.size(), '0');
    id.insert(0, "tx-");
    out_->push_back(to_json(tx, id, now_).dump());

    const Decision d = decide(tx, now_);
    Record rec;
    rec.id = id;
    rec.ts = now_;
    rec.code = d.code;
    rec.card = d.card;
    rec.account = d.account;
    rec.cash = is_auth(tx) && tx.proc.rfind("01", 0) == 0;
    const std::size_t r = records_.size();
    if (d.counts_for_duplicates) last_seen_[tx.terminal + "|" + tx.stan] = now_;
    if (d.original != kNone) {
      Record& orig = records_[d.original];
      orig.reversed = true;
      states_[orig.card].holds -= orig.account;
      reversed_.push_back(d.original);
    }
    if (d.card != kNone) {
      CardState& st = states_[d.card];
      while (!st.approvals.empty() && st.approvals.front() <= now_ - kMinuteMs) {
        st.approvals.pop_front();
      }
      std::erase_if(st.cash, [&](std::size_t c) {
        return records_[c].reversed || records_[c].ts <= now_ - kDayMs;
      });
      if (d.code == 0) {
        rec.approved = true;
        st.holds += d.account;
        st.approvals.push_back(now_);
        if (rec.cash) st.cash.push_back(r);
        approved_.push_back(r);
      } else {
        declined_.push_back(r);
      }
      if (d.code == 0 || d.code == 51 || d.code == 61 || d.code == 65) {
        retransmittable_.push_back(r);
      }
    }
    rec.tx = std::move(tx);
    record_by_id_.emplace(id, r);
    records_.push_back(std::move(rec));
    return r;
  }

  std::int64_t gap() { return rng_.low_skewed(0, 3'000); }  // mean about 1 s
  bool room(std::size_t n) const { return options_.transaction_count - out_->size() >= n; }

  // A recent entry of `list` satisfying `pred`, or kNone.
  std::size_t recent(const std::vector<std::size_t>& list, std::size_t window,
                     const std::function<bool(const Record&)>& pred) {
    if (list.empty()) return kNone;
    const std::size_t from = list.size() > window ? list.size() - window : 0;
    for (int attempt = 0; attempt < 12; ++attempt) {
      const std::size_t r = list[from + rng_.index(list.size() - from)];
      if (pred(records_[r])) return r;
    }
    for (std::size_t i = list.size(); i > from; --i) {
      if (pred(records_[list[i - 1]])) return list[i - 1];
    }
    return kNone;
  }

  // ---- scenarios ----

  void unknown_card() {
    std::size_t cur = must_currency("840");
    if (!cards_.empty()) cur = cards_[rng_.index(cards_.size())].currency;
    const std::size_t m = pick_merchant(cur, false);
    Tx tx = purchase(kNone, m, ticket(m));
    tx.pan = unknown_pan();
    tx.expiry = yymm(start_month_ + rng_.between(1, 48));
    emit(std::move(tx), gap());
  }

  // Returns false when the scenario's preconditions are not met (the caller
  // then writes an unknown-card purchase instead).
  bool run_scenario(Kind kind) {
    switch (kind) {
      case kPurchase:
        emit(ordinary_purchase(pick_usable_card()), gap());
        return true;
      case kCash:
        return cash_withdrawal();
      case kReversal:
        return reversal();
      case kFormat:
        return format_error();
      case kBillingMissing:
        return billing_missing();
      case kInvalidTxn:
        return invalid_transaction();
      case kInvalidAmount:
        return invalid_amount();
      case kBadPan:
        return bad_pan();
      case kUnknownCard:
        unknown_card();
        return true;
      case kLost:
        return status_card('L');
      case kStolen:
        return status_card('S');
      case kBlockedCard:
        return status_card('B');
      case kExpired:
        return expired_card();
      case kWrongExpiry:
        return wrong_expiry();
      case kBlockedMcc:
        return blocked_mcc();
      case kDuplicate:
        return duplicate();
      case kBurst:
        return burst();
      case kOverLimit:
        return over_limit();
      case kOverCash:
        return over_cash();
      case kRevUnknown:
        return reversal_unknown();
      case kRevDeclined:
        return reversal_declined();
      case kRevTwice:
        return reversal_twice();
      case kRevWrongPan:
        return reversal_wrong_pan();
      case kRevFormat:
        return reversal_format();
      case kRevBadPan:
        return reversal_bad_pan();
      case kKindCount:
        break;
    }
    return false;
  }

  bool cash_withdrawal() {
    const std::size_t card = pick_usable_card();
    const std::size_t home = cards_[card].currency;
    const std::size_t cur = rng_.chance(8, 100) ? pick_foreign_currency(home) : home;
    const auto& atms = pools_[cur].atms;
    if (atms.empty()) return false;
    const std::size_t m = atms[rng_.index(atms.size())];
    emit(purchase(card, m, cash_ticket(m)), gap());
    return true;
  }

  bool reversal() {
    // A cancellation or a timeout reversal, shortly after the original.
    const std::size_t r = recent(approved_, 60, [](const Record& rec) { return !rec.reversed; });
    if (r == kNone) return false;
    emit(reversal_of(r), gap());
    return true;
  }

  bool format_error() {
    const std::size_t card = pick_usable_card();
    Tx tx = ordinary_purchase(card);
    tx.format_error = true;
    switch (rng_.below(12)) {
      case 0:
      case 1: {  // a decimal string where minor units are due
        const std::int64_t a = tx.amount;
        const std::string text = std::to_string(a / 100) + "." + two_digits(a % 100);
        tx.damage = [text](Json& j) { j["amount"] = text; };
        break;
      }
      case 2:  // a fraction
        tx.damage = [](Json& j) {
          j["amount"] = static_cast<double>(j["amount"].get<std::int64_t>()) + 0.5;
        };
        break;
      case 3:
        tx.damage = [](Json& j) { j.erase("mcc"); };
        break;
      case 4:
        tx.damage = [](Json& j) { j.erase("expiry"); };
        break;
      case 5:  // month 13
        tx.damage = [](Json& j) {
          j["expiry"] = j["expiry"].get<std::string>().substr(0, 2) + "13";
        };
        break;
      case 6:  // five-digit STAN
        tx.damage = [](Json& j) { j["stan"] = j["stan"].get<std::string>().substr(1); };
        break;
      case 7:  // merchant name too long
        tx.damage = [](Json& j) { j["merchant"] = "INTERNATIONAL TRADING CO"; };
        break;
      case 8:  // currency not in the table
        tx.damage = [](Json& j) { j["currency"] = "999"; };
        break;
      case 9:  // negative amount
        tx.damage = [](Json& j) { j["amount"] = -j["amount"].get<std::int64_t>(); };
        break;
      case 10:  // PAN keyed with spaces
        tx.damage = [](Json& j) {
          const std::string pan = j["pan"].get<std::string>();
          std::string spaced;
          for (std::size_t i = 0; i < pan.size(); ++i) {
            if (i > 0 && i % 4 == 0) spaced.push_back(' ');
            spaced.push_back(pan[i]);
          }
          j["pan"] = spaced;
        };
        break;
      default:  // currency as a number
        tx.damage = [](Json& j) { j["currency"] = std::stoi(j["currency"].get<std::string>()); };
        break;
    }
    emit(std::move(tx), gap());
    return true;
  }

  bool billing_missing() {
    const std::size_t card = pick_usable_card();
    const std::size_t home = cards_[card].currency;
    const std::size_t m = pick_merchant(pick_foreign_currency(home), true);
    Tx tx = purchase(card, m, ticket(m));
    if (rng_.chance(2, 3)) {
      tx.billing = false;  // an acquirer that does not send DE6/DE51
    } else {               // billed in a currency that is not the account's
      tx.billing_currency = tx.billing_currency == "840" ? "978" : "840";
    }
    emit(std::move(tx), gap());
    return true;
  }

  bool invalid_transaction() {
    const std::size_t card = pick_usable_card();
    const std::size_t m = pick_merchant(cards_[card].currency, false);
    Tx tx = purchase(card, m, ticket(m));
    switch (rng_.below(4)) {
      case 0:  // refund
        tx.mti = "0200";
        tx.proc = "200000";
        break;
      case 1:  // balance inquiry
        tx.mti = "0100";
        tx.proc = "310000";
        tx.amount = 0;
        break;
      case 2:  // authorization advice
        tx.mti = "0120";
        break;
      default:  // financial advice
        tx.mti = "0220";
        break;
    }
    emit(std::move(tx), gap());
    return true;
  }

  bool invalid_amount() {
    const std::size_t card = pick_usable_card();
    const std::size_t cur = cards_[card].currency;
    const std::size_t m = pick_merchant(cur, false);
    Tx tx = purchase(card, m, 0);
    if (rng_.chance(7, 10)) {  // account verification with a zero amount
      tx.mti = "0100";
    } else {  // a fat-fingered amount above the single-transaction maximum
      tx.amount = max_amount(cur) + rng_.between(1, max_amount(cur));
    }
    emit(std::move(tx), gap());
    return true;
  }

  std::string mistype(const std::string& pan) {
    std::string bad = pan;
    if (rng_.chance(1, 10)) return bad.substr(0, 11);  // too short
    const std::size_t pos = rng_.index(bad.size());
    const char old = bad[pos];
    char now = old;
    while (now == old) now = rng_.digit();
    bad[pos] = now;  // one wrong digit: the Luhn check catches it
    assert(!luhn_valid(bad));
    return bad;
  }

  bool bad_pan() {
    Tx tx = ordinary_purchase(pick_usable_card());
    tx.pan = mistype(tx.pan);
    emit(std::move(tx), gap());
    return true;
  }

  bool status_card(char status) {
    const std::size_t card =
        pick_card_where([status](const Card& c) { return c.status == status; });
    if (card == kNone) return false;
    emit(ordinary_purchase(card), gap());
    return true;
  }

  bool expired_card() {
    const std::int64_t month = month_index_of(now_);
    const std::size_t card = pick_card_where(
        [month](const Card& c) { return c.status == 'A' && c.expiry_month < month; });
    if (card == kNone) return false;
    emit(ordinary_purchase(card), gap());
    return true;
  }

  bool wrong_expiry() {
    Tx tx = ordinary_purchase(pick_usable_card());
    // The expiry of the card this one replaced (or a mistyped year).
    const std::int64_t month = cards_[card_by_pan_.at(tx.pan)].expiry_month;
    tx.expiry = yymm(month + (rng_.chance(3, 4) ? -36 : 12));
    if (tx.expiry == cards_[card_by_pan_.at(tx.pan)].expiry) return false;
    emit(std::move(tx), gap());
    return true;
  }

  bool blocked_mcc() {
    const std::int64_t month = month_index_of(now_);
    const std::size_t card = pick_card_where([month](const Card& c) {
      return c.status == 'A' && c.expiry_month >= month && !c.blocked_mccs.empty();
    });
    if (card == kNone) return false;
    const Card& c = cards_[card];
    const std::size_t cat = category_of_mcc(c.blocked_mccs[rng_.index(c.blocked_mccs.size())]);
    const std::size_t m = pick_merchant_of(c.currency, cat);
    if (m == kNone) return false;
    emit(purchase(card, m, ticket(m)), gap());
    return true;
  }

  bool duplicate() {
    // A terminal that got no answer in time and sends the same request again
    // under a new id: same terminal, same STAN.
    const std::int64_t t = now_;
    const std::size_t r = recent(
        retransmittable_, 200, [t](const Record& rec) { return rec.ts > t - kDayMs + kMinuteMs; });
    if (r == kNone) return false;
    emit(records_[r].tx, gap());
    return true;
  }

  bool burst() {
    // Card testing: a bot tries a stolen card number with a string of small
    // online purchases a second or two apart.
    const std::size_t n = 11 + rng_.index(kBurstMax - 10);
    std::size_t card = kNone;
    for (int attempt = 0; attempt < 20 && card == kNone; ++attempt) {
      const std::size_t c = pick_usable_card();
      const std::int64_t need =
          checked_mul(static_cast<std::int64_t>(n), usd_cents_to_minor(cards_[c].currency, 900));
      if (available(c) > need) card = c;
    }
    if (card == kNone) return false;
    const std::size_t cur = cards_[card].currency;
    std::size_t m = pick_merchant_of(cur, category_of_mcc("5815"));
    if (m == kNone) m = pick_merchant(cur, false);
    for (std::size_t i = 0; i < n && room(1); ++i) {
      Tx tx = purchase(card, m, usd_cents_to_minor(cur, rng_.between(100, 900)));
      tx.mti = "0100";
      tx.proc = "000000";
      emit(std::move(tx), i == 0 ? gap() : rng_.between(300, 2'500));
    }
    return true;
  }

  bool over_limit() {
    // A big-ticket purchase that the remaining credit does not cover.
    for (int attempt = 0; attempt < 10; ++attempt) {
      const std::size_t card = pick_usable_card();
      const std::size_t cur = cards_[card].currency;
      const std::size_t cat = category_of_mcc(rng_.chance(1, 2) ? "5732" : "7011");
      if (std::find(cards_[card].blocked_mccs.begin(), cards_[card].blocked_mccs.end(),
                    kCategories[cat].mcc) != cards_[card].blocked_mccs.end()) {
        continue;
      }
      const std::size_t m = pick_merchant_of(cur, cat);
      if (m == kNone) continue;
      const std::int64_t avail = std::max<std::int64_t>(available(card), 0);
      const std::int64_t extra = rng_.between(1, std::max<std::int64_t>(avail / 4, 1));
      const std::int64_t amount = avail + extra;
      if (amount > max_amount(cur)) continue;
      Tx tx = purchase(card, m, amount);
      if (decide(tx, now_).code != 51) continue;
      emit(std::move(tx), gap());
      return true;
    }
    return false;
  }

  bool over_cash() {
    // An ATM withdrawal beyond what is left of the daily cash limit.
    for (int attempt = 0; attempt < 10; ++attempt) {
      const std::size_t card = pick_usable_card();
      const std::size_t cur = cards_[card].currency;
      const auto& atms = pools_[cur].atms;
      if (atms.empty()) continue;
      const std::size_t m = atms[rng_.index(atms.size())];
      const std::int64_t note = checked_mul(kCurrencies[cur].note, minor_per_major(cur));
      const std::int64_t left =
          std::max<std::int64_t>(cards_[card].cash_limit - cash_used(card, now_), 0);
      const std::int64_t amount = (left / note + 1 + rng_.between(0, 4)) * note;
      if (amount > max_amount(cur)) continue;
      Tx tx = purchase(card, m, amount);
      if (decide(tx, now_).code != 61) continue;
      emit(std::move(tx), gap());
      return true;
    }
    return false;
  }

  bool reversal_unknown() {
    // A reversal for a request that never reached the switch.
    const std::size_t card = pick_usable_card();
    const std::size_t m = pick_merchant(cards_[card].currency, false);
    Tx tx = purchase(card, m, ticket(m));
    tx.mti = "0400";
    static constexpr char kHex[] = "0123456789abcdef";
    std::string ref = "ext-";
    for (int i = 0; i < 8; ++i) ref.push_back(kHex[rng_.below(16)]);
    tx.orig_id = ref;
    emit(std::move(tx), gap());
    return true;
  }

  bool reversal_declined() {
    const std::size_t r = recent(declined_, 100, [](const Record& rec) {
      return is_auth(rec.tx) && !rec.approved && rec.code != 30;
    });
    if (r == kNone) return false;
    emit(reversal_of(r), gap());
    return true;
  }

  bool reversal_twice() {
    // The terminal repeats a reversal the switch already honoured.
    std::size_t r = recent(reversed_, 50, [](const Record&) { return true; });
    if (r == kNone || rng_.chance(1, 3)) {
      const std::size_t fresh =
          recent(approved_, 60, [](const Record& rec) { return !rec.reversed; });
      if (fresh != kNone && room(2)) {
        emit(reversal_of(fresh), gap());
        r = fresh;
      }
    }
    if (r == kNone) return false;
    emit(reversal_of(r), gap());
    return true;
  }

  bool reversal_wrong_pan() {
    const std::size_t r = recent(approved_, 200, [](const Record& rec) { return !rec.reversed; });
    if (r == kNone) return false;
    Tx tx = reversal_of(r);
    const std::string other = cards_[pick_usable_card()].pan;
    if (other == tx.pan) return false;
    tx.pan = other;
    emit(std::move(tx), gap());
    return true;
  }

  bool reversal_format() {
    const std::size_t r = recent(approved_, 200, [](const Record& rec) { return !rec.reversed; });
    if (r == kNone) return false;
    Tx tx = reversal_of(r);
    tx.format_error = true;
    if (rng_.chance(1, 2)) {
      tx.damage = [](Json& j) { j.erase("orig_id"); };
    } else {  // a space is not allowed in an id
      tx.damage = [](Json& j) {
        std::string o = j["orig_id"].get<std::string>();
        o[2] = ' ';
        j["orig_id"] = o;
      };
    }
    emit(std::move(tx), gap());
    return true;
  }

  bool reversal_bad_pan() {
    const std::size_t r = recent(approved_, 200, [](const Record& rec) { return !rec.reversed; });
    if (r == kNone) return false;
    Tx tx = reversal_of(r);
    tx.pan = mistype(tx.pan);
    emit(std::move(tx), gap());
    return true;
  }

  const Options& options_;
  Rng rng_;
  std::vector<Card> cards_;
  std::vector<std::string> bins_;
  std::map<std::string, std::size_t> card_by_pan_;
  std::vector<std::size_t> usable_;  // active, not expired at the start
  std::vector<std::uint32_t> usable_weights_;

  std::vector<Merchant> merchants_;
  std::vector<Terminal> terminals_;
  std::set<std::string> terminal_ids_;
  std::vector<Pool> pools_;  // by currency index

  std::int64_t now_;
  std::int64_t start_month_;
  std::vector<std::string>* out_ = nullptr;
  std::vector<Record> records_;
  std::map<std::string, std::size_t> record_by_id_;
  std::vector<CardState> states_;
  std::map<std::string, std::int64_t> last_seen_;  // terminal|stan -> ts
  std::vector<std::size_t> approved_;
  std::vector<std::size_t> declined_;
  std::vector<std::size_t> reversed_;
  std::vector<std::size_t> retransmittable_;
};

}  // namespace

std::string generate_card_file(const Options& options) {
  const CardSet set = make_cards(options);
  std::string text = "pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs\n";
  for (const Card& c : set.cards) {
    text += c.pan;
    text += ',';
    text += c.expiry;
    text += ',';
    text += c.status;
    text += ',';
    text += kCurrencies[c.currency].code;
    text += ',';
    text += std::to_string(c.credit_limit);
    text += ',';
    text += std::to_string(c.cash_limit);
    text += ',';
    for (std::size_t i = 0; i < c.blocked_mccs.size(); ++i) {
      if (i > 0) text += ';';
      text += c.blocked_mccs[i];
    }
    text += '\n';
  }
  return text;
}

std::vector<std::string> generate_traffic(const Options& options) {
  TrafficGenerator generator(options, make_cards(options));
  return generator.run();
}

std::string with_seq(const std::string& line, std::uint64_t seq) {
  TRIAD_ASSERT(!line.empty() && line.front() == '{');
  return "{\"seq\":" + std::to_string(seq) + (line.size() > 2 ? "," : "") + line.substr(1);
}

}  // namespace triad::sample
