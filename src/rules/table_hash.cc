#include "rules/table_hash.h"

#include <sodium.h>

#include <cstring>

#include "common/assert.h"

namespace triad::rules {

static_assert(sizeof(TableHashKey::bytes) == crypto_shorthash_KEYBYTES);

TableHashKey TableHashKey::random() {
  TRIAD_ASSERT(sodium_init() >= 0);  // 1 when already initialised
  TableHashKey key;
  randombytes_buf(key.bytes.data(), key.bytes.size());
  return key;
}

const TableHashKey& TableHashKey::per_process() {
  static const TableHashKey key = random();
  return key;
}

std::uint64_t table_hash(const TableHashKey& key, std::string_view bytes) {
  std::array<unsigned char, crypto_shorthash_BYTES> out{};
  static_assert(sizeof out == sizeof(std::uint64_t));
  crypto_shorthash(out.data(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                   key.bytes.data());
  std::uint64_t h = 0;
  std::memcpy(&h, out.data(), sizeof h);  // host order: the value never leaves the process
  return h;
}

std::size_t DuplicateKeyHash::operator()(const DuplicateKey& k) const noexcept {
  // The two fields' bytes, not the struct's: its padding is not part of the key.
  char bytes[sizeof k.terminal + sizeof k.stan];
  std::memcpy(bytes, &k.terminal, sizeof k.terminal);
  std::memcpy(bytes + sizeof k.terminal, &k.stan, sizeof k.stan);
  return static_cast<std::size_t>(table_hash(key, std::string_view(bytes, sizeof bytes)));
}

}  // namespace triad::rules
