// Checkpoint digests that cost what changed, not the whole state.
//
// design.md principle 3 votes a full-state digest every K seqs, so that a
// replica whose memory went wrong is caught even while its decisions agree.
// The state keeps every approval and every id for the engine's lifetime
// (rules.md puts no time limit on a reversal), so serializing and hashing all
// of it at each checkpoint costs more at every checkpoint, and all three
// replicas pay it at the same seq, where the vote cannot hide it
// (bench/README.md, "What sets the p99 at moderate load"). Here the cards and
// the two lists that grow are kept serialized in pages, each with its SHA-256;
// a checkpoint rewrites and rehashes only the pages that changed since the
// previous one (cards whose running sums apply() changed, new entries,
// approvals reversed). Card pages are small (kCheckpointCardPageEntries):
// traffic spreads over the cards, so with a million of them nearly every page
// of 1,024 cards would change between two checkpoints. The rule 10 FIFO (a day
// of traffic) is kept the same way, cut into pieces where its entries say
// (below), since entries leave at its front. What follows from the rest (the
// rule 10 table, the rule 11 and 12 FIFOs) is not in the engine's snapshot
// (rules/engine.h). What a checkpoint hashes whole is then the head and a
// list of group hashes per part, about one per 256 pages and per 64 pieces.
//
// The digest (checkpoint digest version 2), over the bytes
// rules::Engine::serialize() writes, cut by Engine::split_snapshot():
//
//   page    SHA-256(the bytes of consecutive entries: kCheckpointCardPageEntries
//           cards, or kCheckpointPageEntries approvals or ids, from the
//           first; the last page may hold fewer)
//   group   SHA-256(the hashes of up to kCheckpointGroupPages consecutive
//           pages, in order)
//   list    SHA-256(u64 entry count, big-endian || the group hashes in order)
//   piece   SHA-256(the bytes of consecutive rule 10 FIFO entries, ending
//           after an entry whose boundary_hash() is 0 modulo
//           kCheckpointPageEntries, or at the FIFO's end)
//   fgroup  SHA-256(the hashes of consecutive pieces, ending after a piece
//           whose last entry's boundary_hash() is 0 modulo
//           kCheckpointPageEntries * kCheckpointFifoGroupPieces, or at the
//           FIFO's end)
//   fifo    SHA-256(u64 entry count || the fgroup hashes in order)
//   digest  SHA-256("triad-checkpoint" || u32 2 || SHA-256(head) ||
//                   list(cards) || list(approvals) || list(ids) ||
//                   fifo(rule 10))
//
// so anyone holding a snapshot's bytes can recompute it (checkpoint_digest()).
// A piece or fgroup ends where an entry says, not at a count from the front,
// so those after the first stay the same as old entries leave.
//
// A page or piece that did not change is not rehashed, so memory that went
// wrong in it after it was hashed would go unseen. Each checkpoint therefore
// also re-reads some unchanged ones from the engine and compares them with
// the bytes kept: a difference replaces the kept bytes, so the digest then
// differs from the other replicas' and the vote catches it. Of the card
// pages it re-reads twice as many as it rewrote, at least
// kCardScrubMinPages (all of the sample's 1,000 cards each time, so a
// flipped card, what corrupt-state simulates, is voted on at the next
// checkpoint); of the rest twice as many as it rewrote, at least one, in
// turn. The card pages' re-reads owed beyond kCardScrubMinPages may be
// done ahead of the checkpoint seq (prepare()): a bit that flips in a page
// after it was re-read there is then seen a pass later. New pages come at
// the end, so that cursor gains on the history at about the rate it grows:
// one pass takes about as many seqs as the history held when it began, a
// time that grows with the history (a fixed share of a growing history per
// checkpoint would make checkpoints grow again).
// Not re-read: what the snapshot leaves out. A bit that flips in the rule
// 10 table, or in the rule 11 or 12 FIFO, shows when it changes a
// decision or a card's running sums (a FIFO entry leaves the window
// against the wrong card or at the wrong time), which the vote and the card
// pages catch.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"
#include "crypto/hash.h"
#include "rules/engine.h"
#include "triad/status.h"

