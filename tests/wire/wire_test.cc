// Tests of the wire codec (src/wire/codec.h) and of offline certificate
// verification through the public API (include/triad/certificate.h).
//
//  - transactions survive build_transaction/read_transaction field for field,
//    absent vs present vs malformed kept apart;
//  - the canonical transaction digest tells every single-field change apart,
//    and matches a reference encoding written from its documented layout;
//  - the verdict signing bytes cover every content field, the replica index
//    and the fingerprint;
//  - every verify_* entry point refuses oversize, short, random, truncated and
//    mutated buffers without crashing, and accepts valid ones;
//  - read_verdict refuses wrong lengths, unknown codes and replica indexes;
//  - certificates: signer counting, distinctness, wrong keys, altered content,
//    wrong file identifier, base64 text.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/hex.h"
#include "common/layout.h"
#include "common/response_code.h"
#include "crypto/base64.h"
#include "crypto/card_ref.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "crypto/key_files.h"
#include "process/process_util.h"
#include "triad/certificate.h"
#include "triad/status.h"
#include "triad/transaction.h"
#include "wire/codec.h"

namespace triad {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes finished(const flatbuffers::FlatBufferBuilder& fbb) {
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::string hex(std::span<const std::uint8_t> bytes) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Transactions

// Every field present, each with a distinct value.
triad::Transaction full_tx() {
  triad::Transaction tx;
  tx.id = "tx-000001";
  tx.mti = "0100";
  tx.pan = "4111111111111111";
  tx.proc = "000000";
  tx.amount = 12345;
  tx.currency = "840";
  tx.billing_amount = 9876;
  tx.billing_currency = "978";
  tx.expiry = "2812";
  tx.mcc = "5411";
  tx.stan = "000042";
  tx.terminal = "TERM0001";
  tx.merchant = "MERCHANT-1";
  tx.orig_id = "tx-000000";
  tx.ts = 1'798'761'600'123;
  return tx;
}

Bytes encode_tx(const triad::Transaction& tx) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(wire::build_transaction(fbb, tx));
  return finished(fbb);
}

triad::Transaction round_trip(const triad::Transaction& tx) {
  const Bytes buf = encode_tx(tx);
  flatbuffers::Verifier verifier(buf.data(), buf.size());
  EXPECT_TRUE(verifier.VerifyBuffer<wire::Transaction>(nullptr));
  return wire::read_transaction(flatbuffers::GetRoot<wire::Transaction>(buf.data()));
}

// One row per field, so tests can walk all of them.
struct FieldRef {
  Field field;
  std::optional<std::string> triad::Transaction::*text = nullptr;
  std::optional<std::int64_t> triad::Transaction::*integer = nullptr;
};

const std::vector<FieldRef>& all_fields() {
  using T = triad::Transaction;
  static const std::vector<FieldRef> fields = {
      {Field::kId, &T::id, nullptr},
      {Field::kMti, &T::mti, nullptr},
      {Field::kPan, &T::pan, nullptr},
      {Field::kProc, &T::proc, nullptr},
      {Field::kAmount, nullptr, &T::amount},
      {Field::kCurrency, &T::currency, nullptr},
      {Field::kBillingAmount, nullptr, &T::billing_amount},
      {Field::kBillingCurrency, &T::billing_currency, nullptr},
      {Field::kExpiry, &T::expiry, nullptr},
      {Field::kMcc, &T::mcc, nullptr},
      {Field::kStan, &T::stan, nullptr},
      {Field::kTerminal, &T::terminal, nullptr},
      {Field::kMerchant, &T::merchant, nullptr},
      {Field::kOrigId, &T::orig_id, nullptr},
      {Field::kTs, nullptr, &T::ts},
  };
  return fields;
}

void make_absent(triad::Transaction* tx, const FieldRef& f) {
  if (f.text != nullptr) (tx->*f.text).reset();
  if (f.integer != nullptr) (tx->*f.integer).reset();
}

// As parse_transaction_json leaves a field of the wrong JSON type: no value,
// malformed bit set.
void make_malformed(triad::Transaction* tx, const FieldRef& f) {
  make_absent(tx, f);
  tx->set_malformed(f.field);
}

// Present and empty: "" for a string, 0 for an integer.
void make_empty(triad::Transaction* tx, const FieldRef& f) {
  if (f.text != nullptr) tx->*f.text = std::string();
  if (f.integer != nullptr) tx->*f.integer = 0;
}

void change_value(triad::Transaction* tx, const FieldRef& f) {
  if (f.text != nullptr) tx->*f.text = (tx->*f.text).value_or("") + "X";
  if (f.integer != nullptr) tx->*f.integer = (tx->*f.integer).value_or(0) + 1;
}

TEST(TransactionCodec, FullTransactionRoundTrips) {
  const triad::Transaction tx = full_tx();
  EXPECT_EQ(round_trip(tx), tx);
}

TEST(TransactionCodec, EmptyTransactionRoundTripsWithEveryFieldAbsent) {
  const triad::Transaction tx;
  const triad::Transaction back = round_trip(tx);
  EXPECT_EQ(back, tx);
  EXPECT_FALSE(back.id.has_value());
  EXPECT_FALSE(back.amount.has_value());
  EXPECT_FALSE(back.ts.has_value());
  EXPECT_EQ(back.malformed_fields, 0u);
}

TEST(TransactionCodec, EachFieldAloneAbsentEmptyOrMalformedRoundTrips) {
  for (const FieldRef& f : all_fields()) {
    SCOPED_TRACE(field_name(f.field));
    triad::Transaction absent = full_tx();
    make_absent(&absent, f);
    EXPECT_EQ(round_trip(absent), absent);

    triad::Transaction empty = full_tx();
    make_empty(&empty, f);
    const triad::Transaction empty_back = round_trip(empty);
    EXPECT_EQ(empty_back, empty);
    if (f.text != nullptr) {
      ASSERT_TRUE((empty_back.*f.text).has_value()) << "empty string must stay present";
      EXPECT_EQ(*(empty_back.*f.text), "");
    } else {
      ASSERT_TRUE((empty_back.*f.integer).has_value()) << "0 must stay present";
      EXPECT_EQ(*(empty_back.*f.integer), 0);
    }

    triad::Transaction malformed = full_tx();
    make_malformed(&malformed, f);
    const triad::Transaction malformed_back = round_trip(malformed);
    EXPECT_EQ(malformed_back, malformed);
    EXPECT_TRUE(malformed_back.is_malformed(f.field));
  }
}

TEST(TransactionCodec, OptionalIntegersKeepZeroApartFromAbsent) {
  triad::Transaction zero;
  zero.amount = 0;
  zero.billing_amount = 0;
  zero.ts = 0;
  const triad::Transaction back = round_trip(zero);
  ASSERT_TRUE(back.amount.has_value());
  ASSERT_TRUE(back.billing_amount.has_value());
  ASSERT_TRUE(back.ts.has_value());
  EXPECT_EQ(*back.amount, 0);
  EXPECT_EQ(*back.billing_amount, 0);
  EXPECT_EQ(*back.ts, 0);

  const triad::Transaction absent_back = round_trip(triad::Transaction{});
  EXPECT_FALSE(absent_back.amount.has_value());
  EXPECT_FALSE(absent_back.billing_amount.has_value());
  EXPECT_FALSE(absent_back.ts.has_value());
}

TEST(TransactionCodec, ExtremeIntegersAndOddStringsRoundTrip) {
  triad::Transaction tx = full_tx();
  tx.amount = std::numeric_limits<std::int64_t>::min();
  tx.billing_amount = std::numeric_limits<std::int64_t>::max();
  tx.ts = -1;
  tx.merchant = std::string("a\0b", 3);  // embedded NUL
  tx.terminal = "\xff\xfe not utf-8";
  tx.orig_id = std::string(5000, 'z');
  EXPECT_EQ(round_trip(tx), tx);
}

TEST(TransactionCodec, MalformedBitsOfKnownFieldsSurvive) {
  triad::Transaction tx;
  tx.set_malformed(Field::kId);
  tx.set_malformed(Field::kAmount);
  tx.set_malformed(Field::kTs);
  const triad::Transaction back = round_trip(tx);
  EXPECT_EQ(back.malformed_fields, tx.malformed_fields);
  EXPECT_TRUE(back.is_malformed(Field::kId));
  EXPECT_TRUE(back.is_malformed(Field::kAmount));
  EXPECT_TRUE(back.is_malformed(Field::kTs));
  EXPECT_FALSE(back.is_malformed(Field::kPan));

  triad::Transaction all;
  for (const FieldRef& f : all_fields()) all.set_malformed(f.field);
  EXPECT_EQ(round_trip(all).malformed_fields, all.malformed_fields);
}

TEST(TransactionCodec, UnknownHighBitsOfMalformedFieldsAreDropped) {
  constexpr std::uint32_t kKnown = (1u << static_cast<unsigned>(Field::kCount)) - 1;
  triad::Transaction tx = full_tx();
  tx.malformed_fields = 0xffff'ffffu;
  EXPECT_EQ(round_trip(tx).malformed_fields, kKnown);

  tx.malformed_fields = 1u << static_cast<unsigned>(Field::kCount);  // first unknown bit only
  EXPECT_EQ(round_trip(tx).malformed_fields, 0u);

  tx.malformed_fields = 0x8000'0000u | (1u << static_cast<unsigned>(Field::kMcc));
  EXPECT_EQ(round_trip(tx).malformed_fields, 1u << static_cast<unsigned>(Field::kMcc));
}

TEST(TransactionCodec, ReadingANullTransactionGivesAnEmptyOne) {
  EXPECT_EQ(wire::read_transaction(nullptr), triad::Transaction{});
}

// ---------------------------------------------------------------------------
// Canonical transaction digest

// The card reference key of these tests' deployment.
const crypto::SymmetricKey& card_ref_key() {
  static const crypto::SymmetricKey key = crypto::SymmetricKey::generate();
  return key;
}

Digest digest_of(const triad::Transaction& tx) {
  return wire::transaction_digest(tx, crypto::card_ref_of(card_ref_key(), tx));
}

// The canonical encoding written from its description in codec.h and the
// README: the domain tag "triad-transaction-v2", then per field in schema
// order a tag (0 absent, 1 present, 2 malformed), then for a present PAN the
// first 16 bytes of HMAC-SHA256 of it under the card reference key, for
// another present string its length as big-endian u64 and its bytes, for a
// present integer its two's complement as big-endian u64. SHA-256 of it all.
Digest reference_digest(const triad::Transaction& tx) {
  const std::string_view domain = "triad-transaction-v2";
  Bytes bytes(domain.begin(), domain.end());
  const auto u64 = [&](std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      bytes.push_back(static_cast<std::uint8_t>(v >> shift));
    }
  };
  for (const FieldRef& f : all_fields()) {
    const bool present = f.text != nullptr ? (tx.*f.text).has_value() : (tx.*f.integer).has_value();
    if (tx.is_malformed(f.field)) {
      bytes.push_back(2);
    } else if (!present) {
      bytes.push_back(0);
    } else {
      bytes.push_back(1);
      if (f.field == Field::kPan) {
        const std::string& pan = *tx.pan;
        const Digest mac =
            crypto::hmac_sha256(card_ref_key().bytes(), Bytes(pan.begin(), pan.end()));
        bytes.insert(bytes.end(), mac.begin(), mac.begin() + 16);
      } else if (f.text != nullptr) {
        const std::string& s = *(tx.*f.text);
        u64(s.size());
        bytes.insert(bytes.end(), s.begin(), s.end());
      } else {
        u64(static_cast<std::uint64_t>(*(tx.*f.integer)));
      }
    }
  }
  return crypto::sha256(bytes);
}

