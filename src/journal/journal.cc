#include "journal/journal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <system_error>

#include "common/assert.h"
#include "common/log.h"
#include "crypto/hash.h"
#include "journal/little_endian.h"
#include "wire/codec.h"

namespace triad::journal {
namespace {

// What the front end lets in (its strings, plus a few hundred bytes of
// encoding) fits in a record with room to spare.
static_assert(wire::kMaxTransactionTextBytes + 4096 <= kMaxBodyBytes);

constexpr char kMagic[8] = {'T', 'R', 'I', 'A', 'D', 'J', 'N', 'L'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kKeyIdBytes = 16;
constexpr std::size_t kChecksumBytes = 8;
constexpr std::size_t kAadBytes = 16;  // seq and ts_ms, the first bytes of the body
constexpr std::size_t kMinBodyBytes = kAadBytes + crypto::kAeadNonceBytes + crypto::kAeadTagBytes;
constexpr std::uint64_t kMaxIntervalMs = 3'600'000;

std::string reason(int err) { return std::error_code(err, std::generic_category()).message(); }

// First 8 bytes of SHA-256(length || body).
std::array<std::uint8_t, kChecksumBytes> frame_checksum(const std::uint8_t* length,
                                                        std::span<const std::uint8_t> body) {
  thread_local crypto::Sha256 sha;
  sha.update(std::span<const std::uint8_t>(length, 4));
  sha.update(body);
  const Digest d = sha.finish();
  std::array<std::uint8_t, kChecksumBytes> out{};
  std::copy_n(d.begin(), kChecksumBytes, out.begin());
  return out;
}

std::array<std::uint8_t, kHeaderBytes> make_header(const crypto::SymmetricKey& key) {
  std::array<std::uint8_t, kHeaderBytes> h{};
  std::memcpy(h.data(), kMagic, sizeof kMagic);
  put_u32(h.data() + 8, kVersion);
  put_u32(h.data() + 12, 0);
  constexpr std::string_view kKeyIdLabel = "triad journal key id v1";
  const Digest id = crypto::hmac_sha256(
      key.bytes(),
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(kKeyIdLabel.data()),
                                    kKeyIdLabel.size()));
  std::copy_n(id.begin(), kKeyIdBytes, h.begin() + 16);
  const Digest sum = crypto::sha256(std::span<const std::uint8_t>(h.data(), 32));
  std::copy_n(sum.begin(), kChecksumBytes, h.begin() + 32);
  return h;
}

}  // namespace

Status read_at(int fd, const std::string& path, std::uint64_t offset, std::span<std::uint8_t> out,
               std::size_t* got) {
  *got = 0;
  while (*got < out.size()) {
    const ssize_t n =
        ::pread(fd, out.data() + *got, out.size() - *got, static_cast<off_t>(offset + *got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::io_error("cannot read " + path + " at offset " +
                              std::to_string(offset + *got) + ": " + reason(errno));
    }
    if (n == 0) break;
    *got += static_cast<std::size_t>(n);
  }
  return Status::ok();
}

Status open_for_sync(const std::string& path, int* fd) {
  *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (*fd < 0) return Status::io_error("cannot open " + path + " to sync it: " + reason(errno));
  return Status::ok();
}

Status regular_file_size(int fd, const std::string& path, std::size_t* size) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Status::io_error("cannot stat " + path + ": " + reason(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::io_error(path + " is not a regular file");
  *size = static_cast<std::size_t>(st.st_size);
  return Status::ok();
}

Status read_all(int fd, const std::string& path, std::vector<std::uint8_t>* out) {
  std::size_t size = 0;
  TRIAD_RETURN_IF_ERROR(regular_file_size(fd, path, &size));
  out->resize(size);
  std::size_t done = 0;
  TRIAD_RETURN_IF_ERROR(read_at(fd, path, 0, *out, &done));
  out->resize(done);
  return Status::ok();
}

namespace {

// A file mapped read-only for one pass over it: its pages stay the page
// cache's (the kernel reads ahead and may drop them behind), so reading a
// long journal back at start takes no heap of the journal's size.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  static Status map(int fd, const std::string& path, MappedFile* out) {
    std::size_t size = 0;
    TRIAD_RETURN_IF_ERROR(regular_file_size(fd, path, &size));
    if (size == 0) return Status::ok();  // mmap refuses an empty length
    void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      return Status::io_error("cannot map journal " + path + ": " + reason(errno));
    }
    ::madvise(data, size, MADV_SEQUENTIAL);  // a hint: its failure changes nothing
    out->data_ = data;
    out->size_ = size;
    return Status::ok();
  }
  std::span<const std::uint8_t> bytes() const {
    return {static_cast<const std::uint8_t*>(data_), size_};
  }
  // The pass is past `offset`: the pages before it leave this process's
  // resident set (a file-backed page is read again if touched), every
  // 16 MiB, so that a long journal's pages do not all count against the
  // process while it starts.
  void passed(std::size_t offset) {
    constexpr std::size_t kStepBytes = 16 << 20;
    if (offset < released_ + kStepBytes) return;
    const std::size_t end = offset & ~(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) - 1);
    ::madvise(static_cast<std::uint8_t*>(data_) + released_, end - released_, MADV_DONTNEED);
    released_ = end;
  }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t released_ = 0;
};

