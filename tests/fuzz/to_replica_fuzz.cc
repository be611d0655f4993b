// A front-end frame as a replica decodes it: the verifier, then every field
// (sequenced entries and their transactions, the fault to inject, the
// snapshot to install). The message handler itself is replica_node_fuzz.
#include <cstddef>
#include <cstdint>
#include <string>

#include "crypto/hash.h"
#include "fuzz_util.h"
#include "replica/fault.h"
#include "wire/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace triad;
  fuzz::world();
  const wire::AlignedFrame frame(data, size);
  const wire::ToReplica* batch = nullptr;
  if (!wire::verify_to_replica(frame.bytes(), &batch).is_ok()) return 0;
  if (batch->inject() != nullptr) {
    replica::Fault fault;
    if (replica::parse_fault(wire::as_view(batch->inject()), &fault).is_ok()) {
      replica::Fault again;
      fuzz::check(replica::parse_fault(replica::to_string(fault), &again).is_ok() &&
                      replica::to_string(again) == replica::to_string(fault),
                  "a parsed fault prints back to itself");
    }
  }
  (void)batch->snapshot_request();
  if (const wire::Snapshot* snap = batch->install(); snap != nullptr) {
    (void)snap->seq();
    (void)wire::as_bytes(snap->state_digest()).size();
    (void)wire::as_bytes(snap->checkpoint_digest()).size();
    (void)crypto::sha256(wire::as_bytes(snap->engine_state()));
  }
  if (batch->entries() == nullptr) return 0;
  for (const wire::Sequenced* e : *batch->entries()) {
    (void)e->seq();
    (void)e->ts();
    (void)fuzz::transaction_digest(wire::read_transaction(e->tx()));
  }
  return 0;
}
