// Where the front end's core finds what it no longer keeps in memory: the
// transactions the input journal holds on file, and the certificates of the
// answers it gave. Without it the core's memory would grow by about 1.8 KiB
// with every transaction for as long as it runs; with it, by a few bytes of
// answer per seq (and the sequencer's idempotency record). The process keeps
// both on disk (FileArchive); tests and the simulator in memory
// (MemoryArchive).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "journal/journal.h"
#include "triad/status.h"

namespace triad::frontend {

// A certified answer as put_certificate keeps it with its certificate: what
// a repeated id is told besides the certificate itself.
struct KeptAnswer {
  std::array<char, 2> code{};  // two digits
  std::uint8_t agree = 0;      // replica masks, as in voter::Decision
  std::uint8_t divergent = 0;
  friend bool operator==(const KeptAnswer&, const KeptAnswer&) = default;
};

class Archive {
 public:
  virtual ~Archive() = default;
  // Appends the entries of seqs from..to to *out, in seq order. The core asks
  // only for seqs it was told are journalled (Core::release_journaled).
  virtual Status read_entries(std::uint64_t from, std::uint64_t to,
                              std::vector<journal::Entry>* out) = 0;
  // Keeps the certificate of seq's answer, for certificate() to give back when
  // the same id is submitted again. Never fails: what cannot be stored where
  // it belongs is kept some other way.
  virtual void put_certificate(std::uint64_t seq, const KeptAnswer& answer,
                               std::span<const std::uint8_t> certificate) = 0;
  // Replaces *out with what put_certificate kept for seq.
  virtual Status certificate(std::uint64_t seq, std::vector<std::uint8_t>* out) = 0;
  // The answer put_certificate kept for seq, in this run or an earlier one
  // (FileArchive keeps them on file): for a restart from a stored snapshot,
  // which does not decide the seqs up to it again. NotFound when none.
  virtual Status kept_answer(std::uint64_t seq, KeptAnswer* out) = 0;
  // Replaces *out with the certificate seq's answer had in a run before this
  // one (the audit store keeps every run's), for a journalled seq the replay
  // cannot decide again; the core checks it before it answers with it.
  // NotFound when there is none.
  virtual Status earlier_certificate(std::uint64_t seq, std::vector<std::uint8_t>* out) {
    (void)out;
    return Status::not_found("no earlier certificate for seq " + std::to_string(seq));
  }
};

}  // namespace triad::frontend