TEST(TransactionDigest, MatchesTheDocumentedCanonicalEncoding) {
  EXPECT_EQ(digest_of(full_tx()), reference_digest(full_tx()));
  EXPECT_EQ(digest_of(triad::Transaction{}), reference_digest(triad::Transaction{}));
  triad::Transaction odd = full_tx();
  odd.amount = -5;
  odd.pan.reset();
  odd.set_malformed(Field::kMcc);
  odd.mcc.reset();
  odd.merchant = "";
  EXPECT_EQ(digest_of(odd), reference_digest(odd));
}

TEST(TransactionDigest, EqualContentGivesEqualDigests) {
  EXPECT_EQ(digest_of(full_tx()), digest_of(full_tx()));
  EXPECT_EQ(digest_of(triad::Transaction{}), digest_of(triad::Transaction{}));
  // Through the wire and back, as a replica sees it.
  EXPECT_EQ(digest_of(round_trip(full_tx())), digest_of(full_tx()));
}

TEST(TransactionDigest, EqualForTheSameJsonParsedTwice) {
  const std::string line =
      R"({"id":"t1","mti":"0200","pan":"4111111111111111","proc":"010000","amount":500,)"
      R"("currency":"826","expiry":"2901","mcc":"6011","stan":"123456","terminal":"ATM00001",)"
      R"("merchant":"BANK","ts":1798761600000})";
  triad::Transaction a;
  triad::Transaction b;
  ASSERT_TRUE(parse_transaction_json(line, &a).is_ok());
  ASSERT_TRUE(parse_transaction_json(line, &b).is_ok());
  EXPECT_EQ(digest_of(a), digest_of(b));
}

// Every single-field change (new value, absent, present but empty/zero,
// malformed) gives a digest unlike the original and unlike every other change.
TEST(TransactionDigest, EverySingleFieldChangeGivesADistinctDigest) {
  for (const triad::Transaction& base : {full_tx(), triad::Transaction{}}) {
    std::map<Digest, std::string> seen;
    const auto add = [&](const triad::Transaction& tx, const std::string& label) {
      const auto [it, inserted] = seen.emplace(digest_of(tx), label);
      EXPECT_TRUE(inserted) << label << " has the same digest as " << it->second;
    };
    add(base, "base");
    for (const FieldRef& f : all_fields()) {
      const std::string name = field_name(f.field);
      triad::Transaction changed = base;
      change_value(&changed, f);
      add(changed, name + " changed");
      triad::Transaction absent = base;
      make_absent(&absent, f);
      if (absent != base) add(absent, name + " absent");
      triad::Transaction empty = base;
      make_empty(&empty, f);
      add(empty, name + " empty");
      triad::Transaction malformed = base;
      make_malformed(&malformed, f);
      add(malformed, name + " malformed");
    }
  }
}

TEST(TransactionDigest, AbsentEmptyAndMalformedAreThreeDifferentThings) {
  triad::Transaction absent;
  triad::Transaction empty;
  empty.merchant = "";
  triad::Transaction malformed;
  malformed.set_malformed(Field::kMerchant);
  const Digest d_absent = digest_of(absent);
  const Digest d_empty = digest_of(empty);
  const Digest d_malformed = digest_of(malformed);
  EXPECT_NE(d_absent, d_empty);
  EXPECT_NE(d_absent, d_malformed);
  EXPECT_NE(d_empty, d_malformed);
}

TEST(TransactionDigest, AmountZeroDiffersFromAbsentAndFromMalformed) {
  triad::Transaction zero = full_tx();
  zero.amount = 0;
  triad::Transaction absent = full_tx();
  absent.amount.reset();
  triad::Transaction malformed = absent;
  malformed.set_malformed(Field::kAmount);
  EXPECT_NE(digest_of(zero), digest_of(absent));
  EXPECT_NE(digest_of(zero), digest_of(malformed));
  EXPECT_NE(digest_of(absent), digest_of(malformed));
}

TEST(TransactionDigest, TextCannotSlideBetweenNeighbouringFields) {
  triad::Transaction a;
  a.mti = "0100";
  a.pan = "4111";
  triad::Transaction b;
  b.mti = "01004";
  b.pan = "111";
  EXPECT_NE(digest_of(a), digest_of(b));

  triad::Transaction c;
  c.id = "x";
  triad::Transaction d;
  d.mti = "x";
  EXPECT_NE(digest_of(c), digest_of(d));
}

// The digest holds the PAN's reference: another reference (another
// deployment's key) gives another digest; with no PAN, or a malformed one,
// the reference is not used.
TEST(TransactionDigest, APanCountsByItsReference) {
  const triad::Transaction tx = full_tx();
  CardRef other{};
  other[0] = 1;
  EXPECT_NE(wire::transaction_digest(tx, other), digest_of(tx));
  EXPECT_EQ(wire::transaction_digest(tx, crypto::card_ref_bytes(card_ref_key(), *tx.pan)),
            digest_of(tx));
  triad::Transaction absent = tx;
  absent.pan.reset();
  EXPECT_EQ(wire::transaction_digest(absent, other), wire::transaction_digest(absent, CardRef{}));
  triad::Transaction malformed = tx;
  malformed.pan.reset();
  malformed.set_malformed(Field::kPan);
  EXPECT_EQ(wire::transaction_digest(malformed, other),
            wire::transaction_digest(malformed, CardRef{}));
}

// What a client does with a decision: the digest from its transaction and
// the reference that came with the answer.
TEST(TransactionDigest, AClientMakesItFromTheReferenceItWasGiven) {
  const triad::Transaction tx = full_tx();
  const std::string ref = crypto::card_ref(card_ref_key(), *tx.pan);
  std::string hex;
  ASSERT_TRUE(triad::transaction_digest_hex(tx, ref, &hex).is_ok());
  EXPECT_EQ(hex, to_hex(digest_of(tx)));
  std::string upper = ref;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_TRUE(triad::transaction_digest_hex(tx, upper, &hex).is_ok());
  EXPECT_EQ(hex, to_hex(digest_of(tx)));
  for (const std::string& bad : {std::string(), ref.substr(1), ref + "0", "g" + ref.substr(1)}) {
    const Status s = triad::transaction_digest_hex(tx, bad, &hex);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("card reference"), std::string::npos) << s.message();
  }
  triad::Transaction no_pan = tx;
  no_pan.pan.reset();
  ASSERT_TRUE(triad::transaction_digest_hex(no_pan, "", &hex).is_ok());
  EXPECT_EQ(hex, to_hex(digest_of(no_pan)));
  triad::Transaction malformed = no_pan;
  malformed.set_malformed(Field::kPan);
  ASSERT_TRUE(triad::transaction_digest_hex(malformed, "", &hex).is_ok());
  EXPECT_EQ(hex, to_hex(digest_of(malformed)));
  // An empty PAN is a PAN, with a reference.
  triad::Transaction empty = tx;
  empty.pan = "";
  EXPECT_EQ(triad::transaction_digest_hex(empty, "", &hex).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(
      triad::transaction_digest_hex(empty, crypto::card_ref(card_ref_key(), ""), &hex).is_ok());
  EXPECT_EQ(hex, to_hex(digest_of(empty)));
}

// Bits beyond Field::kCount never reach the digest, consistent with
// read_transaction dropping them: two encodings of one input agree.
TEST(TransactionDigest, UnknownMalformedBitsDoNotChangeTheDigest) {
  triad::Transaction tx = full_tx();
  const Digest plain = digest_of(tx);
  tx.malformed_fields |= 0x8000'0000u;
  EXPECT_EQ(digest_of(tx), plain);
}

// ---------------------------------------------------------------------------
// Verdict signing bytes

voter::VerdictContent sample_content() {
  voter::VerdictContent c;
  c.seq = 42;
  c.ts_ms = 1'798'761'600'000;
  c.tx_digest = digest_of(full_tx());
  c.code = ResponseCode::kApproved;
  c.state_digest = crypto::sha256(std::string_view("state"));
  c.rules_version = 1;
  return c;
}

