// The front end's whole message handling (Core::on_client_message and
// on_replica_message), stepped with a sequence of client and replica frames
// and timer and process events: what a hostile client or replica reaches.
// Input: the steps of fuzz_util.h (CoreHarness).
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace triad;
  fuzz::world();
  fuzz::CoreHarness harness;
  frontend::Outbox out;
  for (const fuzz::Step& s : fuzz::split_steps({data, size})) {
    harness.step(s.kind, s.payload, &out);
    out.clear();
  }
  return 0;
}
