#include "journal/journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/log_capture.h"
#include "crypto/hash.h"
#include "process/process_util.h"

namespace triad::journal {
namespace {

using triad::testing::read_file;
using triad::testing::TempDir;
using triad::testing::write_file;

constexpr const char* kPan = "4111111111111111";

Transaction make_tx(std::uint64_t i) {
  Transaction tx;
  tx.id = "tx-" + std::to_string(i);
  tx.mti = "0100";
  tx.pan = kPan;
  tx.proc = "000000";
  tx.amount = static_cast<std::int64_t>(1000 + i);
  tx.currency = "840";
  tx.expiry = "2912";
  tx.mcc = "5411";
  tx.stan = "000123";
  tx.terminal = "TERM0001";
  tx.merchant = "SHOP";
  if (i % 3 == 0) tx.set_malformed(Field::kBillingAmount);
  return tx;
}

using testing::LogCapture;

class JournalTest : public ::testing::Test {
 protected:
  std::string path() const { return tmp_.file("journal"); }

  Status open(Recovery* r, std::unique_ptr<Journal>* j,
              FsyncPolicy policy = {FsyncPolicy::Kind::kBatch, 0}) {
    return Journal::open(path(), key_, policy, 0, r, j);
  }

  // A journal holding seqs 1..n; the file offset where each record starts.
  std::vector<std::uint64_t> write_records(std::uint64_t n) {
    Recovery r;
    std::unique_ptr<Journal> j;
    EXPECT_TRUE(open(&r, &j).is_ok());
    std::vector<std::uint64_t> offsets;
    for (std::uint64_t seq = 1; seq <= n; ++seq) {
      offsets.push_back(j->size_bytes());
      j->append(seq, 1'700'000'000'000 + static_cast<std::int64_t>(seq), make_tx(seq));
      EXPECT_TRUE(j->commit(seq).is_ok());
    }
    offsets.push_back(j->size_bytes());
    EXPECT_TRUE(j->close().is_ok());
    return offsets;
  }

