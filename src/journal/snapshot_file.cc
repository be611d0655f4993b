#include "journal/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <span>
#include <system_error>

#include "common/assert.h"
#include "journal/journal.h"
#include "journal/little_endian.h"

namespace triad::journal {
namespace {

constexpr char kSnapshotMagic[8] = {'T', 'R', 'I', 'A', 'D', 'S', 'N', 'P'};
constexpr std::uint32_t kSnapshotVersion = 2;
constexpr std::uint32_t kOneMessageVersion = 1;  // read, no longer written
constexpr std::size_t kVersionAt = 8;
constexpr std::size_t kSeqAt = 12;
constexpr std::size_t kNonceAt = 20;
constexpr std::size_t kSegmentBytesAt = kNonceAt + crypto::kAeadNonceBytes;
constexpr std::size_t kHeaderBytes = kSegmentBytesAt + 4;
constexpr std::size_t kOneMessageHeaderBytes = kSegmentBytesAt;
constexpr std::size_t kMaxSegmentBytes = 64 * 1024 * 1024;
constexpr std::size_t kDigestBytes = sizeof(Digest);
constexpr std::size_t kEngineLengthAt = 2 * kDigestBytes;
constexpr std::size_t kEngineStateAt = kEngineLengthAt + 8;
// Both digests and both lengths: the content of an empty engine state and
// certificate.
constexpr std::size_t kMinContentBytes = kEngineStateAt + 4;
constexpr std::size_t kMaxCertificateBytes = 64 * 1024;
// What Aes256Gcm takes in one message (OpenSSL counts in int): version 1.
constexpr std::size_t kMaxSealedBytes = INT_MAX;

static_assert(kHeaderBytes == 36 && kOneMessageHeaderBytes == 32);
static_assert(kMaxSegmentBytes + crypto::kAeadTagBytes <= kMaxSealedBytes);

std::string reason(int err) { return std::error_code(err, std::generic_category()).message(); }

using Nonce = std::array<std::uint8_t, crypto::kAeadNonceBytes>;
using Header = std::array<std::uint8_t, kHeaderBytes>;

// Segment i's nonce and associated data (see the header comment).
Nonce segment_nonce(const Header& header, std::uint64_t i) {
  Nonce nonce{};
  std::copy_n(header.begin() + kNonceAt, nonce.size(), nonce.begin());
  std::array<std::uint8_t, 8> counter{};
  put_u64(counter.data(), i);
  for (std::size_t b = 0; b < counter.size(); ++b) nonce[4 + b] ^= counter[b];
  return nonce;
}

std::array<std::uint8_t, kHeaderBytes + 9> segment_aad(const Header& header, std::uint64_t i,
                                                       bool last) {
  std::array<std::uint8_t, kHeaderBytes + 9> aad{};
  std::copy(header.begin(), header.end(), aad.begin());
  put_u64(aad.data() + kHeaderBytes, i);
  aad[kHeaderBytes + 8] = last ? 1 : 0;
  return aad;
}

// The content as the pieces it is made of, so that it is sealed a segment at
// a time without being put together first.
class Content {
 public:
  explicit Content(const StoredSnapshot& snapshot) {
    std::copy(snapshot.state_digest.begin(), snapshot.state_digest.end(), head_.begin());
    std::copy(snapshot.checkpoint_digest.begin(), snapshot.checkpoint_digest.end(),
              head_.begin() + kDigestBytes);
    put_u64(head_.data() + kEngineLengthAt, snapshot.engine_state.size());
    put_u32(cert_length_.data(), static_cast<std::uint32_t>(snapshot.certificate.size()));
    pieces_ = {head_, snapshot.engine_state, cert_length_, snapshot.certificate};
  }

  std::uint64_t size() const {
    std::uint64_t total = 0;
    for (const auto& piece : pieces_) total += piece.size();
    return total;
  }

  // Copies the content's bytes [at, at + out.size()) into `out`.
  void copy(std::uint64_t at, std::span<std::uint8_t> out) const {
    std::size_t filled = 0;
    for (const auto& piece : pieces_) {
      if (filled == out.size()) return;
      if (at >= piece.size()) {
        at -= piece.size();
        continue;
      }
      const std::size_t n = std::min<std::size_t>(piece.size() - at, out.size() - filled);
      std::copy_n(piece.data() + at, n, out.data() + filled);
      filled += n;
      at = 0;
    }
    TRIAD_ASSERT(filled == out.size());
  }