// The directory entry of a new file is durable only once its directory is.
Status sync_parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::io_error("cannot open directory " + dir + ": " + reason(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status::io_error("cannot sync directory " + dir + ": " + reason(err));
  return Status::ok();
}

// Whether a whole, checksummed frame starts at `off`; the body length in
// *body_bytes when it does, what is wrong in *problem when not.
bool check_frame(std::span<const std::uint8_t> file, std::size_t off, std::size_t* body_bytes,
                 std::string* problem) {
  const std::size_t left = file.size() - off;
  if (left < kFrameHeaderBytes) {
    *problem = "only " + std::to_string(left) + " bytes left, less than a record header";
    return false;
  }
  const std::uint32_t length = get_u32(file.data() + off);
  if (length < kMinBodyBytes || length > kMaxBodyBytes) {
    *problem = "record length " + std::to_string(length) + " is out of range";
    return false;
  }
  if (left - kFrameHeaderBytes < length) {
    *problem = "record of " + std::to_string(length) + " bytes runs past the end of the file (" +
               std::to_string(left - kFrameHeaderBytes) + " bytes left)";
    return false;
  }
  const auto sum = frame_checksum(file.data() + off, file.subspan(off + kFrameHeaderBytes, length));
  if (!std::equal(sum.begin(), sum.end(), file.data() + off + 4)) {
    *problem = "record checksum mismatch";
    return false;
  }
  *body_bytes = length;
  return true;
}

// Whether the file from `off` on is zeros, or holds data up to a sector
// boundary and zeros from there to the end: what a file system that extended
// the file before its last data reached the disk leaves. At least 16 zeros
// in the second case, so that a record's own last bytes (a GCM tag, a
// checksum) pass for them about once in 2^128.
bool zeros_to_the_end(std::span<const std::uint8_t> file, std::size_t off) {
  std::size_t zeros_from = file.size();
  while (zeros_from > off && file[zeros_from - 1] == 0) --zeros_from;
  if (zeros_from == off) return true;
  constexpr std::size_t kSectorBytes = 512;
  const std::size_t boundary = (zeros_from + kSectorBytes - 1) / kSectorBytes * kSectorBytes;
  return file.size() - zeros_from >= 16 && boundary < file.size();
}

// Whether what follows the last good record at `off` is what a crash or a
// power cut leaves: a record cut short (a write that did not finish), or
// zeros to the end from a sector boundary (a file system that extended the
// file before its last data reached the disk). A whole record with a bad
// checksum is neither: the file changed after it was written, and the
// record may be a transaction that was answered.
bool looks_torn(std::span<const std::uint8_t> file, std::size_t off) {
  if (zeros_to_the_end(file, off)) return true;
  const auto tail = file.subspan(off);
  if (tail.size() < kFrameHeaderBytes) return true;
  const std::uint32_t length = get_u32(tail.data());
  if (length < kMinBodyBytes || length > kMaxBodyBytes ||
      tail.size() - kFrameHeaderBytes >= length) {
    return false;
  }
  // Cut short by its length field, unless what is there is a whole record
  // whose length field changed: its checksum holds for the length there is.
  std::array<std::uint8_t, 4> there{};
  put_u32(there.data(), static_cast<std::uint32_t>(tail.size() - kFrameHeaderBytes));
  const auto sum = frame_checksum(there.data(), tail.subspan(kFrameHeaderBytes));
  return !std::equal(sum.begin(), sum.end(), tail.data() + 4);
}

// The offset of the first valid frame after `from` whose seq is above
// `last_seq`, if any. Cheap tests first, so a scan over garbage hashes little.
std::optional<std::size_t> next_valid_frame(std::span<const std::uint8_t> file, std::size_t from,
                                            std::uint64_t last_seq) {
  for (std::size_t p = from; p + kFrameHeaderBytes + kMinBodyBytes <= file.size(); ++p) {
    const std::uint32_t length = get_u32(file.data() + p);
    if (length < kMinBodyBytes || length > kMaxBodyBytes) continue;
    if (file.size() - p - kFrameHeaderBytes < length) continue;
    if (get_u64(file.data() + p + kFrameHeaderBytes) <= last_seq) continue;
    std::size_t body = 0;
    std::string ignored;
    if (check_frame(file, p, &body, &ignored)) return p;
  }
  return std::nullopt;
}

// Opens `path` read-write, creating it (mode 0600) when it does not exist;
// *created says which. `what` names the file in the error.
Status open_or_create(const std::string& path, const char* what, int* fd, bool* created) {
  *created = false;
  *fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (*fd < 0 && errno == ENOENT) {
    *fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    *created = *fd >= 0;
  }
  if (*fd < 0) {
    return Status::io_error(std::string("cannot open ") + what + " " + path + ": " + reason(errno));
  }
  return Status::ok();
}

}  // namespace

