// A client's frame as the front end decodes it: the verifier, then every
// field of the request (or of each part of a batch) and its transaction.
// Whatever was read must survive a re-encode unchanged (same content, same
// canonical digest).
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "wire/codec.h"

namespace {

void read_request(const triad::wire::ClientRequest* request) {
  using namespace triad;
  if (request->ping() != nullptr) (void)request->ping()->tag();
  const wire::SubmitRequest* submit = request->submit();
  if (submit == nullptr) return;
  (void)submit->tag();
  const Transaction tx = wire::read_transaction(submit->tx());
  if (tx.id) (void)is_valid_transaction_id(*tx.id);
  if (tx.pan) (void)mask_pan(*tx.pan);

  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(wire::build_transaction(fbb, tx));
  const auto* again = flatbuffers::GetRoot<wire::Transaction>(fbb.GetBufferPointer());
  const Transaction round_trip = wire::read_transaction(again);
  fuzz::check(round_trip == tx, "a transaction read from the wire re-encodes unchanged");
  fuzz::check(fuzz::transaction_digest(round_trip) == fuzz::transaction_digest(tx),
              "equal transactions have equal digests");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace triad;
  fuzz::world();
  const wire::AlignedFrame frame(data, size);
  const wire::ClientRequest* request = nullptr;
  if (!wire::verify_client_request(frame.bytes(), &request).is_ok()) return 0;
  read_request(request);
  if (request->batch() == nullptr) return 0;
  for (const wire::RequestPart* part : *request->batch()) {
    if (const wire::ClientRequest* r = wire::request_part(part)) read_request(r);
  }
  return 0;
}
