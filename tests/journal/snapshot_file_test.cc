// The state snapshot file: what is written reads back whole, a crash or a
// failed write leaves no half-written file, and any change to the file (its
// seq in clear included), another key or a foreign file is refused, without
// a crash and without card data in the message.
#include "journal/snapshot_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "process/process_util.h"

namespace triad::journal {
namespace {

using triad::testing::read_file;
using triad::testing::TempDir;
using triad::testing::write_file;

constexpr const char* kPan = "4111111111111111";
constexpr std::size_t kHeaderBytes = 36;  // magic, version, seq, nonce, segment size
constexpr std::size_t kSeqAt = 12;
constexpr std::size_t kNonceAt = 20;
constexpr std::size_t kSegmentBytesAt = 32;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kContentHeadBytes = 76;  // the digests and both lengths

Digest digest_of(std::uint8_t first) {
  Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(first + i);
  return d;
}

// `engine_bytes` of engine state that holds the PAN (a card table does)
// and, around it, bytes that differ from one offset to the next.
StoredSnapshot make_snapshot(std::uint64_t seq, std::size_t engine_bytes, std::size_t cert_bytes) {
  StoredSnapshot s;
  s.seq = seq;
  s.state_digest = digest_of(1);
  s.checkpoint_digest = digest_of(101);
  s.engine_state.resize(engine_bytes);
  for (std::size_t i = 0; i < engine_bytes; ++i) {
    s.engine_state[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 13);
  }
  if (engine_bytes >= 64) std::memcpy(s.engine_state.data() + 40, kPan, std::strlen(kPan));
  s.certificate.resize(cert_bytes);
  for (std::size_t i = 0; i < cert_bytes; ++i) {
    s.certificate[i] = static_cast<std::uint8_t>(seq + i);
  }
  return s;
}

std::string flipped(std::string bytes, std::size_t at, std::uint8_t bits) {
  bytes[at] = static_cast<char>(static_cast<std::uint8_t>(bytes[at]) ^ bits);
  return bytes;
}

void expect_same(const StoredSnapshot& got, const StoredSnapshot& want) {
  EXPECT_EQ(got.seq, want.seq);
  EXPECT_EQ(got.state_digest, want.state_digest);
  EXPECT_EQ(got.checkpoint_digest, want.checkpoint_digest);
  EXPECT_TRUE(got.engine_state == want.engine_state)
      << got.engine_state.size() << " bytes of engine state, expected " << want.engine_state.size();
  EXPECT_TRUE(got.certificate == want.certificate)
      << got.certificate.size() << " bytes of certificate, expected " << want.certificate.size();
}

class SnapshotFileTest : public ::testing::Test {
 protected:
  std::string path() const { return tmp_.file("snapshot"); }

  Status write(const StoredSnapshot& s, std::size_t segment_bytes = kSnapshotSegmentBytes) {
    return write_snapshot_file(path(), key_, s, segment_bytes);
  }
  Status read(StoredSnapshot* out) { return read_snapshot_file(path(), key_, out); }

  // Reads `bytes` back as the file: Corruption is expected, with `cause` in
  // the message and no card data, and *out left as it was.
  void expect_corruption(const std::string& bytes, const std::string& cause,
                         const std::string& what) {
    write_file(path(), bytes);
    StoredSnapshot out;
    out.seq = 77;
    const Status s = read(&out);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << what << ": " << s.to_string();
    EXPECT_NE(s.message().find(cause), std::string::npos) << what << ": " << s.message();
    EXPECT_EQ(s.message().find(kPan), std::string::npos) << what;
    EXPECT_EQ(out.seq, 77u) << what << ": *out unchanged";
  }