Status write_all(int fd, const std::uint8_t* data, std::size_t size, std::uint64_t offset,
                 const std::string& path) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::io_error("cannot write " + path + " at offset " +
                              std::to_string(offset + done) + ": " + reason(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::ok();
}

Status replace_file(const std::string& path, const std::string& next,
                    const std::function<Status(int fd)>& write_content, int* fd) {
  *fd = ::open(next.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (*fd < 0) return Status::io_error("cannot create " + next + ": " + reason(errno));
  Status s = write_content(*fd);
  if (s.is_ok() && ::fdatasync(*fd) != 0) {
    s = Status::io_error("cannot sync " + next + ": " + reason(errno));
  }
  if (s.is_ok() && ::rename(next.c_str(), path.c_str()) != 0) {
    s = Status::io_error("cannot rename " + next + " to " + path + ": " + reason(errno));
  }
  if (s.is_ok()) s = sync_parent_dir(path);
  if (!s.is_ok()) {
    ::close(*fd);
    *fd = -1;
  }
  return s;
}

Status replace_file(const std::string& path, const std::string& next,
                    std::span<const std::uint8_t> bytes, int* fd) {
  return replace_file(
      path, next,
      [&](int new_fd) { return write_all(new_fd, bytes.data(), bytes.size(), 0, next); }, fd);
}

Status parse_fsync_policy(std::string_view text, FsyncPolicy* out) {
  if (text == "batch") {
    *out = {FsyncPolicy::Kind::kBatch, 0};
    return Status::ok();
  }
  if (text == "never") {
    *out = {FsyncPolicy::Kind::kNever, 0};
    return Status::ok();
  }
  constexpr std::string_view kInterval = "interval:";
  if (text.substr(0, kInterval.size()) == kInterval) {
    const std::string_view ms = text.substr(kInterval.size());
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), value);
    if (ec == std::errc() && end == ms.data() + ms.size() && !ms.empty() && value >= 1 &&
        value <= kMaxIntervalMs) {
      *out = {FsyncPolicy::Kind::kInterval, value};
      return Status::ok();
    }
  }
  return Status::invalid_argument("fsync policy '" + std::string(text) +
                                  "': expected batch, interval:MS (MS 1.." +
                                  std::to_string(kMaxIntervalMs) + ") or never");
}

std::string to_string(const FsyncPolicy& policy) {
  switch (policy.kind) {
    case FsyncPolicy::Kind::kBatch:
      return "batch";
    case FsyncPolicy::Kind::kInterval:
      return "interval:" + std::to_string(policy.interval_ms);
    case FsyncPolicy::Kind::kNever:
      return "never";
  }
  TRIAD_ASSERT(false);
}

Journal::Journal(std::string path, int fd, const crypto::SymmetricKey& key, FsyncPolicy policy,
                 std::uint64_t now_us)
    : path_(std::move(path)), fd_(fd), aead_(key), policy_(policy), last_sync_us_(now_us) {}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