TEST(VerdictSigningBytes, LayoutIsDomainTagThenFixedFieldsThenFingerprint) {
  const voter::VerdictContent c = sample_content();
  const std::string fp = "gcc 12; -O2";
  const Bytes b = wire::verdict_signing_bytes(c, 1, fp);
  const std::string tag = "triad-verdict-v1";
  ASSERT_EQ(b.size(), tag.size() + 8 + 8 + 32 + 2 + 32 + 32 + 8 + 1 + 8 + fp.size());
  EXPECT_EQ(std::string(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(tag.size())), tag);
  std::size_t at = tag.size();
  const auto u64_at = [&](std::size_t pos) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | b[pos + i];
    return v;
  };
  EXPECT_EQ(u64_at(at), c.seq);
  at += 8;
  EXPECT_EQ(u64_at(at), static_cast<std::uint64_t>(c.ts_ms));
  at += 8;
  EXPECT_TRUE(std::equal(c.tx_digest.begin(), c.tx_digest.end(),
                         b.begin() + static_cast<std::ptrdiff_t>(at)));
  at += 32;
  EXPECT_EQ(b[at], '0');
  EXPECT_EQ(b[at + 1], '0');
  at += 2;
  EXPECT_TRUE(std::equal(c.state_digest.begin(), c.state_digest.end(),
                         b.begin() + static_cast<std::ptrdiff_t>(at)));
  at += 32;
  EXPECT_TRUE(std::equal(c.checkpoint_digest.begin(), c.checkpoint_digest.end(),
                         b.begin() + static_cast<std::ptrdiff_t>(at)));
  at += 32;
  EXPECT_EQ(u64_at(at), c.rules_version);
  at += 8;
  EXPECT_EQ(b[at], 1);
  at += 1;
  EXPECT_EQ(u64_at(at), fp.size());
  at += 8;
  EXPECT_EQ(std::string(b.begin() + static_cast<std::ptrdiff_t>(at), b.end()), fp);
}

TEST(VerdictSigningBytes, Deterministic) {
  EXPECT_EQ(wire::verdict_signing_bytes(sample_content(), 2, "fp"),
            wire::verdict_signing_bytes(sample_content(), 2, "fp"));
}

TEST(VerdictSigningBytes, ChangeWhenAnyContentFieldReplicaOrFingerprintChanges) {
  const voter::VerdictContent base = sample_content();
  std::map<std::string, std::string> seen;  // hex of the bytes -> label
  const auto add = [&](const voter::VerdictContent& c, int replica, const std::string& fp,
                       const std::string& label) {
    const auto [it, inserted] =
        seen.emplace(hex(wire::verdict_signing_bytes(c, replica, fp)), label);
    EXPECT_TRUE(inserted) << label << " gives the same bytes as " << it->second;
  };
  add(base, 0, "fp", "base");
  {
    auto c = base;
    c.seq += 1;
    add(c, 0, "fp", "seq");
  }
  {
    auto c = base;
    c.ts_ms += 1;
    add(c, 0, "fp", "ts");
  }
  {
    auto c = base;
    c.ts_ms = -c.ts_ms;
    add(c, 0, "fp", "negative ts");
  }
  for (const std::size_t i : {std::size_t{0}, std::size_t{17}, std::size_t{31}}) {
    auto c = base;
    c.tx_digest[i] ^= 0x01;
    add(c, 0, "fp", "tx_digest byte " + std::to_string(i));
    auto d = base;
    d.state_digest[i] ^= 0x80;
    add(d, 0, "fp", "state_digest byte " + std::to_string(i));
    auto k = base;
    k.checkpoint_digest[i] ^= 0x40;
    add(k, 0, "fp", "checkpoint_digest byte " + std::to_string(i));
  }
  for (const ResponseCode code : {ResponseCode::kDoNotHonour, ResponseCode::kInsufficientFunds,
                                  ResponseCode::kSystemMalfunction}) {
    auto c = base;
    c.code = code;
    add(c, 0, "fp", "code " + to_string(code));
  }
  {
    auto c = base;
    c.rules_version += 1;
    add(c, 0, "fp", "rules_version");
  }
  add(base, 1, "fp", "replica 1");
  add(base, 2, "fp", "replica 2");
  add(base, 0, "fq", "fingerprint changed");
  add(base, 0, "fp ", "fingerprint extended");
  add(base, 0, "", "fingerprint empty");
}

// ---------------------------------------------------------------------------
// Verified reading: one valid buffer of each message type

Bytes client_request_buffer() {
  flatbuffers::FlatBufferBuilder fbb;
  const auto tx = wire::build_transaction(fbb, full_tx());
  const auto submit = wire::CreateSubmitRequest(fbb, 7, tx);
  fbb.Finish(wire::CreateClientRequest(fbb, submit));
  return finished(fbb);
}

Bytes certificate_buffer(std::size_t fingerprint_bytes = 8) {
  voter::ReplicaVerdict a;
  a.replica = 0;
  a.content = sample_content();
  a.fingerprint = std::string(fingerprint_bytes, 'f');
  a.signature.fill(0x11);
  voter::ReplicaVerdict b = a;
  b.replica = 1;
  b.signature.fill(0x22);
  const std::vector<voter::ReplicaVerdict> signers = {a, b};
  return wire::build_certificate(sample_content(), signers);
}

Bytes client_reply_buffer() {
  flatbuffers::FlatBufferBuilder fbb;
  const Bytes cert = certificate_buffer();
  const auto decision = wire::CreateDecisionDirect(fbb, "tx-000001", 42, 1'798'761'600'000, "00",
                                                   "ab", "", false, &cert);
  fbb.Finish(wire::CreateClientReply(fbb, 7, decision));
  return finished(fbb);
}

Bytes to_replica_buffer(std::uint64_t first_seq = 1, int count = 3) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<wire::Sequenced>> entries;
  for (int i = 0; i < count; ++i) {
    triad::Transaction tx = full_tx();
    tx.id = "tx-" + std::to_string(i);
    const auto t = wire::build_transaction(fbb, tx);
    entries.push_back(wire::CreateSequenced(fbb, first_seq + static_cast<std::uint64_t>(i),
                                            1'798'761'600'000 + i, t));
  }
  fbb.Finish(wire::CreateToReplicaDirect(fbb, &entries));
  return finished(fbb);
}

Bytes from_replica_buffer() {
  flatbuffers::FlatBufferBuilder fbb;
  const voter::VerdictContent c = sample_content();
  const Bytes tx(c.tx_digest.begin(), c.tx_digest.end());
  const Bytes st(c.state_digest.begin(), c.state_digest.end());
  const Bytes sig(64, 0x5a);
  std::vector<flatbuffers::Offset<wire::Verdict>> verdicts;
  verdicts.push_back(wire::CreateVerdictDirect(fbb, c.seq, c.ts_ms, &tx, "00", &st, nullptr,
                                               c.rules_version, "fp", 1));
  std::vector<flatbuffers::Offset<wire::VerdictBatch>> batches = {
      wire::CreateVerdictBatchDirect(fbb, &verdicts, &sig)};
  const auto hello = wire::CreateHelloDirect(fbb, 1, 43, "fp", 1);
  const auto fetch = wire::CreateFetch(fbb, 40, 41);
  fbb.Finish(wire::CreateFromReplicaDirect(fbb, hello, fetch, &batches));
  return finished(fbb);
}

// Touches every field of a verified message, the way a reader would. Under a
// sanitizer this turns "the verifier let a bad buffer through" into a report.
std::uint64_t walk_transaction(const wire::Transaction* t) {
  const triad::Transaction tx = wire::read_transaction(t);
  const Digest d = digest_of(tx);
  return d[0];
}

std::uint64_t walk_client_request(const wire::ClientRequest* r) {
  std::uint64_t sum = 0;
  if (r->submit() != nullptr) sum += r->submit()->tag() + walk_transaction(r->submit()->tx());
  if (r->ping() != nullptr) sum += r->ping()->tag();
  return sum;
}

std::uint64_t walk_client_reply(const wire::ClientReply* r) {
  std::uint64_t sum = r->tag() + wire::as_view(r->error()).size();
  if (const auto* d = r->decision()) {
    sum += d->seq() + wire::as_view(d->id()).size() + wire::as_view(d->code()).size() +
           wire::as_view(d->agree()).size() + wire::as_view(d->divergent()).size() +
           wire::as_bytes(d->certificate()).size();
  }
  return sum;
}

std::uint64_t walk_to_replica(const wire::ToReplica* m) {
  std::uint64_t sum = 0;
  if (m->entries() == nullptr) return sum;
  for (const wire::Sequenced* e : *m->entries()) sum += e->seq() + walk_transaction(e->tx());
  return sum;
}

std::uint64_t walk_from_replica(const wire::FromReplica* m) {
  std::uint64_t sum = 0;
  if (const auto* h = m->hello()) sum += h->next_seq() + wire::as_view(h->fingerprint()).size();
  if (const auto* f = m->fetch()) sum += f->from_seq() + f->to_seq();
  if (m->batches() != nullptr) {
    for (const wire::VerdictBatch* b : *m->batches()) {
      sum += wire::as_bytes(b->signature()).size();
      if (b->verdicts() == nullptr) continue;
      for (const wire::Verdict* v : *b->verdicts()) {
        voter::ReplicaVerdict out;
        if (wire::read_verdict(v, &out).is_ok()) sum += out.content.seq + out.fingerprint.size();
      }
    }
  }
  return sum;
}

std::uint64_t walk_certificate(const wire::Certificate* c) {
  std::uint64_t sum = c->seq() + wire::as_bytes(c->tx_digest()).size() +
                      wire::as_bytes(c->state_digest()).size() + wire::as_view(c->code()).size();
  if (c->signatures() != nullptr) {
    for (const wire::CertSignature* s : *c->signatures()) {
      sum += s->replica() + wire::as_view(s->fingerprint()).size() +
             wire::as_bytes(s->signature()).size() + s->batch_index() + s->batch_size() +
             wire::as_bytes(s->batch_path()).size();
    }
  }
  return sum;
}