  // `content` sealed as version 1 wrote it: one message after a 32-byte
  // header (magic, version 1, seq 9, a nonce of zeros).
  std::string seal_version1(const std::vector<std::uint8_t>& content) {
    std::array<std::uint8_t, 32> header{};
    std::memcpy(header.data(), "TRIADSNP", 8);
    header[8] = 1;       // version
    header[kSeqAt] = 9;  // seq
    std::vector<std::uint8_t> file(header.begin(), header.end());
    crypto::Aes256Gcm(key_).seal(
        std::span<const std::uint8_t, crypto::kAeadNonceBytes>(header.data() + kNonceAt, 12),
        header, content, &file);
    return std::string(file.begin(), file.end());
  }

  // A version 1 file whose content's lengths say `engine_length` and
  // `cert_length`, with `engine_bytes` and `cert_bytes` of each.
  std::string version1_file(std::uint64_t engine_length, std::uint32_t cert_length,
                            std::size_t engine_bytes, std::size_t cert_bytes) {
    std::vector<std::uint8_t> content(64 + 8 + engine_bytes + 4 + cert_bytes, 0xab);
    for (std::size_t i = 0; i < 8; ++i) {
      content[64 + i] = static_cast<std::uint8_t>(engine_length >> (8 * i));
    }
    for (std::size_t i = 0; i < 4; ++i) {
      content[72 + engine_bytes + i] = static_cast<std::uint8_t>(cert_length >> (8 * i));
    }
    return seal_version1(content);
  }