Status Journal::open(const std::string& path, const crypto::SymmetricKey& key, FsyncPolicy policy,
                     std::uint64_t now_us, Recovery* recovered, std::unique_ptr<Journal>* out) {
  TRIAD_ASSERT(policy.kind != FsyncPolicy::Kind::kInterval || policy.interval_ms >= 1);
  const bool keep_entries = recovered->keep_entries;
  *recovered = Recovery{};
  recovered->keep_entries = keep_entries;
  int fd = -1;
  bool created = false;
  TRIAD_RETURN_IF_ERROR(open_or_create(path, "journal", &fd, &created));
  std::unique_ptr<Journal> j(new Journal(path, fd, key, policy, now_us));
  const auto header = make_header(key);
  MappedFile mapped;
  TRIAD_RETURN_IF_ERROR(MappedFile::map(fd, path, &mapped));
  const std::span<const std::uint8_t> file = mapped.bytes();

  if (file.size() < kHeaderBytes) {
    // A header cut short can only be a creation that did not finish (the
    // header is synced before any record is written): start it again.
    if (!std::equal(file.begin(), file.end(), header.begin())) {
      return Status::corruption("journal " + path + " (" + std::to_string(file.size()) +
                                " bytes) is not a Triad journal: its header does not match");
    }
    if (!created && !file.empty()) {
      log::warn("journal " + path + ": header cut short at " + std::to_string(file.size()) +
                " bytes (creation interrupted); writing it again");
    }
    if (::ftruncate(fd, 0) != 0) {
      return Status::io_error("cannot truncate journal " + path + ": " + reason(errno));
    }
    TRIAD_RETURN_IF_ERROR(write_all(fd, header.data(), header.size(), 0, path));
    if (::fdatasync(fd) != 0) {
      return Status::io_error("cannot sync journal " + path + ": " + reason(errno));
    }
    TRIAD_RETURN_IF_ERROR(sync_parent_dir(path));
    j->size_bytes_ = kHeaderBytes;
    *out = std::move(j);
    return Status::ok();
  }

  if (!std::equal(header.begin(), header.begin() + 8, file.begin())) {
    return Status::corruption("journal " + path + " is not a Triad journal (no TRIADJNL magic)");
  }
  const Digest sum = crypto::sha256(file.first(32));
  if (!std::equal(sum.begin(), sum.begin() + kChecksumBytes, file.begin() + 32)) {
    return Status::corruption("journal " + path + ": header checksum mismatch");
  }
  if (const std::uint32_t v = get_u32(file.data() + 8); v != kVersion) {
    return Status::corruption("journal " + path + " has version " + std::to_string(v) +
                              "; this build reads version " + std::to_string(kVersion));
  }
  if (!std::equal(header.begin() + 16, header.begin() + 32, file.begin() + 16)) {
    return Status::invalid_argument("journal " + path +
                                    " was written with a different key than the one given "
                                    "(key ids differ); restore the journal's key file");
  }

  const std::span<const std::uint8_t> bytes = file;
  std::size_t off = kHeaderBytes;
  std::uint64_t last_seq = 0;
  std::int64_t last_ts_ms = INT64_MIN;
  std::vector<std::uint8_t> plain;
  while (off < bytes.size()) {
    std::size_t body_bytes = 0;
    std::string problem;
    if (!check_frame(bytes, off, &body_bytes, &problem)) {
      if (const auto next = next_valid_frame(bytes, off + 1, last_seq)) {
        return Status::corruption(
            "journal " + path + ": damaged record at offset " + std::to_string(off) + " (" +
            problem + ") is followed by a valid record at offset " + std::to_string(*next) +
            "; refusing to cut accepted transactions out of the middle (restore the file from a "
            "backup, or start afresh in another directory)");
      }
      if (!looks_torn(bytes, off)) {
        return Status::corruption(
            "journal " + path + ": the last record, at offset " + std::to_string(off) +
            ", is whole but damaged (" + problem +
            "); a crash leaves a record cut short, not this, so it may hold a transaction "
            "that was answered. Restore the file from a backup; only if it was written just "
            "before a power cut and never answered, cut it off (truncate -s " +
            std::to_string(off) + " " + path + ") and start again");
      }
      recovered->truncated_at = off;
      recovered->truncated_bytes = bytes.size() - off;
      recovered->truncation_reason = problem;
      log::warn("journal " + path + ": truncated a torn tail at offset " + std::to_string(off) +
                " (" + std::to_string(bytes.size() - off) + " bytes): " + problem);
      if (::ftruncate(fd, static_cast<off_t>(off)) != 0) {
        return Status::io_error("cannot truncate journal " + path + " at offset " +
                                std::to_string(off) + ": " + reason(errno));
      }
      if (::fdatasync(fd) != 0) {
        return Status::io_error("cannot sync journal " + path + ": " + reason(errno));
      }
      break;
    }
    const std::span<const std::uint8_t> body = bytes.subspan(off + kFrameHeaderBytes, body_bytes);
    const std::uint64_t seq = get_u64(body.data());
    const auto ts_ms = static_cast<std::int64_t>(get_u64(body.data() + 8));
    const auto where = [&] {
      return "journal " + path + ": record at offset " + std::to_string(off);
    };
    if (seq != last_seq + 1) {
      return Status::corruption(where() + " has seq " + std::to_string(seq) + " after seq " +
                                std::to_string(last_seq) + " (records missing or out of order)");
    }
    if (ts_ms < last_ts_ms) {
      return Status::corruption(where() + " (seq " + std::to_string(seq) + ") has ts " +
                                std::to_string(ts_ms) + " before the previous record's " +
                                std::to_string(last_ts_ms));
    }
    if (keep_entries) {
      Entry entry;
      TRIAD_RETURN_IF_ERROR(j->decode_body(body, off, &plain, &entry));
      recovered->entries.push_back(std::move(entry));
    }
    if ((seq - 1) % kIndexEvery == 0) j->index_.push_back(off);
    last_seq = seq;
    last_ts_ms = ts_ms;
    off += kFrameHeaderBytes + body_bytes;
    mapped.passed(off);
  }
  std::fill(plain.begin(), plain.end(), 0);
  j->last_seq_ = last_seq;
  j->written_seq_ = last_seq;
  j->size_bytes_ = recovered->truncated_at.value_or(bytes.size());
  // What was found may be in the page cache only (a kill does not sync), so
  // the policy's next sync, and a clean stop, cover it like a new write.
  j->unsynced_ = last_seq > 0;
  *out = std::move(j);
  return Status::ok();
}

