// A replica's frame as the front end decodes it: the verifier, the hello and
// fetch fields, every verdict batch through read_verdict_batch (decode, Merkle
// tree, one signature check, audit paths), and the snapshot.
// The message handler itself is frontend_core_fuzz.
#include <cstddef>
#include <cstdint>
#include <string>

#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "fuzz_util.h"
#include "sim/sim.h"
#include "wire/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace triad;
  fuzz::world();
  static const auto keys = [] {
    std::array<crypto::VerifyingKey, kReplicaCount> k;
    for (int r = 0; r < kReplicaCount; ++r) {
      fuzz::check(crypto::VerifyingKey::from_public_key(sim::replica_public_key(r),
                                                        &k[static_cast<std::size_t>(r)])
                      .is_ok(),
                  "the simulator's public keys are valid");
    }
    return k;
  }();
  const wire::AlignedFrame frame(data, size);
  const wire::FromReplica* msg = nullptr;
  if (!wire::verify_from_replica(frame.bytes(), &msg).is_ok()) return 0;
  if (const wire::Hello* h = msg->hello(); h != nullptr) {
    (void)h->replica();
    (void)h->next_seq();
    (void)h->rules_version();
    (void)std::string(wire::as_view(h->fingerprint()));
  }
  if (const wire::Fetch* f = msg->fetch(); f != nullptr) {
    (void)f->from_seq();
    (void)f->to_seq();
  }
  if (msg->batches() != nullptr) {
    std::vector<voter::ReplicaVerdict> verdicts;
    for (const wire::VerdictBatch* b : *msg->batches()) {
      // As if from each replica's connection in turn.
      for (int r = 0; r < kReplicaCount; ++r) {
        verdicts.clear();
        if (!wire::read_verdict_batch(b, r, keys[static_cast<std::size_t>(r)], &verdicts).is_ok()) {
          fuzz::check(verdicts.empty(), "a refused batch appends nothing");
          continue;
        }
        for (const voter::ReplicaVerdict& v : verdicts) {
          fuzz::check(v.replica == r, "a decoded verdict is named after its connection");
          // A verdict the batch check accepted proves itself alone too.
          if (v.signature_valid) {
            fuzz::check(wire::verify_verdict_signature(v, keys[static_cast<std::size_t>(r)]),
                        "an accepted verdict's audit path verifies");
          }
        }
      }
    }
  }
  if (const wire::Snapshot* snap = msg->snapshot(); snap != nullptr) {
    (void)snap->seq();
    (void)wire::as_bytes(snap->state_digest()).size();
    (void)wire::as_bytes(snap->checkpoint_digest()).size();
    (void)crypto::sha256(wire::as_bytes(snap->engine_state()));
  }
  return 0;
}