// One verify_* entry point: its name, its size limit, and "verify then walk".
struct Entry {
  std::string name;
  std::size_t limit;
  std::function<Bytes()> valid;
  std::function<Status(std::span<const std::uint8_t>)> verify_and_walk;
};

template <typename T>
std::function<Status(std::span<const std::uint8_t>)> checker(
    Status (*verify)(std::span<const std::uint8_t>, const T**), std::uint64_t (*walk)(const T*)) {
  return [verify, walk](std::span<const std::uint8_t> bytes) {
    const T* out = nullptr;
    Status s = verify(bytes, &out);
    if (s.is_ok()) {
      EXPECT_NE(out, nullptr);
      volatile std::uint64_t sink = walk(out);
      static_cast<void>(sink);
    }
    return s;
  };
}

const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = {
      {"client request", wire::kMaxClientMessageBytes, client_request_buffer,
       checker(&wire::verify_client_request, &walk_client_request)},
      {"client reply", wire::kMaxClientReplyBytes, client_reply_buffer,
       checker(&wire::verify_client_reply, &walk_client_reply)},
      {"replica batch", wire::kMaxReplicaMessageBytes, [] { return to_replica_buffer(); },
       checker(&wire::verify_to_replica, &walk_to_replica)},
      {"replica message", wire::kMaxReplicaMessageBytes, from_replica_buffer,
       checker(&wire::verify_from_replica, &walk_from_replica)},
      {"certificate", wire::kMaxCertificateBytes, [] { return certificate_buffer(); },
       checker(&wire::verify_certificate_buffer, &walk_certificate)},
  };
  return all;
}

TEST(Verify, AcceptsValidBuffers) {
  for (const Entry& e : entries()) {
    SCOPED_TRACE(e.name);
    const Bytes buf = e.valid();
    const Status s = e.verify_and_walk(buf);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
  }
}

TEST(Verify, ValidBuffersReadBackWhatWasWritten) {
  {
    const Bytes buf = to_replica_buffer(10, 3);
    const wire::ToReplica* m = nullptr;
    ASSERT_TRUE(wire::verify_to_replica(buf, &m).is_ok());
    ASSERT_NE(m->entries(), nullptr);
    ASSERT_EQ(m->entries()->size(), 3u);
    EXPECT_EQ(m->entries()->Get(2)->seq(), 12u);
    triad::Transaction want = full_tx();
    want.id = "tx-2";
    EXPECT_EQ(wire::read_transaction(m->entries()->Get(2)->tx()), want);
  }
  {
    const Bytes buf = from_replica_buffer();
    const wire::FromReplica* m = nullptr;
    ASSERT_TRUE(wire::verify_from_replica(buf, &m).is_ok());
    ASSERT_NE(m->hello(), nullptr);
    EXPECT_EQ(m->hello()->next_seq(), 43u);
    ASSERT_NE(m->fetch(), nullptr);
    EXPECT_EQ(m->fetch()->from_seq(), 40u);
    EXPECT_EQ(m->fetch()->to_seq(), 41u);
  }
}

// A valid buffer padded with zeros to exactly the limit still passes (the
// verifier ignores trailing bytes); one byte more is refused, naming the limit.
TEST(Verify, RefusesBuffersOverTheSizeLimitNamingIt) {
  for (const Entry& e : entries()) {
    SCOPED_TRACE(e.name);
    Bytes buf = e.valid();
    ASSERT_LT(buf.size(), e.limit);
    buf.resize(e.limit, 0);
    const Status at_limit = e.verify_and_walk(buf);
    EXPECT_TRUE(at_limit.is_ok()) << at_limit.to_string();
    buf.push_back(0);
    const Status over = e.verify_and_walk(buf);
    EXPECT_EQ(over.code(), Status::Code::kCorruption);
    EXPECT_NE(over.message().find(std::to_string(e.limit)), std::string::npos) << over.message();
    EXPECT_NE(over.message().find(e.name), std::string::npos) << over.message();
  }
}

Bytes ping_request(std::uint64_t tag, std::size_t padding) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto p = wire::CreatePingRequest(fbb, tag);
  wire::ClientRequestBuilder b(fbb);
  b.add_ping(p);
  fbb.Finish(b.Finish());
  Bytes bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  for (std::size_t i = 0; i < padding; ++i) bytes.push_back(0);  // trailing: still valid
  return bytes;
}