std::string Journal::record_at(std::uint64_t offset) const {
  return "journal " + path_ + ": record at offset " + std::to_string(offset);
}

Status Journal::decode_body(std::span<const std::uint8_t> body, std::uint64_t offset,
                            std::vector<std::uint8_t>* plain, Entry* out) {
  out->seq = get_u64(body.data());
  out->ts_ms = static_cast<std::int64_t>(get_u64(body.data() + 8));
  const auto nonce = body.subspan<kAadBytes, crypto::kAeadNonceBytes>();
  if (Status s = aead_.open(nonce, body.first(kAadBytes),
                            body.subspan(kAadBytes + crypto::kAeadNonceBytes), plain);
      !s.is_ok()) {
    // The checksum held, so this is no torn write: the file was altered.
    return Status::corruption(record_at(offset) + " (seq " + std::to_string(out->seq) +
                              "): " + s.message());
  }
  flatbuffers::Verifier verifier(plain->data(), plain->size());
  if (!verifier.VerifyBuffer<wire::Transaction>(nullptr)) {
    return Status::corruption(record_at(offset) + " (seq " + std::to_string(out->seq) +
                              ") does not hold a valid transaction");
  }
  out->tx = wire::read_transaction(flatbuffers::GetRoot<wire::Transaction>(plain->data()));
  return Status::ok();
}

Status Journal::read(std::uint64_t from, std::uint64_t to, std::vector<Entry>* out) {
  if (from < 1 || from > to || to > written_seq_) {
    return Status::invalid_argument("journal " + path_ + ": cannot read seqs " +
                                    std::to_string(from) + ".." + std::to_string(to) +
                                    "; it holds 1.." + std::to_string(written_seq_) + " on file");
  }
  // From the indexed record at or before `from`, a chunk at a time; a
  // record cut by a chunk's end starts the next chunk.
  constexpr std::size_t kChunkBytes = 64 * 1024;
  std::uint64_t off = index_[(from - 1) / kIndexEvery];
  std::uint64_t seq = (from - 1) / kIndexEvery * kIndexEvery + 1;
  std::size_t want = kChunkBytes;
  std::vector<std::uint8_t> chunk;
  std::vector<std::uint8_t> plain;
  Status status;
  while (seq <= to && status.is_ok()) {
    const std::uint64_t left = size_bytes_ - off;
    chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(want, left)));
    std::size_t got = 0;
    TRIAD_RETURN_IF_ERROR(read_at(fd_, path_, off, chunk, &got));
    if (got < chunk.size()) {
      return Status::io_error("cannot read journal " + path_ + " at offset " +
                              std::to_string(off + got) + ": file ends early");
    }
    const std::span<const std::uint8_t> bytes(chunk);
    const bool last_chunk = chunk.size() == left;
    std::size_t at = 0;
    want = kChunkBytes;
    while (seq <= to && status.is_ok()) {
      const std::size_t rest = bytes.size() - at;
      if (!last_chunk && rest >= kFrameHeaderBytes) {
        const std::size_t frame = kFrameHeaderBytes + get_u32(bytes.data() + at);
        if (frame > rest && frame <= kFrameHeaderBytes + kMaxBodyBytes) {
          want = std::max(want, frame);
          break;
        }
      }
      if (!last_chunk && rest < kFrameHeaderBytes) break;
      std::size_t body_bytes = 0;
      std::string problem;
      if (!check_frame(bytes, at, &body_bytes, &problem)) {
        status = Status::corruption(record_at(off + at) + " (seq " + std::to_string(seq) +
                                    ") no longer reads back: " + problem);
        break;
      }
      const auto body = bytes.subspan(at + kFrameHeaderBytes, body_bytes);
      if (const std::uint64_t found = get_u64(body.data()); found != seq) {
        status = Status::corruption(record_at(off + at) + " has seq " + std::to_string(found) +
                                    ", expected " + std::to_string(seq));
        break;
      }
      if (seq >= from) {  // the ones before, from the indexed record on, are only stepped over
        Entry entry;
        status = decode_body(body, off + at, &plain, &entry);
        if (!status.is_ok()) break;
        out->push_back(std::move(entry));
      }
      ++seq;
      at += kFrameHeaderBytes + body_bytes;
    }
    off += at;
  }
  std::fill(plain.begin(), plain.end(), 0);
  std::fill(chunk.begin(), chunk.end(), 0);
  return status;
}