  TempDir tmp_;
  crypto::SymmetricKey key_ = crypto::SymmetricKey::generate();
};

TEST(FsyncPolicy, Parses) {
  FsyncPolicy p;
  ASSERT_TRUE(parse_fsync_policy("batch", &p).is_ok());
  EXPECT_EQ(p.kind, FsyncPolicy::Kind::kBatch);
  ASSERT_TRUE(parse_fsync_policy("never", &p).is_ok());
  EXPECT_EQ(p.kind, FsyncPolicy::Kind::kNever);
  ASSERT_TRUE(parse_fsync_policy("interval:25", &p).is_ok());
  EXPECT_EQ(p.kind, FsyncPolicy::Kind::kInterval);
  EXPECT_EQ(p.interval_ms, 25u);
  EXPECT_EQ(to_string(p), "interval:25");
  for (const char* bad : {"", "Batch", "interval", "interval:", "interval:0", "interval:-5",
                          "interval:10x", "interval:3600001", "always"}) {
    const Status s = parse_fsync_policy(bad, &p);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("batch, interval:MS"), std::string::npos) << s.message();
  }
}

TEST_F(JournalTest, RoundTripAndAppendAfterReopen) {
  write_records(50);
  Recovery r;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(open(&r, &j).is_ok());
  ASSERT_EQ(r.entries.size(), 50u);
  EXPECT_FALSE(r.truncated_at);
  for (std::uint64_t i = 0; i < 50; ++i) {
    EXPECT_EQ(r.entries[i].seq, i + 1);
    EXPECT_EQ(r.entries[i].ts_ms, 1'700'000'000'001 + static_cast<std::int64_t>(i));
    EXPECT_EQ(r.entries[i].tx, make_tx(i + 1));
  }
  EXPECT_EQ(j->last_seq(), 50u);
  j->append(51, 1'800'000'000'000, make_tx(51));
  ASSERT_TRUE(j->commit(1).is_ok());
  ASSERT_TRUE(j->close().is_ok());
  ASSERT_TRUE(open(&r, &j).is_ok());
  ASSERT_EQ(r.entries.size(), 51u);
  EXPECT_EQ(r.entries.back().tx, make_tx(51));
}

// What the front end resends to a replica from disk: any range, whether the
// records were read back at open or appended since, across index blocks
// (every 256th seq) and chunks (64 KiB), one large record among them.
TEST_F(JournalTest, ReadsAnyRangeBackFromTheFile) {
  write_records(700);
  Recovery r;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(open(&r, &j).is_ok());
  Transaction large = make_tx(701);
  large.merchant = std::string(100'000, 'M');  // a record longer than a chunk
  j->append(701, 1'800'000'000'000, large);
  for (std::uint64_t seq = 702; seq <= 1200; ++seq) {
    j->append(seq, 1'800'000'000'000 + static_cast<std::int64_t>(seq), make_tx(seq));
  }
  const auto tx_of = [&](std::uint64_t seq) { return seq == 701 ? large : make_tx(seq); };
  // Appended but not committed: not on file yet.
  std::vector<Entry> got;
  const Status early = j->read(1, 701, &got);
  EXPECT_EQ(early.code(), Status::Code::kInvalidArgument) << early.to_string();
  EXPECT_NE(early.message().find("holds 1..700"), std::string::npos) << early.message();
  ASSERT_TRUE(j->commit(1).is_ok());
  EXPECT_EQ(j->written_seq(), 1200u);
  for (const auto& [from, to] :
       std::vector<std::pair<std::uint64_t, std::uint64_t>>{{1, 1},
                                                            {1, 1200},
                                                            {256, 257},
                                                            {257, 257},
                                                            {300, 700},
                                                            {699, 703},
                                                            {701, 701},
                                                            {702, 1200},
                                                            {1200, 1200}}) {
    got.clear();
    ASSERT_TRUE(j->read(from, to, &got).is_ok()) << from << ".." << to;
    ASSERT_EQ(got.size(), to - from + 1) << from << ".." << to;
    for (std::uint64_t seq = from; seq <= to; ++seq) {
      const Entry& e = got[seq - from];
      EXPECT_EQ(e.seq, seq);
      EXPECT_EQ(e.tx, tx_of(seq)) << seq;
    }
  }
  EXPECT_EQ(j->read(0, 5, &got).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(j->read(6, 5, &got).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(j->read(1, 1201, &got).code(), Status::Code::kInvalidArgument);
}

// A record changed on disk after it was written is reported, not returned.
TEST_F(JournalTest, ReadReportsARecordDamagedSinceItWasWritten) {
  const std::vector<std::uint64_t> offsets = write_records(10);
  Recovery r;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(open(&r, &j).is_ok());
  std::string file = read_file(path());
  file[offsets[6] + 30] ^= 0x01;  // seq 7's body
  write_file(path(), file);
  std::vector<Entry> got;
  const Status s = j->read(2, 9, &got);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find("offset " + std::to_string(offsets[6])), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("seq 7"), std::string::npos) << s.message();
  got.clear();
  ASSERT_TRUE(j->read(2, 6, &got).is_ok());
  EXPECT_EQ(got.size(), 5u);
}

TEST_F(JournalTest, NewFileIsPrivateAndEmpty) {
  Recovery r;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(open(&r, &j).is_ok());
  EXPECT_TRUE(r.entries.empty());
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kHeaderBytes));
}

// Neither the PAN nor any other field is in the file in clear.
TEST_F(JournalTest, NothingInClear) {
  write_records(20);
  const std::string bytes = read_file(path());
  EXPECT_EQ(bytes.find(kPan), std::string::npos);
  EXPECT_EQ(bytes.find("411111"), std::string::npos);
  EXPECT_EQ(bytes.find("TERM0001"), std::string::npos);
  EXPECT_EQ(bytes.find("tx-1"), std::string::npos);
}

// A kill or power loss in the middle of the last write: whatever byte it
// stopped at, the last record is cut off, with a log line, and every earlier
// one is intact. Appending then goes on at the cut-off seq.
TEST_F(JournalTest, TornTailAtEveryOffsetIsTruncated) {
  const auto offsets = write_records(5);
  const std::string whole = read_file(path());
  const std::uint64_t last = offsets[4];
  for (std::uint64_t cut = last + 1; cut < whole.size(); ++cut) {
    write_file(path(), whole.substr(0, cut));
    LogCapture logs;
    Recovery r;
    std::unique_ptr<Journal> j;
    ASSERT_TRUE(open(&r, &j).is_ok()) << "cut at " << cut;
    ASSERT_EQ(r.entries.size(), 4u) << "cut at " << cut;
    ASSERT_TRUE(r.truncated_at);
    EXPECT_EQ(*r.truncated_at, last);
    EXPECT_EQ(r.truncated_bytes, cut - last);
    ASSERT_EQ(logs.lines.size(), 1u);
    EXPECT_NE(logs.lines[0].find("truncated a torn tail at offset " + std::to_string(last)),
              std::string::npos)
        << logs.lines[0];
    EXPECT_EQ(read_file(path()).size(), last) << "the file was cut";
    EXPECT_EQ(j->last_seq(), 4u);
  }
  // After the cut the journal takes seq 5 again.
  Recovery r;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(open(&r, &j).is_ok());
  j->append(5, 1'800'000'000'000, make_tx(99));
  ASSERT_TRUE(j->commit(1).is_ok());
  ASSERT_TRUE(j->close().is_ok());
  ASSERT_TRUE(open(&r, &j).is_ok());
  ASSERT_EQ(r.entries.size(), 5u);
  EXPECT_EQ(r.entries[4].tx, make_tx(99));
  EXPECT_FALSE(r.truncated_at);
}

// Zeros after the last record (a file system that extended the file but did
// not write the data before power went) are a torn tail too.
TEST_F(JournalTest, ZeroFilledTailIsTruncated) {
  const auto offsets = write_records(3);
  write_file(path(), read_file(path()) + std::string(300, '\0'));
  Recovery r;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(open(&r, &j).is_ok());
  EXPECT_EQ(r.entries.size(), 3u);
  ASSERT_TRUE(r.truncated_at);
  EXPECT_EQ(*r.truncated_at, offsets[3]);
}

// A whole last record whose checksum fails changed after it was written (a
// crash leaves a record cut short): it may be a transaction that was
// answered, so it is refused, not cut, and the file is left alone. Found by
// a review: a bit flipped in the last record made the restart drop it and
// give its seq to the next transaction.
TEST_F(JournalTest, FlippedByteInTheLastRecordIsRefused) {
  const auto offsets = write_records(4);
  const std::string whole = read_file(path());
  for (std::uint64_t at = offsets[3]; at < whole.size(); at += 7) {
    std::string bad = whole;
    bad[at] = static_cast<char>(bad[at] ^ 0x20);
    write_file(path(), bad);
    Recovery r;
    std::unique_ptr<Journal> j;
    const Status s = open(&r, &j);
    ASSERT_EQ(s.code(), Status::Code::kCorruption) << "flip at " << at;
    EXPECT_NE(s.message().find("the last record, at offset " + std::to_string(offsets[3]) +
                               ", is whole but damaged"),
              std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("truncate -s " + std::to_string(offsets[3])), std::string::npos);
    EXPECT_EQ(read_file(path()), bad) << "left untouched";
  }
}

// A last record whose length field grew (within range) looks cut short, but
// its checksum holds for the length there is: whole, damaged, refused. Found
// by the review of this change: flips in the length field were still cut.
TEST_F(JournalTest, ALastRecordWhoseLengthGrewIsRefused) {
  const auto offsets = write_records(4);
  std::string bad = read_file(path());
  bad[offsets[3]] = static_cast<char>(bad[offsets[3]] + 1);  // length + 1, runs past the end
  write_file(path(), bad);
  Recovery r;
  std::unique_ptr<Journal> j;
  const Status s = open(&r, &j);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find("is whole but damaged (record of"), std::string::npos) << s.message();
  EXPECT_EQ(read_file(path()), bad) << "left untouched";
}

