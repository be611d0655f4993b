// The card file (rules.md section 2) as `triad up` and every replica read it
// (parse_card_file). An accepted file must give an engine whose snapshot
// restores into a fresh engine of the same file and serializes back to the
// same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "rules/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace triad;
  fuzz::world();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  rules::CardFile cards;
  if (!rules::parse_card_file(text, &cards).is_ok()) return 0;
  const rules::Engine engine(cards);
  std::string bytes;
  engine.serialize(&bytes);
  rules::Engine fresh(cards);
  fuzz::check(fresh.restore(bytes).is_ok(), "an engine restores its own snapshot");
  std::string again;
  fresh.serialize(&again);
  fuzz::check(again == bytes, "a restored engine serializes to the same bytes");
  return 0;
}