 private:
  std::array<std::uint8_t, kEngineStateAt> head_{};
  std::array<std::uint8_t, 4> cert_length_{};
  std::array<std::span<const std::uint8_t>, 4> pieces_;
};

// Seals `content` a segment at a time into the file open at fd, after
// `header`.
Status write_segments(int fd, const std::string& path, const crypto::SymmetricKey& key,
                      const Header& header, const Content& content, std::size_t segment_bytes) {
  TRIAD_RETURN_IF_ERROR(write_all(fd, header.data(), header.size(), 0, path));
  crypto::Aes256Gcm aead(key);
  std::vector<std::uint8_t> plain(segment_bytes);
  std::vector<std::uint8_t> sealed;
  sealed.reserve(segment_bytes + crypto::kAeadTagBytes);
  const std::uint64_t total = content.size();
  std::uint64_t offset = kHeaderBytes;
  Status written = Status::ok();
  for (std::uint64_t i = 0, at = 0; at < total && written.is_ok(); ++i, at += segment_bytes) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(segment_bytes, total - at));
    const std::span<std::uint8_t> slice(plain.data(), n);
    content.copy(at, slice);
    sealed.clear();
    aead.seal(segment_nonce(header, i), segment_aad(header, i, at + n == total), slice, &sealed);
    written = write_all(fd, sealed.data(), sealed.size(), offset, path);
    offset += sealed.size();
  }
  // The segment held card data in clear.
  crypto::wipe(plain.data(), plain.size());
  return written;
}

// Splits the content of a version 1 or 2 file (authentic by now) into *out,
// with the header's seq. The content is card data: never quoted, wiped here
// on failure.
Status take_content(const std::string& what, std::uint64_t seq, std::vector<std::uint8_t> plain,
                    StoredSnapshot* out) {
  // Sizes that do not add up are a writer's bug.
  if (plain.size() < kMinContentBytes) {
    crypto::wipe(plain.data(), plain.size());
    return Status::corruption(what + ": " + std::to_string(plain.size()) +
                              " bytes of content, less than the " +
                              std::to_string(kMinContentBytes) + " of an empty snapshot");
  }
  const std::size_t after_length = plain.size() - kEngineStateAt;
  const std::uint64_t engine_bytes = get_u64(plain.data() + kEngineLengthAt);
  std::uint64_t cert_bytes = 0;
  if (engine_bytes <= after_length - 4) {
    cert_bytes = get_u32(plain.data() + kEngineStateAt + engine_bytes);
  }
  if (engine_bytes > after_length - 4 || cert_bytes != after_length - 4 - engine_bytes) {
    crypto::wipe(plain.data(), plain.size());
    return Status::corruption(what + ": the sizes of its engine state (" +
                              std::to_string(engine_bytes) + " bytes) and certificate (" +
                              std::to_string(cert_bytes) + " bytes) do not add up to its " +
                              std::to_string(plain.size()) + " bytes of content");
  }
  if (cert_bytes > kMaxCertificateBytes) {
    crypto::wipe(plain.data(), plain.size());
    return Status::corruption(what + ": certificate of " + std::to_string(cert_bytes) +
                              " bytes exceeds the limit of " +
                              std::to_string(kMaxCertificateBytes));
  }

  StoredSnapshot snapshot;
  snapshot.seq = seq;
  std::copy_n(plain.begin(), kDigestBytes, snapshot.state_digest.begin());
  std::copy_n(plain.begin() + kDigestBytes, kDigestBytes, snapshot.checkpoint_digest.begin());
  const auto cert_at = plain.end() - static_cast<std::ptrdiff_t>(cert_bytes);
  snapshot.certificate.assign(cert_at, plain.end());
  // The engine state moved, not copied: it may be GBs, and a copy would
  // leave another card data buffer to wipe.
  plain.erase(plain.begin(), plain.begin() + kEngineStateAt);
  plain.resize(static_cast<std::size_t>(engine_bytes));
  snapshot.engine_state = std::move(plain);
  *out = std::move(snapshot);
  return Status::ok();
}

}  // namespace

