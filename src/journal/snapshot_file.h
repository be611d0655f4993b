// One replica state snapshot on disk, so that a restart of the front end
// starts from it instead of replaying the whole input journal to fresh
// replicas. The front end keeps the newest snapshot whose state matched the
// majority's checkpoint, with that seq's certificate, and a restart replays
// only the journal after its seq. Pure file I/O and crypto, like the journal.
//
// File layout (all integers little-endian):
//
//   header, 32 bytes: "TRIADSNP" | version u32 (1) | seq u64 | nonce, 12 bytes
//   then:             ciphertext | GCM tag, 16 bytes
//   plaintext:        state digest, 32 bytes | checkpoint digest, 32 bytes
//                     | engine state length u64 | engine state
//                     | certificate length u32 | certificate
//
// The engine state holds card data, so everything after the header is
// encrypted (AES-256-GCM, a random 96-bit nonce per write). The header is the
// associated data: a seq changed in clear fails authentication instead of
// making the restart skip or replay the wrong part of the journal.
#pragma once

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
// seq 0, a certificate over 64 KiB or an engine state near 2 GiB (more than
// one GCM message takes here); IoError naming the file and the reason when a
// system call fails: the ".next" file is then removed, and `path` holds the
// old snapshot or the new one.
Status write_snapshot_file(const std::string& path, const crypto::SymmetricKey& key,
                           const StoredSnapshot& snapshot);

// Reads back what write_snapshot_file wrote. NotFound when `path` does not
// exist; Corruption naming the cause (bad magic, unknown version, cut short,
// sizes that do not add up, or "does not authenticate": written with another
// key, or altered); IoError when it cannot be read. *out is unchanged on
// failure.
Status read_snapshot_file(const std::string& path, const crypto::SymmetricKey& key,
                          StoredSnapshot* out);

}  // namespace triad::journal