  TempDir tmp_;
  crypto::SymmetricKey key_ = crypto::SymmetricKey::generate();
};

TEST_F(SnapshotFileTest, RoundTripOfALargeStateWithoutCertificate) {
  const StoredSnapshot want = make_snapshot(12'345, 3 << 20, 0);
  ASSERT_TRUE(write(want).is_ok());
  StoredSnapshot got;
  const Status s = read(&got);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  expect_same(got, want);
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(static_cast<std::size_t>(st.st_size),
            kHeaderBytes + kContentHeadBytes + (3 << 20) + kTagBytes);
}

TEST_F(SnapshotFileTest, RoundTripOfEachSizeAtItsEdges) {
  for (const auto& [engine_bytes, cert_bytes] :
       std::vector<std::pair<std::size_t, std::size_t>>{{0, 0}, {1, 1}, {100, 64 * 1024}}) {
    const StoredSnapshot want = make_snapshot(1, engine_bytes, cert_bytes);
    ASSERT_TRUE(write(want).is_ok());
    StoredSnapshot got;
    const Status s = read(&got);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    expect_same(got, want);
  }
}

// The engine state holds card data: nothing of it, or of the certificate
// and digests, is in the file in clear.
TEST_F(SnapshotFileTest, NothingButTheHeaderInClear) {
  ASSERT_TRUE(write(make_snapshot(3, 4096, 200)).is_ok());
  const std::string bytes = read_file(path());
  EXPECT_EQ(bytes.find(kPan), std::string::npos);
  EXPECT_EQ(bytes.find("411111"), std::string::npos);
  const Digest d = digest_of(1);
  EXPECT_EQ(bytes.find(std::string(d.begin(), d.begin() + 8)), std::string::npos);
  EXPECT_EQ(bytes.substr(0, 8), "TRIADSNP");
}

TEST_F(SnapshotFileTest, AMissingFileIsNotFound) {
  StoredSnapshot out;
  const Status s = read(&out);
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.to_string();
  EXPECT_NE(s.message().find(path()), std::string::npos) << s.message();
}

TEST_F(SnapshotFileTest, AnotherKeyIsCorruption) {
  ASSERT_TRUE(write(make_snapshot(5, 1000, 10)).is_ok());
  const std::string whole = read_file(path());
  key_ = crypto::SymmetricKey::generate();
  expect_corruption(whole, "does not authenticate: written with another key", "another key");
}

// The seq is in clear (a restart knows where it stands before it decrypts
// tens of MB) but authenticated: changed, the restart would skip or replay
// the wrong part of the journal.
TEST_F(SnapshotFileTest, AFlippedBitInTheSeqIsCorruption) {
  ASSERT_TRUE(write(make_snapshot(5, 1000, 10)).is_ok());
  const std::string whole = read_file(path());
  for (std::size_t at = kSeqAt; at < kSeqAt + 8; ++at) {
    expect_corruption(flipped(whole, at, 0x01), "does not authenticate",
                      "seq bit at " + std::to_string(at));
  }
}

TEST_F(SnapshotFileTest, AFlippedBitInTheNonceIsCorruption) {
  ASSERT_TRUE(write(make_snapshot(5, 1000, 10)).is_ok());
  const std::string whole = read_file(path());
  for (std::size_t at = kNonceAt; at < kSegmentBytesAt; ++at) {
    expect_corruption(flipped(whole, at, 0x80), "does not authenticate",
                      "nonce bit at " + std::to_string(at));
  }
}

// In the digests, the lengths, the engine state (the PAN's bytes included)
// and the certificate.
TEST_F(SnapshotFileTest, AFlippedBitInTheCiphertextIsCorruption) {
  ASSERT_TRUE(write(make_snapshot(5, 1000, 10)).is_ok());
  const std::string whole = read_file(path());
  const std::size_t end = whole.size() - kTagBytes;
  for (std::size_t at : {kHeaderBytes, kHeaderBytes + 40, kHeaderBytes + 64, kHeaderBytes + 72,
                         kHeaderBytes + 72 + 45, kHeaderBytes + 500, end - 10, end - 1}) {
    expect_corruption(flipped(whole, at, 0x04), "does not authenticate",
                      "ciphertext bit at " + std::to_string(at));
  }
}

TEST_F(SnapshotFileTest, AFlippedBitInTheTagIsCorruption) {
  ASSERT_TRUE(write(make_snapshot(5, 1000, 10)).is_ok());
  const std::string whole = read_file(path());
  for (std::size_t at = whole.size() - kTagBytes; at < whole.size(); ++at) {
    expect_corruption(flipped(whole, at, 0x10), "does not authenticate",
                      "tag bit at " + std::to_string(at));
  }
}

// Cut inside the header, inside the smallest body and tag, and anywhere
// after: refused, never read past the end.
TEST_F(SnapshotFileTest, ATruncatedFileIsCorruption) {
  ASSERT_TRUE(write(make_snapshot(5, 1000, 10)).is_ok());
  const std::string whole = read_file(path());
  const std::size_t smallest = kHeaderBytes + kContentHeadBytes + kTagBytes;
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{8},
                          std::size_t{11}, std::size_t{12}, std::size_t{19}, std::size_t{20},
                          kHeaderBytes - 1, kHeaderBytes, kHeaderBytes + 50, smallest - 1}) {
    expect_corruption(whole.substr(0, cut), "is truncated", "cut at " + std::to_string(cut));
  }
  for (std::size_t cut :
       {smallest, smallest + 1, whole.size() / 2, whole.size() - kTagBytes, whole.size() - 1}) {
    expect_corruption(whole.substr(0, cut), "does not authenticate",
                      "cut at " + std::to_string(cut));
  }
}

TEST_F(SnapshotFileTest, AWrongMagicOrVersionIsCorruption) {
  ASSERT_TRUE(write(make_snapshot(5, 1000, 10)).is_ok());
  const std::string whole = read_file(path());
  std::string bad = whole;
  bad[5] = 'J';  // TRIADJNP
  expect_corruption(bad, "bad magic", "magic");
  expect_corruption("TRIADJNL", "bad magic", "a journal's magic alone");
  expect_corruption("TRIAX", "bad magic", "a short file, not ours");
  expect_corruption(std::string(200, 'x'), "bad magic", "not a snapshot file");
  bad = whole;
  bad[8] = 3;  // version 3
  expect_corruption(bad, "unknown version 3 (this build reads versions 1 and 2)", "version");
  bad = whole;
  bad[11] = 1;  // version 2^24 + 2
  expect_corruption(bad, "unknown version 16777218", "version, high byte");
}

// A file that authenticates (written with the key, by a buggy writer) but
// whose lengths do not match its content is still refused. Checked on
// version 1 files, whose content is one message and so easily made by hand;
// version 2 shares the check.
TEST_F(SnapshotFileTest, SizesThatDoNotAddUpAreCorruption) {
  // The control: the same writer with the sizes right is read.
  write_file(path(), version1_file(100, 10, 100, 10));
  StoredSnapshot out;
  ASSERT_TRUE(read(&out).is_ok());
  EXPECT_EQ(out.seq, 9u);
  EXPECT_EQ(out.engine_state.size(), 100u);
  EXPECT_EQ(out.certificate.size(), 10u);

  expect_corruption(version1_file(100, 9, 100, 10), "do not add up", "certificate shorter");
  expect_corruption(version1_file(100, 11, 100, 10), "do not add up", "certificate longer");
  expect_corruption(version1_file(101, 10, 100, 10), "do not add up", "engine state longer");
  expect_corruption(version1_file(~std::uint64_t{0}, 10, 100, 10), "do not add up",
                    "engine state length at its maximum");
  expect_corruption(version1_file(0, 70'000, 0, 70'000), "certificate of 70000 bytes exceeds",
                    "certificate over the limit");
}

// Files written by builds before the segments (version 1) are read: an
// upgrade keeps its stored snapshot. The content as that writer laid it out.
TEST_F(SnapshotFileTest, AVersion1FileIsStillRead) {
  const StoredSnapshot want = make_snapshot(9, 1000, 10);
  std::vector<std::uint8_t> content(kContentHeadBytes - 4);
  std::copy(want.state_digest.begin(), want.state_digest.end(), content.begin());
  std::copy(want.checkpoint_digest.begin(), want.checkpoint_digest.end(), content.begin() + 32);
  content[64] = 1000 % 256;
  content[65] = 1000 / 256;
  content.insert(content.end(), want.engine_state.begin(), want.engine_state.end());
  content.insert(content.end(), {10, 0, 0, 0});
  content.insert(content.end(), want.certificate.begin(), want.certificate.end());
  const std::string file = seal_version1(content);
  write_file(path(), file);
  StoredSnapshot got;
  const Status s = read(&got);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  expect_same(got, want);

  key_ = crypto::SymmetricKey::generate();
  expect_corruption(file, "does not authenticate", "version 1, another key");
}

// The content in many segments, at the sizes where a segment is just full,
// one byte over, and where the content fits in one: each reads back whole,
// and the file is the header and each segment's content and tag.
TEST_F(SnapshotFileTest, RoundTripInSegmentsOfEachSize) {
  for (const std::size_t segment_bytes : {std::size_t{1}, std::size_t{7}, std::size_t{100}}) {
    for (const std::size_t content_bytes :
         {kContentHeadBytes, segment_bytes * 20, segment_bytes * 20 + 1, std::size_t{1000}}) {
      if (content_bytes < kContentHeadBytes) continue;
      const StoredSnapshot want = make_snapshot(4, content_bytes - kContentHeadBytes, 0);
      const std::string what = std::to_string(content_bytes) + " bytes of content in segments of " +
                               std::to_string(segment_bytes);
      ASSERT_TRUE(write(want, segment_bytes).is_ok()) << what;
      const std::size_t segments = (content_bytes + segment_bytes - 1) / segment_bytes;
      EXPECT_EQ(read_file(path()).size(), kHeaderBytes + content_bytes + segments * kTagBytes)
          << what;
      StoredSnapshot got;
      const Status s = read(&got);
      ASSERT_TRUE(s.is_ok()) << what << ": " << s.to_string();
      expect_same(got, want);
    }
  }
}

// Each segment authenticates its place: moved, dropped, repeated, or the
// file cut after a whole segment, it is refused, not read as a shorter or
// reordered state.
TEST_F(SnapshotFileTest, SegmentsMovedDroppedRepeatedOrCutOffAreRefused) {
  constexpr std::size_t kSegment = 64;
  constexpr std::size_t kSealed = kSegment + kTagBytes;
  ASSERT_TRUE(write(make_snapshot(5, 1000, 10), kSegment).is_ok());
  const std::string whole = read_file(path());
  const std::string header = whole.substr(0, kHeaderBytes);
  std::vector<std::string> segments;
  for (std::size_t at = kHeaderBytes; at < whole.size(); at += kSealed) {
    segments.push_back(whole.substr(at, kSealed));
  }
  ASSERT_EQ(segments.size(), (kContentHeadBytes + 1000 + 10 + kSegment - 1) / kSegment);
  const auto file_of = [&](const std::vector<std::string>& parts) {
    std::string file = header;
    for (const std::string& part : parts) file += part;
    return file;
  };
  ASSERT_EQ(file_of(segments), whole);

  std::vector<std::string> changed = segments;
  std::swap(changed[1], changed[2]);
  expect_corruption(file_of(changed), "does not authenticate", "two segments swapped");
  changed = segments;
  changed.erase(changed.begin() + 3);
  expect_corruption(file_of(changed), "does not authenticate", "a segment dropped");
  changed = segments;
  changed.insert(changed.begin() + 3, segments[3]);
  expect_corruption(file_of(changed), "does not authenticate", "a segment repeated");
  changed = segments;
  changed.pop_back();
  expect_corruption(file_of(changed), "does not authenticate", "cut after a whole segment");
  changed = segments;
  changed.push_back(segments.back());
  expect_corruption(file_of(changed), "does not authenticate", "the last segment twice");
}

// Each segment is sealed under a nonce of its own: segments of the same
// bytes (a state's runs of zeros) differ in the file. Under one nonce their
// ciphertexts would match, and GCM's keystream would be used twice.
TEST_F(SnapshotFileTest, SegmentsOfTheSameBytesDifferInTheFile) {
  constexpr std::size_t kSegment = 64;
  constexpr std::size_t kSealed = kSegment + kTagBytes;
  StoredSnapshot zeros = make_snapshot(5, 0, 0);
  zeros.engine_state.assign(20 * kSegment, 0);
  ASSERT_TRUE(write(zeros, kSegment).is_ok());
  const std::string whole = read_file(path());
  std::set<std::string> seen;
  for (std::size_t i = 3; i < 18; ++i) {  // segments of zeros only
    seen.insert(whole.substr(kHeaderBytes + i * kSealed, kSegment));
  }
  EXPECT_EQ(seen.size(), 15u);
}

// The segment size is read before anything authenticates: out of range it
// is refused by name; changed within range it fails authentication.
TEST_F(SnapshotFileTest, ASegmentSizeOutOfRangeOrChangedIsCorruption) {
  ASSERT_TRUE(write(make_snapshot(5, 1000, 10), 100).is_ok());
  const std::string whole = read_file(path());
  const auto with_segment_bytes = [&](std::uint32_t bytes) {
    std::string file = whole;
    for (std::size_t i = 0; i < 4; ++i) {
      file[kSegmentBytesAt + i] = static_cast<char>(bytes >> (8 * i));
    }
    return file;
  };
  expect_corruption(with_segment_bytes(0), "segment size of 0 bytes, outside 1..67108864", "zero");
  expect_corruption(with_segment_bytes(64 * 1024 * 1024 + 1), "segment size of 67108865 bytes",
                    "over 64 MiB");
  expect_corruption(with_segment_bytes(~std::uint32_t{0}), "segment size of 4294967295 bytes",
                    "the largest u32");
  for (const std::uint32_t bytes : {1u, 99u, 101u, 200u, 1200u}) {
    expect_corruption(with_segment_bytes(bytes), "does not authenticate",
                      "segment size " + std::to_string(bytes));
  }
}

// Whatever follows a version 2 header, at every size around the smallest
// file and for segment sizes at and around the smallest: refused as
// Corruption, never read past the end or taken for a snapshot.
TEST_F(SnapshotFileTest, AnyBytesAfterAHeaderAreRefused) {
  ASSERT_TRUE(write(make_snapshot(5, 1000, 10), 17).is_ok());
  const std::string header = read_file(path()).substr(0, kHeaderBytes);
  std::uint64_t x = 88172645463325252u;  // xorshift64
  const auto next_byte = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<char>(x);
  };
  for (const std::uint32_t segment_bytes : {1u, 2u, 16u, 17u, 100u}) {
    for (std::size_t body = 0; body < 400; ++body) {
      std::string file = header;
      for (std::size_t i = 0; i < 4; ++i) {
        file[kSegmentBytesAt + i] = static_cast<char>(segment_bytes >> (8 * i));
      }
      for (std::size_t i = 0; i < body; ++i) file += next_byte();
      write_file(path(), file);
      StoredSnapshot out;
      const Status s = read(&out);
      ASSERT_EQ(s.code(), Status::Code::kCorruption)
          << body << " bytes in segments of " << segment_bytes << ": " << s.to_string();
    }
  }
}