namespace triad::replica {

inline constexpr std::uint64_t kCheckpointPageEntries = 1024;
inline constexpr std::uint64_t kCheckpointCardPageEntries = 32;
inline constexpr std::size_t kCheckpointGroupPages = 256;
inline constexpr std::uint64_t kCheckpointFifoGroupPieces = 64;

// The checkpoint digest of an engine state as serialize() wrote it, from its
// bytes alone (what a snapshot is checked against before it is installed).
// Every byte of the state is in the digest. Corruption naming the cause when
// the bytes are not laid out as an engine snapshot; the values are not
// checked (Engine::restore does that). Linear in the state: for a repair.
Status checkpoint_digest(std::string_view engine_state, Digest* out);

// Whether `engine_state` gives `expected` as its checkpoint digest;
// Corruption naming the cause otherwise.
Status check_checkpoint_digest(std::string_view engine_state, const Digest& expected);

// checkpoint_digest() in steps, for a caller that must not stop for the
// whole state at once: the front end checks a repair's snapshot on its event
// loop, about 0.85 ms per MB on this VM (BM_SnapshotCheck), between the
// messages it handles. start() cuts the state into its parts; each step()
// hashes a share of the pages and of the rule 10 FIFO. The bytes must stay
// where they are until the last call.
class CheckpointDigestSteps {
 public:
  // Corruption when the bytes are not laid out as an engine snapshot.
  Status start(std::string_view engine_state);
  // Hashes about `max_bytes` more (at least one page or entry); true once
  // the digest is ready.
  bool step(std::size_t max_bytes);
  const Digest& digest() const;

 private:
  bool started_ = false;
  bool done_ = false;
  rules::Engine::SnapshotParts parts_;
  std::size_t list_ = 0;  // cards, approvals, ids: the list being hashed
  std::array<std::vector<Digest>, 3> page_hashes_;
  std::size_t fifo_at_ = 0;           // the next rule 10 FIFO entry
  std::size_t fifo_piece_start_ = 0;  // where the open piece starts
  crypto::Sha256 fifo_;
  crypto::Sha256 fifo_group_;
  bool fifo_group_empty_ = true;
  Digest digest_{};
};

// Keeps an engine's state serialized as of its last update(), in pages.
class Checkpointer {
 public:
  Checkpointer() = default;
  // Not copyable: a StateCopy refers to the Checkpointer it copies from.
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;
  Checkpointer(Checkpointer&&) = default;
  Checkpointer& operator=(Checkpointer&&) = default;

  // Brings the kept state up to `engine`'s and returns the checkpoint
  // digest: the same as checkpoint_digest() of engine.serialize(), unless
  // the scrub found kept bytes that differ from the engine's memory. Then
  // the engine's bytes are kept, which is what serialize() would write, and
  // the digest differs from a healthy replica's; it can also differ from
  // checkpoint_digest() of those bytes, when the changed entry moved where
  // the rule 10 FIFO is cut (the cuts are not made again).
  // Between two calls the engine must only have applied transactions; after
  // restore() or with another engine, call reset() first.
  // Tells the engine to forget its changes (they are written).
  Digest update(rules::Engine& engine);
  void reset() {
    const std::uint64_t resets = resets_;
    *this = Checkpointer();
    resets_ = resets + 1;
  }

  // Part of the next update()'s work can be done ahead, while the replica has
  // nothing else to do, so that less of it falls on the checkpoint seq,
  // where all three replicas pay it at once. The digest update() returns
  // does not depend on whether or when that ran (a page written ahead and
  // changed again is written again). Both do nothing before the first
  // update().
  //
  // Notes the pages the engine's changes since the last call touched (and
  // tells the engine to forget them); returns how many card pages are
  // waiting to be rewritten. Costs what changed.
  std::uint64_t note_changes(rules::Engine& engine);
  // One step: rewrites card pages noted as changed, then re-reads the card
  // pages the scrub owes for them; at most `max_pages` (> 0) pages. Returns
  // whether any is left. (The groups of page hashes are left to update():
  // rehashed ahead, they would be rehashed again for every page changed
  // after, which cost more in all than the whole checkpoint.)
  bool prepare(rules::Engine& engine, std::uint64_t max_pages);

