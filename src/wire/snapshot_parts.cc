#include "wire/snapshot_parts.h"

#include <unistd.h>

#include <algorithm>
#include <new>
#include <string>
#include <utility>

#include "common/assert.h"
#include "crypto/aead.h"
#include "wire/codec.h"

namespace triad::wire {
namespace {

// What a part's message holds besides its slice: the tables, two digests
// (32 bytes each from a healthy peer) and alignment.
constexpr std::size_t kPartOverheadBytes = 1024;

static_assert(kSnapshotPartBytes + kPartOverheadBytes <= kMaxReplicaMessageBytes,
              "a snapshot part fits in a replica message");
static_assert(kSnapshotWindowParts > 0 && kSnapshotWindowParts < 256 / 4,
              "the parts in flight leave room in the front end's queue for a replica");

bool same(std::span<const std::uint8_t> a, const std::vector<std::uint8_t>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace

namespace {

// A part's message: `slice`, at `offset` of a state of `state_bytes`.
std::vector<std::uint8_t> encode_slice(SnapshotCarrier carrier, std::uint64_t seq,
                                       std::span<const std::uint8_t> state_digest,
                                       std::span<const std::uint8_t> checkpoint_digest,
                                       std::span<const std::uint8_t> slice, std::size_t offset,
                                       std::uint64_t state_bytes, std::uint64_t launch) {
  flatbuffers::FlatBufferBuilder fbb(slice.size() + kPartOverheadBytes + state_digest.size() +
                                     checkpoint_digest.size());
  const auto slice_offset = fbb.CreateVector(slice.data(), slice.size());
  const auto state = fbb.CreateVector(state_digest.data(), state_digest.size());
  const auto checkpoint = fbb.CreateVector(checkpoint_digest.data(), checkpoint_digest.size());
  const auto part = CreateSnapshot(fbb, seq, state, checkpoint, slice_offset, offset, state_bytes);
  if (carrier == SnapshotCarrier::kInstall) {
    ToReplicaBuilder b(fbb);
    b.add_install(part);
    fbb.Finish(b.Finish());
  } else {
    FromReplicaBuilder b(fbb);
    b.add_snapshot(part);
    b.add_launch(launch);
    fbb.Finish(b.Finish());
  }
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

}  // namespace

std::vector<std::uint8_t> encode_snapshot_part(SnapshotCarrier carrier,
                                               const SnapshotView& snapshot, std::size_t offset,
                                               std::size_t size, std::uint64_t launch) {
  TRIAD_ASSERT(offset <= snapshot.engine_state.size() &&
               size <= snapshot.engine_state.size() - offset);
  return encode_slice(carrier, snapshot.seq, snapshot.state_digest, snapshot.checkpoint_digest,
                      snapshot.engine_state.subspan(offset, size), offset,
                      snapshot.engine_state.size(), launch);
}

std::vector<std::uint8_t> encode_oversized_snapshot_part(
    SnapshotCarrier carrier, std::uint64_t seq, std::span<const std::uint8_t> state_digest,
    std::span<const std::uint8_t> checkpoint_digest, std::uint64_t state_bytes,
    std::uint64_t launch) {
  TRIAD_ASSERT(state_bytes > max_snapshot_state_bytes());
  return encode_slice(carrier, seq, state_digest, checkpoint_digest, {}, 0, state_bytes, launch);
}

std::vector<std::vector<std::uint8_t>> encode_snapshot(SnapshotCarrier carrier,
                                                       const SnapshotView& snapshot,
                                                       std::size_t part_bytes) {
  TRIAD_ASSERT(part_bytes > 0);
  std::vector<std::vector<std::uint8_t>> parts;
  const std::size_t total = snapshot.engine_state.size();
  std::size_t offset = 0;
  do {
    const std::size_t size = std::min(part_bytes, total - offset);
    parts.push_back(encode_snapshot_part(carrier, snapshot, offset, size));
    offset += size;
  } while (offset < total);
  return parts;
}

std::vector<std::uint8_t> encode_snapshot_ack(SnapshotCarrier carrier, std::uint64_t seq,
                                              std::uint64_t gathered, std::uint64_t launch) {
  flatbuffers::FlatBufferBuilder fbb(128);
  const auto ack = CreateSnapshotAck(fbb, seq, gathered);
  if (carrier == SnapshotCarrier::kFromReplica) {
    ToReplicaBuilder b(fbb);
    b.add_snapshot_ack(ack);
    fbb.Finish(b.Finish());
  } else {
    FromReplicaBuilder b(fbb);
    b.add_install_ack(ack);
    b.add_launch(launch);
    fbb.Finish(b.Finish());
  }
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

PartWindow::PartWindow(std::uint64_t seq, std::size_t parts, std::size_t part_bytes)
    : seq_(seq), parts_(parts), part_bytes_(part_bytes) {
  TRIAD_ASSERT(parts > 0 && part_bytes > 0);
}

std::size_t PartWindow::take_due() {
  sent_ = std::max(sent_, std::min(parts_, acked_ + kSnapshotWindowParts));
  return sent_;
}

bool PartWindow::on_ack(std::uint64_t seq, std::uint64_t gathered) {
  if (!active() || seq != seq_ || gathered % part_bytes_ != 0) return false;
  const std::uint64_t parts = gathered / part_bytes_;
  if (parts > sent_) return false;
  acked_ = std::max<std::size_t>(acked_, parts);
  return true;
}

std::uint64_t max_snapshot_state_bytes() {
  static const std::uint64_t bytes = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_bytes = ::sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page_bytes <= 0) return kMaxSnapshotStateBytes;
    return std::min(kMaxSnapshotStateBytes,
                    static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_bytes) / 4);
  }();
  return bytes;
}

std::size_t snapshot_part_count(std::size_t state_bytes, std::size_t part_bytes) {
  TRIAD_ASSERT(part_bytes > 0);
  return state_bytes == 0 ? 1 : (state_bytes + part_bytes - 1) / part_bytes;
}

void detail::wipe_bytes(void* data, std::size_t size) { crypto::wipe(data, size); }

Status SnapshotAssembly::add(const Snapshot& part, Progress* progress) {
  const std::span<const std::uint8_t> slice = as_bytes(part.engine_state());
  const std::uint64_t offset = part.engine_state_offset();
  const std::uint64_t total = part.engine_state_bytes();
  std::string problem;
  if (offset == 0) {
    clear();
    if (total > max_snapshot_state_bytes()) {
      return Status::rejected("snapshot of seq " + std::to_string(part.seq()) + ": a state of " +
                              std::to_string(total) + " bytes is over the limit of " +
                              std::to_string(max_snapshot_state_bytes()));
    }
    // The whole size at once, as address space: the kernel gives the pages
    // as slices fill them, so a faulty peer's claim of GBs costs no memory,
    // and nothing gathered is copied again (grown by doubling, a buffer of
    // 64 MB took 19 ms in one turn of the front end's loop).
    try {
      engine_state_.reserve(static_cast<std::size_t>(total));
    } catch (const std::bad_alloc&) {
      return Status::rejected("snapshot of seq " + std::to_string(part.seq()) +
                              ": no room for a state of " + std::to_string(total) + " bytes");
    }
    under_way_ = true;
    seq_ = part.seq();
    total_bytes_ = total;
    const auto state = as_bytes(part.state_digest());
    const auto checkpoint = as_bytes(part.checkpoint_digest());
    state_digest_.assign(state.begin(), state.end());
    checkpoint_digest_.assign(checkpoint.begin(), checkpoint.end());
  } else if (!under_way_) {
    *progress = Progress::kIgnored;
    return Status::ok();
  } else if (offset != engine_state_.size()) {
    problem = "a part at offset " + std::to_string(offset) + " where " +
              std::to_string(engine_state_.size()) + " was next (a part lost?)";
  } else if (part.seq() != seq_ || total != total_bytes_ ||
             !same(as_bytes(part.state_digest()), state_digest_) ||
             !same(as_bytes(part.checkpoint_digest()), checkpoint_digest_)) {
    problem = "a part of another snapshot (seq " + std::to_string(part.seq()) + ") in the middle";
  }
  if (problem.empty() &&
      (slice.size() > total_bytes_ - engine_state_.size() || (slice.empty() && total_bytes_ > 0))) {
    problem = "a part of " + std::to_string(slice.size()) + " bytes at offset " +
              std::to_string(offset) + " of a state of " + std::to_string(total_bytes_);
  }
  if (!problem.empty()) {
    const std::uint64_t seq = under_way_ ? seq_ : part.seq();
    clear();
    return Status::corruption("snapshot of seq " + std::to_string(seq) + ": " + problem);
  }
  TRIAD_ASSERT(engine_state_.size() + slice.size() <= engine_state_.capacity());  // reserved
  engine_state_.insert(engine_state_.end(), slice.begin(), slice.end());
  *progress = engine_state_.size() == total_bytes_ ? Progress::kComplete : Progress::kPartial;
  return Status::ok();
}

SnapshotView SnapshotAssembly::view() const {
  TRIAD_ASSERT(under_way_ && engine_state_.size() == total_bytes_);
  return {seq_, state_digest_, checkpoint_digest_, engine_state_};
}

void SnapshotAssembly::clear() {
  under_way_ = false;
  seq_ = 0;
  total_bytes_ = 0;
  state_digest_.clear();
  checkpoint_digest_.clear();
  // The bytes gathered, not the whole reservation: past them nothing was
  // written, and wiping the rest would fault in every page of a size a
  // faulty peer claimed (up to a quarter of memory), on the front end's
  // event loop, each time it starts a run again or sends a part that does
  // not fit.
  crypto::wipe(engine_state_.data(), engine_state_.size());
  std::vector<std::uint8_t>().swap(engine_state_);
}

}  // namespace triad::wire