void Journal::append(std::uint64_t seq, std::int64_t ts_ms, const Transaction& tx) {
  TRIAD_ASSERT(seq == last_seq_ + 1);
  flatbuffers::FlatBufferBuilder fbb(512);
  fbb.Finish(wire::build_transaction(fbb, tx));
  const std::size_t start = buffer_.size();
  if ((seq - 1) % kIndexEvery == 0) index_.push_back(size_bytes_ + start);
  buffer_.resize(start + kFrameHeaderBytes + kAadBytes + crypto::kAeadNonceBytes);
  std::uint8_t* body = buffer_.data() + start + kFrameHeaderBytes;
  put_u64(body, seq);
  put_u64(body + 8, static_cast<std::uint64_t>(ts_ms));
  // A random nonce per record, not one derived from seq: a torn tail is cut
  // off and its seq given again to another transaction, and a counter nonce
  // would then encrypt two plaintexts under the same (key, nonce).
  const auto nonce = next_nonce();
  std::copy(nonce.begin(), nonce.end(), body + kAadBytes);
  std::array<std::uint8_t, kAadBytes> aad{};
  std::copy_n(body, kAadBytes, aad.begin());
  aead_.seal(nonce, aad, std::span<const std::uint8_t>(fbb.GetBufferPointer(), fbb.GetSize()),
             &buffer_);
  // The builder held the PAN in clear; wipe it before its memory is reused.
  std::memset(fbb.GetBufferPointer(), 0, fbb.GetSize());
  const std::size_t body_bytes = buffer_.size() - start - kFrameHeaderBytes;
  TRIAD_ASSERT(body_bytes <= kMaxBodyBytes);
  std::uint8_t* frame = buffer_.data() + start;
  put_u32(frame, static_cast<std::uint32_t>(body_bytes));
  const auto sum =
      frame_checksum(frame, std::span<const std::uint8_t>(frame + kFrameHeaderBytes, body_bytes));
  std::copy(sum.begin(), sum.end(), frame + 4);
  last_seq_ = seq;
}

std::span<const std::uint8_t, crypto::kAeadNonceBytes> Journal::next_nonce() {
  if (nonces_used_ == kNoncesPerDraw) {
    crypto::random_bytes(nonces_);
    nonces_used_ = 0;
  }
  const std::size_t at = crypto::kAeadNonceBytes * nonces_used_++;
  return std::span<const std::uint8_t, crypto::kAeadNonceBytes>(nonces_.data() + at,
                                                                crypto::kAeadNonceBytes);
}

Status Journal::sync(std::uint64_t now_us) {
  if (sync_times_.fdatasync(fd_) != 0) {
    failed_ = Status::io_error("cannot sync journal " + path_ + ": " + reason(errno));
    return failed_;
  }
  unsynced_ = false;
  last_sync_us_ = now_us;
  return Status::ok();
}

Status Journal::commit(std::uint64_t now_us) {
  if (!failed_.is_ok()) return failed_;
  TRIAD_ASSERT(fd_ >= 0);
  if (!buffer_.empty()) {
    if (Status s = write_all(fd_, buffer_.data(), buffer_.size(), size_bytes_, path_); !s.is_ok()) {
      failed_ = s;
      return s;
    }
    size_bytes_ += buffer_.size();
    buffer_.clear();
    written_seq_ = last_seq_;
    unsynced_ = true;
  }
  if (!unsynced_) return Status::ok();
  switch (policy_.kind) {
    case FsyncPolicy::Kind::kBatch:
      return sync_elsewhere_ ? Status::ok() : sync(now_us);
    case FsyncPolicy::Kind::kInterval:
      if (now_us >= last_sync_us_ + policy_.interval_ms * 1000) return sync(now_us);
      return Status::ok();
    case FsyncPolicy::Kind::kNever:
      return Status::ok();
  }
  TRIAD_ASSERT(false);
}

std::optional<std::uint64_t> Journal::next_sync_us() const {
  if (policy_.kind != FsyncPolicy::Kind::kInterval || !unsynced_) return std::nullopt;
  return last_sync_us_ + policy_.interval_ms * 1000;
}

Status Journal::close() {
  if (fd_ < 0) return Status::ok();
  Status status = commit(last_sync_us_);
  if (status.is_ok() && unsynced_) status = sync(last_sync_us_);
  if (::close(fd_) != 0 && status.is_ok()) {
    status = Status::io_error("cannot close journal " + path_ + ": " + reason(errno));
  }
  fd_ = -1;
  return status;
}