  // The engine state at the last update() (there must have been one since
  // the start or reset()), as serialize() wrote it then.
  std::string engine_state() const;

  // engine_state() a share at a time, for a caller that must not stop for
  // the whole state at once: a repair's source, one of the two replicas that
  // must agree while the third is out, answered nothing for 27-35 ms while
  // it copied 74 MB (a million cards; bench/README.md, "A repair under
  // load"). The constructor copies the rule 10 FIFO's pieces (a day's
  // window) and measures the whole; each step() copies a share of the kept
  // bytes into one buffer of that size. It views the kept pages (it
  // owns the small ones, which a move would not keep in place): an update()
  // meanwhile keeps the pages it replaces until the last copy ends (a copy
  // finished at the checkpoint instead put most of a large one on the
  // checkpoint seq at high rates, where checkpoints come every few tens of
  // ms). A reset() ends it (asserted). Not copyable or movable: it views its
  // own strings.
  class StateCopy {
   public:
    explicit StateCopy(const Checkpointer& kept);
    StateCopy(const StateCopy&) = delete;
    StateCopy& operator=(const StateCopy&) = delete;
    ~StateCopy();
    std::size_t total_bytes() const { return total_bytes_; }
    // Copies about `max_bytes` (> 0) more; true once the state is whole.
    bool step(std::size_t max_bytes);
    bool done() const { return next_ == slices_.size(); }
    // The whole state, moved out (once done()).
    std::string take();

   private:
    // Kept pages of at most this size are copied at the start, not viewed.
    static constexpr std::size_t kOwnedSliceBytes = 64;

    const Checkpointer& kept_;
    std::uint64_t kept_resets_;
    std::string head_;
    std::string approval_count_, id_count_, fifo_count_;
    std::string fifo_entries_;
    std::deque<std::string> small_pages_;   // owned: they do not move
    std::vector<std::string_view> slices_;  // the state, in order
    std::size_t next_ = 0;                  // the slice being copied
    std::size_t next_offset_ = 0;           // how much of it is copied
    std::size_t total_bytes_ = 0;
    std::string out_;
  };

  // What the last update() did, with the prepare() calls before it, for
  // tests, logs and benchmarks.
  struct Work {
    std::uint64_t pages_rewritten = 0;   // page writes since the update before (new or changed
                                         // pages; one written ahead and again counts twice)
    std::uint64_t pieces_added = 0;      // rule 10 FIFO pieces completed since
    std::uint64_t scrubbed = 0;          // unchanged pages and pieces re-read and compared
    std::uint64_t scrub_mismatches = 0;  // of those, differing from the kept bytes
    std::uint64_t ahead = 0;             // pages rewritten or re-read by prepare()
  };
  const Work& last_work() const { return last_work_; }
  // Pages of the cards and the two lists, complete pieces of the rule 10
  // FIFO, and its groups of pieces (the last may be open).
  std::uint64_t card_page_count() const { return cards_.pages.size(); }
  std::uint64_t page_count() const {
    return cards_.pages.size() + approvals_.pages.size() + ids_.pages.size();
  }
  std::uint64_t piece_count() const { return fifo_.pieces.size(); }
  std::uint64_t fifo_group_count() const { return fifo_.groups.size(); }
  // Bytes of replaced pages kept for the copies under way (StateCopy).
  std::size_t retained_page_bytes() const;

  // Where the rule 10 FIFO is cut: an entry (its 20 bytes as serialize()
  // writes them) ends a piece when this is 0 modulo kCheckpointPageEntries,
  // and a group of pieces when it is 0 modulo kCheckpointPageEntries *
  // kCheckpointFifoGroupPieces.
  static std::uint64_t boundary_hash(std::string_view entry);

