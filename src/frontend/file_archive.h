// The front end process's Archive: transactions are read back from the input
// journal's file, certificates are appended to DIR/certificates and read back
// from there. Not thread-safe: the event loop's alone.
//
// DIR/certificates outlives the run: a restart from a stored snapshot
// (journal/snapshot_file.h) does not decide the seqs up to it again, so
// their answers and certificates are the ones kept here. One record per
// certified answer, in the order they were decided:
//
//   check u64 | seq u64 | certificate size u32 | code 2 ASCII digits |
//   agree u8 | divergent u8 | certificate
//
// little-endian, the check a SipHash-2-4 of the rest under a fixed key (to
// find damage); a later record of a seq replaces an earlier one.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "frontend/archive.h"
#include "journal/journal.h"

namespace triad::frontend {

class FileArchive final : public Archive {
 public:
  // Opens or creates `certificates_path` (mode 0600). Call read_kept() and
  // keep_through() before the first put_certificate. `journal` is the
  // owner's, read through while it is open. IoError when the file cannot be
  // opened.
  static Status open(const std::unique_ptr<journal::Journal>& journal,
                     const std::string& certificates_path, std::unique_ptr<FileArchive>* out);
  // Reads what earlier runs kept for seqs up to `through_seq` (the stored
  // snapshot's, at most the journal's last; records of later seqs are
  // passed over). A torn or damaged record ends what is read (logged), and
  // the file is cut there. IoError when the file cannot be read.
  Status read_kept(std::uint64_t through_seq);
  // Keeps what earlier runs put for seqs up to `seq` (where the restart
  // starts: the stored snapshot's seq, at most read_kept's, 0 without one)
  // and forgets the rest, which the replay decides again: the file is cut
  // at its first record of a later seq, and the records up to `seq` that
  // came after it are written again behind the cut. IoError when the file
  // cannot be cut.
  Status keep_through(std::uint64_t seq);
  ~FileArchive() override;
  FileArchive(const FileArchive&) = delete;
  FileArchive& operator=(const FileArchive&) = delete;

  Status read_entries(std::uint64_t from, std::uint64_t to,
                      std::vector<journal::Entry>* out) override;
  // Buffered; flush() writes (put_certificate itself past 1 MiB buffered).
  // Page-cache durability is enough until a snapshot is stored: its writer
  // syncs fd() first (a seq lost from here is decided again by a restart
  // from an older snapshot, or none).
  void put_certificate(std::uint64_t seq, const KeptAnswer& answer,
                       std::span<const std::uint8_t> certificate) override;
  Status certificate(std::uint64_t seq, std::vector<std::uint8_t>* out) override;
  Status kept_answer(std::uint64_t seq, KeptAnswer* out) override;
  // Where earlier_certificate looks (the audit store); NotFound without one.
  using EarlierCertificates = std::function<Status(std::uint64_t, std::vector<std::uint8_t>*)>;
  void set_earlier_certificates(EarlierCertificates source) { earlier_ = std::move(source); }
  Status earlier_certificate(std::uint64_t seq, std::vector<std::uint8_t>* out) override {
    return earlier_ ? earlier_(seq, out) : Archive::earlier_certificate(seq, out);
  }
  // Writes what put_certificate buffered. When the write fails the error is
  // logged (once until a write succeeds again) and the certificates stay in
  // memory, still readable, to be written at a later flush: nothing is lost.
  void flush();
  // flush() once 64 KiB are buffered or a second after the last write: at
  // a low rate a write per decision would be a system call per turn of the
  // event loop for nothing (buffered certificates read back just as well).
  void flush_if_due(std::uint64_t now_us);
  std::uint64_t buffered_bytes() const { return pending_.size(); }
  // For a sync of what flush() wrote, on another thread.
  int fd() const { return fd_; }

 private:
  FileArchive(const std::unique_ptr<journal::Journal>& journal, std::string path, int fd,
              bool regular)
      : journal_(journal), path_(std::move(path)), fd_(fd), regular_(regular) {}

  // Fills `out` from the file at `offset`.
  Status read_at(std::uint64_t offset, std::span<std::uint8_t> out) const;
  // Per seq (index seq - 1): the certificate's offset << kSizeBits | size,
  // 0 when none; and the answer.
  static constexpr unsigned kSizeBits = 24;
  const std::unique_ptr<journal::Journal>& journal_;
  std::string path_;
  int fd_;
  bool regular_;  // a file, not a device (/dev/full in a test)
  // read_kept's: its through_seq, and the offset of the first record it
  // passed over (of a later seq), to cut at.
  std::uint64_t read_through_ = 0;
  std::uint64_t first_beyond_ = UINT64_MAX;
  std::deque<std::uint64_t> where_;
  std::deque<KeptAnswer> answers_;
  std::uint64_t written_bytes_ = 0;    // file size: pending_ starts here
  std::vector<std::uint8_t> pending_;  // put, not yet written
  EarlierCertificates earlier_;
  bool failing_ = false;  // the last write failed (logged)
  std::uint64_t last_flush_us_ = 0;
};

}  // namespace triad::frontend