Status write_snapshot_file(const std::string& path, const crypto::SymmetricKey& key,
                           const StoredSnapshot& snapshot, std::size_t segment_bytes) {
  TRIAD_ASSERT(segment_bytes >= 1 && segment_bytes <= kMaxSegmentBytes);
  if (snapshot.seq == 0) {
    return Status::invalid_argument("snapshot file " + path +
                                    ": seq 0 is no checkpoint; a snapshot is at seq 1 or later");
  }
  if (snapshot.certificate.size() > kMaxCertificateBytes) {
    return Status::invalid_argument("snapshot file " + path + ": certificate of " +
                                    std::to_string(snapshot.certificate.size()) +
                                    " bytes exceeds the limit of " +
                                    std::to_string(kMaxCertificateBytes));
  }

  Header header{};
  std::memcpy(header.data(), kSnapshotMagic, sizeof kSnapshotMagic);
  put_u32(header.data() + kVersionAt, kSnapshotVersion);
  put_u64(header.data() + kSeqAt, snapshot.seq);
  // Random, not derived from seq: a restart may write the same seq again
  // with another state (another engine version's encoding, say), and two
  // plaintexts under one (key, nonce) would give both away.
  crypto::random_bytes(std::span<std::uint8_t>(header.data() + kNonceAt, crypto::kAeadNonceBytes));
  put_u32(header.data() + kSegmentBytesAt, static_cast<std::uint32_t>(segment_bytes));

  const Content content(snapshot);
  const std::string next = path + ".next";
  int fd = -1;
  const auto write_content = [&](int new_fd) {
    return write_segments(new_fd, next, key, header, content, segment_bytes);
  };
  if (Status s = replace_file(path, next, write_content, &fd); !s.is_ok()) {
    ::unlink(next.c_str());  // a half-written copy of the state; gone already after a rename
    return s;
  }
  ::close(fd);
  return Status::ok();
}

void wipe_state(StoredSnapshot* snapshot) { crypto::wipe_and_free(&snapshot->engine_state); }