TEST_F(SnapshotFileTest, ASecondWriteReplacesTheFirst) {
  ASSERT_TRUE(write(make_snapshot(5, 2000, 100)).is_ok());
  StoredSnapshot want = make_snapshot(9, 500, 30);
  want.state_digest = digest_of(200);
  ASSERT_TRUE(write(want).is_ok());
  StoredSnapshot got;
  ASSERT_TRUE(read(&got).is_ok());
  expect_same(got, want);
  EXPECT_NE(::access((path() + ".next").c_str(), F_OK), 0) << "no file left beside it";
}

// The same seq and state written again (a restart does) gets a nonce of its
// own: GCM under a (key, nonce) pair used twice gives both plaintexts away.
TEST_F(SnapshotFileTest, EveryWriteHasItsOwnNonce) {
  const StoredSnapshot s = make_snapshot(5, 1000, 10);
  std::set<std::string> nonces;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(write(s).is_ok());
    nonces.insert(read_file(path()).substr(kSeqAt + 8, 12));
  }
  EXPECT_EQ(nonces.size(), 20u);
}

TEST_F(SnapshotFileTest, NoNextFileIsLeftAfterAWrite) {
  ASSERT_TRUE(write(make_snapshot(1, 10, 0)).is_ok());
  EXPECT_EQ(::access(path().c_str(), F_OK), 0);
  EXPECT_NE(::access((path() + ".next").c_str(), F_OK), 0) << "no file left beside it";
}

