// A JSON Lines transaction as `triad submit` and the client library read it
// (parse_transaction_json), and a sequenced line as `triad-replica --replay`
// reads it. A parsed transaction must survive the wire unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/sequenced.h"
#include "fuzz_util.h"
#include "wire/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace triad;
  fuzz::world();
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  std::uint64_t seq = 0;
  std::int64_t ts = 0;
  if (parse_sequenced_header(line, &seq, &ts).is_ok()) fuzz::check(seq >= 1, "seq is at least 1");

  Transaction tx;
  if (!parse_transaction_json(line, &tx).is_ok()) return 0;
  if (tx.id) (void)is_valid_transaction_id(*tx.id);
  if (tx.pan) {
    const std::string masked = mask_pan(*tx.pan);
    fuzz::check(masked.size() == tx.pan->size(), "a masked PAN keeps its length");
  }
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(wire::build_transaction(fbb, tx));
  const Transaction round_trip =
      wire::read_transaction(flatbuffers::GetRoot<wire::Transaction>(fbb.GetBufferPointer()));
  fuzz::check(round_trip == tx, "a parsed transaction crosses the wire unchanged");
  (void)fuzz::transaction_digest(tx);
  return 0;
}