Bytes pong_reply(std::uint64_t tag) {
  flatbuffers::FlatBufferBuilder fbb;
  wire::ClientReplyBuilder b(fbb);
  b.add_tag(tag);
  b.add_pong(true);
  fbb.Finish(b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

// Parts of odd sizes still land 8-byte aligned, each a buffer of its own.
TEST(ClientBatches, RequestPartsComeBackWholeAndAligned) {
  const std::vector<Bytes> requests = {ping_request(1, 3), ping_request(2, 0), ping_request(3, 5)};
  const std::vector<std::span<const std::uint8_t>> parts(requests.begin(), requests.end());
  const Bytes frame = wire::encode_request_batch(parts);
  const wire::ClientRequest* r = nullptr;
  ASSERT_TRUE(wire::verify_client_request(frame, &r).is_ok());
  ASSERT_NE(r->batch(), nullptr);
  ASSERT_EQ(r->batch()->size(), 3u);
  for (flatbuffers::uoffset_t i = 0; i < 3; ++i) {
    const wire::ClientRequest* part = wire::request_part(r->batch()->Get(i));
    ASSERT_NE(part, nullptr) << i;
    const auto* bytes = r->batch()->Get(i)->request()->data();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(bytes) % alignof(std::uint64_t), 0u);
    ASSERT_NE(part->ping(), nullptr);
    EXPECT_EQ(part->ping()->tag(), std::uint64_t{i} + 1);
  }
}

TEST(ClientBatches, EveryReplyOfABatchIsVisitedInOrderAndABatchInsideIsCountedUnusable) {
  std::vector<std::uint64_t> tags;
  const auto collect = [&](const wire::ClientReply& r) { tags.push_back(r.tag()); };
  const Bytes single = pong_reply(9);
  const wire::ClientReply* r = nullptr;
  ASSERT_TRUE(wire::verify_client_reply(single, &r).is_ok());
  EXPECT_EQ(wire::for_each_reply(*r, collect), 0u);
  EXPECT_EQ(tags, (std::vector<std::uint64_t>{9}));

  const std::vector<Bytes> replies = {pong_reply(1), pong_reply(2), pong_reply(3)};
  const std::vector<std::span<const std::uint8_t>> parts(replies.begin(), replies.end());
  const Bytes batch = wire::encode_reply_batch(parts);
  ASSERT_TRUE(wire::verify_client_reply(batch, &r).is_ok());
  tags.clear();
  EXPECT_EQ(wire::for_each_reply(*r, collect), 0u);
  EXPECT_EQ(tags, (std::vector<std::uint64_t>{1, 2, 3}));

  // A batch inside a batch is an unusable part; the parts around it are
  // still visited.
  const std::vector<std::span<const std::uint8_t>> nested = {replies[0], batch, replies[2]};
  const Bytes outer = wire::encode_reply_batch(nested);
  ASSERT_TRUE(wire::verify_client_reply(outer, &r).is_ok());
  tags.clear();
  EXPECT_EQ(wire::for_each_reply(*r, collect), 1u);
  EXPECT_EQ(tags, (std::vector<std::uint64_t>{1, 3}));
}

// The frame's verifier leaves parts alone; request_part refuses one that is
// missing, empty, or not a buffer of its type.
TEST(ClientBatches, AMissingEmptyOrBrokenPartIsRefused) {
  const auto frame_of = [](std::optional<Bytes> part_bytes) {
    flatbuffers::FlatBufferBuilder fbb;
    flatbuffers::Offset<wire::RequestPart> part;
    if (part_bytes) {
      fbb.ForceVectorAlignment(part_bytes->size(), 1, 8);
      part = wire::CreateRequestPart(fbb, fbb.CreateVector(*part_bytes));
    } else {
      part = wire::CreateRequestPart(fbb);
    }
    const auto vec = fbb.CreateVector(&part, 1);
    wire::ClientRequestBuilder b(fbb);
    b.add_batch(vec);
    fbb.Finish(b.Finish());
    return Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  };
  EXPECT_EQ(wire::request_part(nullptr), nullptr);
  for (const std::optional<Bytes>& part : {std::optional<Bytes>(), std::optional<Bytes>(Bytes{}),
                                           std::optional<Bytes>(Bytes(16, 0xff))}) {
    SCOPED_TRACE(part ? std::to_string(part->size()) + " bytes" : "missing");
    const Bytes frame = frame_of(part);
    const wire::ClientRequest* r = nullptr;
    ASSERT_TRUE(wire::verify_client_request(frame, &r).is_ok());
    EXPECT_EQ(wire::request_part(r->batch()->Get(0)), nullptr);
  }
  // The same frame with a good part: found.
  const Bytes frame = frame_of(ping_request(4, 0));
  const wire::ClientRequest* r = nullptr;
  ASSERT_TRUE(wire::verify_client_request(frame, &r).is_ok());
  ASSERT_NE(wire::request_part(r->batch()->Get(0)), nullptr);
}

// A part placed without forced alignment (as a hand-made frame may be) is
// used only where it happens to be 8-byte aligned.
TEST(ClientBatches, AMisalignedPartIsRefused) {
  int misaligned = 0;
  for (std::size_t extra = 0; extra < 8; ++extra) {
    flatbuffers::FlatBufferBuilder fbb;
    const Bytes request = ping_request(4, 0);
    const auto bytes = fbb.CreateVector(request);
    fbb.CreateVector(Bytes(extra, 0));  // shifts what comes before it
    const auto part = wire::CreateRequestPart(fbb, bytes);
    const auto vec = fbb.CreateVector(&part, 1);
    wire::ClientRequestBuilder b(fbb);
    b.add_batch(vec);
    fbb.Finish(b.Finish());
    const Bytes frame(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
    const wire::ClientRequest* r = nullptr;
    ASSERT_TRUE(wire::verify_client_request(frame, &r).is_ok());
    const bool aligned = reinterpret_cast<std::uintptr_t>(r->batch()->Get(0)->request()->data()) %
                             alignof(std::uint64_t) ==
                         0;
    misaligned += aligned ? 0 : 1;
    EXPECT_EQ(wire::request_part(r->batch()->Get(0)) != nullptr, aligned) << extra;
  }
  EXPECT_GT(misaligned, 0);
}

TEST(Verify, RefusesARealOversizeCertificateNamingTheLimit) {
  const Bytes cert = certificate_buffer(wire::kMaxCertificateBytes);  // huge fingerprints
  ASSERT_GT(cert.size(), wire::kMaxCertificateBytes);
  const wire::Certificate* out = nullptr;
  const Status s = wire::verify_certificate_buffer(cert, &out);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find(std::to_string(wire::kMaxCertificateBytes)), std::string::npos)
      << s.message();
}

TEST(Verify, RefusesBuffersShorterThanFourBytes) {
  for (const Entry& e : entries()) {
    SCOPED_TRACE(e.name);
    for (std::size_t n = 0; n < 4; ++n) {
      const Bytes buf(n, 0);
      const Status s = e.verify_and_walk(buf);
      EXPECT_EQ(s.code(), Status::Code::kCorruption) << n << " bytes";
      EXPECT_NE(s.message().find("too short"), std::string::npos) << s.message();
    }
    // A prefix of a valid buffer too.
    const Bytes valid = e.valid();
    const Status s = e.verify_and_walk(std::span<const std::uint8_t>(valid.data(), 3));
    EXPECT_EQ(s.code(), Status::Code::kCorruption);
  }
}

TEST(Verify, RefusesRandomBytesWithoutCrashing) {
  std::mt19937_64 rng(20240601);
  for (int i = 0; i < 4000; ++i) {
    const std::size_t len = static_cast<std::size_t>(rng() % (i % 10 == 0 ? 4096 : 300));
    Bytes buf(len);
    for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
    for (const Entry& e : entries()) {
      const Status s = e.verify_and_walk(buf);
      ASSERT_EQ(s.code(), Status::Code::kCorruption)
          << e.name << " accepted random buffer #" << i << " of " << len << " bytes";
      ASSERT_FALSE(s.message().empty());
    }
  }
}

// A buffer cut short loses data its root table points to. The last few bytes
// can be alignment padding nobody points at, so cuts of up to 8 bytes are
// allowed either way; everything shorter must be refused.
TEST(Verify, RefusesTruncatedValidBuffers) {
  for (const Entry& e : entries()) {
    SCOPED_TRACE(e.name);
    const Bytes valid = e.valid();
    ASSERT_GT(valid.size(), 8u);
    for (std::size_t n = 0; n + 8 < valid.size(); ++n) {
      const Status s = e.verify_and_walk(std::span<const std::uint8_t>(valid.data(), n));
      EXPECT_EQ(s.code(), Status::Code::kCorruption) << "cut to " << n << " of " << valid.size();
    }
    for (std::size_t n = valid.size() - 8; n < valid.size(); ++n) {
      static_cast<void>(e.verify_and_walk(std::span<const std::uint8_t>(valid.data(), n)));
    }
  }
}

// Mutated valid buffers (byte flips, small root offsets, copied spans): the
// verifier may accept some (a changed character inside a string is still a
// valid buffer), but nothing may crash and whatever it accepts must be safe
// to read in full.
TEST(Verify, SurvivesMutatedValidBuffers) {
  std::mt19937_64 rng(7);
  int accepted = 0;
  int total = 0;
  for (const Entry& e : entries()) {
    const Bytes valid = e.valid();
    for (int i = 0; i < 3000; ++i) {
      Bytes buf = valid;
      const int kind = static_cast<int>(rng() % 4);
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < edits; ++k) {
        const std::size_t at = static_cast<std::size_t>(rng() % buf.size());
        switch (kind) {
          case 0:
            buf[at] = static_cast<std::uint8_t>(rng());
            break;
          case 1:
            buf[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
            break;
          case 2: {  // a plausible small offset written somewhere
            const auto v = static_cast<std::uint32_t>(rng() % buf.size());
            for (std::size_t j = 0; j < 4 && at + j < buf.size(); ++j) {
              buf[at + j] = static_cast<std::uint8_t>(v >> (8 * j));
            }
            break;
          }
          default: {  // copy a span of the buffer over another place
            const std::size_t from = static_cast<std::size_t>(rng() % buf.size());
            const std::size_t len = std::min<std::size_t>({8, buf.size() - from, buf.size() - at});
            std::copy_n(valid.begin() + static_cast<std::ptrdiff_t>(from), len,
                        buf.begin() + static_cast<std::ptrdiff_t>(at));
            break;
          }
        }
      }
      const Status s = e.verify_and_walk(buf);
      ++total;
      if (s.is_ok()) {
        ++accepted;
      } else {
        EXPECT_EQ(s.code(), Status::Code::kCorruption);
      }
    }
  }
  RecordProperty("accepted", accepted);
  RecordProperty("total", total);
}

TEST(Verify, CertificateWithAnotherFileIdentifierIsRefusedClearly) {
  Bytes cert = certificate_buffer();
  std::copy_n("XXXX", 4, cert.begin() + 4);
  const wire::Certificate* out = nullptr;
  const Status s = wire::verify_certificate_buffer(cert, &out);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("TRC2"), std::string::npos) << s.message();
}

TEST(Verify, OtherMessageTypesAreNotCertificates) {
  for (const Bytes& buf : {client_request_buffer(), to_replica_buffer(), from_replica_buffer()}) {
    const wire::Certificate* out = nullptr;
    EXPECT_EQ(wire::verify_certificate_buffer(buf, &out).code(), Status::Code::kCorruption);
  }
}

// ---------------------------------------------------------------------------
// read_verdict

struct VerdictFields {
  std::uint64_t seq = 9;
  std::int64_t ts = 1'798'761'600'500;
  std::optional<Bytes> tx_digest = Bytes(32, 0xab);
  std::optional<std::string> code = "51";
  std::optional<Bytes> state_digest = Bytes(32, 0xcd);
  std::uint32_t rules_version = 1;
  std::optional<std::string> fingerprint = "gcc; -O2";
  std::uint8_t replica = 2;
  std::optional<Bytes> signature = Bytes(64, 0xee);
};

Bytes verdict_message(const VerdictFields& f) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto vec = [&](const std::optional<Bytes>& b) {
    return b ? fbb.CreateVector(*b) : flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>>();
  };
  const auto str = [&](const std::optional<std::string>& s) {
    return s ? fbb.CreateString(*s) : flatbuffers::Offset<flatbuffers::String>();
  };
  const auto tx = vec(f.tx_digest);
  const auto code = str(f.code);
  const auto state = vec(f.state_digest);
  const auto fp = str(f.fingerprint);
  const auto sig = vec(f.signature);
  std::vector<flatbuffers::Offset<wire::Verdict>> verdicts = {
      wire::CreateVerdict(fbb, f.seq, f.ts, tx, code, state, 0, f.rules_version, fp, f.replica)};
  std::vector<flatbuffers::Offset<wire::VerdictBatch>> batches = {
      wire::CreateVerdictBatch(fbb, fbb.CreateVector(verdicts), sig)};
  fbb.Finish(wire::CreateFromReplicaDirect(fbb, 0, 0, &batches));
  return finished(fbb);
}

Status read_one_verdict(const VerdictFields& f, voter::ReplicaVerdict* out) {
  const Bytes buf = verdict_message(f);
  const wire::FromReplica* m = nullptr;
  const Status s = wire::verify_from_replica(buf, &m);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  if (!s.is_ok() || m->batches() == nullptr || m->batches()->size() != 1 ||
      m->batches()->Get(0)->verdicts()->size() != 1) {
    return Status::internal("test buffer broken");
  }
  return wire::read_verdict(m->batches()->Get(0)->verdicts()->Get(0), out);
}

TEST(ReadVerdict, ReadsEveryFieldOfAValidVerdict) {
  const VerdictFields f;
  voter::ReplicaVerdict v;
  v.signature_valid = true;  // must be reset: read_verdict_batch verifies
  const Status s = read_one_verdict(f, &v);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(v.replica, 2);
  EXPECT_EQ(v.content.seq, f.seq);
  EXPECT_EQ(v.content.ts_ms, f.ts);
  EXPECT_EQ(Bytes(v.content.tx_digest.begin(), v.content.tx_digest.end()), *f.tx_digest);
  EXPECT_EQ(v.content.code, ResponseCode::kInsufficientFunds);
  EXPECT_EQ(Bytes(v.content.state_digest.begin(), v.content.state_digest.end()), *f.state_digest);
  EXPECT_EQ(v.content.rules_version, f.rules_version);
  EXPECT_EQ(v.fingerprint, *f.fingerprint);
  EXPECT_FALSE(v.signature_valid);
}

TEST(ReadVerdict, AcceptsEveryKnownCodeAndReplica) {
  for (const char* code : {"00", "05", "12", "13", "14", "25", "30", "41", "43", "51", "54", "56",
                           "57", "61", "62", "65", "91", "94", "96"}) {
    for (std::uint8_t replica = 0; replica < 3; ++replica) {
      VerdictFields f;
      f.code = code;
      f.replica = replica;
      voter::ReplicaVerdict v;
      const Status s = read_one_verdict(f, &v);
      ASSERT_TRUE(s.is_ok()) << code << " " << s.to_string();
      EXPECT_EQ(to_string(v.content.code), code);
      EXPECT_EQ(v.replica, replica);
    }
  }
}

