// The front end process's Archive: transactions are read back from the input
// journal's file, certificates are appended to DIR/certificates and read back
// from there. Not thread-safe: the event loop's alone.
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
  // Creates `certificates_path` (mode 0600), emptying what an earlier run
  // left there: after a restart the replay decides every seq again, and its
  // certificates are the ones a repeated id gets (the audit store keeps those
  // of every run). `journal` is the owner's, read through while it is open.
  // IoError when the file cannot be created.
  static Status open(const std::unique_ptr<journal::Journal>& journal,
                     const std::string& certificates_path, std::unique_ptr<FileArchive>* out);
  ~FileArchive() override;
  FileArchive(const FileArchive&) = delete;
  FileArchive& operator=(const FileArchive&) = delete;

  Status read_entries(std::uint64_t from, std::uint64_t to,
                      std::vector<journal::Entry>* out) override;
  // Buffered; flush() writes (put_certificate itself past 1 MiB buffered).
  // Page-cache durability is enough: the file only serves this run.
  void put_certificate(std::uint64_t seq, std::span<const std::uint8_t> certificate) override;
  Status certificate(std::uint64_t seq, std::vector<std::uint8_t>* out) override;
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

 private:
  FileArchive(const std::unique_ptr<journal::Journal>& journal, std::string path, int fd)
      : journal_(journal), path_(std::move(path)), fd_(fd) {}

  // Per seq (index seq - 1): offset << kSizeBits | size; 0 when none.
  static constexpr unsigned kSizeBits = 24;
  const std::unique_ptr<journal::Journal>& journal_;
  std::string path_;
  int fd_;
  std::deque<std::uint64_t> where_;
  std::uint64_t written_bytes_ = 0;    // file size: pending_ starts here
  std::vector<std::uint8_t> pending_;  // put, not yet written
  EarlierCertificates earlier_;
  bool failing_ = false;  // the last write failed (logged)
  std::uint64_t last_flush_us_ = 0;
};

}  // namespace triad::frontend
