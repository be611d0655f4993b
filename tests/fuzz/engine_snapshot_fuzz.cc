// A state snapshot as a replica in repair installs it (Engine::restore, behind
// ReplicaCore::install's digest check, which a fuzzer cannot pass). Restore
// must refuse what serialize() could not have written, and what it accepts
// must serialize back to the same bytes and keep deciding; the cut into
// parts that the digest check makes first must agree with it.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "rules/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace triad;
  const fuzz::World& w = fuzz::world();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The cut a checkpoint digest is computed over (replica/checkpoint.h)
  // reads lengths from the same untrusted bytes, before restore() does.
  rules::Engine::SnapshotParts parts;
  const bool laid_out = rules::Engine::split_snapshot(bytes, 32, 1024, &parts).is_ok();
  rules::Engine engine(w.cards);
  if (!engine.restore(bytes).is_ok()) return 0;
  fuzz::check(laid_out, "a snapshot restore() accepts can be cut into its parts");
  std::string again;
  engine.serialize(&again);
  fuzz::check(again == bytes, "an accepted snapshot serializes back to the same bytes");
  // The restored tables must hold up under apply(): the sample traffic from
  // the snapshot's last ts on (layout in engine.cc: the i64 after the 26-byte
  // header, the u64 count and the u8 flag), an hour apart so the windows
  // slide past what the snapshot holds.
  constexpr std::size_t kLastTsOffset = 26 + 8 + 1;
  std::uint64_t last = 0;
  for (std::size_t i = 0; i < 8; ++i) last = last << 8 | data[kLastTsOffset + i];
  std::int64_t ts = static_cast<std::int64_t>(last);
  constexpr std::int64_t kHourMs = 3'600'000;
  for (const Transaction& tx : w.traffic) {
    (void)engine.apply(ts, tx);
    if (ts > std::numeric_limits<std::int64_t>::max() - kHourMs) break;
    ts += kHourMs;
  }
  return 0;
}