 private:
  using Append = void (rules::Engine::*)(std::uint64_t, std::uint64_t, std::string*) const;
  struct PagedList {
    PagedList(Append writer, std::uint64_t entries_per_page)
        : append(writer), page_entries(entries_per_page) {}
    Append append;  // the engine call that writes entries first..end-1
    std::uint64_t page_entries;
    std::uint64_t count = 0;
    std::vector<std::string> pages;           // full, except perhaps the last
    std::vector<std::uint64_t> committed_at;  // the update that committed each
    std::vector<Digest> page_hashes;
    std::vector<Digest> group_hashes;
    std::vector<bool> group_stale;
    // Pages written since the last update() (empty: not written), which
    // moves them into `pages`, so that engine_state() stays the state then
    // while work is done ahead. The hashes are the new bytes' at once.
    std::vector<std::string> ahead;
    std::vector<std::uint64_t> ahead_pages;
    bool is_written(std::uint64_t page) const {
      return page < ahead.size() && !ahead[page].empty();
    }
    std::string& written(std::uint64_t page);
    // The pages written take the place of those kept, as of update number
    // `update`; a replaced one committed at or before `retire_through` goes
    // to `retired` when that is not null, the others are freed.
    void commit(std::uint64_t update, std::vector<std::string>* retired,
                std::uint64_t retire_through);
  };
  // Entries are numbered as the engine pushed them (duplicate_fifo_pushed()
  // counts them): the oldest one kept is number pushed_seen - live.
  struct Piece {
    std::string bytes;
    Digest hash;
    std::uint64_t first = 0;  // number of its first entry
  };
  struct FifoGroup {
    std::uint64_t pieces = 0;  // complete pieces in it
    bool closed = false;       // its last piece's last entry ends a group
    bool stale = true;         // hash to be computed again
    Digest hash;
  };
  struct Fifo {
    bool started = false;
    std::uint64_t pushed_seen = 0;  // engine.duplicate_fifo_pushed() then
    std::uint64_t live = 0;         // entries kept: the FIFO's size then
    std::deque<Piece> pieces;       // complete, oldest first
    std::deque<FifoGroup> groups;   // the pieces in groups, in order
    std::uint64_t front_gone = 0;   // entries of pieces.front() that left since
    std::string open;               // entries after the last complete piece
    std::uint64_t open_first = 0;   // number of open's first entry (or the next)
  };

  std::uint64_t rewrite_changed_cards(const rules::Engine& engine, std::uint64_t max_pages);
  void rewrite(const rules::Engine& engine, std::uint64_t page, PagedList* list);
  void reread(const rules::Engine& engine, std::uint64_t page, PagedList* list);
  void update_fifo(const rules::Engine& engine);
  void scrub(const rules::Engine& engine, std::uint64_t budget);
  std::uint64_t scrub_cards(const rules::Engine& engine, std::uint64_t budget);
  void mark_piece_changed(std::uint64_t piece);
  Digest fifo_digest();
  std::string fifo_entries() const;

  std::string head_;
  PagedList cards_{&rules::Engine::append_cards, kCheckpointCardPageEntries};
  PagedList approvals_{&rules::Engine::append_approvals, kCheckpointPageEntries};
  PagedList ids_{&rules::Engine::append_ids, kCheckpointPageEntries};
  Fifo fifo_;
  std::uint64_t scrub_cursor_ = 0;  // over approvals' pages, ids', then pieces
  std::string scratch_;
  // Changes the engine reported since the last update(), not yet written:
  // card pages (each once) and approval numbers reversed.
  std::vector<bool> card_page_changed_;
  std::vector<std::uint64_t> changed_card_pages_;
  std::vector<std::uint64_t> reversed_approvals_;
  std::uint64_t card_scrub_owed_ = 0;  // card pages to re-read for those rewritten
  std::uint64_t card_scrub_cursor_ = 0;
  bool updated_ = false;
  // Counts reset() calls: a StateCopy views the pages between two.
  std::uint64_t resets_ = 0;
  // update() calls; the one a page's kept bytes were committed at is in
  // PagedList::committed_at.
  std::uint64_t updates_ = 0;
  // StateCopy objects under way, the updates_ the newest began after, and
  // the pages update() replaced that one of them may view (committed by
  // then), released when the last ends.
  mutable std::size_t copies_ = 0;
  mutable std::uint64_t copies_view_through_ = 0;
  mutable std::vector<std::string> retired_pages_;
  Work work_;  // since the last update()
  Work last_work_;
};

}  // namespace triad::replica