namespace {

constexpr char kAnswerMagic[8] = {'T', 'R', 'I', 'A', 'D', 'A', 'N', 'S'};
constexpr std::uint32_t kAnswerVersion = 1;
constexpr std::size_t kAnswerHeaderBytes = 16;
constexpr std::size_t kAnswerRecordBytes = 56;
constexpr std::size_t kAnswerSummedBytes = 48;

std::array<std::uint8_t, kAnswerHeaderBytes> answer_header() {
  std::array<std::uint8_t, kAnswerHeaderBytes> h{};
  std::memcpy(h.data(), kAnswerMagic, sizeof kAnswerMagic);
  put_u32(h.data() + 8, kAnswerVersion);
  return h;
}

std::array<std::uint8_t, kAnswerRecordBytes> encode_answer(const FailSafeAnswer& a) {
  TRIAD_ASSERT(a.code.size() == 2);
  std::array<std::uint8_t, kAnswerRecordBytes> r{};
  put_u64(r.data(), a.seq);
  std::copy(a.tx_digest.begin(), a.tx_digest.end(), r.begin() + 8);
  std::memcpy(r.data() + 40, a.code.data(), 2);
  const Digest sum = crypto::sha256(std::span<const std::uint8_t>(r.data(), kAnswerSummedBytes));
  std::copy_n(sum.begin(), kChecksumBytes, r.begin() + kAnswerSummedBytes);
  return r;
}

void append_records(std::span<const FailSafeAnswer> answers, std::vector<std::uint8_t>* out) {
  for (const FailSafeAnswer& a : answers) {
    const auto record = encode_answer(a);
    out->insert(out->end(), record.begin(), record.end());
  }
}

// The record at `p` (kAnswerRecordBytes), when its checksum holds and it
// is a fail-safe decline (91 or 96) of a seq: any other code, read back,
// would be taken for an answer given (an approval with no certificate, or
// no answer at all, which holds every seq after it undecided).
std::optional<FailSafeAnswer> decode_answer(const std::uint8_t* p) {
  const Digest sum = crypto::sha256(std::span<const std::uint8_t>(p, kAnswerSummedBytes));
  if (!std::equal(sum.begin(), sum.begin() + kChecksumBytes, p + kAnswerSummedBytes)) {
    return std::nullopt;
  }
  FailSafeAnswer a;
  a.seq = get_u64(p);
  std::copy_n(p + 8, a.tx_digest.size(), a.tx_digest.begin());
  a.code.assign(reinterpret_cast<const char*>(p + 40), 2);
  if (a.seq == 0 || (a.code != "91" && a.code != "96")) return std::nullopt;
  return a;
}

}  // namespace

Status AnswerLog::open(const std::string& path, FsyncPolicy policy, bool journal_has_transactions,
                       std::vector<FailSafeAnswer>* recovered, std::unique_ptr<AnswerLog>* out) {
  recovered->clear();
  int fd = -1;
  bool created = false;
  TRIAD_RETURN_IF_ERROR(open_or_create(path, "answer log", &fd, &created));
  std::unique_ptr<AnswerLog> answers(new AnswerLog(path, fd, policy, 0));
  std::vector<std::uint8_t> file;
  TRIAD_RETURN_IF_ERROR(read_all(fd, path, &file));
  const auto header = answer_header();
  if (file.size() < kAnswerHeaderBytes) {
    // Only a creation that did not finish leaves a short header, and the
    // log is made before the journal's first transaction.
    if (!std::equal(file.begin(), file.end(), header.begin())) {
      return Status::corruption("answer log " + path + " is not a Triad answer log");
    }
    if (journal_has_transactions) {
      return Status::corruption(
          "answer log " + path + " is cut short (" + std::to_string(file.size()) +
          " bytes) next to a journal that holds transactions: its fail-safe declines would be "
          "answered anew. Restore it from a backup");
    }
    if (::ftruncate(fd, 0) != 0) {
      return Status::io_error("cannot truncate answer log " + path + ": " + reason(errno));
    }
    TRIAD_RETURN_IF_ERROR(write_all(fd, header.data(), header.size(), 0, path));
    if (::fdatasync(fd) != 0) {
      return Status::io_error("cannot sync answer log " + path + ": " + reason(errno));
    }
    if (created) TRIAD_RETURN_IF_ERROR(sync_parent_dir(path));
    answers->size_bytes_ = kAnswerHeaderBytes;
    *out = std::move(answers);
    return Status::ok();
  }
  if (!std::equal(header.begin(), header.end(), file.begin())) {
    return Status::corruption("answer log " + path +
                              " is not a Triad answer log of version 1 (header differs)");
  }
  std::size_t off = kAnswerHeaderBytes;
  for (; off + kAnswerRecordBytes <= file.size(); off += kAnswerRecordBytes) {
    const auto a = decode_answer(file.data() + off);
    if (a) {
      recovered->push_back(*a);
      continue;
    }
    // Zeros to the end are a torn tail (zeros_to_the_end), unless a whole
    // record comes after this one; a whole record that is damaged
    // otherwise may be a decline that was answered, and dropping it would
    // let the replay answer that seq anew.
    bool valid_after = false;
    for (std::size_t next = off + kAnswerRecordBytes;
         next + kAnswerRecordBytes <= file.size() && !valid_after; next += kAnswerRecordBytes) {
      valid_after = decode_answer(file.data() + next).has_value();
    }
    if (!valid_after && zeros_to_the_end(file, off)) break;
    return Status::corruption(
        "answer log " + path + ": damaged record at offset " + std::to_string(off) +
        (off + 2 * kAnswerRecordBytes <= file.size() ? " is not the last" : " is whole") +
        "; refusing to drop it (a crash leaves a record cut short, not this). Restore the file "
        "from a backup; only if it was written just before a power cut and never answered, cut "
        "it off (truncate -s " +
        std::to_string(off) + " " + path + ") and start again");
  }
  if (off < file.size()) {
    log::warn("answer log " + path + ": truncated a torn tail at offset " + std::to_string(off) +
              " (" + std::to_string(file.size() - off) + " bytes)");
    if (::ftruncate(fd, static_cast<off_t>(off)) != 0 || ::fdatasync(fd) != 0) {
      return Status::io_error("cannot truncate answer log " + path + ": " + reason(errno));
    }
  }
  answers->size_bytes_ = off;
  *out = std::move(answers);
  return Status::ok();
}

