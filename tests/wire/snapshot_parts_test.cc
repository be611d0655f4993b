// Tests of a snapshot's travel in parts (src/wire/snapshot_parts.h): the
// parts put back together give the snapshot sent, for any part size and an
// empty state; a run of parts that does not hold together is refused with
// its cause, dropping what was gathered, and the rest of it is ignored; a
// sender has at most kSnapshotWindowParts parts in flight.
#include "wire/snapshot_parts.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "wire/codec.h"

namespace triad::wire {
namespace {

// Every operator new of this test program, so that a test can tell whether
// the code it calls allocates (replaced below, outside the namespace).
std::atomic<std::uint64_t> g_allocations{0};

using Bytes = std::vector<std::uint8_t>;
using Progress = SnapshotAssembly::Progress;

// The part a message carries (a vector's data is 8-byte aligned, as the
// verifier needs); one that does not verify aborts the test.
const Snapshot& part_of(const Bytes& message) {
  const FromReplica* msg = nullptr;
  const Status s = verify_from_replica(message, &msg);
  if (!s.is_ok() || msg->snapshot() == nullptr) {
    ADD_FAILURE() << "not a snapshot part: " << s.to_string();
    std::abort();
  }
  return *msg->snapshot();
}

Bytes state_of(std::size_t size) {
  Bytes state(size);
  for (std::size_t i = 0; i < size; ++i) state[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return state;
}

const Bytes kStateDigest(32, 0x11);
const Bytes kCheckpointDigest(32, 0x22);

std::vector<Bytes> parts_of(const Bytes& state, std::size_t part_bytes, std::uint64_t seq = 700,
                            const Bytes& checkpoint_digest = kCheckpointDigest) {
  return encode_snapshot(SnapshotCarrier::kFromReplica,
                         {seq, kStateDigest, checkpoint_digest, state}, part_bytes);
}

TEST(SnapshotParts, PutBackTogetherForAnyPartSize) {
  for (const std::size_t size : {0UL, 1UL, 99UL, 100UL, 101UL, 1000UL}) {
    const Bytes state = state_of(size);
    for (const std::size_t part_bytes : {1UL, 7UL, 100UL, 4096UL}) {
      const auto parts = parts_of(state, part_bytes);
      ASSERT_EQ(parts.size(), size == 0 ? 1 : (size + part_bytes - 1) / part_bytes)
          << size << " in parts of " << part_bytes;
      SnapshotAssembly assembly;
      for (std::size_t i = 0; i < parts.size(); ++i) {
        Progress progress{};
        ASSERT_TRUE(assembly.add(part_of(parts[i]), &progress).is_ok());
        EXPECT_EQ(progress, i + 1 == parts.size() ? Progress::kComplete : Progress::kPartial);
      }
      const SnapshotView view = assembly.view();
      EXPECT_EQ(view.seq, 700u);
      EXPECT_EQ(Bytes(view.state_digest.begin(), view.state_digest.end()), kStateDigest);
      EXPECT_EQ(Bytes(view.checkpoint_digest.begin(), view.checkpoint_digest.end()),
                kCheckpointDigest);
      EXPECT_EQ(Bytes(view.engine_state.begin(), view.engine_state.end()), state);
    }
  }
}

// A part at offset 0 starts again (the peer was asked again): the new
// snapshot is what comes out, not a mix.
TEST(SnapshotParts, APartAtOffsetZeroStartsAgain) {
  const auto first = parts_of(state_of(300), 100, 700);
  const Bytes other_state(250, 0x5a);
  const auto second = parts_of(other_state, 100, 800);
  SnapshotAssembly assembly;
  Progress progress{};
  ASSERT_TRUE(assembly.add(part_of(first[0]), &progress).is_ok());
  ASSERT_TRUE(assembly.add(part_of(first[1]), &progress).is_ok());
  for (const Bytes& p : second) ASSERT_TRUE(assembly.add(part_of(p), &progress).is_ok());
  ASSERT_EQ(progress, Progress::kComplete);
  EXPECT_EQ(assembly.view().seq, 800u);
  EXPECT_EQ(Bytes(assembly.view().engine_state.begin(), assembly.view().engine_state.end()),
            other_state);
}

std::string refusal(SnapshotAssembly* assembly, const Bytes& part) {
  Progress progress{};
  const Status s = assembly->add(part_of(part), &progress);
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(assembly->gathered_bytes(), 0u) << "what was gathered is dropped";
  return s.message();
}

TEST(SnapshotParts, ARunThatDoesNotHoldTogetherIsRefusedWithItsCause) {
  const auto parts = parts_of(state_of(300), 100);
  Progress progress{};
  {
    // With no run under way (its start dropped, or this one started after
    // it began), a later part is ignored, not a fault.
    SnapshotAssembly assembly;
    ASSERT_TRUE(assembly.add(part_of(parts[1]), &progress).is_ok());
    EXPECT_EQ(progress, Progress::kIgnored);
    EXPECT_FALSE(assembly.under_way());
  }
  {
    SnapshotAssembly assembly;
    ASSERT_TRUE(assembly.add(part_of(parts[0]), &progress).is_ok());
    EXPECT_TRUE(assembly.under_way());
    EXPECT_NE(refusal(&assembly, parts[2]).find("a part at offset 200 where 100 was next"),
              std::string::npos);
    // The rest of the refused run is ignored (it was refused once), until
    // a part at offset 0.
    ASSERT_TRUE(assembly.add(part_of(parts[1]), &progress).is_ok());
    EXPECT_EQ(progress, Progress::kIgnored);
    for (const Bytes& p : parts) ASSERT_TRUE(assembly.add(part_of(p), &progress).is_ok());
    EXPECT_EQ(progress, Progress::kComplete);
  }
  const auto check_other = [&](const std::vector<Bytes>& other) {
    SnapshotAssembly assembly;
    ASSERT_TRUE(assembly.add(part_of(parts[0]), &progress).is_ok());
    EXPECT_NE(refusal(&assembly, other[1]).find("a part of another snapshot"), std::string::npos);
  };
  check_other(parts_of(state_of(300), 100, 701));                   // another seq
  check_other(parts_of(state_of(300), 100, 700, Bytes(32, 0x23)));  // another digest
  check_other(parts_of(state_of(301), 100));                        // another size
}

// The state is gathered where it stays: one buffer of the size the first
// part claims, taken then, so nothing gathered is copied again (grown by
// doubling, a buffer of 64 MB took 19 ms in one turn of the front end).
TEST(SnapshotParts, TheStateIsGatheredInOneBufferTakenAtTheFirstPart) {
  const Bytes state = state_of(100'000);
  const auto parts = parts_of(state, 1000);
  SnapshotAssembly assembly;
  Progress progress{};
  ASSERT_TRUE(assembly.add(part_of(parts[0]), &progress).is_ok());
  const std::uint64_t allocations = g_allocations.load();
  bool all_ok = true;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    all_ok = assembly.add(part_of(parts[i]), &progress).is_ok() && all_ok;
  }
  EXPECT_EQ(g_allocations.load() - allocations, 0u) << "after the first part";
  ASSERT_TRUE(all_ok);
  ASSERT_EQ(progress, Progress::kComplete);
  EXPECT_EQ(Bytes(assembly.view().engine_state.begin(), assembly.view().engine_state.end()), state);
}

// A part claiming more than its run's size, or none while some is left
// (which could go on for ever), and a size over the limit, are refused.
TEST(SnapshotParts, APartOfTheWrongSizeOrAStateOverTheLimitIsRefused) {
  const auto build = [](std::uint64_t offset, std::uint64_t total, std::size_t slice) {
    flatbuffers::FlatBufferBuilder fbb;
    const Bytes bytes(slice, 1);
    const auto part =
        CreateSnapshot(fbb, 5, fbb.CreateVector(kStateDigest), fbb.CreateVector(kCheckpointDigest),
                       fbb.CreateVector(bytes), offset, total);
    FromReplicaBuilder b(fbb);
    b.add_snapshot(part);
    fbb.Finish(b.Finish());
    return Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  };
  SnapshotAssembly assembly;
  EXPECT_NE(refusal(&assembly, build(0, 10, 11))
                .find("a part of 11 bytes at offset 0 of a state "
                      "of 10"),
            std::string::npos);
  Progress progress{};
  ASSERT_TRUE(assembly.add(part_of(build(0, 10, 4)), &progress).is_ok());
  EXPECT_EQ(progress, Progress::kPartial);
  EXPECT_NE(refusal(&assembly, build(4, 10, 0)).find("a part of 0 bytes"), std::string::npos);
  Status over = assembly.add(part_of(build(0, max_snapshot_state_bytes() + 1, 1)), &progress);
  EXPECT_EQ(over.code(), Status::Code::kRejected) << "no fault of the peer's";
  EXPECT_NE(over.message().find("over the limit"), std::string::npos) << over.message();
  EXPECT_FALSE(assembly.under_way());
  // What a replica with such a state sends: a first part with only its size.
  over = assembly.add(
      part_of(encode_oversized_snapshot_part(SnapshotCarrier::kFromReplica, 5, kStateDigest,
                                             kCheckpointDigest, max_snapshot_state_bytes() + 1)),
      &progress);
  EXPECT_EQ(over.code(), Status::Code::kRejected);
  EXPECT_NE(over.message().find("a state of " + std::to_string(max_snapshot_state_bytes() + 1) +
                                " bytes is over the limit"),
            std::string::npos)
      << over.message();
}

// A run dropped (a part that does not fit, or a new start) costs no more
// memory than what it gathered, whatever size its first part claimed: the
// reservation's untouched pages are not written on the way out (a faulty
// replica could otherwise make the front end fault in and wipe up to a
// quarter of memory on its event loop, as often as it liked).
TEST(SnapshotParts, ADroppedRunTouchesOnlyWhatItGathered) {
  const std::uint64_t claimed =
      std::min<std::uint64_t>(std::uint64_t{1} << 30, max_snapshot_state_bytes() / 2);
  ASSERT_GE(claimed, std::uint64_t{256} << 20) << "a machine this small cannot tell";
  const auto peak_rss_bytes = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // reported in KiB
  };
  const auto first_part = [&] {
    flatbuffers::FlatBufferBuilder fbb;
    const Bytes slice(1, 9);
    const auto part =
        CreateSnapshot(fbb, 5, fbb.CreateVector(kStateDigest), fbb.CreateVector(kCheckpointDigest),
                       fbb.CreateVector(slice), 0, claimed);
    FromReplicaBuilder b(fbb);
    b.add_snapshot(part);
    fbb.Finish(b.Finish());
    return Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  }();
  const auto misplaced = parts_of(state_of(100), 10)[3];  // offset 30 where 1 is next
  SnapshotAssembly assembly;
  Progress progress{};
  const std::uint64_t before = peak_rss_bytes();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(assembly.add(part_of(first_part), &progress).is_ok());
    ASSERT_EQ(progress, Progress::kPartial);
    EXPECT_NE(refusal(&assembly, misplaced).find("a part at offset 30 where 1 was next"),
              std::string::npos);
  }
  EXPECT_LT(peak_rss_bytes() - before, claimed / 4)
      << "of " << claimed << " bytes claimed, 1 gathered";
}

// The parts fit the replica link's message limit with room to spare.
TEST(SnapshotParts, APartOfTheLargestSizeIsAMessageAReplicaTakes) {
  const auto parts = parts_of(state_of(kSnapshotPartBytes + 10), kSnapshotPartBytes);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_LE(parts[0].size(), kMaxReplicaMessageBytes);
  part_of(parts[0]);
}

// A sender's window: at most kSnapshotWindowParts parts beyond those
// acknowledged; an acknowledgement of another run, of part of a part, or of
// more than was sent moves nothing; one again, or an older one, sends nothing.
TEST(PartWindow, AtMostAFewPartsInFlight) {
  constexpr std::size_t kPartBytes = 100;
  constexpr std::size_t kParts = kSnapshotWindowParts + 3;
  PartWindow window(7, kParts, kPartBytes);
  ASSERT_TRUE(window.active());
  EXPECT_EQ(window.take_due(), kSnapshotWindowParts);
  EXPECT_EQ(window.take_due(), kSnapshotWindowParts) << "nothing more until acknowledged";
  EXPECT_FALSE(window.on_ack(6, kPartBytes));
  EXPECT_FALSE(window.on_ack(7, kPartBytes + 1));
  EXPECT_FALSE(window.on_ack(7, (kSnapshotWindowParts + 1) * kPartBytes)) << "not sent yet";
  EXPECT_EQ(window.take_due(), kSnapshotWindowParts);
  EXPECT_TRUE(window.on_ack(7, 2 * kPartBytes));
  EXPECT_EQ(window.take_due(), kSnapshotWindowParts + 2);
  EXPECT_TRUE(window.on_ack(7, kPartBytes));
  EXPECT_EQ(window.take_due(), kSnapshotWindowParts + 2) << "an older acknowledgement";
  EXPECT_FALSE(window.all_sent());
  EXPECT_TRUE(window.on_ack(7, (kSnapshotWindowParts + 2) * kPartBytes));
  EXPECT_EQ(window.take_due(), kParts) << "never beyond the last part";
  EXPECT_TRUE(window.all_sent());
  EXPECT_FALSE(PartWindow().active());
}

// A PartSender encodes its parts as the window lets them go: the same
// messages as encode_snapshot's, in order, each once; an empty state is one
// part.
TEST(PartSender, HandsOverItsPartsAsTheWindowLetsThem) {
  const Bytes state = state_of(1000);
  constexpr std::size_t kPartBytes = 150;  // 7 parts
  const Digest state_digest{1, 2, 3};
  const Digest checkpoint_digest{4, 5, 6};
  const SnapshotView view{3, state_digest, checkpoint_digest, state};
  const auto expected = encode_snapshot(SnapshotCarrier::kInstall, view, kPartBytes);
  ASSERT_EQ(expected.size(), 7u);
  PartSender<Bytes> sender(SnapshotCarrier::kInstall, 3, state_digest, checkpoint_digest, state,
                           kPartBytes);
  std::vector<Bytes> sent;
  const auto send = [&sent](Bytes m) { sent.push_back(std::move(m)); };
  sender.send_due(send);
  EXPECT_EQ(sent.size(), kSnapshotWindowParts);
  for (std::size_t acked = 1; acked <= 7; ++acked) {
    sender.on_ack(3, acked * kPartBytes);
    sender.send_due(send);
  }
  EXPECT_EQ(sent, expected);
  EXPECT_TRUE(sender.window().all_sent());
  PartSender<Bytes> moved = std::move(sender);
  EXPECT_FALSE(sender.window().active());
  EXPECT_TRUE(moved.window().all_sent());
  moved.clear();
  EXPECT_FALSE(moved.window().active());

  PartSender<std::string> empty(SnapshotCarrier::kFromReplica, 4, state_digest, checkpoint_digest,
                                "", kPartBytes);
  sent.clear();
  empty.send_due(send);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(part_of(sent[0]).engine_state_bytes(), 0u);
  EXPECT_TRUE(empty.window().all_sent());
}

}  // namespace
}  // namespace triad::wire

// GCC takes the free() below for one of memory from operator new, which
// this operator new takes from malloc().
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  triad::wire::g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
