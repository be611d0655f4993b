#include "frontend/file_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "common/assert.h"
#include "common/log.h"
#include "journal/little_endian.h"

namespace triad::frontend {
namespace {

// Buffered certificates beyond this are written at once, not at the next flush.
constexpr std::size_t kFlushBytes = 1 << 20;
// flush_if_due's thresholds.
constexpr std::size_t kDueBytes = 64 * 1024;
constexpr std::uint64_t kDueUs = 1'000'000;
// A record's head (file_archive.h): seq, size, code, agree, divergent.
constexpr std::size_t kHeadBytes = 16;
// Read in parts of this at open.
constexpr std::size_t kReadBytes = 4 << 20;

bool is_digit(std::uint8_t c) { return c >= '0' && c <= '9'; }

}  // namespace

Status FileArchive::open(const std::unique_ptr<journal::Journal>& journal,
                         const std::string& certificates_path, std::unique_ptr<FileArchive>* out) {
  const int fd = ::open(certificates_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::io_error("cannot open " + certificates_path + ": " + std::strerror(errno));
  }
  // Private like the other files of DIR, even if an earlier one was not.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) != 0600 &&
      ::fchmod(fd, 0600) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::io_error("cannot make " + certificates_path + " private: " + std::strerror(err));
  }
  std::unique_ptr<FileArchive> archive(new FileArchive(journal, certificates_path, fd));
  // Not a file (/dev/full in a test): nothing to read back.
  if (S_ISREG(st.st_mode)) TRIAD_RETURN_IF_ERROR(archive->read_kept());
  *out = std::move(archive);
  return Status::ok();
}

Status FileArchive::read_kept() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    return Status::io_error("cannot stat " + path_ + ": " + std::strerror(errno));
  }
  const auto file_bytes = static_cast<std::uint64_t>(st.st_size);
  std::vector<std::uint8_t> part;
  std::uint64_t part_at = 0;  // file offset of part[0]
  std::uint64_t at = 0;       // the next record's
  std::string damage;
  while (at < file_bytes) {
    // The next record's head, read into `part` when it is not there yet.
    if (at + kHeadBytes > part_at + part.size()) {
      part.resize(kReadBytes);
      part_at = at;
      std::size_t got = 0;
      while (got < part.size()) {
        const ssize_t n =
            ::pread(fd_, part.data() + got, part.size() - got, static_cast<off_t>(part_at + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          return Status::io_error("cannot read " + path_ + " at offset " +
                                  std::to_string(part_at + got) + ": " + std::strerror(errno));
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
      }
      part.resize(got);
      if (got < kHeadBytes) {
        if (got > 0) damage = "a torn record";
        break;
      }
    }
    const std::uint8_t* head = part.data() + (at - part_at);
    const std::uint64_t seq = journal::get_u64(head);
    const auto size = journal::get_u32(head + 8);
    if (seq == 0 || size == 0 || size >= (1u << kSizeBits) || !is_digit(head[12]) ||
        !is_digit(head[13])) {
      damage = "a damaged record";
      break;
    }
    if (at + kHeadBytes + size > file_bytes) {
      damage = "a torn record";
      break;
    }
    if (where_.size() < seq) {
      where_.resize(seq, 0);
      answers_.resize(seq);
    }
    where_[seq - 1] = (at + kHeadBytes) << kSizeBits | size;
    answers_[seq - 1] = {
        {static_cast<char>(head[12]), static_cast<char>(head[13])}, head[14], head[15]};
    at += kHeadBytes + size;
  }
  if (!damage.empty()) {
    log::warn(path_ + ": " + damage + " at offset " + std::to_string(at) +
              "; the certificates after it are dropped (their seqs are decided again)");
    if (::ftruncate(fd_, static_cast<off_t>(at)) != 0) {
      return Status::io_error("cannot cut " + path_ + " at offset " + std::to_string(at) + ": " +
                              std::strerror(errno));
    }
  }
  written_bytes_ = at;
  return Status::ok();
}

Status FileArchive::keep_through(std::uint64_t seq) {
  TRIAD_ASSERT(pending_.empty());
  std::uint64_t end = 0;  // of the last record kept
  for (std::uint64_t s = 1; s <= std::min<std::uint64_t>(seq, where_.size()); ++s) {
    if (const std::uint64_t w = where_[s - 1]; w != 0) {
      end = std::max(end, (w >> kSizeBits) + (w & ((1u << kSizeBits) - 1)));
    }
  }
  if (where_.size() > seq) {
    where_.resize(seq);
    answers_.resize(seq);
  }
  if (end < written_bytes_) {
    if (::ftruncate(fd_, static_cast<off_t>(end)) != 0) {
      return Status::io_error("cannot cut " + path_ + " at offset " + std::to_string(end) + ": " +
                              std::strerror(errno));
    }
    written_bytes_ = end;
  }
  return Status::ok();
}

FileArchive::~FileArchive() { ::close(fd_); }

Status FileArchive::read_entries(std::uint64_t from, std::uint64_t to,
                                 std::vector<journal::Entry>* out) {
  if (!journal_) return Status::unavailable("the input journal is closed");
  return journal_->read(from, to, out);
}

void FileArchive::put_certificate(std::uint64_t seq, const KeptAnswer& answer,
                                  std::span<const std::uint8_t> certificate) {
  TRIAD_ASSERT(seq >= 1 && !certificate.empty() && certificate.size() < (1u << kSizeBits));
  TRIAD_ASSERT(is_digit(static_cast<std::uint8_t>(answer.code[0])) &&
               is_digit(static_cast<std::uint8_t>(answer.code[1])));
  const std::uint64_t offset = written_bytes_ + pending_.size() + kHeadBytes;
  TRIAD_ASSERT(offset < (std::uint64_t{1} << (64 - kSizeBits)));
  if (where_.size() < seq) {
    where_.resize(seq, 0);
    answers_.resize(seq);
  }
  where_[seq - 1] = offset << kSizeBits | certificate.size();
  answers_[seq - 1] = answer;
  std::array<std::uint8_t, kHeadBytes> head{};
  journal::put_u64(head.data(), seq);
  journal::put_u32(head.data() + 8, static_cast<std::uint32_t>(certificate.size()));
  head[12] = static_cast<std::uint8_t>(answer.code[0]);
  head[13] = static_cast<std::uint8_t>(answer.code[1]);
  head[14] = answer.agree;
  head[15] = answer.divergent;
  pending_.insert(pending_.end(), head.begin(), head.end());
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

Status FileArchive::kept_answer(std::uint64_t seq, KeptAnswer* out) {
  if (seq < 1 || seq > where_.size() || where_[seq - 1] == 0) {
    return Status::not_found("no answer kept for seq " + std::to_string(seq));
  }
  *out = answers_[seq - 1];
  return Status::ok();
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