TEST_F(SnapshotFileTest, AWriteIntoAMissingDirectoryIsIoError) {
  const std::string missing = tmp_.file("no-such-dir") + "/snapshot";
  const Status s = write_snapshot_file(missing, key_, make_snapshot(1, 100, 0));
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.to_string();
  EXPECT_NE(s.message().find(missing), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s.message();
}

// The rename fails (a directory is in the way) after the new file was
// written whole: the copy of the state is removed, not left beside it.
TEST_F(SnapshotFileTest, AFailedWriteRemovesItsNextFile) {
  ASSERT_EQ(::mkdir(path().c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((path() + "/in-the-way").c_str(), 0700), 0);
  const Status s = write(make_snapshot(1, 100, 0));
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.to_string();
  EXPECT_NE(s.message().find("cannot rename " + path() + ".next to " + path()), std::string::npos)
      << s.message();
  EXPECT_NE(::access((path() + ".next").c_str(), F_OK), 0) << "no file left beside it";
}

TEST_F(SnapshotFileTest, SeqZeroAndALargeCertificateAreRefused) {
  Status s = write(make_snapshot(0, 100, 0));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message().find("seq 0"), std::string::npos) << s.message();
  s = write(make_snapshot(1, 100, 64 * 1024 + 1));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message().find("certificate of 65537 bytes"), std::string::npos) << s.message();
  EXPECT_NE(::access(path().c_str(), F_OK), 0) << "nothing written";
  EXPECT_NE(::access((path() + ".next").c_str(), F_OK), 0) << "nothing written";
}

}  // namespace
}  // namespace triad::journal
