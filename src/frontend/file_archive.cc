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
#include "crypto/hash.h"
#include "journal/little_endian.h"

namespace triad::frontend {
namespace {

// Buffered certificates beyond this are written at once, not at the next flush.
constexpr std::size_t kFlushBytes = 1 << 20;
// flush_if_due's thresholds.
constexpr std::size_t kDueBytes = 64 * 1024;
constexpr std::uint64_t kDueUs = 1'000'000;
// A record's head (file_archive.h): check, seq, size, code, agree, divergent.
constexpr std::size_t kHeadBytes = 24;
// Read in parts of this at open.
constexpr std::size_t kReadBytes = 4 << 20;

bool is_digit(std::uint8_t c) { return c >= '0' && c <= '9'; }

// The check of a record: SipHash-2-4 under a fixed key over the rest of it.
// A checksum against damage, not a seal: the certificate is signed, and the
// file is the front end's own (mode 0600).
std::uint64_t record_check(std::span<const std::uint8_t> rest) {
  static const crypto::ShortHashKey kKey{};
  return crypto::short_hash(
      kKey, std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
}

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
  out->reset(new FileArchive(journal, certificates_path, fd, S_ISREG(st.st_mode)));
  return Status::ok();
}

Status FileArchive::read_kept(std::uint64_t through_seq) {
  TRIAD_ASSERT(where_.empty() && pending_.empty() && written_bytes_ == 0);
  read_through_ = through_seq;
  if (!regular_) return Status::ok();  // /dev/full in a test: nothing to read back
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
    const std::uint64_t left = file_bytes - at;
    if (left < kHeadBytes) {
      damage = "a torn record";
      break;
    }
    // The next record whole in `part`: its head, then all of it.
    const auto ensure = [&](std::uint64_t need) {
      if (at + need <= part_at + part.size()) return Status::ok();
      part_at = at;
      part.resize(
          static_cast<std::size_t>(std::min(std::max<std::uint64_t>(need, kReadBytes), left)));
      return read_at(part_at, part);
    };
    TRIAD_RETURN_IF_ERROR(ensure(kHeadBytes));
    const auto size = journal::get_u32(part.data() + (at - part_at) + 16);
    if (size == 0 || size >= (1u << kSizeBits)) {
      damage = "a damaged record";
      break;
    }
    if (kHeadBytes + std::uint64_t{size} > left) {
      damage = "a torn record";
      break;
    }
    TRIAD_RETURN_IF_ERROR(ensure(kHeadBytes + size));
    const std::uint8_t* head = part.data() + (at - part_at);
    const std::uint64_t seq = journal::get_u64(head + 8);
    if (seq == 0 || !is_digit(head[20]) || !is_digit(head[21]) ||
        journal::get_u64(head) != record_check(std::span(head + 8, kHeadBytes - 8 + size))) {
      damage = "a damaged record";
      break;
    }
    if (seq <= through_seq) {
      if (where_.size() < seq) {
        where_.resize(seq, 0);
        answers_.resize(seq);
      }
      where_[seq - 1] = (at + kHeadBytes) << kSizeBits | size;
      answers_[seq - 1] = {
          {static_cast<char>(head[20]), static_cast<char>(head[21])}, head[22], head[23]};
    } else {
      first_beyond_ = std::min(first_beyond_, at);
    }
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
  TRIAD_ASSERT(pending_.empty() && seq <= read_through_);
  // Cut at the first record of a later seq; the few of seqs up to `seq`
  // decided after it are written again behind the cut.
  std::uint64_t cut = std::min(first_beyond_, written_bytes_);
  for (std::uint64_t s = seq + 1; s <= where_.size(); ++s) {
    if (const std::uint64_t w = where_[s - 1]; w != 0)
      cut = std::min(cut, (w >> kSizeBits) - kHeadBytes);
  }
  std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> behind;
  for (std::uint64_t s = 1; s <= std::min<std::uint64_t>(seq, where_.size()); ++s) {
    if (const std::uint64_t w = where_[s - 1]; w != 0 && (w >> kSizeBits) > cut) {
      TRIAD_RETURN_IF_ERROR(
          certificate(s, &behind.emplace_back(s, std::vector<std::uint8_t>()).second));
    }
  }
  if (where_.size() > seq) {
    where_.resize(seq);
    answers_.resize(seq);
  }
  if (cut < written_bytes_) {
    if (::ftruncate(fd_, static_cast<off_t>(cut)) != 0) {
      return Status::io_error("cannot cut " + path_ + " at offset " + std::to_string(cut) + ": " +
                              std::strerror(errno));
    }
    written_bytes_ = cut;
  }
  for (const auto& [s, certificate] : behind) put_certificate(s, answers_[s - 1], certificate);
  flush();
  return Status::ok();
}

Status FileArchive::read_at(std::uint64_t offset, std::span<std::uint8_t> out) const {
  for (std::size_t got = 0; got < out.size();) {
    const ssize_t n =
        ::pread(fd_, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status::io_error("cannot read " + path_ + " at offset " +
                              std::to_string(offset + got) + ": " +
                              (n < 0 ? std::strerror(errno) : "file ends early"));
    }
    got += static_cast<std::size_t>(n);
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
  const std::size_t at = pending_.size();
  pending_.resize(at + kHeadBytes);
  std::uint8_t* head = pending_.data() + at;
  journal::put_u64(head + 8, seq);
  journal::put_u32(head + 16, static_cast<std::uint32_t>(certificate.size()));
  head[20] = static_cast<std::uint8_t>(answer.code[0]);
  head[21] = static_cast<std::uint8_t>(answer.code[1]);
  head[22] = answer.agree;
  head[23] = answer.divergent;
  pending_.insert(pending_.end(), certificate.begin(), certificate.end());
  journal::put_u64(pending_.data() + at, record_check(std::span(pending_).subspan(
                                             at + 8, kHeadBytes - 8 + certificate.size())));
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
  if (offset < written_bytes_) {
    TRIAD_RETURN_IF_ERROR(
        read_at(offset, std::span(*out).first(std::min(end, written_bytes_) - offset)));
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
