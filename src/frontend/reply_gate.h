// Replies wait here until the journal holds durably the seq each one
// answers (journal/background_sync.h), and leave in the order they came: an
// error or a pong behind a held decision waits too, so no client's replies
// overtake each other. With nothing held and everything durable, a reply
// goes straight through.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>

#include "frontend/core.h"

namespace triad::frontend {

class ReplyGate {
 public:
  void hold(Outbox::ToClient reply) { held_.push_back(std::move(reply)); }

  // Calls send(const Outbox::ToClient&) for each reply, oldest first, up to
  // the first whose seq is beyond `durable_seq`.
  template <class Send>
  void release(std::uint64_t durable_seq, Send&& send) {
    while (!held_.empty() && held_.front().seq <= durable_seq) {
      send(held_.front());
      held_.pop_front();
    }
  }

  std::size_t held() const { return held_.size(); }

 private:
  std::deque<Outbox::ToClient> held_;
};

}  // namespace triad::frontend