TEST(ReadVerdict, MissingFingerprintReadsAsEmpty) {
  VerdictFields f;
  f.fingerprint.reset();
  voter::ReplicaVerdict v;
  ASSERT_TRUE(read_one_verdict(f, &v).is_ok());
  EXPECT_EQ(v.fingerprint, "");
}

TEST(ReadVerdict, AFingerprintAtTheLimitIsRead) {
  VerdictFields f;
  f.fingerprint = std::string(wire::kMaxFingerprintBytes, 'f');
  voter::ReplicaVerdict v;
  ASSERT_TRUE(read_one_verdict(f, &v).is_ok());
  EXPECT_EQ(v.fingerprint.size(), wire::kMaxFingerprintBytes);
}

TEST(ReadVerdict, RefusesMalformedVerdicts) {
  struct Case {
    std::string label;
    std::function<void(VerdictFields*)> edit;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"31-byte tx digest", [](VerdictFields* f) { f->tx_digest = Bytes(31, 1); }, "tx_digest"},
      {"33-byte tx digest", [](VerdictFields* f) { f->tx_digest = Bytes(33, 1); }, "tx_digest"},
      {"no tx digest", [](VerdictFields* f) { f->tx_digest.reset(); }, "tx_digest"},
      {"31-byte state digest", [](VerdictFields* f) { f->state_digest = Bytes(31, 1); },
       "state_digest"},
      {"no state digest", [](VerdictFields* f) { f->state_digest.reset(); }, "state_digest"},
      {"code 0", [](VerdictFields* f) { f->code = "0"; }, "code"},
      {"code 99", [](VerdictFields* f) { f->code = "99"; }, "code"},
      {"code 000", [](VerdictFields* f) { f->code = "000"; }, "code"},
      {"code empty", [](VerdictFields* f) { f->code = ""; }, "code"},
      {"code letters", [](VerdictFields* f) { f->code = "ab"; }, "code"},
      {"code absent", [](VerdictFields* f) { f->code.reset(); }, "code"},
      {"replica 3", [](VerdictFields* f) { f->replica = 3; }, "replica"},
      {"replica 255", [](VerdictFields* f) { f->replica = 255; }, "replica"},
      // A faulty replica's certificates must stay small enough to keep and
      // verify (kMaxCertificateBytes).
      {"fingerprint over the limit",
       [](VerdictFields* f) { f->fingerprint = std::string(wire::kMaxFingerprintBytes + 1, 'f'); },
       "fingerprint of 1025 bytes exceeds the limit of 1024"},
      // Logged and put in JSON: no forged log lines, nothing a JSON encoder
      // refuses.
      {"fingerprint with a newline", [](VerdictFields* f) { f->fingerprint = "gcc\nforged"; },
       "fingerprint has byte 10 at 3, not printable ASCII"},
      {"fingerprint not UTF-8", [](VerdictFields* f) { f->fingerprint = "\xff"; },
       "fingerprint has byte 255 at 0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    VerdictFields f;
    c.edit(&f);
    voter::ReplicaVerdict v;
    const Status s = read_one_verdict(f, &v);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
    EXPECT_NE(s.message().find(c.message_part), std::string::npos) << s.message();
  }
}

// ---------------------------------------------------------------------------
// Verdict batches: one signature over a Merkle root

class VerdictBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::SigningKey::generate(&key_).is_ok());
    ASSERT_TRUE(crypto::SigningKey::generate(&other_key_).is_ok());
    ASSERT_TRUE(crypto::VerifyingKey::from_public_key(key_.public_key(), &verifier_).is_ok());
  }

  // Replica b's verdicts on seqs 1..n, signed as one batch with `key`.
  std::vector<voter::ReplicaVerdict> signed_batch(std::size_t n, const crypto::SigningKey& key) {
    std::vector<voter::ReplicaVerdict> out(n);
    for (std::size_t i = 0; i < n; ++i) {
      out[i].replica = 1;
      out[i].content = sample_content();
      out[i].content.seq = i + 1;
      out[i].fingerprint = "build-b";
    }
    wire::sign_verdict_batch(out, key);
    return out;
  }

  // The batch as it travels, read back as the front end reads it.
  Status round_trip(const std::vector<voter::ReplicaVerdict>& batch, int replica,
                    std::vector<voter::ReplicaVerdict>* out) {
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<flatbuffers::Offset<wire::VerdictBatch>> batches = {
        wire::build_verdict_batch(fbb, batch)};
    fbb.Finish(wire::CreateFromReplicaDirect(fbb, 0, 0, &batches));
    const Bytes buf = finished(fbb);
    const wire::FromReplica* m = nullptr;
    EXPECT_TRUE(wire::verify_from_replica(buf, &m).is_ok());
    return wire::read_verdict_batch(m->batches()->Get(0), replica, verifier_, out);
  }

  crypto::SigningKey key_;
  crypto::SigningKey other_key_;
  crypto::VerifyingKey verifier_;
};

TEST_F(VerdictBatchTest, EveryVerdictOfASignedBatchVerifiesOnItsOwn) {
  for (const std::size_t n : {1u, 2u, 3u, 7u, 64u, 100u}) {
    const auto batch = signed_batch(n, key_);
    std::vector<voter::ReplicaVerdict> got;
    ASSERT_TRUE(round_trip(batch, 1, &got).is_ok());
    ASSERT_EQ(got.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_TRUE(got[i].signature_valid) << n << " " << i;
      EXPECT_EQ(got[i].content, batch[i].content);
      EXPECT_EQ(got[i].batch_index, i);
      EXPECT_EQ(got[i].batch_size, n);
      // The receiver's proof equals the signer's, and proves the verdict alone.
      EXPECT_EQ(got[i].batch_path, batch[i].batch_path);
      EXPECT_TRUE(wire::verify_verdict_signature(got[i], verifier_)) << n << " " << i;
    }
  }
}

TEST_F(VerdictBatchTest, AWrongKeyOrAnotherReplicasNameInvalidatesTheWholeBatch) {
  std::vector<voter::ReplicaVerdict> got;
  ASSERT_TRUE(round_trip(signed_batch(5, other_key_), 1, &got).is_ok());
  for (const auto& v : got) EXPECT_FALSE(v.signature_valid);
  // Signed with b's key but arriving on a's connection.
  got.clear();
  ASSERT_TRUE(round_trip(signed_batch(5, key_), 0, &got).is_ok());
  for (const auto& v : got) {
    EXPECT_FALSE(v.signature_valid);
    EXPECT_EQ(v.replica, 0);
  }
}

TEST_F(VerdictBatchTest, ContentChangedAfterSigningInvalidatesTheBatch) {
  auto batch = signed_batch(6, key_);
  batch[4].content.code = ResponseCode::kDoNotHonour;
  std::vector<voter::ReplicaVerdict> got;
  ASSERT_TRUE(round_trip(batch, 1, &got).is_ok());
  for (const auto& v : got) EXPECT_FALSE(v.signature_valid);
}

TEST_F(VerdictBatchTest, AProofForAnotherPositionOrBatchSizeFails) {
  const auto batch = signed_batch(9, key_);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    voter::ReplicaVerdict moved = batch[i];
    moved.batch_index = static_cast<std::uint32_t>((i + 1) % batch.size());
    EXPECT_FALSE(wire::verify_verdict_signature(moved, verifier_)) << i;
    voter::ReplicaVerdict resized = batch[i];
    resized.batch_size = 10;
    EXPECT_FALSE(wire::verify_verdict_signature(resized, verifier_)) << i;
    voter::ReplicaVerdict other_leaf = batch[(i + 1) % batch.size()];
    other_leaf.batch_index = batch[i].batch_index;
    other_leaf.batch_path = batch[i].batch_path;
    EXPECT_FALSE(wire::verify_verdict_signature(other_leaf, verifier_)) << i;
  }
}

TEST_F(VerdictBatchTest, MalformedBatchesAreRefusedAndNothingIsAppended) {
  std::vector<voter::ReplicaVerdict> got(2);  // earlier content stays as it is
  const auto refuse = [&](const Bytes& buf, const std::string& part) {
    const wire::FromReplica* m = nullptr;
    ASSERT_TRUE(wire::verify_from_replica(buf, &m).is_ok());
    const Status s = wire::read_verdict_batch(m->batches()->Get(0), 1, verifier_, &got);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << part;
    EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
    EXPECT_EQ(got.size(), 2u);
  };
  for (const std::size_t sig_len : {0u, 63u, 65u}) {
    flatbuffers::FlatBufferBuilder fbb;
    const Bytes sig(sig_len, 1);
    std::vector<flatbuffers::Offset<wire::VerdictBatch>> batches = {wire::CreateVerdictBatch(
        fbb, fbb.CreateVector(std::vector<flatbuffers::Offset<wire::Verdict>>{}),
        sig_len == 0 ? 0 : fbb.CreateVector(sig))};
    fbb.Finish(wire::CreateFromReplicaDirect(fbb, 0, 0, &batches));
    refuse(finished(fbb), "no verdict");
  }
  {
    // A verdict with a signature one byte short.
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<flatbuffers::Offset<wire::Verdict>> verdicts;
    const Bytes tx(32, 1);
    const Bytes st(32, 2);
    verdicts.push_back(wire::CreateVerdictDirect(fbb, 1, 2, &tx, "00", &st, nullptr, 1, "fp", 1));
    const Bytes short_sig(63, 1);
    std::vector<flatbuffers::Offset<wire::VerdictBatch>> batches = {
        wire::CreateVerdictBatchDirect(fbb, &verdicts, &short_sig)};
    fbb.Finish(wire::CreateFromReplicaDirect(fbb, 0, 0, &batches));
    refuse(finished(fbb), "signature");
  }
  {
    // The second verdict of three has an unknown code.
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<flatbuffers::Offset<wire::Verdict>> verdicts;
    const Bytes tx(32, 1);
    const Bytes st(32, 2);
    for (const char* code : {"00", "99", "51"}) {
      verdicts.push_back(wire::CreateVerdictDirect(fbb, 1, 2, &tx, code, &st, nullptr, 1, "fp", 1));
    }
    const Bytes sig(64, 1);
    std::vector<flatbuffers::Offset<wire::VerdictBatch>> batches = {
        wire::CreateVerdictBatchDirect(fbb, &verdicts, &sig)};
    fbb.Finish(wire::CreateFromReplicaDirect(fbb, 0, 0, &batches));
    refuse(finished(fbb), "verdict 1 of the batch");
  }
}