// The last record written in part, then zeros from a sector boundary to its
// end (the file system extended the file, and only the first sector of the
// record's data reached the disk): torn, cut.
TEST_F(JournalTest, ALastRecordZeroFromASectorBoundaryIsTruncated) {
  std::vector<std::uint64_t> offsets;
  std::uint64_t boundary = 0;
  for (std::uint64_t n = 2; n < 40 && boundary == 0; ++n) {
    offsets = write_records(n);
    const std::uint64_t start = offsets[n - 1];
    const std::uint64_t end = offsets[n];
    const std::uint64_t b = (start / 512 + 1) * 512;
    if (b > start + 8 && b + 16 <= end) boundary = b;
    if (boundary == 0) std::filesystem::remove(path());
  }
  ASSERT_NE(boundary, 0u) << "no record spans a sector boundary";
  std::string bytes = read_file(path());
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(boundary), bytes.end(), '\0');
  write_file(path(), bytes);
  Recovery r;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(open(&r, &j).is_ok());
  ASSERT_TRUE(r.truncated_at);
  EXPECT_EQ(*r.truncated_at, offsets[offsets.size() - 2]);
}

// Damage with valid records after it is not a torn write: refusing is the
// only way not to drop accepted transactions silently; the file is left alone.
TEST_F(JournalTest, FlippedByteInTheMiddleIsRefused) {
  const auto offsets = write_records(4);
  const std::string whole = read_file(path());
  for (std::uint64_t at = offsets[1]; at < offsets[2]; at += 5) {
    std::string bad = whole;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    write_file(path(), bad);
    Recovery r;
    std::unique_ptr<Journal> j;
    const Status s = open(&r, &j);
    ASSERT_EQ(s.code(), Status::Code::kCorruption) << "flip at " << at;
    EXPECT_NE(s.message().find("damaged record at offset " + std::to_string(offsets[1])),
              std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("followed by a valid record"), std::string::npos);
    EXPECT_EQ(read_file(path()), bad) << "left untouched";
  }
}

