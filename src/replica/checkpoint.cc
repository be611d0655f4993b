#include "replica/checkpoint.h"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "common/assert.h"
#include "common/hex.h"
#include "crypto/aead.h"
#include "crypto/hash.h"

namespace triad::replica {
namespace {

constexpr std::string_view kDigestTag = "triad-checkpoint";
constexpr std::uint32_t kDigestVersion = 2;
constexpr std::size_t kFifoEntryBytes = rules::Engine::kDuplicateFifoEntryBytes;
// Unchanged pages or pieces re-read per page rewritten or piece added.
constexpr std::uint64_t kScrubPerChange = 2;
// Card pages re-read at least, each checkpoint: the sample's 1,000 cards.
constexpr std::uint64_t kCardScrubMinPages = 32;
constexpr std::uint64_t kFifoGroupModulus = kCheckpointPageEntries * kCheckpointFifoGroupPieces;

void put_be(std::uint64_t v, unsigned n, std::string* out) {
  for (unsigned i = n; i-- > 0;) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string be64(std::uint64_t v) {
  std::string out;
  put_be(v, 8, &out);
  return out;
}

// SHA-256 of the page hashes [first, first + kCheckpointGroupPages).
Digest group_hash(const std::vector<Digest>& page_hashes, std::size_t group) {
  crypto::Sha256 h;
  const std::size_t first = group * kCheckpointGroupPages;
  const std::size_t end = std::min(page_hashes.size(), first + kCheckpointGroupPages);
  for (std::size_t p = first; p < end; ++p) h.update(page_hashes[p]);
  return h.finish();
}

Digest list_digest(std::uint64_t count, const std::vector<Digest>& group_hashes) {
  crypto::Sha256 h;
  h.update(be64(count));
  for (const Digest& g : group_hashes) h.update(g);
  return h.finish();
}

Digest list_digest_of_page_hashes(std::uint64_t count, const std::vector<Digest>& page_hashes) {
  std::vector<Digest> groups;
  for (std::size_t g = 0; g * kCheckpointGroupPages < page_hashes.size(); ++g) {
    groups.push_back(group_hash(page_hashes, g));
  }
  return list_digest(count, groups);
}

bool ends_piece(std::string_view entry) {
  return Checkpointer::boundary_hash(entry) % kCheckpointPageEntries == 0;
}

bool ends_group(std::string_view entry) {
  return Checkpointer::boundary_hash(entry) % kFifoGroupModulus == 0;
}

Digest combine(const Digest& head, const Digest& cards, const Digest& approvals, const Digest& ids,
               const Digest& fifo) {
  crypto::Sha256 h;
  std::string prefix(kDigestTag);
  put_be(kDigestVersion, 4, &prefix);
  h.update(prefix);
  for (const Digest* d : {&head, &cards, &approvals, &ids, &fifo}) h.update(*d);
  return h.finish();
}

}  // namespace

std::uint64_t Checkpointer::boundary_hash(std::string_view entry) {
  TRIAD_ASSERT(entry.size() == kFifoEntryBytes);
  // FNV-1a over the bytes, then splitmix64's finalizer so that every bit of
  // the entry reaches the low bits.
  std::uint64_t x = 0xcbf29ce484222325ULL;
  for (const char c : entry) x = (x ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

namespace {

Status hash_whole(std::string_view engine_state, CheckpointDigestSteps* steps) {
  TRIAD_RETURN_IF_ERROR(steps->start(engine_state));
  while (!steps->step(std::numeric_limits<std::size_t>::max())) {
  }
  return Status::ok();
}

}  // namespace

Status checkpoint_digest(std::string_view engine_state, Digest* out) {
  CheckpointDigestSteps steps;
  TRIAD_RETURN_IF_ERROR(hash_whole(engine_state, &steps));
  *out = steps.digest();
  return Status::ok();
}

Status check_checkpoint_digest(std::string_view engine_state, const Digest& expected) {
  CheckpointDigestSteps steps;
  TRIAD_RETURN_IF_ERROR(hash_whole(engine_state, &steps));
  if (steps.digest() != expected) {
    return Status::corruption("engine snapshot: its state does not give the checkpoint digest " +
                              to_hex(expected));
  }
  return Status::ok();
}

Status CheckpointDigestSteps::start(std::string_view engine_state) {
  *this = CheckpointDigestSteps();
  TRIAD_RETURN_IF_ERROR(rules::Engine::split_snapshot(engine_state, kCheckpointCardPageEntries,
                                                      kCheckpointPageEntries, &parts_));
  fifo_.update(be64(parts_.duplicate_fifo.size() / kFifoEntryBytes));
  started_ = true;
  return Status::ok();
}

bool CheckpointDigestSteps::step(std::size_t max_bytes) {
  TRIAD_ASSERT(started_);
  const std::array<const std::vector<std::string_view>*, 3> lists = {
      &parts_.card_pages, &parts_.approval_pages, &parts_.id_pages};
  std::size_t done_bytes = 0;
  // At least one page or entry a step, so that every step gets on.
  const auto budget_left = [&] { return done_bytes == 0 || done_bytes < max_bytes; };
  for (; list_ < lists.size(); ++list_) {
    std::vector<Digest>& hashes = page_hashes_[list_];
    const std::vector<std::string_view>& pages = *lists[list_];
    while (hashes.size() < pages.size()) {
      if (!budget_left()) return false;
      const std::string_view page = pages[hashes.size()];
      hashes.push_back(crypto::sha256(page));
      done_bytes += page.size() + 1;
    }
  }
  const std::string_view entries = parts_.duplicate_fifo;
  for (; fifo_at_ < entries.size(); fifo_at_ += kFifoEntryBytes) {
    if (!budget_left()) return false;
    done_bytes += kFifoEntryBytes;
    const std::string_view entry = entries.substr(fifo_at_, kFifoEntryBytes);
    if (!ends_piece(entry)) continue;
    const std::string_view piece =
        entries.substr(fifo_piece_start_, fifo_at_ + kFifoEntryBytes - fifo_piece_start_);
    fifo_group_.update(crypto::sha256(piece));
    done_bytes += piece.size();
    fifo_group_empty_ = false;
    fifo_piece_start_ = fifo_at_ + kFifoEntryBytes;
    if (!ends_group(entry)) continue;
    fifo_.update(fifo_group_.finish());
    fifo_group_ = crypto::Sha256();
    fifo_group_empty_ = true;
  }
  if (done_) return true;
  if (fifo_piece_start_ < entries.size()) {
    fifo_group_.update(crypto::sha256(entries.substr(fifo_piece_start_)));
    fifo_group_empty_ = false;
  }
  if (!fifo_group_empty_) fifo_.update(fifo_group_.finish());
  digest_ = combine(crypto::sha256(parts_.head),
                    list_digest_of_page_hashes(parts_.card_count, page_hashes_[0]),
                    list_digest_of_page_hashes(parts_.approval_count, page_hashes_[1]),
                    list_digest_of_page_hashes(parts_.id_count, page_hashes_[2]), fifo_.finish());
  done_ = true;
  return true;
}

const Digest& CheckpointDigestSteps::digest() const {
  TRIAD_ASSERT(done_);
  return digest_;
}

// Where a page's new bytes go until update() commits them.
std::string& Checkpointer::PagedList::written(std::uint64_t page) {
  TRIAD_ASSERT(page < pages.size());
  if (ahead.size() < pages.size()) ahead.resize(pages.size());
  if (ahead[page].empty()) ahead_pages.push_back(page);  // a page is never empty
  return ahead[page];
}

void Checkpointer::PagedList::commit(std::uint64_t update, std::vector<std::string>* retired,
                                     std::uint64_t retire_through) {
  for (const std::uint64_t page : ahead_pages) {
    TRIAD_ASSERT(!ahead[page].empty());
    pages[page].swap(ahead[page]);
    // A page new since the last update replaced nothing; one committed after
    // the newest copy began is viewed by none.
    if (retired != nullptr && !ahead[page].empty() && committed_at[page] <= retire_through) {
      retired->push_back(std::move(ahead[page]));
    }
    std::string().swap(ahead[page]);  // the old bytes' memory too
    committed_at[page] = update;
  }
  ahead_pages.clear();
}

void Checkpointer::rewrite(const rules::Engine& engine, std::uint64_t page, PagedList* list) {
  std::string& bytes = list->written(page);
  bytes.clear();
  const std::uint64_t first = page * list->page_entries;
  (engine.*list->append)(first, std::min(list->count, first + list->page_entries), &bytes);
  TRIAD_ASSERT(!bytes.empty());
  list->page_hashes[page] = crypto::sha256(bytes);
  list->group_stale[page / kCheckpointGroupPages] = true;
  ++work_.pages_rewritten;
}

// The scrub of one page: the engine's bytes replace the kept ones where
// they differ.
void Checkpointer::reread(const rules::Engine& engine, std::uint64_t page, PagedList* list) {
  const std::uint64_t first = page * list->page_entries;
  scratch_.clear();
  (engine.*list->append)(first, std::min(list->count, first + list->page_entries), &scratch_);
  ++work_.scrubbed;
  if (scratch_ == (list->is_written(page) ? list->ahead[page] : list->pages[page])) return;
  ++work_.scrub_mismatches;
  std::string& bytes = list->written(page);
  bytes.swap(scratch_);
  list->page_hashes[page] = crypto::sha256(bytes);
  list->group_stale[page / kCheckpointGroupPages] = true;
}

void Checkpointer::update_fifo(const rules::Engine& engine) {
  Fifo& f = fifo_;
  const std::uint64_t size = engine.duplicate_fifo_size();
  const std::uint64_t pushed = engine.duplicate_fifo_pushed();
  TRIAD_ASSERT(!f.started || pushed >= f.pushed_seen);
  std::uint64_t added = f.started ? pushed - f.pushed_seen : size;
  if (added >= size) {
    // Everything kept has left (or nothing was kept): start again.
    f.pieces.clear();
    f.groups.clear();
    f.front_gone = 0;
    f.open.clear();
    f.open_first = pushed - size;
    added = size;
  } else {
    // The oldest entries left.
    TRIAD_ASSERT(f.live + added >= size);
    std::uint64_t gone = f.live + added - size;
    if (gone > 0 && !f.groups.empty()) f.groups.front().stale = true;
    while (gone > 0 && !f.pieces.empty()) {
      const std::uint64_t left = f.pieces.front().bytes.size() / kFifoEntryBytes - f.front_gone;
      if (gone < left) {
        f.front_gone += gone;
        gone = 0;
      } else {
        gone -= left;
        f.pieces.pop_front();
        f.front_gone = 0;
        if (--f.groups.front().pieces == 0) f.groups.pop_front();
        if (!f.groups.empty()) f.groups.front().stale = true;
      }
    }
    TRIAD_ASSERT(gone * kFifoEntryBytes <= f.open.size());
    f.open.erase(0, gone * kFifoEntryBytes);
    f.open_first += gone;
  }
  scratch_.clear();
  engine.append_duplicate_fifo(size - added, size, &scratch_);
  for (std::size_t at = 0; at < scratch_.size(); at += kFifoEntryBytes) {
    const std::string_view entry(scratch_.data() + at, kFifoEntryBytes);
    f.open += entry;
    if (!ends_piece(entry)) continue;
    Piece piece{std::move(f.open), {}, f.open_first};
    piece.hash = crypto::sha256(piece.bytes);
    f.open_first += piece.bytes.size() / kFifoEntryBytes;
    if (f.groups.empty() || f.groups.back().closed) f.groups.emplace_back();
    FifoGroup& group = f.groups.back();
    ++group.pieces;
    group.closed = ends_group(entry);
    group.stale = true;
    f.pieces.push_back(std::move(piece));
    f.open.clear();
    ++work_.pieces_added;
  }
  f.live = size;
  f.pushed_seen = pushed;
  f.started = true;
}

// The group of piece k (counted from the front) is to be hashed again.
void Checkpointer::mark_piece_changed(std::uint64_t piece) {
  for (FifoGroup& group : fifo_.groups) {
    if (piece < group.pieces) {
      group.stale = true;
      return;
    }
    piece -= group.pieces;
  }
  TRIAD_ASSERT(false);
}

Digest Checkpointer::fifo_digest() {
  Fifo& f = fifo_;
  crypto::Sha256 fifo;
  fifo.update(be64(f.live));
  std::uint64_t first_piece = 0;
  for (std::size_t g = 0; g < f.groups.size(); ++g) {
    FifoGroup& group = f.groups[g];
    const bool open_joins = g + 1 == f.groups.size() && !group.closed && !f.open.empty();
    if (group.stale || open_joins) {
      crypto::Sha256 h;
      for (std::uint64_t k = first_piece; k < first_piece + group.pieces; ++k) {
        const Piece& piece = f.pieces[k];
        if (k == 0 && f.front_gone > 0) {
          h.update(
              crypto::sha256(std::string_view(piece.bytes).substr(f.front_gone * kFifoEntryBytes)));
        } else {
          h.update(piece.hash);
        }
      }
      if (open_joins) h.update(crypto::sha256(f.open));
      group.hash = h.finish();
      // The open piece changes: a group it joined is hashed again next time.
      group.stale = open_joins;
    }
    fifo.update(group.hash);
    first_piece += group.pieces;
  }
  TRIAD_ASSERT(first_piece == f.pieces.size());
  if (!f.open.empty() && (f.groups.empty() || f.groups.back().closed)) {
    crypto::Sha256 h;
    h.update(crypto::sha256(f.open));
    fifo.update(h.finish());
  }
  return fifo.finish();
}

std::uint64_t Checkpointer::note_changes(rules::Engine& engine) {
  if (!updated_) return 0;
  for (const std::uint32_t card : engine.changed_cards()) {
    const std::uint64_t page = card / cards_.page_entries;
    TRIAD_ASSERT(page < card_page_changed_.size());
    if (card_page_changed_[page]) continue;
    card_page_changed_[page] = true;
    changed_card_pages_.push_back(page);
  }
  const std::span<const std::uint64_t> reversed = engine.reversed_approvals();
  reversed_approvals_.insert(reversed_approvals_.end(), reversed.begin(), reversed.end());
  engine.forget_changes();
  return changed_card_pages_.size();
}

// Rewrites up to `max_pages` of the card pages noted as changed; returns
// how many.
std::uint64_t Checkpointer::rewrite_changed_cards(const rules::Engine& engine,
                                                  std::uint64_t max_pages) {
  std::uint64_t done = 0;
  for (; done < max_pages && !changed_card_pages_.empty(); ++done) {
    const std::uint64_t page = changed_card_pages_.back();
    changed_card_pages_.pop_back();
    card_page_changed_[page] = false;
    // The scrub owes re-reads for each page rewritten since the last
    // update() once, however often it was rewritten ahead.
    if (!cards_.is_written(page)) card_scrub_owed_ += kScrubPerChange;
    rewrite(engine, page, &cards_);
  }
  return done;
}

bool Checkpointer::prepare(rules::Engine& engine, std::uint64_t max_pages) {
  TRIAD_ASSERT(max_pages > 0);  // else "some is left" forever
  note_changes(engine);
  const std::uint64_t rewritten = rewrite_changed_cards(engine, max_pages);
  // Once no page is left to rewrite, every card page is the engine's.
  const std::uint64_t scrubbed =
      scrub_cards(engine, std::min(card_scrub_owed_, max_pages - rewritten));
  card_scrub_owed_ -= scrubbed;
  work_.ahead += rewritten + scrubbed;
  return !changed_card_pages_.empty() || card_scrub_owed_ > 0;
}

Digest Checkpointer::update(rules::Engine& engine) {
  // Rewrites the last page (if it was not full) and every new one when the
  // list grew; returns the first page rewritten (the page count if none).
  const auto grow = [&](PagedList* list, std::uint64_t count) -> std::uint64_t {
    TRIAD_ASSERT(count >= list->count);
    if (count == list->count) return list->pages.size();
    const std::uint64_t first_changed = list->count / list->page_entries;
    list->count = count;
    const std::uint64_t pages = (count + list->page_entries - 1) / list->page_entries;
    list->pages.resize(pages);
    list->committed_at.resize(pages);
    list->page_hashes.resize(pages);
    list->group_stale.resize((pages + kCheckpointGroupPages - 1) / kCheckpointGroupPages, true);
    list->group_hashes.resize(list->group_stale.size());
    for (std::uint64_t p = first_changed; p < pages; ++p) rewrite(engine, p, list);
    return first_changed;
  };
  // The cards are all written at the first update; their count stays.
  const bool first = !updated_;
  TRIAD_ASSERT(first || engine.card_count() == cards_.count);
  grow(&cards_, engine.card_count());
  card_page_changed_.resize(cards_.pages.size());
  updated_ = true;
  if (first) engine.forget_changes();  // grow() writes every page the first time
  note_changes(engine);
  rewrite_changed_cards(engine, changed_card_pages_.size());

  const std::uint64_t list_pages_before = work_.pages_rewritten;
  const std::uint64_t approvals_rewritten_from = grow(&approvals_, engine.approval_count());
  grow(&ids_, engine.id_count());
  // The pages of approvals reversed since: their reversed flag changed.
  std::vector<std::uint64_t> pages;
  for (const std::uint64_t approval : reversed_approvals_) {
    TRIAD_ASSERT(approval < approvals_.count);
    const std::uint64_t page = approval / approvals_.page_entries;
    if (page >= approvals_rewritten_from) continue;  // rewritten above
    pages.push_back(page);
  }
  reversed_approvals_.clear();
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  for (const std::uint64_t page : pages) rewrite(engine, page, &approvals_);

  update_fifo(engine);
  scrub(engine,
        std::max<std::uint64_t>(
            1, kScrubPerChange * (work_.pages_rewritten - list_pages_before + work_.pieces_added)));
  scrub_cards(engine, std::max(kCardScrubMinPages, card_scrub_owed_));
  card_scrub_owed_ = 0;

  const auto digest = [](PagedList* list) {
    for (std::size_t g = 0; g < list->group_hashes.size(); ++g) {
      if (!list->group_stale[g]) continue;
      list->group_hashes[g] = group_hash(list->page_hashes, g);
      list->group_stale[g] = false;
    }
    return list_digest(list->count, list->group_hashes);
  };
  head_.clear();
  engine.append_head(&head_);
  ++updates_;
  for (PagedList* list : {&cards_, &approvals_, &ids_}) {
    list->commit(updates_, copies_ > 0 ? &retired_pages_ : nullptr, copies_view_through_);
  }
  const Digest out = combine(crypto::sha256(head_), digest(&cards_), digest(&approvals_),
                             digest(&ids_), fifo_digest());
  last_work_ = work_;
  work_ = Work{};
  return out;
}

// Re-reads up to `budget` card pages, in turn; returns how many. The cards
// change only by apply() (which marks them, so their pages are rewritten),
// except when a bit flips in memory, which is what corrupt-state simulates.
std::uint64_t Checkpointer::scrub_cards(const rules::Engine& engine, std::uint64_t budget) {
  const std::uint64_t pages = cards_.pages.size();
  budget = std::min(budget, pages);
  for (std::uint64_t n = 0; n < budget; ++n) {
    if (card_scrub_cursor_ >= pages) card_scrub_cursor_ = 0;
    reread(engine, card_scrub_cursor_++, &cards_);
  }
  return budget;
}

// Re-reads up to `budget` pages of the two lists and complete pieces of the
// rule 10 FIFO, in turn, and keeps the engine's bytes where they differ.
// (The open piece's entries are re-read once it is complete.)
void Checkpointer::scrub(const rules::Engine& engine, std::uint64_t budget) {
  const std::uint64_t approval_pages = approvals_.pages.size();
  const std::uint64_t list_pages = approval_pages + ids_.pages.size();
  const std::uint64_t total = list_pages + fifo_.pieces.size();
  budget = std::min(budget, total);
  for (std::uint64_t n = 0; n < budget; ++n) {
    if (scrub_cursor_ >= total) scrub_cursor_ = 0;
    const std::uint64_t at = scrub_cursor_++;
    if (at < approval_pages) {
      reread(engine, at, &approvals_);
      continue;
    }
    if (at < list_pages) {
      reread(engine, at - approval_pages, &ids_);
      continue;
    }
    const std::uint64_t k = at - list_pages;
    Piece& piece = fifo_.pieces[k];
    const std::uint64_t skip = k == 0 ? fifo_.front_gone : 0;
    // Where its entries still kept are in the engine's FIFO now.
    const std::uint64_t first = piece.first + skip - (fifo_.pushed_seen - fifo_.live);
    scratch_.assign(piece.bytes, 0, skip * kFifoEntryBytes);  // gone: nothing to compare
    engine.append_duplicate_fifo(first, first + piece.bytes.size() / kFifoEntryBytes - skip,
                                 &scratch_);
    ++work_.scrubbed;
    if (scratch_ == piece.bytes) continue;
    ++work_.scrub_mismatches;
    piece.bytes.swap(scratch_);
    piece.hash = crypto::sha256(piece.bytes);
    mark_piece_changed(k);
  }
}

std::string Checkpointer::fifo_entries() const {
  std::string out;
  for (std::size_t k = 0; k < fifo_.pieces.size(); ++k) {
    out.append(fifo_.pieces[k].bytes, k == 0 ? fifo_.front_gone * kFifoEntryBytes : 0);
  }
  out += fifo_.open;
  return out;
}

std::string Checkpointer::engine_state() const {
  StateCopy copy(*this);
  copy.step(copy.total_bytes() + 1);
  return copy.take();
}

Checkpointer::StateCopy::StateCopy(const Checkpointer& kept)
    : kept_(kept), kept_resets_(kept.resets_), head_(kept.head_) {
  TRIAD_ASSERT(kept.updated_);
  fifo_entries_ = kept.fifo_entries();
  approval_count_ = be64(kept.approvals_.count);
  id_count_ = be64(kept.ids_.count);
  fifo_count_ = be64(fifo_entries_.size() / kFifoEntryBytes);
  // The head, the cards, two counted lists, the counted FIFO.
  const auto pages_of = [this](const PagedList& list) {
    for (const std::string& page : list.pages) {
      if (page.size() > kOwnedSliceBytes) {
        slices_.emplace_back(page);
      } else {
        slices_.emplace_back(small_pages_.emplace_back(page));
      }
    }
  };
  slices_.emplace_back(head_);
  pages_of(kept.cards_);
  slices_.emplace_back(approval_count_);
  pages_of(kept.approvals_);
  slices_.emplace_back(id_count_);
  pages_of(kept.ids_);
  slices_.emplace_back(fifo_count_);
  slices_.emplace_back(fifo_entries_);
  for (const std::string_view slice : slices_) total_bytes_ += slice.size();
  // Last: nothing after it can throw, so a copy counted is one destroyed.
  ++kept.copies_;
  kept.copies_view_through_ = kept.updates_;
}

std::size_t Checkpointer::retained_page_bytes() const {
  std::size_t bytes = 0;
  for (const std::string& page : retired_pages_) bytes += page.size();
  return bytes;
}

Checkpointer::StateCopy::~StateCopy() {
  crypto::wipe(out_.data(), out_.size());
  if (kept_.resets_ != kept_resets_) return;  // (a reset ended the copies)
  TRIAD_ASSERT(kept_.copies_ > 0);
  if (--kept_.copies_ == 0) std::vector<std::string>().swap(kept_.retired_pages_);
}

bool Checkpointer::StateCopy::step(std::size_t max_bytes) {
  TRIAD_ASSERT(max_bytes > 0);
  TRIAD_ASSERT(kept_.resets_ == kept_resets_);  // the pages viewed are still there
  // One buffer of the final size, taken at the first share (not when the
  // copy starts: a state over the snapshot limit is only measured): grown as
  // it was written, a large state was copied about twice over, with the page
  // faults of each larger buffer.
  if (out_.empty()) out_.reserve(total_bytes_);
  std::size_t budget = max_bytes;
  while (budget > 0 && next_ < slices_.size()) {
    const std::string_view slice = slices_[next_];
    const std::size_t n = std::min(budget, slice.size() - next_offset_);
    out_.append(slice.substr(next_offset_, n));
    budget -= n;
    next_offset_ += n;
    if (next_offset_ == slice.size()) {
      ++next_;
      next_offset_ = 0;
    }
  }
  return done();
}

std::string Checkpointer::StateCopy::take() {
  TRIAD_ASSERT(done() && out_.size() == total_bytes_);
  return std::exchange(out_, {});
}

}  // namespace triad::replica
