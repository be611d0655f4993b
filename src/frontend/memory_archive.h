// An Archive in memory, for tests, fuzzers and the simulator, which play the
// process shell's part around the Core: after each turn, journal() does what
// FrontEnd::send_out does with the input journal.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "frontend/archive.h"
#include "frontend/core.h"

namespace triad::frontend {

class MemoryArchive final : public Archive {
 public:
  // Journals what `core` sequenced since the last call, up to seq `up_to`,
  // and lets the core go of what is journalled (Core::release_journaled).
  void journal(Core* core, std::uint64_t up_to = UINT64_MAX) {
    const std::uint64_t last = std::min(up_to, core->last_seq());
    for (std::uint64_t seq = journaled_seq_ + 1; seq <= last; ++seq) {
      entries_[seq] = {seq, core->sequenced_ts_ms(seq), core->sequenced_tx(seq)};
    }
    journaled_seq_ = std::max(journaled_seq_, last);
    core->release_journaled(journaled_seq_);
  }

  // What a journal file held when the process started (seq 1, 2, ... in
  // order): already journalled, for Core::recover to read back.
  void restore(const std::vector<journal::Entry>& entries) {
    for (const journal::Entry& e : entries) entries_[e.seq] = e;
    journaled_seq_ = entries.empty() ? 0 : entries.back().seq;
  }

  // While set, read_entries fails as a disk would.
  void set_failing(bool failing) { failing_ = failing; }

  Status read_entries(std::uint64_t from, std::uint64_t to,
                      std::vector<journal::Entry>* out) override {
    ++reads_;
    if (failing_) return Status::io_error("cannot read seqs from " + std::to_string(from));
    for (std::uint64_t seq = from; seq <= to; ++seq) {
      const auto it = entries_.find(seq);
      if (it == entries_.end()) {
        return Status::not_found("no journalled entry for seq " + std::to_string(seq));
      }
      out->push_back(it->second);
    }
    return Status::ok();
  }
  void put_certificate(std::uint64_t seq, const KeptAnswer& answer,
                       std::span<const std::uint8_t> certificate) override {
    certificates_[seq].assign(certificate.begin(), certificate.end());
    answers_[seq] = answer;
  }
  Status kept_answer(std::uint64_t seq, KeptAnswer* out) override {
    const auto it = answers_.find(seq);
    if (it == answers_.end()) return Status::not_found("no answer for seq " + std::to_string(seq));
    *out = it->second;
    return Status::ok();
  }
  // What FileArchive::keep_through does to what an earlier run kept.
  void keep_through(std::uint64_t seq) {
    certificates_.erase(certificates_.upper_bound(seq), certificates_.end());
    answers_.erase(answers_.upper_bound(seq), answers_.end());
  }
  Status certificate(std::uint64_t seq, std::vector<std::uint8_t>* out) override {
    const auto it = certificates_.find(seq);
    if (it == certificates_.end()) {
      return Status::not_found("no certificate for seq " + std::to_string(seq));
    }
    *out = it->second;
    return Status::ok();
  }

  // What earlier_certificate gives: the certificates of an earlier run.
  void set_earlier_certificates(std::map<std::uint64_t, std::vector<std::uint8_t>> certificates) {
    earlier_ = std::move(certificates);
  }
  Status earlier_certificate(std::uint64_t seq, std::vector<std::uint8_t>* out) override {
    const auto it = earlier_.find(seq);
    if (it == earlier_.end()) return Archive::earlier_certificate(seq, out);
    *out = it->second;
    return Status::ok();
  }

  // How often the core read entries back (it does only for seqs it let go of).
  std::uint64_t reads() const { return reads_; }
  // The journalled entry of `seq`, or null; not counted as a read.
  const journal::Entry* find(std::uint64_t seq) const {
    const auto it = entries_.find(seq);
    return it == entries_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::uint64_t, journal::Entry> entries_;
  std::map<std::uint64_t, std::vector<std::uint8_t>> certificates_;
  std::map<std::uint64_t, KeptAnswer> answers_;
  std::map<std::uint64_t, std::vector<std::uint8_t>> earlier_;
  std::uint64_t journaled_seq_ = 0;
  std::uint64_t reads_ = 0;
  bool failing_ = false;
};

}  // namespace triad::frontend
