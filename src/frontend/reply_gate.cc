#include "frontend/reply_gate.h"

#include <algorithm>
#include <numeric>

#include "wire/codec.h"

namespace triad::frontend {

void ReplyGate::make_frames() {
  // Usually one client; a stable sort keeps each client's order.
  std::vector<std::size_t> order(batchable_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return batchable_[a].client < batchable_[b].client;
  });
  std::vector<std::span<const std::uint8_t>> parts;
  std::size_t parts_bytes = 0;
  const std::string* client = nullptr;
  auto flush = [&] {
    if (parts.size() == 1) {
      frames_.push_back({client, {}, parts.front()});
    } else if (!parts.empty()) {
      std::vector<std::uint8_t> batch = wire::encode_reply_batch(parts);
      const std::span<const std::uint8_t> bytes(batch);
      frames_.push_back({client, std::move(batch), bytes});
    }
    parts.clear();
    parts_bytes = 0;
  };
  for (const std::size_t i : order) {
    const Outbox::ToClient& m = batchable_[i];
    if (client != nullptr &&
        (m.client != *client || parts_bytes + m.bytes.size() > wire::kMaxReplyBatchBytes)) {
      flush();
    }
    client = &m.client;
    parts.emplace_back(m.bytes);
    parts_bytes += m.bytes.size();
  }
  flush();
}

}  // namespace triad::frontend