namespace {

// Version 1: the content sealed as one message after a 32-byte header.
Status read_one_message(const std::string& what, int fd, const std::string& path,
                        const crypto::SymmetricKey& key, StoredSnapshot* out) {
  std::vector<std::uint8_t> file;
  TRIAD_RETURN_IF_ERROR(read_all(fd, path, &file));
  const std::size_t size = file.size();
  constexpr std::size_t kMinFileBytes =
      kOneMessageHeaderBytes + kMinContentBytes + crypto::kAeadTagBytes;
  if (size < kMinFileBytes) {
    return Status::corruption(what + " is truncated: " + std::to_string(size) +
                              " bytes, less than the " + std::to_string(kMinFileBytes) +
                              " of an empty snapshot");
  }
  const auto sealed = std::span<const std::uint8_t>(file).subspan(kOneMessageHeaderBytes);
  if (sealed.size() > kMaxSealedBytes) {
    return Status::corruption(what + " of " + std::to_string(size) +
                              " bytes is larger than any snapshot file of version 1");
  }
  std::vector<std::uint8_t> plain;
  const std::span<const std::uint8_t, crypto::kAeadNonceBytes> nonce(file.data() + kNonceAt,
                                                                     crypto::kAeadNonceBytes);
  if (!crypto::Aes256Gcm(key)
           .open(nonce, std::span<const std::uint8_t>(file.data(), kOneMessageHeaderBytes), sealed,
                 &plain)
           .is_ok()) {
    // A crash leaves the old file or the new one whole (write_snapshot_file),
    // so this is no torn write.
    return Status::corruption(what + " (" + std::to_string(size) +
                              " bytes) does not authenticate: written with another key, or "
                              "altered");
  }
  return take_content(what, get_u64(file.data() + kSeqAt), std::move(plain), out);
}

// Version 2: the content in segments, opened one at a time into one buffer.
Status read_segments(const std::string& what, int fd, const std::string& path,
                     const crypto::SymmetricKey& key, std::size_t size, StoredSnapshot* out) {
  Header header{};
  std::size_t got = 0;
  TRIAD_RETURN_IF_ERROR(read_at(fd, path, 0, header, &got));
  const std::size_t min_file_bytes = kHeaderBytes + kMinContentBytes + crypto::kAeadTagBytes;
  if (got < kHeaderBytes || size < min_file_bytes) {
    return Status::corruption(what + " is truncated: " + std::to_string(size) +
                              " bytes, less than the " + std::to_string(min_file_bytes) +
                              " of an empty snapshot");
  }
  const std::size_t segment_bytes = get_u32(header.data() + kSegmentBytesAt);
  if (segment_bytes == 0 || segment_bytes > kMaxSegmentBytes) {
    return Status::corruption(what + " has a segment size of " + std::to_string(segment_bytes) +
                              " bytes, outside 1.." + std::to_string(kMaxSegmentBytes));
  }
  // Every segment but the last is whole; the last holds at least a byte.
  const std::size_t sealed_segment_bytes = segment_bytes + crypto::kAeadTagBytes;
  const std::size_t sealed_bytes = size - kHeaderBytes;
  const std::size_t segments = (sealed_bytes + sealed_segment_bytes - 1) / sealed_segment_bytes;
  const std::size_t last_sealed = sealed_bytes - (segments - 1) * sealed_segment_bytes;
  const auto not_authentic = [&] {
    return Status::corruption(what + " (" + std::to_string(size) +
                              " bytes) does not authenticate: written with another key, "
                              "altered, or cut short");
  };
  if (last_sealed <= crypto::kAeadTagBytes) return not_authentic();

  // Sized from the file, which is ours: no length in it is trusted before
  // its segment authenticates.
  std::vector<std::uint8_t> plain(sealed_bytes - segments * crypto::kAeadTagBytes);
  std::vector<std::uint8_t> sealed(sealed_segment_bytes);
  std::vector<std::uint8_t> opened;
  crypto::Aes256Gcm aead(key);
  Status status = Status::ok();
  for (std::size_t i = 0; i < segments && status.is_ok(); ++i) {
    const bool last = i + 1 == segments;
    const std::span<std::uint8_t> segment(sealed.data(), last ? last_sealed : sealed_segment_bytes);
    status = read_at(fd, path, kHeaderBytes + i * sealed_segment_bytes, segment, &got);
    if (!status.is_ok()) break;
    if (got != segment.size()) {
      status = Status::io_error(what + " changed while it was read");  // stat said otherwise
      break;
    }
    if (!aead.open(segment_nonce(header, i), segment_aad(header, i, last), segment, &opened)
             .is_ok()) {
      status = not_authentic();
      break;
    }
    std::copy(opened.begin(), opened.end(),
              plain.begin() + static_cast<std::ptrdiff_t>(i * segment_bytes));
  }
  // Each segment opened into the same buffer: a shorter last one leaves
  // the one before's tail past its size.
  crypto::wipe_and_free(&opened);
  if (!status.is_ok()) {
    crypto::wipe_and_free(&plain);
    return status;
  }
  return take_content(what, get_u64(header.data() + kSeqAt), std::move(plain), out);
}

}  // namespace

Status read_snapshot_file(const std::string& path, const crypto::SymmetricKey& key,
                          StoredSnapshot* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::not_found("snapshot file " + path + " does not exist");
    return Status::io_error("cannot open snapshot file " + path + ": " + reason(err));
  }
  const std::string what = "snapshot file " + path;
  const auto read = [&]() -> Status {
    std::size_t size = 0;
    TRIAD_RETURN_IF_ERROR(regular_file_size(fd, path, &size));
    std::array<std::uint8_t, kSeqAt> start{};
    std::size_t got = 0;
    TRIAD_RETURN_IF_ERROR(read_at(fd, path, 0, start, &got));
    if (!std::equal(
            start.begin(),
            start.begin() + static_cast<std::ptrdiff_t>(std::min(got, sizeof kSnapshotMagic)),
            reinterpret_cast<const std::uint8_t*>(kSnapshotMagic))) {
      return Status::corruption(what + " is not a Triad snapshot file (bad magic)");
    }
    if (got < kSeqAt) {
      return Status::corruption(what + " is truncated: " + std::to_string(size) +
                                " bytes, cut short in its header");
    }
    const std::uint32_t version = get_u32(start.data() + kVersionAt);
    if (version == kSnapshotVersion) return read_segments(what, fd, path, key, size, out);
    if (version == kOneMessageVersion) return read_one_message(what, fd, path, key, out);
    return Status::corruption(what + " has unknown version " + std::to_string(version) +
                              " (this build reads versions " + std::to_string(kOneMessageVersion) +
                              " and " + std::to_string(kSnapshotVersion) + ")");
  };
  const Status status = read();
  ::close(fd);
  return status;
}

}  // namespace triad::journal
