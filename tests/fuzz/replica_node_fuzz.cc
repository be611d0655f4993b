// A replica's whole message handling (ReplicaNode::on_message): batches of
// sequenced transactions, fault injection, snapshot requests and installs,
// in any order, with idle timers between them. Input: the steps of
// fuzz_util.h (NodeHarness).
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace triad;
  fuzz::world();
  fuzz::NodeHarness harness(0);
  replica::ReplicaNode::Messages out;
  harness.start(&out);
  for (const fuzz::Step& s : fuzz::split_steps({data, size})) {
    out.clear();
    harness.step(s.kind, s.payload, &out);
    if (harness.node().crashed()) break;  // the process would be gone
  }
  return 0;
}