TEST_F(JournalTest, WrongKeyIsRefused) {
  write_records(2);
  key_ = crypto::SymmetricKey::generate();
  Recovery r;
  std::unique_ptr<Journal> j;
  const Status s = open(&r, &j);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("different key"), std::string::npos) << s.message();
}

TEST_F(JournalTest, NotAJournalIsRefused) {
  write_file(path(), std::string(100, 'x'));
  Recovery r;
  std::unique_ptr<Journal> j;
  EXPECT_EQ(open(&r, &j).code(), Status::Code::kCorruption);
  write_file(path(), "TRIAX");  // shorter than a header, and not ours
  EXPECT_EQ(open(&r, &j).code(), Status::Code::kCorruption);
}

// A header cut short (creation interrupted) is written again.
TEST_F(JournalTest, HeaderCutShortIsRewritten) {
  write_records(0);
  write_file(path(), read_file(path()).substr(0, 20));
  Recovery r;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(open(&r, &j).is_ok());
  EXPECT_EQ(read_file(path()).size(), kHeaderBytes);
}

// Records whose checksums hold but whose seqs are not 1, 2, 3...: moved,
// dropped or repeated records are refused, never replayed.
TEST_F(JournalTest, SeqGapsReorderingAndDuplicatesAreRefused) {
  const auto o = write_records(3);
  const std::string whole = read_file(path());
  const std::string header = whole.substr(0, o[0]);
  const auto rec = [&](std::size_t i) { return whole.substr(o[i], o[i + 1] - o[i]); };
  for (const std::string& file : {header + rec(0) + rec(2),           // gap
                                  header + rec(1) + rec(0) + rec(2),  // reordered
                                  header + rec(0) + rec(0) + rec(1),  // duplicate
                                  header + rec(1) + rec(2)}) {        // does not start at 1
    write_file(path(), file);
    Recovery r;
    std::unique_ptr<Journal> j;
    const Status s = open(&r, &j);
    EXPECT_EQ(s.code(), Status::Code::kCorruption);
    EXPECT_NE(s.message().find("missing or out of order"), std::string::npos) << s.message();
  }
}

// A record altered with its checksum made to match: only the GCM tag sees
// it, and since a torn write cannot do that, it is refused, even at the end.
TEST_F(JournalTest, AuthenticationFailureIsRefused) {
  const auto o = write_records(2);
  std::string bytes = read_file(path());
  const std::size_t body = o[1] + kFrameHeaderBytes;
  const std::size_t length = o[2] - body;
  bytes[body + 40] = static_cast<char>(bytes[body + 40] ^ 0x01);  // in the ciphertext
  crypto::Sha256 sha;
  sha.update(std::string_view(bytes).substr(o[1], 4));
  sha.update(std::string_view(bytes).substr(body, length));
  const Digest d = sha.finish();
  std::copy_n(d.begin(), 8, bytes.begin() + static_cast<std::ptrdiff_t>(o[1] + 4));
  write_file(path(), bytes);
  Recovery r;
  std::unique_ptr<Journal> j;
  const Status s = open(&r, &j);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("authentication tag"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find(kPan), std::string::npos);
}