// ---------------------------------------------------------------------------
// Certificates, through the public API

class CertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(layout::keys_dir(dir_.path()));
    for (int r = 0; r < kReplicaCount; ++r) {
      const auto i = static_cast<std::size_t>(r);
      ASSERT_TRUE(crypto::SigningKey::generate(&keys_[i]).is_ok());
      const Status s = crypto::write_key_pair(layout::replica_secret_key(dir_.path(), r),
                                              layout::replica_public_key(dir_.path(), r), keys_[i]);
      ASSERT_TRUE(s.is_ok()) << s.to_string();
    }
    const Status s = Keyring::load_dir(dir_.path(), &keyring_);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }

  // Replica `replica`'s verdict on `c`, signed with `key_of`'s key (its own
  // by default).
  voter::ReplicaVerdict signed_by(int replica, const voter::VerdictContent& c,
                                  const std::string& fingerprint = "build-x", int key_of = -1) {
    voter::ReplicaVerdict v;
    v.replica = replica;
    v.content = c;
    v.fingerprint = fingerprint;
    std::array<voter::ReplicaVerdict, 1> batch = {v};
    wire::sign_verdict_batch(batch, keys_[static_cast<std::size_t>(key_of < 0 ? replica : key_of)]);
    return batch[0];
  }

  Bytes cert(const voter::VerdictContent& c, const std::vector<voter::ReplicaVerdict>& signers) {
    return wire::build_certificate(c, signers);
  }

  Status verify(const Bytes& bytes, CertificateInfo* info = nullptr) {
    CertificateInfo local;
    return verify_certificate(bytes, keyring_, info != nullptr ? info : &local);
  }

  testing::TempDir dir_;
  std::array<crypto::SigningKey, kReplicaCount> keys_;
  Keyring keyring_;
};

TEST_F(CertificateTest, TwoValidSignersHold) {
  const voter::VerdictContent c = sample_content();
  CertificateInfo info;
  const Status s = verify(cert(c, {signed_by(0, c), signed_by(1, c)}), &info);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(info.signers, "ab");
  EXPECT_EQ(info.seq, c.seq);
  EXPECT_EQ(info.ts_ms, c.ts_ms);
  EXPECT_EQ(info.code, "00");
  EXPECT_EQ(info.tx_digest_hex, hex(c.tx_digest));
  EXPECT_EQ(info.state_digest_hex, hex(c.state_digest));
  EXPECT_EQ(info.rules_version, c.rules_version);
}

TEST_F(CertificateTest, AnyPairInAnyOrderHolds) {
  const voter::VerdictContent c = sample_content();
  const std::vector<std::pair<std::vector<int>, std::string>> pairs = {
      {{0, 2}, "ac"}, {{1, 2}, "bc"}, {{2, 0}, "ac"}, {{2, 1}, "bc"}, {{1, 0}, "ab"}};
  for (const auto& [who, want] : pairs) {
    CertificateInfo info;
    const Status s = verify(cert(c, {signed_by(who[0], c), signed_by(who[1], c)}), &info);
    ASSERT_TRUE(s.is_ok()) << want << ": " << s.to_string();
    EXPECT_EQ(info.signers, want);
  }
}

TEST_F(CertificateTest, ThreeValidSignersHold) {
  const voter::VerdictContent c = sample_content();
  CertificateInfo info;
  const Status s = verify(cert(c, {signed_by(2, c), signed_by(0, c), signed_by(1, c)}), &info);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(info.signers, "abc");
}

// Each signature covers its signer's own fingerprint: builds differ by design.
TEST_F(CertificateTest, SignersWithDifferentFingerprintsHold) {
  const voter::VerdictContent c = sample_content();
  const Status s = verify(cert(c, {signed_by(0, c, "gcc -O2"), signed_by(1, c, "clang -O3")}));
  EXPECT_TRUE(s.is_ok()) << s.to_string();
}

TEST_F(CertificateTest, DeclinesAndFailSafeCodesHoldToo) {
  for (const ResponseCode code :
       {ResponseCode::kInsufficientFunds, ResponseCode::kDoNotHonour, ResponseCode::kFormatError}) {
    voter::VerdictContent c = sample_content();
    c.code = code;
    CertificateInfo info;
    const Status s = verify(cert(c, {signed_by(0, c), signed_by(2, c)}), &info);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    EXPECT_EQ(info.code, to_string(code));
  }
}

TEST_F(CertificateTest, OneSignerIsNotEnough) {
  const voter::VerdictContent c = sample_content();
  const Status s = verify(cert(c, {signed_by(1, c)}));
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("at least 2"), std::string::npos) << s.message();
}

TEST_F(CertificateTest, NoSignersIsNotEnough) {
  const voter::VerdictContent c = sample_content();
  const Status s = verify(cert(c, {}));
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("at least 2"), std::string::npos) << s.message();
}

TEST_F(CertificateTest, TheSameReplicaTwiceIsNotTwoSigners) {
  const voter::VerdictContent c = sample_content();
  // Twice the same signature, and two different valid signatures (different
  // fingerprints) by the same replica.
  for (const auto& signers :
       {std::vector<voter::ReplicaVerdict>{signed_by(0, c), signed_by(0, c)},
        std::vector<voter::ReplicaVerdict>{signed_by(2, c, "one"), signed_by(2, c, "two")}}) {
    const Status s = verify(cert(c, signers));
    EXPECT_EQ(s.code(), Status::Code::kCorruption);
    EXPECT_NE(s.message().find("two signatures of replica"), std::string::npos) << s.message();
  }
}

// Every entry costs a signature check, and entries may share one table: a
// certificate lists each replica once, so at most three.
TEST_F(CertificateTest, MoreEntriesThanReplicasAreRefusedBeforeAnyCheck) {
  const voter::VerdictContent c = sample_content();
  const Status s = verify(
      cert(c, {signed_by(0, c), signed_by(1, c), signed_by(2, c), signed_by(0, c, "again")}));
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("4 signatures, at most 3"), std::string::npos) << s.message();
}

TEST_F(CertificateTest, ASignatureByAnotherReplicasKeyFailsNamingTheReplica) {
  const voter::VerdictContent c = sample_content();
  // b's slot signed with a's key.
  const Status s = verify(cert(c, {signed_by(0, c), signed_by(1, c, "build-x", /*key_of=*/0)}));
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("replica b"), std::string::npos) << s.message();

  // A valid signature of a, relabelled as c's.
  voter::ReplicaVerdict relabelled = signed_by(0, c);
  relabelled.replica = 2;
  const Status t = verify(cert(c, {signed_by(1, c), relabelled}));
  EXPECT_EQ(t.code(), Status::Code::kCorruption);
  EXPECT_NE(t.message().find("replica c"), std::string::npos) << t.message();
}

// One bad signature spoils the certificate even when two others are valid:
// verify_certificate promises "every signature in it verifies".
TEST_F(CertificateTest, ABadThirdSignatureFailsEvenWithTwoGoodOnes) {
  const voter::VerdictContent c = sample_content();
  voter::ReplicaVerdict bad = signed_by(2, c);
  bad.signature[10] ^= 0x01;
  const Status s = verify(cert(c, {signed_by(0, c), signed_by(1, c), bad}));
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("replica c"), std::string::npos) << s.message();
}

TEST_F(CertificateTest, AFingerprintOtherThanTheSignedOneFails) {
  const voter::VerdictContent c = sample_content();
  voter::ReplicaVerdict b = signed_by(1, c, "signed-build");
  b.fingerprint = "claimed-build";
  const Status s = verify(cert(c, {signed_by(0, c), b}));
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("replica b"), std::string::npos) << s.message();
}

TEST_F(CertificateTest, ContentOtherThanTheSignedContentFails) {
  const voter::VerdictContent c = sample_content();
  const std::vector<voter::ReplicaVerdict> signers = {signed_by(0, c), signed_by(1, c)};
  ASSERT_TRUE(verify(cert(c, signers)).is_ok());
  const std::vector<std::pair<std::string, std::function<void(voter::VerdictContent*)>>> edits = {
      {"code", [](voter::VerdictContent* x) { x->code = ResponseCode::kDoNotHonour; }},
      {"seq", [](voter::VerdictContent* x) { x->seq += 1; }},
      {"ts", [](voter::VerdictContent* x) { x->ts_ms -= 1; }},
      {"tx_digest", [](voter::VerdictContent* x) { x->tx_digest[5] ^= 0x20; }},
      {"state_digest", [](voter::VerdictContent* x) { x->state_digest[31] ^= 0x01; }},
      {"rules_version", [](voter::VerdictContent* x) { x->rules_version = 2; }},
  };
  for (const auto& [label, edit] : edits) {
    voter::VerdictContent altered = c;
    edit(&altered);
    const Status s = verify(cert(altered, signers));
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << label;
    EXPECT_NE(s.message().find("does not verify"), std::string::npos)
        << label << ": " << s.message();
  }
}

