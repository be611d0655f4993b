// Replies wait here until the journal holds durably the seq each one
// answers (journal/background_sync.h), and leave in the order they came: an
// error or a pong behind a held decision waits too, so no client's replies
// overtake each other. With nothing held and everything durable, a reply
// goes straight through.
//
// Replies to requests that came in a batch leave batched as well: those
// released together for one client go in as few frames as
// wire::kMaxReplyBatchBytes allows (schemas/client.fbs), one message, one
// CURVE box and one wake-up of the client for all of them.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "frontend/core.h"

namespace triad::frontend {

class ReplyGate {
 public:
  void hold(Outbox::ToClient reply) { held_.push_back(std::move(reply)); }

  // Calls send(const std::string& client, std::span<const std::uint8_t>
  // frame) for each frame to go out, oldest reply first, up to the first
  // whose seq is beyond `durable_seq`.
  template <class Send>
  void release(std::uint64_t durable_seq, Send&& send) {
    while (!held_.empty() && held_.front().seq <= durable_seq) {
      Outbox::ToClient& m = held_.front();
      if (m.batchable) {
        batchable_.push_back(std::move(m));
      } else {
        send_batched(send);  // what came before it goes first
        send(m.client, std::span<const std::uint8_t>(m.bytes));
      }
      held_.pop_front();
    }
    send_batched(send);
  }

  std::size_t held() const { return held_.size(); }

 private:
  struct Frame {
    const std::string* client;
    std::vector<std::uint8_t> owned;  // a batch; empty: a lone reply, sent as it is
    std::span<const std::uint8_t> bytes;
  };

  template <class Send>
  void send_batched(Send& send) {
    if (batchable_.empty()) return;
    make_frames();
    for (const Frame& f : frames_) send(*f.client, f.bytes);
    frames_.clear();
    batchable_.clear();
  }
  // batchable_ as frames_: per client in the order of its first reply,
  // each client's replies in order.
  void make_frames();

  std::deque<Outbox::ToClient> held_;
  std::vector<Outbox::ToClient> batchable_;  // released, not yet sent
  std::vector<Frame> frames_;
};

}  // namespace triad::frontend
