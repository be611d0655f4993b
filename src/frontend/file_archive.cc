#include "frontend/file_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/assert.h"
#include "common/log.h"

namespace triad::frontend {
namespace {

// Buffered certificates beyond this are written at once, not at the next flush.
constexpr std::size_t kFlushBytes = 1 << 20;
// flush_if_due's thresholds.
constexpr std::size_t kDueBytes = 64 * 1024;
constexpr std::uint64_t kDueUs = 1'000'000;

}  // namespace

Status FileArchive::open(const std::unique_ptr<journal::Journal>& journal,
                         const std::string& certificates_path, std::unique_ptr<FileArchive>* out) {
  const int fd = ::open(certificates_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::io_error("cannot create " + certificates_path + ": " + std::strerror(errno));
  }
  // Private like the other files of DIR, even if an earlier one was not.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) != 0600 &&
      ::fchmod(fd, 0600) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::io_error("cannot make " + certificates_path + " private: " + std::strerror(err));
  }
  out->reset(new FileArchive(journal, certificates_path, fd));
  return Status::ok();
}

FileArchive::~FileArchive() { ::close(fd_); }

Status FileArchive::read_entries(std::uint64_t from, std::uint64_t to,
                                 std::vector<journal::Entry>* out) {
  if (!journal_) return Status::unavailable("the input journal is closed");
  return journal_->read(from, to, out);
}

void FileArchive::put_certificate(std::uint64_t seq, std::span<const std::uint8_t> certificate) {
  TRIAD_ASSERT(seq >= 1 && !certificate.empty() && certificate.size() < (1u << kSizeBits));
  const std::uint64_t offset = written_bytes_ + pending_.size();
  TRIAD_ASSERT(offset < (std::uint64_t{1} << (64 - kSizeBits)));
  if (where_.size() < seq) where_.resize(seq, 0);
  where_[seq - 1] = offset << kSizeBits | certificate.size();
  pending_.insert(pending_.end(), certificate.begin(), certificate.end());
  if (pending_.size() >= kFlushBytes) flush();
}

void FileArchive::flush_if_due(std::uint64_t now_us) {
  if (pending_.empty()) return;
  if (pending_.size() >= kDueBytes || now_us >= last_flush_us_ + kDueUs) {
    last_flush_us_ = now_us;
    flush();
  }
}

void FileArchive::flush() {
  std::size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t n = ::pwrite(fd_, pending_.data() + done, pending_.size() - done,
                               static_cast<off_t>(written_bytes_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!failing_) {
        log::error("cannot write " + path_ + " at offset " + std::to_string(written_bytes_ + done) +
                   ": " + (n < 0 ? std::strerror(errno) : "nothing written") + "; keeping " +
                   "certificates in memory until a write succeeds");
      }
      failing_ = true;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (done == pending_.size() && failing_) {
    log::info(path_ + ": written again; " + std::to_string(done) + " buffered bytes flushed");
    failing_ = false;
  }
  written_bytes_ += done;
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(done));
}

Status FileArchive::certificate(std::uint64_t seq, std::vector<std::uint8_t>* out) {
  const std::uint64_t where = seq >= 1 && seq <= where_.size() ? where_[seq - 1] : 0;
  if (where == 0) return Status::not_found("no certificate kept for seq " + std::to_string(seq));
  const std::uint64_t offset = where >> kSizeBits;
  const std::uint64_t end = offset + (where & ((1u << kSizeBits) - 1));
  out->resize(end - offset);
  // The part on file, then the part still buffered.
  for (std::uint64_t at = offset; at < std::min(end, written_bytes_);) {
    const ssize_t n = ::pread(fd_, out->data() + (at - offset), std::min(end, written_bytes_) - at,
                              static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status::io_error("cannot read " + path_ + " at offset " + std::to_string(at) + ": " +
                              (n < 0 ? std::strerror(errno) : "file ends early"));
    }
    at += static_cast<std::uint64_t>(n);
  }
  if (end > written_bytes_) {
    const std::uint64_t from = std::max(offset, written_bytes_);
    std::copy(pending_.begin() + static_cast<std::ptrdiff_t>(from - written_bytes_),
              pending_.begin() + static_cast<std::ptrdiff_t>(end - written_bytes_),
              out->begin() + static_cast<std::ptrdiff_t>(from - offset));
  }
  return Status::ok();
}

}  // namespace triad::frontend