// Every record has its own nonce under the journal's key, across the blocks
// the nonces are drawn in (256 at a time) and across a reopen: GCM loses its
// confidentiality and integrity if a (key, nonce) pair is ever used twice.
TEST_F(JournalTest, EveryRecordHasItsOwnNonce) {
  constexpr std::uint64_t kFirst = 600;
  auto offsets = write_records(kFirst);
  {
    Recovery r;
    std::unique_ptr<Journal> j;
    ASSERT_TRUE(open(&r, &j).is_ok());
    for (std::uint64_t seq = kFirst + 1; seq <= kFirst + 300; ++seq) {
      j->append(seq, 1'700'000'000'000, make_tx(seq));
      ASSERT_TRUE(j->commit(seq).is_ok());
      offsets.push_back(j->size_bytes());
    }
    ASSERT_TRUE(j->close().is_ok());
  }
  const std::string bytes = read_file(path());
  std::set<std::string> nonces;
  for (std::size_t i = 0; i + 1 < offsets.size(); ++i) {
    // frame header, then seq and ts (16 bytes), then the nonce
    nonces.insert(bytes.substr(offsets[i] + kFrameHeaderBytes + 16, crypto::kAeadNonceBytes));
  }
  EXPECT_EQ(nonces.size(), offsets.size() - 1);
  EXPECT_EQ(nonces.size(), kFirst + 300);
}