// Flipping any one byte of a valid certificate never yields a valid
// certificate that says something else: either it fails, or (a flip in
// padding or an unused byte) it says exactly what the original said.
TEST_F(CertificateTest, NoSingleByteFlipChangesWhatAValidCertificateSays) {
  const voter::VerdictContent c = sample_content();
  const Bytes good = cert(c, {signed_by(0, c), signed_by(1, c)});
  CertificateInfo want;
  ASSERT_TRUE(verify(good, &want).is_ok());
  int still_valid = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (const std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
      Bytes b = good;
      b[i] ^= mask;
      CertificateInfo got;
      if (!verify(b, &got).is_ok()) continue;
      ++still_valid;
      EXPECT_EQ(got.seq, want.seq) << "byte " << i;
      EXPECT_EQ(got.ts_ms, want.ts_ms) << "byte " << i;
      EXPECT_EQ(got.code, want.code) << "byte " << i;
      EXPECT_EQ(got.signers, want.signers) << "byte " << i;
      EXPECT_EQ(got.tx_digest_hex, want.tx_digest_hex) << "byte " << i;
      EXPECT_EQ(got.state_digest_hex, want.state_digest_hex) << "byte " << i;
      EXPECT_EQ(got.rules_version, want.rules_version) << "byte " << i;
    }
  }
  RecordProperty("flips_still_valid", still_valid);
}

TEST_F(CertificateTest, WrongFileIdentifierFailsClearly) {
  const voter::VerdictContent c = sample_content();
  Bytes b = cert(c, {signed_by(0, c), signed_by(1, c)});
  std::copy_n("TRX9", 4, b.begin() + 4);
  const Status s = verify(b);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("not a Triad certificate"), std::string::npos) << s.message();
}

TEST_F(CertificateTest, RandomBytesAndOtherMessagesFailClearly) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 200; ++i) {
    Bytes b(static_cast<std::size_t>(rng() % 600));
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    const Status s = verify(b);
    ASSERT_EQ(s.code(), Status::Code::kCorruption) << "buffer " << i;
    ASSERT_FALSE(s.message().empty());
  }
  const Status empty = verify(Bytes{});
  EXPECT_EQ(empty.code(), Status::Code::kCorruption);
  EXPECT_NE(empty.message().find("certificate"), std::string::npos) << empty.message();
  const Status other = verify(client_request_buffer());
  EXPECT_EQ(other.code(), Status::Code::kCorruption);
  EXPECT_NE(other.message().find("certificate"), std::string::npos) << other.message();
}

// A structurally valid certificate with wrong field lengths or an unknown
// replica: each refused with the field named.
TEST_F(CertificateTest, FieldsOfTheWrongShapeAreNamed) {
  const voter::VerdictContent c = sample_content();
  const voter::ReplicaVerdict a = signed_by(0, c);
  const voter::ReplicaVerdict b = signed_by(1, c);
  struct Shape {
    std::string label;
    std::size_t tx_len = 32;
    std::size_t state_len = 32;
    std::string code = "00";
    std::uint8_t second_replica = 1;
    std::size_t second_sig_len = 64;
    std::string message_part;
  };
  const std::vector<Shape> shapes = {
      {"short tx digest", 31, 32, "00", 1, 64, "tx_digest"},
      {"long state digest", 32, 33, "00", 1, 64, "state_digest"},
      {"unknown code", 32, 32, "99", 1, 64, "code"},
      {"replica 3", 32, 32, "00", 3, 64, "unknown replica"},
      {"63-byte signature", 32, 32, "00", 1, 63, "64 expected"},
  };
  for (const Shape& sh : shapes) {
    SCOPED_TRACE(sh.label);
    flatbuffers::FlatBufferBuilder fbb;
    const Bytes tx(c.tx_digest.begin(), c.tx_digest.end());
    Bytes tx_field = tx;
    tx_field.resize(sh.tx_len, 0);
    Bytes state_field(c.state_digest.begin(), c.state_digest.end());
    state_field.resize(sh.state_len, 0);
    const Bytes sig_a(a.signature.begin(), a.signature.end());
    Bytes sig_b(b.signature.begin(), b.signature.end());
    sig_b.resize(sh.second_sig_len, 0);
    std::vector<flatbuffers::Offset<wire::CertSignature>> sigs = {
        wire::CreateCertSignatureDirect(fbb, 0, a.fingerprint.c_str(), &sig_a, 0, 1),
        wire::CreateCertSignatureDirect(fbb, sh.second_replica, b.fingerprint.c_str(), &sig_b, 0,
                                        1)};
    const auto root = wire::CreateCertificateDirect(fbb, c.seq, c.ts_ms, &tx_field, sh.code.c_str(),
                                                    &state_field, nullptr, c.rules_version, &sigs);
    wire::FinishCertificateBuffer(fbb, root);
    const Status s = verify(finished(fbb));
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
    EXPECT_NE(s.message().find(sh.message_part), std::string::npos) << s.message();
  }
}

// A replica signs batches: a certificate carries each signer's audit path
// from its verdict to the signed root, and any change to the proof fails.
TEST_F(CertificateTest, SignersFromLargerBatchesHoldAndTheirProofsAreChecked) {
  const voter::VerdictContent c = sample_content();
  const auto in_batch = [&](int replica, std::size_t position, std::size_t size) {
    std::vector<voter::ReplicaVerdict> batch(size);
    for (std::size_t i = 0; i < size; ++i) {
      batch[i].replica = replica;
      batch[i].content = c;
      batch[i].content.seq = c.seq - position + i;
      batch[i].fingerprint = "build-x";
    }
    wire::sign_verdict_batch(batch, keys_[static_cast<std::size_t>(replica)]);
    return batch[position];
  };
  const voter::ReplicaVerdict a = in_batch(0, 5, 11);
  const voter::ReplicaVerdict b = in_batch(1, 0, 300);
  ASSERT_FALSE(a.batch_path.empty());
  CertificateInfo info;
  const Status s = verify(cert(c, {a, b}), &info);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(info.signers, "ab");

  voter::ReplicaVerdict damaged = a;
  damaged.batch_path[1][7] ^= 0x01;
  voter::ReplicaVerdict moved = a;
  moved.batch_index = 6;
  voter::ReplicaVerdict resized = a;
  resized.batch_size = 12;
  voter::ReplicaVerdict shortened = a;
  shortened.batch_path.pop_back();
  voter::ReplicaVerdict out_of_range = a;
  out_of_range.batch_index = 11;
  for (const auto& bad : {damaged, moved, resized, shortened, out_of_range}) {
    const Status t = verify(cert(c, {bad, b}));
    EXPECT_EQ(t.code(), Status::Code::kCorruption);
    EXPECT_NE(t.message().find("replica a"), std::string::npos) << t.message();
  }
}

TEST_F(CertificateTest, Base64TextVerifiesWithSurroundingWhitespace) {
  const voter::VerdictContent c = sample_content();
  const std::string text = crypto::base64_encode(cert(c, {signed_by(0, c), signed_by(2, c)}));
  CertificateInfo info;
  const Status s = verify_certificate_base64("  " + text + "\n", keyring_, &info);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(info.signers, "ac");
}

TEST_F(CertificateTest, BadBase64IsInvalidArgument) {
  for (const std::string text : {"not base64!", "QUJD=", "QU JD", "Q"}) {
    CertificateInfo info;
    const Status s = verify_certificate_base64(text, keyring_, &info);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << text << ": " << s.to_string();
    EXPECT_NE(s.message().find("base64"), std::string::npos) << s.message();
  }
}

TEST_F(CertificateTest, ValidBase64OfGarbageIsCorruption) {
  CertificateInfo info;
  const Status s =
      verify_certificate_base64(crypto::base64_encode(Bytes(40, 0x42)), keyring_, &info);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
}

// Found by fuzz_certificate: the public API aborted (the verifier's alignment
// assertion) on a caller's buffer that did not start 8-byte aligned, and on
// the empty input libFuzzer passes at an odd address.
TEST_F(CertificateTest, BufferAtAnyAddressVerifies) {
  const voter::VerdictContent c = sample_content();
  const Bytes b = cert(c, {signed_by(0, c), signed_by(1, c)});
  Bytes shifted(b.size() + 8);
  for (std::size_t offset = 0; offset < 8; ++offset) {
    std::copy(b.begin(), b.end(), shifted.begin() + static_cast<std::ptrdiff_t>(offset));
    CertificateInfo info;
    const Status s =
        verify_certificate(std::span(shifted).subspan(offset, b.size()), keyring_, &info);
    ASSERT_TRUE(s.is_ok()) << "offset " << offset << ": " << s.to_string();
    EXPECT_EQ(info.signers, "ab");
    const Status empty = verify_certificate(std::span(shifted).subspan(offset, 0), keyring_, &info);
    EXPECT_EQ(empty.code(), Status::Code::kCorruption) << "offset " << offset;
  }
}

TEST_F(CertificateTest, AnotherClustersKeysDoNotVerifyIt) {
  const voter::VerdictContent c = sample_content();
  const Bytes b = cert(c, {signed_by(0, c), signed_by(1, c)});
  testing::TempDir other;
  std::filesystem::create_directories(layout::keys_dir(other.path()));
  for (int r = 0; r < kReplicaCount; ++r) {
    crypto::SigningKey k;
    ASSERT_TRUE(crypto::SigningKey::generate(&k).is_ok());
    ASSERT_TRUE(crypto::write_key_pair(layout::replica_secret_key(other.path(), r),
                                       layout::replica_public_key(other.path(), r), k)
                    .is_ok());
  }
  Keyring ring;
  ASSERT_TRUE(Keyring::load_dir(other.path(), &ring).is_ok());
  CertificateInfo info;
  const Status s = verify_certificate(b, ring, &info);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("replica a"), std::string::npos) << s.message();
}

TEST_F(CertificateTest, AnEmptyKeyringVerifiesNothing) {
  const voter::VerdictContent c = sample_content();
  const Keyring empty;
  CertificateInfo info;
  const Status s = verify_certificate(cert(c, {signed_by(0, c), signed_by(1, c)}), empty, &info);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
}

TEST(Keyring, MissingKeyFileIsNotFoundNamingIt) {
  testing::TempDir dir;
  Keyring ring;
  const Status s = Keyring::load_dir(dir.path(), &ring);
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.to_string();
  EXPECT_NE(s.message().find("replica-a.pub"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace triad
