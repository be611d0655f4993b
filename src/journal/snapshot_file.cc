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

#include "journal/journal.h"
#include "journal/little_endian.h"

namespace triad::journal {
namespace {

constexpr char kSnapshotMagic[8] = {'T', 'R', 'I', 'A', 'D', 'S', 'N', 'P'};
constexpr std::uint32_t kSnapshotVersion = 1;
constexpr std::size_t kVersionAt = 8;
constexpr std::size_t kSeqAt = 12;
constexpr std::size_t kNonceAt = 20;
constexpr std::size_t kSnapshotHeaderBytes = kNonceAt + crypto::kAeadNonceBytes;
constexpr std::size_t kDigestBytes = sizeof(Digest);
constexpr std::size_t kEngineLengthAt = 2 * kDigestBytes;
constexpr std::size_t kEngineStateAt = kEngineLengthAt + 8;
// Both digests and both lengths: the body of an empty engine state and
// certificate.
constexpr std::size_t kMinBodyBytes = kEngineStateAt + 4;
constexpr std::size_t kMinFileBytes = kSnapshotHeaderBytes + kMinBodyBytes + crypto::kAeadTagBytes;
constexpr std::size_t kMaxCertificateBytes = 64 * 1024;
// What Aes256Gcm takes in one message (OpenSSL counts in int).
constexpr std::size_t kMaxSealedBytes = INT_MAX;

static_assert(kSnapshotHeaderBytes == 32);

std::string reason(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

Status write_snapshot_file(const std::string& path, const crypto::SymmetricKey& key,
                           const StoredSnapshot& snapshot) {
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
  const std::size_t engine_bytes = snapshot.engine_state.size();
  if (engine_bytes >
      kMaxSealedBytes - crypto::kAeadTagBytes - kMinBodyBytes - kMaxCertificateBytes) {
    return Status::invalid_argument("snapshot file " + path + ": engine state of " +
                                    std::to_string(engine_bytes) +
                                    " bytes is more than one snapshot file can hold");
  }

  std::array<std::uint8_t, kSnapshotHeaderBytes> header{};
  std::memcpy(header.data(), kSnapshotMagic, sizeof kSnapshotMagic);
  put_u32(header.data() + kVersionAt, kSnapshotVersion);
  put_u64(header.data() + kSeqAt, snapshot.seq);
  // Random, not derived from seq: a restart may write the same seq again
  // with another state (another engine version's encoding, say), and two
  // plaintexts under one (key, nonce) would give both away.
  const std::span<std::uint8_t, crypto::kAeadNonceBytes> nonce(header.data() + kNonceAt,
                                                               crypto::kAeadNonceBytes);
  crypto::random_bytes(nonce);

  const std::size_t cert_bytes = snapshot.certificate.size();
  std::vector<std::uint8_t> body(kMinBodyBytes + engine_bytes + cert_bytes);
  std::copy(snapshot.state_digest.begin(), snapshot.state_digest.end(), body.begin());
  std::copy(snapshot.checkpoint_digest.begin(), snapshot.checkpoint_digest.end(),
            body.begin() + kDigestBytes);
  put_u64(body.data() + kEngineLengthAt, engine_bytes);
  std::copy(snapshot.engine_state.begin(), snapshot.engine_state.end(),
            body.begin() + kEngineStateAt);
  put_u32(body.data() + kEngineStateAt + engine_bytes, static_cast<std::uint32_t>(cert_bytes));
  std::copy(snapshot.certificate.begin(), snapshot.certificate.end(),
            body.end() - static_cast<std::ptrdiff_t>(cert_bytes));

  std::vector<std::uint8_t> file;
  file.reserve(kSnapshotHeaderBytes + body.size() + crypto::kAeadTagBytes);
  file.assign(header.begin(), header.end());
  crypto::Aes256Gcm(key).seal(nonce, header, body, &file);
  // The body held the card data in clear.
  crypto::wipe(body.data(), body.size());

  const std::string next = path + ".next";
  int fd = -1;
  if (Status s = replace_file(path, next, file, &fd); !s.is_ok()) {
    ::unlink(next.c_str());  // a half-written copy of the state; gone already after a rename
    return s;
  }
  ::close(fd);
  return Status::ok();
}

void wipe_state(StoredSnapshot* snapshot) { crypto::wipe_and_free(&snapshot->engine_state); }

Status read_snapshot_file(const std::string& path, const crypto::SymmetricKey& key,
                          StoredSnapshot* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::not_found("snapshot file " + path + " does not exist");
    return Status::io_error("cannot open snapshot file " + path + ": " + reason(err));
  }
  std::vector<std::uint8_t> file;
  const Status read = read_all(fd, path, &file);
  ::close(fd);
  TRIAD_RETURN_IF_ERROR(read);

  const std::string what = "snapshot file " + path;
  const std::size_t size = file.size();
  if (!std::equal(file.begin(),
                  file.begin() + static_cast<std::ptrdiff_t>(std::min(size, sizeof kSnapshotMagic)),
                  reinterpret_cast<const std::uint8_t*>(kSnapshotMagic))) {
    return Status::corruption(what + " is not a Triad snapshot file (bad magic)");
  }
  if (size >= kSeqAt) {
    if (const std::uint32_t version = get_u32(file.data() + kVersionAt);
        version != kSnapshotVersion) {
      return Status::corruption(what + " has unknown version " + std::to_string(version) +
                                " (this build reads version " + std::to_string(kSnapshotVersion) +
                                ")");
    }
  }
  if (size < kMinFileBytes) {
    return Status::corruption(what + " is truncated: " + std::to_string(size) +
                              " bytes, less than the " + std::to_string(kMinFileBytes) +
                              " of an empty snapshot");
  }
  const auto sealed = std::span<const std::uint8_t>(file).subspan(kSnapshotHeaderBytes);
  if (sealed.size() > kMaxSealedBytes) {
    return Status::corruption(what + " of " + std::to_string(size) +
                              " bytes is larger than any snapshot file");
  }

  std::vector<std::uint8_t> plain;
  const std::span<const std::uint8_t, crypto::kAeadNonceBytes> nonce(file.data() + kNonceAt,
                                                                     crypto::kAeadNonceBytes);
  if (!crypto::Aes256Gcm(key)
           .open(nonce, std::span<const std::uint8_t>(file.data(), kSnapshotHeaderBytes), sealed,
                 &plain)
           .is_ok()) {
    // A crash leaves the old file or the new one whole (write_snapshot_file),
    // so this is no torn write.
    return Status::corruption(what + " (" + std::to_string(size) +
                              " bytes) does not authenticate: written with another key, or "
                              "altered");
  }

  // Authentic from here on: sizes that do not add up are a writer's bug, and
  // the body is card data, never to be quoted.
  const std::size_t after_length = plain.size() - kEngineStateAt;  // >= 4: kMinFileBytes
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
  snapshot.seq = get_u64(file.data() + kSeqAt);
  std::copy_n(plain.begin(), kDigestBytes, snapshot.state_digest.begin());
  std::copy_n(plain.begin() + kDigestBytes, kDigestBytes, snapshot.checkpoint_digest.begin());
  const auto cert_at = plain.end() - static_cast<std::ptrdiff_t>(cert_bytes);
  snapshot.certificate.assign(cert_at, plain.end());
  // The engine state moved, not copied: it may be tens of MB, and a copy
  // would leave another card data buffer to wipe.
  plain.erase(plain.begin(), plain.begin() + kEngineStateAt);
  plain.resize(static_cast<std::size_t>(engine_bytes));
  snapshot.engine_state = std::move(plain);
  *out = std::move(snapshot);
  return Status::ok();
}

}  // namespace triad::journal