TEST_F(JournalTest, FsyncPolicies) {
  {
    Recovery r;
    std::unique_ptr<Journal> j;
    ASSERT_TRUE(open(&r, &j, {FsyncPolicy::Kind::kBatch, 0}).is_ok());
    for (std::uint64_t s = 1; s <= 3; ++s) {
      j->append(s, 1, make_tx(s));
      ASSERT_TRUE(j->commit(s).is_ok());
    }
    ASSERT_TRUE(j->commit(10).is_ok());  // nothing new: no sync
    EXPECT_EQ(j->syncs(), 3u);
    EXPECT_FALSE(j->next_sync_us());
  }
  ::unlink(path().c_str());
  {
    Recovery r;
    std::unique_ptr<Journal> j;
    ASSERT_TRUE(open(&r, &j, {FsyncPolicy::Kind::kNever, 0}).is_ok());
    j->append(1, 1, make_tx(1));
    ASSERT_TRUE(j->commit(1).is_ok());
    EXPECT_EQ(j->syncs(), 0u);
    ASSERT_TRUE(j->close().is_ok());
    EXPECT_EQ(j->syncs(), 1u) << "a clean stop leaves everything durable";
  }
  ::unlink(path().c_str());
  {
    Recovery r;
    std::unique_ptr<Journal> j;
    ASSERT_TRUE(open(&r, &j, {FsyncPolicy::Kind::kInterval, 5}).is_ok());  // opened at t=0
    j->append(1, 1, make_tx(1));
    ASSERT_TRUE(j->commit(1'000).is_ok());
    EXPECT_EQ(j->syncs(), 0u);
    ASSERT_EQ(j->next_sync_us(), 5'000u);
    ASSERT_TRUE(j->commit(4'999).is_ok());
    EXPECT_EQ(j->syncs(), 0u);
    ASSERT_TRUE(j->commit(5'000).is_ok());  // no new record, but the interval is up
    EXPECT_EQ(j->syncs(), 1u);
    EXPECT_FALSE(j->next_sync_us());
    ASSERT_TRUE(j->commit(20'000).is_ok());  // nothing unsynced
    EXPECT_EQ(j->syncs(), 1u);
  }
}

// A descriptor opened to sync (read-only, so that it cannot write) syncs
// the file all the same; a file that cannot be opened is an error naming it.
TEST_F(JournalTest, ADescriptorOpenedToSyncSyncsTheFile) {
  write_records(1);
  int syncer = -1;
  ASSERT_TRUE(open_for_sync(path(), &syncer).is_ok());
  EXPECT_EQ(::fdatasync(syncer), 0);
  ::close(syncer);
  const Status missing = open_for_sync(tmp_.file("none"), &syncer);
  EXPECT_EQ(missing.code(), Status::Code::kIoError);
  EXPECT_NE(missing.message().find("cannot open " + tmp_.file("none") + " to sync it"),
            std::string::npos)
      << missing.message();
}

// The records found at open may be in the page cache only (the run before
// was killed, and a kill does not sync): the first sync the policy makes,
// or a clean stop, covers them even when nothing new was written.
TEST_F(JournalTest, RecordsFoundAtOpenAreSyncedAsIfJustWritten) {
  {
    Recovery r;
    std::unique_ptr<Journal> j;
    ASSERT_TRUE(open(&r, &j, {FsyncPolicy::Kind::kNever, 0}).is_ok());
    ASSERT_TRUE(j->close().is_ok());
    EXPECT_EQ(j->syncs(), 0u) << "no record: nothing to make durable";
  }
  write_records(3);
  {
    Recovery r;
    std::unique_ptr<Journal> j;
    ASSERT_TRUE(open(&r, &j, {FsyncPolicy::Kind::kNever, 0}).is_ok());
    ASSERT_TRUE(j->close().is_ok());
    EXPECT_EQ(j->syncs(), 1u) << "a clean stop leaves what was found durable too";
  }
  {
    Recovery r;
    std::unique_ptr<Journal> j;
    ASSERT_TRUE(open(&r, &j, {FsyncPolicy::Kind::kInterval, 5}).is_ok());  // opened at t=0
    ASSERT_EQ(j->next_sync_us(), 5'000u);
    ASSERT_TRUE(j->commit(5'000).is_ok());
    EXPECT_EQ(j->syncs(), 1u);
  }
}

}  // namespace
}  // namespace triad::journal

namespace triad::journal {
namespace {

// The answer log: fail-safe declines survive a reopen; a torn last record is
// cut off at every length; damage before the last record is refused.
class AnswerLogTest : public ::testing::Test {
 protected:
  std::string path() const { return tmp_.file("answers"); }

  static FailSafeAnswer answer(std::uint64_t seq, const char* code) {
    return {seq, crypto::sha256("tx " + std::to_string(seq)), code};
  }

  // An answer log holding seqs 1..n (code 91 for odd seqs, 96 for even).
  void write_answers(std::uint64_t n) {
    std::vector<FailSafeAnswer> recovered;
    std::unique_ptr<AnswerLog> log;
    ASSERT_TRUE(
        AnswerLog::open(path(), {FsyncPolicy::Kind::kBatch, 0}, false, &recovered, &log).is_ok());
    for (std::uint64_t seq = 1; seq <= n; ++seq) {
      const FailSafeAnswer a = answer(seq, seq % 2 == 1 ? "91" : "96");
      ASSERT_TRUE(log->append({&a, 1}).is_ok());
    }
  }

  Status reopen(std::vector<FailSafeAnswer>* recovered, bool journal_has_transactions = false) {
    std::unique_ptr<AnswerLog> log;
    return AnswerLog::open(path(), {FsyncPolicy::Kind::kNever, 0}, journal_has_transactions,
                           recovered, &log);
  }

  TempDir tmp_;
};

TEST_F(AnswerLogTest, AnswersSurviveAReopenAndTheFileIsPrivate) {
  write_answers(3);
  std::vector<FailSafeAnswer> recovered;
  ASSERT_TRUE(reopen(&recovered).is_ok());
  ASSERT_EQ(recovered.size(), 3u);
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    EXPECT_EQ(recovered[seq - 1].seq, seq);
    EXPECT_EQ(recovered[seq - 1].tx_digest, answer(seq, "91").tx_digest);
    EXPECT_EQ(recovered[seq - 1].code, seq % 2 == 1 ? "91" : "96");
  }
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 16 + 3 * 56);
}

// The declines of one turn go in one append (one sync); appends add up.
TEST_F(AnswerLogTest, AnswersAppendedTogetherComeBackInOrder) {
  {
    std::vector<FailSafeAnswer> recovered;
    std::unique_ptr<AnswerLog> log;
    ASSERT_TRUE(
        AnswerLog::open(path(), {FsyncPolicy::Kind::kBatch, 0}, false, &recovered, &log).is_ok());
    const std::vector<FailSafeAnswer> first = {answer(1, "91"), answer(2, "96"), answer(5, "91")};
    const std::vector<FailSafeAnswer> second = {answer(7, "96"), answer(8, "91")};
    ASSERT_TRUE(log->append(first).is_ok());
    ASSERT_TRUE(log->append({}).is_ok());
    ASSERT_TRUE(log->append(second).is_ok());
  }
  std::vector<FailSafeAnswer> recovered;
  ASSERT_TRUE(reopen(&recovered).is_ok());
  ASSERT_EQ(recovered.size(), 5u);
  const std::uint64_t seqs[] = {1, 2, 5, 7, 8};
  const char* codes[] = {"91", "96", "91", "96", "91"};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(recovered[i].seq, seqs[i]);
    EXPECT_EQ(recovered[i].tx_digest, answer(seqs[i], "91").tx_digest);
    EXPECT_EQ(recovered[i].code, codes[i]);
  }
  EXPECT_EQ(read_file(path()).size(), 16u + 5 * 56);
}

// A restart drops the records it found stale: the log is rewritten whole,
// stays private, and takes appends after it.
TEST_F(AnswerLogTest, ARewrittenLogHoldsWhatWasKeptAndTakesAppends) {
  write_answers(4);
  {
    std::vector<FailSafeAnswer> recovered;
    std::unique_ptr<AnswerLog> log;
    ASSERT_TRUE(
        AnswerLog::open(path(), {FsyncPolicy::Kind::kBatch, 0}, false, &recovered, &log).is_ok());
    ASSERT_EQ(recovered.size(), 4u);
    const std::vector<FailSafeAnswer> kept = {recovered[0], recovered[2]};
    ASSERT_TRUE(log->rewrite(kept).is_ok());
    const FailSafeAnswer a = answer(9, "96");
    ASSERT_TRUE(log->append({&a, 1}).is_ok());
  }
  std::vector<FailSafeAnswer> recovered;
  ASSERT_TRUE(reopen(&recovered).is_ok());
  ASSERT_EQ(recovered.size(), 3u);
  EXPECT_EQ(recovered[0].seq, 1u);
  EXPECT_EQ(recovered[1].seq, 3u);
  EXPECT_EQ(recovered[2].seq, 9u);
  EXPECT_EQ(recovered[2].code, "96");
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 16 + 3 * 56);
  EXPECT_NE(::access((path() + ".new").c_str(), F_OK), 0) << "no file left beside it";
}

TEST_F(AnswerLogTest, ATornLastRecordIsCutAtEveryLength) {
  write_answers(2);
  const std::string whole = read_file(path());
  ASSERT_EQ(whole.size(), 16u + 2 * 56);
  for (std::size_t cut = 16 + 56 + 1; cut < whole.size(); ++cut) {
    write_file(path(), whole.substr(0, cut));
    LogCapture logs;
    std::vector<FailSafeAnswer> recovered;
    ASSERT_TRUE(reopen(&recovered).is_ok()) << "cut at " << cut;
    ASSERT_EQ(recovered.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(read_file(path()).size(), 16u + 56) << "cut at " << cut;
    ASSERT_EQ(logs.lines.size(), 1u);
    EXPECT_NE(logs.lines[0].find("truncated a torn tail at offset 72"), std::string::npos)
        << logs.lines[0];
  }
  // Zeros to the end, over whole records (a file system that extended the
  // file before its data reached the disk): torn too.
  write_file(path(), whole.substr(0, 16 + 56) + std::string(2 * 56 + 10, '\0'));
  std::vector<FailSafeAnswer> recovered;
  ASSERT_TRUE(reopen(&recovered).is_ok());
  EXPECT_EQ(recovered.size(), 1u);
  EXPECT_EQ(read_file(path()).size(), 16u + 56);
}

// A whole last record whose checksum fails changed after it was written: it
// may be a decline that was answered, which the replay would then answer
// anew. Refused, the file left alone (until 2026-12-06 it was cut).
TEST_F(AnswerLogTest, AWholeLastRecordThatIsDamagedIsRefused) {
  write_answers(2);
  std::string flipped = read_file(path());
  flipped[16 + 56 + 3] ^= 1;
  write_file(path(), flipped);
  std::vector<FailSafeAnswer> recovered;
  const Status s = reopen(&recovered);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("damaged record at offset 72 is whole"), std::string::npos)
      << s.to_string();
  EXPECT_EQ(read_file(path()), flipped) << "left untouched";
}

// Record `index` (from 0) of the answer log in `bytes` with `code`, its
// checksum made to hold again: what only a bug or a hand could write.
void recode(std::string* bytes, std::size_t index, std::string_view code) {
  const std::size_t at = 16 + index * 56;
  bytes->replace(at + 40, 2, code);
  const Digest sum = crypto::sha256(std::string_view(*bytes).substr(at, 48));
  bytes->replace(at + 48, 8, reinterpret_cast<const char*>(sum.data()), 8);
}

// A record whose checksum holds but whose code is not a fail-safe
// decline's: read back, "00" would be an approval with no certificate and
// two zero bytes an answer never given (every seq after it held
// undecided). Refused like a damaged record; a decline made so still reads.
TEST_F(AnswerLogTest, ARecordThatIsNotAFailSafeDeclineIsRefused) {
  write_answers(2);
  const std::string whole = read_file(path());
  for (const std::string_view code :
       {std::string_view("00"), std::string_view("05"), std::string_view("\0\0", 2)}) {
    SCOPED_TRACE(static_cast<int>(code[0]));
    std::string bytes = whole;
    recode(&bytes, 0, code);
    write_file(path(), bytes);
    std::vector<FailSafeAnswer> recovered;
    const Status s = reopen(&recovered);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
    EXPECT_NE(s.message().find("damaged record at offset 16 is not the last"), std::string::npos)
        << s.to_string();
  }
  std::string bytes = whole;
  recode(&bytes, 0, "96");
  write_file(path(), bytes);
  std::vector<FailSafeAnswer> recovered;
  ASSERT_TRUE(reopen(&recovered).is_ok());
  ASSERT_EQ(recovered.size(), 2u);
  EXPECT_EQ(recovered[0].code, "96");
}

// A damaged record with a whole one after it is not a torn tail, even when
// the file then ends in zeros from a sector boundary (a torn append after
// the damage): before, both records were cut off with the zeros.
TEST_F(AnswerLogTest, ADamagedRecordFollowedByAWholeOneIsNotCutWithATornTail) {
  write_answers(3);
  std::string bytes = read_file(path());
  bytes[16 + 56 + 3] ^= 1;   // seq 2's record
  bytes.resize(1024, '\0');  // zeros from a sector boundary
  write_file(path(), bytes);
  std::vector<FailSafeAnswer> recovered;
  const Status s = reopen(&recovered);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
  EXPECT_EQ(read_file(path()), bytes) << "left untouched";
}

// An answer log cut short to part of its header is made again only when
// the journal holds no transaction yet (a creation that did not finish);
// beside a journal that does, its declines are lost: refused.
TEST_F(AnswerLogTest, AHeaderCutShortBesideAJournalWithTransactionsIsRefused) {
  write_answers(2);
  write_file(path(), read_file(path()).substr(0, 10));
  std::vector<FailSafeAnswer> recovered;
  const Status s = reopen(&recovered, /*journal_has_transactions=*/true);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find("is cut short (10 bytes) next to a journal that holds"),
            std::string::npos)
      << s.to_string();
  EXPECT_TRUE(reopen(&recovered, false).is_ok()) << "no transaction yet: made again";
  EXPECT_TRUE(recovered.empty());
}

TEST_F(AnswerLogTest, DamageBeforeTheLastRecordAndAForeignFileAreRefused) {
  write_answers(3);
  std::string bytes = read_file(path());
  bytes[16 + 56 + 40] ^= 1;  // the code of seq 2, with seq 3 after it
  write_file(path(), bytes);
  std::vector<FailSafeAnswer> recovered;
  Status s = reopen(&recovered);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("damaged record at offset 72 is not the last"), std::string::npos)
      << s.to_string();
  EXPECT_EQ(read_file(path()), bytes) << "left untouched";
  write_file(path(), "TRIADJNL and then something else entirely");
  s = reopen(&recovered);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("not a Triad answer log"), std::string::npos) << s.to_string();
}

}  // namespace
}  // namespace triad::journal
