// One replica state snapshot on disk, so that a restart of the front end
// starts from it instead of replaying the whole input journal to fresh
// replicas. The front end keeps the newest snapshot whose state matched the
// majority's checkpoint, with that seq's certificate, and a restart replays
// only the journal after its seq. Pure file I/O and crypto, like the journal.
//
// File layout, version 2 (all integers little-endian):
//
//   header, 36 bytes: "TRIADSNP" | version u32 (2) | seq u64 | nonce, 12 bytes
//                     | segment size u32 (S, 1 ..= 64 MiB)
//   then segments:    each the sealed form (ciphertext | GCM tag, 16 bytes)
//                     of the next S bytes of the content, the last of 1..S
//   content:          state digest, 32 bytes | checkpoint digest, 32 bytes
//                     | engine state length u64 | engine state
//                     | certificate length u32 | certificate
//
// The engine state holds card data, so everything after the header is
// encrypted (AES-256-GCM). Segment i's nonce is the header's (random per
// write) with its last 8 bytes XORed with i; its associated data is the
// header, i (u64) and a byte that is 1 for the last segment only. So a seq
// changed in clear fails authentication instead of making the restart skip
// or replay the wrong part of the journal, and so does a segment moved,
// dropped, repeated, or cut off at the end. In segments, a state is written
// and read without a second copy of it in memory, and its size has no bound
// of the format's (one GCM message holds at most INT_MAX bytes here).
//
// Version 1, which earlier builds wrote, is still read: the same header
// without the segment size (32 bytes), then the content sealed as one
// message with the header as associated data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/types.h"
#include "crypto/aead.h"
#include "triad/status.h"

namespace triad::journal {

struct StoredSnapshot {
  std::uint64_t seq = 0;  // the checkpoint seq the state is at (>= 1)
  Digest state_digest{};
  Digest checkpoint_digest{};
  std::vector<std::uint8_t> engine_state;  // rules::Engine::serialize(); may be tens of MB
  std::vector<std::uint8_t> certificate;   // the seq's certificate, opaque here (<= 64 KiB)
};

// Overwrites the engine state (card data) with zeros and frees it: for a
// copy that is done with. The digests and the certificate stay.
void wipe_state(StoredSnapshot* snapshot);

// Writes `snapshot` to `path` so that a crash at any moment leaves either the
// old file or the new one whole: `path + ".next"` written (mode 0600),
// synced, renamed over `path`, then the directory synced. InvalidArgument for
// seq 0 or a certificate over 64 KiB; IoError naming the file and the reason
// when a system call fails: the ".next" file is then removed, and `path`
// holds the old snapshot or the new one. `segment_bytes` (1 ..= 64 MiB) is S
// above: what is in memory beside the state while it is written or read.
inline constexpr std::size_t kSnapshotSegmentBytes = 4 * 1024 * 1024;
Status write_snapshot_file(const std::string& path, const crypto::SymmetricKey& key,
                           const StoredSnapshot& snapshot,
                           std::size_t segment_bytes = kSnapshotSegmentBytes);

// Reads back what write_snapshot_file wrote. NotFound when `path` does not
// exist; Corruption naming the cause (bad magic, unknown version, cut short,
// a segment size out of range, sizes that do not add up, or "does not
// authenticate": written with another key, or altered); IoError when it
// cannot be read. Reads both versions. *out is unchanged on failure.
Status read_snapshot_file(const std::string& path, const crypto::SymmetricKey& key,
                          StoredSnapshot* out);

}  // namespace triad::journal