AnswerLog::~AnswerLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status AnswerLog::append(std::span<const FailSafeAnswer> answers) {
  if (!failed_.is_ok()) return failed_;
  if (answers.empty()) return Status::ok();
  records_.clear();
  append_records(answers, &records_);
  Status s = write_all(fd_, records_.data(), records_.size(), size_bytes_, path_);
  if (s.is_ok() && policy_.kind != FsyncPolicy::Kind::kNever && ::fdatasync(fd_) != 0) {
    s = Status::io_error("cannot sync answer log " + path_ + ": " + reason(errno));
  }
  if (!s.is_ok()) {
    failed_ = s;
    return s;
  }
  size_bytes_ += records_.size();
  return Status::ok();
}

Status AnswerLog::rewrite(std::span<const FailSafeAnswer> answers) {
  if (!failed_.is_ok()) return failed_;
  const auto header = answer_header();
  std::vector<std::uint8_t> bytes(header.begin(), header.end());
  append_records(answers, &bytes);
  int fd = -1;
  TRIAD_RETURN_IF_ERROR(replace_file(path_, path_ + ".new", bytes, &fd));
  ::close(fd_);
  fd_ = fd;
  size_bytes_ = bytes.size();
  return Status::ok();
}

Status check_origin(const std::string& path, std::string_view origin, bool journal_empty) {
  std::string recorded;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    std::vector<std::uint8_t> bytes;
    const Status s = read_all(fd, path, &bytes);
    ::close(fd);
    TRIAD_RETURN_IF_ERROR(s);
    recorded.assign(bytes.begin(), bytes.end());
  } else if (errno != ENOENT) {
    return Status::io_error("cannot open " + path + ": " + reason(errno));
  }
  if (recorded == origin) return Status::ok();
  if (journal_empty) {
    const std::vector<std::uint8_t> bytes(origin.begin(), origin.end());
    int written = -1;
    TRIAD_RETURN_IF_ERROR(replace_file(path, path + ".new", bytes, &written));
    ::close(written);
    return Status::ok();
  }
  const auto line = [](std::string_view text) {
    return std::string(text.substr(0, text.find('\n')));
  };
  if (fd < 0) {
    return Status::corruption(
        path +
        " is missing next to a journal that holds transactions; it says what they were "
        "decided over. Restore it from this directory's backup; a directory made by a build "
        "before 2026-12-06 has none, and its answers were kept under transaction digests "
        "this build does not make: start new ones in a new --dir");
  }
  return Status::invalid_argument(
      "the journal's transactions were decided over a " + line(recorded) + "; this start has a " +
      line(origin) +
      ". Replaying them over another card file, other rules or other transaction digests "
      "(another digest scheme, or another keys/card-ref.key) would answer repeated ids otherwise "
      "than their clients were told: start with the card "
      "file, build and keys this directory was started with, or start new ones in a new --dir");
}

}  // namespace triad::journal
