// FileArchive: certificates written to DIR/certificates and read back,
// whether still buffered or on file, and kept when the disk refuses them;
// entries read through the input journal.
#include "frontend/file_archive.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <array>
#include <string>
#include <vector>

#include "crypto/hash.h"
#include "process/process_util.h"

namespace triad::frontend {
namespace {

using triad::testing::read_file;
using triad::testing::TempDir;
using triad::testing::write_file;

std::vector<std::uint8_t> certificate_of(std::uint64_t seq) {
  std::vector<std::uint8_t> bytes(300 + seq % 700);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(seq * 31 + i);
  return bytes;
}

KeptAnswer answer_of(std::uint64_t seq) {
  return {{static_cast<char>('0' + seq % 10), static_cast<char>('0' + seq / 10 % 10)},
          static_cast<std::uint8_t>(3 + seq % 5),
          static_cast<std::uint8_t>(seq % 8)};
}

// What a record of file_archive.h takes on file.
std::size_t record_bytes(std::uint64_t seq) { return 24 + certificate_of(seq).size(); }

class FileArchiveTest : public ::testing::Test {
 protected:
  std::string path() const { return tmp_.file("certificates"); }
  TempDir tmp_;
  std::unique_ptr<journal::Journal> journal_;  // none open unless a test opens one
};

TEST_F(FileArchiveTest, CertificatesReadBackBufferedWrittenAndOutOfOrder) {
  write_file(path(), "left over from an earlier run");
  std::unique_ptr<FileArchive> archive;
  ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
  ASSERT_TRUE(archive->read_kept(100).is_ok());
  EXPECT_EQ(read_file(path()), "") << "not a record: cut";
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Decided out of seq order, as the voter decides; 2,000 certificates pass
  // the 1 MiB buffer, so some are written by put_certificate itself.
  std::vector<std::uint64_t> order;
  for (std::uint64_t seq = 1; seq <= 2000; ++seq) order.push_back(seq % 2 == 0 ? seq - 1 : seq + 1);
  for (std::uint64_t seq : order)
    archive->put_certificate(seq, answer_of(seq), certificate_of(seq));
  EXPECT_GT(read_file(path()).size(), 0u);
  EXPECT_GT(archive->buffered_bytes(), 0u);
  std::vector<std::uint8_t> got;
  for (std::uint64_t seq = 1; seq <= 2000; ++seq) {
    ASSERT_TRUE(archive->certificate(seq, &got).is_ok()) << seq;
    ASSERT_EQ(got, certificate_of(seq)) << seq;
  }
  archive->flush();
  EXPECT_EQ(archive->buffered_bytes(), 0u);
  for (std::uint64_t seq = 1; seq <= 2000; ++seq) {
    ASSERT_TRUE(archive->certificate(seq, &got).is_ok()) << seq;
    ASSERT_EQ(got, certificate_of(seq)) << seq;
  }
  EXPECT_EQ(archive->certificate(2001, &got).code(), Status::Code::kNotFound);
  EXPECT_EQ(archive->certificate(0, &got).code(), Status::Code::kNotFound);
}

// At a low rate certificates are written once a second, not once a turn.
TEST_F(FileArchiveTest, WritesWhenASecondHasPassedOr64KiBAreBuffered) {
  std::unique_ptr<FileArchive> archive;
  ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
  std::uint64_t now_us = 5'000'000;
  archive->put_certificate(1, answer_of(1), certificate_of(1));
  archive->flush_if_due(now_us);  // the first: a second since "never"
  EXPECT_EQ(archive->buffered_bytes(), 0u);
  archive->put_certificate(2, answer_of(2), certificate_of(2));
  archive->flush_if_due(now_us += 999'999);
  EXPECT_EQ(archive->buffered_bytes(), record_bytes(2)) << "within the second";
  archive->flush_if_due(now_us += 1);
  EXPECT_EQ(archive->buffered_bytes(), 0u) << "a second after the last write";
  std::uint64_t seq = 3;
  for (; archive->buffered_bytes() < 64 * 1024; ++seq) {
    archive->put_certificate(seq, answer_of(seq), certificate_of(seq));
  }
  archive->flush_if_due(now_us += 1);
  EXPECT_EQ(archive->buffered_bytes(), 0u) << "64 KiB buffered";
  EXPECT_EQ(read_file(path()).size(), [&] {
    std::size_t bytes = 0;
    for (std::uint64_t s = 1; s < seq; ++s) bytes += record_bytes(s);
    return bytes;
  }());
}

// /dev/full refuses every write (ENOSPC): the certificates stay readable.
TEST_F(FileArchiveTest, ADiskThatRefusesWritesLosesNothing) {
  std::unique_ptr<FileArchive> archive;
  ASSERT_TRUE(FileArchive::open(journal_, "/dev/full", &archive).is_ok());
  for (std::uint64_t seq = 1; seq <= 10; ++seq)
    archive->put_certificate(seq, answer_of(seq), certificate_of(seq));
  archive->flush();
  archive->flush();
  EXPECT_GT(archive->buffered_bytes(), 0u);
  std::vector<std::uint8_t> got;
  for (std::uint64_t seq = 1; seq <= 10; ++seq) {
    ASSERT_TRUE(archive->certificate(seq, &got).is_ok()) << seq;
    EXPECT_EQ(got, certificate_of(seq));
  }
}

TEST_F(FileArchiveTest, EntriesComeFromTheJournalWhileItIsOpen) {
  std::unique_ptr<FileArchive> archive;
  ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
  std::vector<journal::Entry> got;
  EXPECT_EQ(archive->read_entries(1, 1, &got).code(), Status::Code::kUnavailable);
  journal::Recovery recovery;
  ASSERT_TRUE(journal::Journal::open(tmp_.file("journal"), crypto::SymmetricKey::generate(),
                                     {journal::FsyncPolicy::Kind::kNever, 0}, 0, &recovery,
                                     &journal_)
                  .is_ok());
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    Transaction tx;
    tx.id = "tx-" + std::to_string(seq);
    journal_->append(seq, static_cast<std::int64_t>(seq), tx);
  }
  ASSERT_TRUE(journal_->commit(0).is_ok());
  ASSERT_TRUE(archive->read_entries(2, 4, &got).is_ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].seq, 2u);
  EXPECT_EQ(got[2].tx.id, "tx-4");
}

// A restart from a stored snapshot answers the seqs up to it from what an
// earlier run kept here, and decides the rest again.
TEST_F(FileArchiveTest, AnswersOutliveTheRunUpToWhereTheRestartKeepsThem) {
  // As the voter decided them: 5 before 4, 7 before 6.
  const std::vector<std::uint64_t> order = {1, 2, 3, 5, 4, 7, 6, 8};
  {
    std::unique_ptr<FileArchive> archive;
    ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
    for (std::uint64_t seq : order) {
      archive->put_certificate(seq, answer_of(seq), certificate_of(seq));
    }
    archive->flush();
  }
  std::unique_ptr<FileArchive> archive;
  ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
  ASSERT_TRUE(archive->read_kept(6).is_ok());
  std::vector<std::uint8_t> got;
  KeptAnswer answer;
  for (std::uint64_t seq = 1; seq <= 6; ++seq) {
    ASSERT_TRUE(archive->certificate(seq, &got).is_ok()) << seq;
    EXPECT_EQ(got, certificate_of(seq));
    ASSERT_TRUE(archive->kept_answer(seq, &answer).is_ok()) << seq;
    EXPECT_EQ(answer, answer_of(seq));
  }
  EXPECT_EQ(archive->kept_answer(7, &answer).code(), Status::Code::kNotFound) << "past read_kept's";
  // The restart starts after seq 4: 5, 6 and 7 are decided again.
  ASSERT_TRUE(archive->keep_through(4).is_ok());
  for (std::uint64_t seq = 1; seq <= 4; ++seq) {
    ASSERT_TRUE(archive->certificate(seq, &got).is_ok()) << seq;
    EXPECT_EQ(got, certificate_of(seq));
    ASSERT_TRUE(archive->kept_answer(seq, &answer).is_ok()) << seq;
    EXPECT_EQ(answer, answer_of(seq));
  }
  EXPECT_EQ(archive->kept_answer(5, &answer).code(), Status::Code::kNotFound);
  EXPECT_EQ(archive->certificate(6, &got).code(), Status::Code::kNotFound);
  EXPECT_EQ(read_file(path()).size(),
            record_bytes(1) + record_bytes(2) + record_bytes(3) + record_bytes(4))
      << "cut at 5's record, 4 written again behind it";
  // Seq 5 decided again, with another answer; 6 and 7 not (yet).
  const KeptAnswer again{{'0', '5'}, 6, 1};
  archive->put_certificate(5, again, certificate_of(500));
  archive->flush();
  archive.reset();
  ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
  ASSERT_TRUE(archive->read_kept(8).is_ok());
  ASSERT_TRUE(archive->kept_answer(5, &answer).is_ok());
  EXPECT_EQ(answer, again);
  ASSERT_TRUE(archive->certificate(5, &got).is_ok());
  EXPECT_EQ(got, certificate_of(500));
  ASSERT_TRUE(archive->certificate(4, &got).is_ok());
  EXPECT_EQ(got, certificate_of(4));
  for (const std::uint64_t seq : std::array<std::uint64_t, 3>{6, 7, 8}) {
    EXPECT_EQ(archive->kept_answer(seq, &answer).code(), Status::Code::kNotFound)
        << seq << ": the earlier run's answer is gone";
  }
}

// A crash while a record was written, or a damaged one: what follows is
// dropped (decided again by the restart), the file cut there.
TEST_F(FileArchiveTest, ATornOrDamagedRecordEndsWhatIsKept) {
  {
    std::unique_ptr<FileArchive> archive;
    ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
    for (std::uint64_t seq = 1; seq <= 10; ++seq) {
      archive->put_certificate(seq, answer_of(seq), certificate_of(seq));
    }
    archive->flush();
  }
  std::size_t through_9 = 0;
  std::size_t through_4 = 0;
  for (std::uint64_t seq = 1; seq <= 9; ++seq) {
    through_9 += record_bytes(seq);
    if (seq <= 4) through_4 += record_bytes(seq);
  }
  const std::string whole = read_file(path());
  for (const std::size_t cut : {whole.size() - 1, through_9 + 23, through_9 + 3}) {
    write_file(path(), whole.substr(0, cut));
    std::unique_ptr<FileArchive> archive;
    ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
    ASSERT_TRUE(archive->read_kept(10).is_ok());
    KeptAnswer answer;
    EXPECT_TRUE(archive->kept_answer(9, &answer).is_ok()) << cut;
    EXPECT_EQ(archive->kept_answer(10, &answer).code(), Status::Code::kNotFound) << cut;
    EXPECT_EQ(read_file(path()).size(), through_9) << cut;
  }
  // One bit anywhere in record 5 (its check, seq, size, code, replicas or
  // certificate) ends what is kept there.
  for (const std::size_t at : {through_4, through_4 + 9, through_4 + 17, through_4 + 20,
                               through_4 + 22, through_4 + 23, through_4 + 100}) {
    std::string bytes = whole;
    bytes[at] = static_cast<char>(bytes[at] ^ 4);
    write_file(path(), bytes);
    std::unique_ptr<FileArchive> archive;
    ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
    ASSERT_TRUE(archive->read_kept(10).is_ok());
    KeptAnswer answer;
    EXPECT_TRUE(archive->kept_answer(4, &answer).is_ok()) << at;
    EXPECT_EQ(archive->kept_answer(5, &answer).code(), Status::Code::kNotFound) << at;
    EXPECT_EQ(archive->kept_answer(6, &answer).code(), Status::Code::kNotFound) << at;
    EXPECT_EQ(read_file(path()).size(), through_4) << at;
    // Written on from there.
    archive->put_certificate(5, answer_of(5), certificate_of(5));
    archive->flush();
    archive.reset();
    ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
    ASSERT_TRUE(archive->read_kept(10).is_ok());
    EXPECT_TRUE(archive->kept_answer(5, &answer).is_ok()) << at;
  }
}

// The start reads the file in parts of 4 MiB: records across their
// boundaries are read whole (before, one across a boundary was taken for a
// damaged one, and the rest dropped).
TEST_F(FileArchiveTest, RecordsAcrossThePartsReadAtStartAreKept) {
  constexpr std::uint64_t kRecords = 16'000;  // about 10 MiB
  {
    std::unique_ptr<FileArchive> archive;
    ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
    for (std::uint64_t seq = 1; seq <= kRecords; ++seq) {
      archive->put_certificate(seq, answer_of(seq), certificate_of(seq));
    }
    archive->flush();
  }
  ASSERT_GT(read_file(path()).size(), std::size_t{8} << 20);
  std::unique_ptr<FileArchive> archive;
  ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
  ASSERT_TRUE(archive->read_kept(kRecords).is_ok());
  std::vector<std::uint8_t> got;
  KeptAnswer answer;
  for (std::uint64_t seq = 1; seq <= kRecords; ++seq) {
    ASSERT_TRUE(archive->kept_answer(seq, &answer).is_ok()) << seq;
    ASSERT_EQ(answer, answer_of(seq)) << seq;
    ASSERT_TRUE(archive->certificate(seq, &got).is_ok()) << seq;
    ASSERT_EQ(got, certificate_of(seq)) << seq;
  }
}

// A record of a seq past the journal's end (its tail lost, or a file not
// this directory's) takes no memory: read_kept passes over it.
TEST_F(FileArchiveTest, ARecordPastWhatIsReadTakesNoMemory) {
  {
    std::unique_ptr<FileArchive> archive;
    ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
    archive->put_certificate(1, answer_of(1), certificate_of(1));
    archive->put_certificate(2, answer_of(2), certificate_of(2));
    archive->flush();
  }
  // Record 2 made one of seq 2^60, its check made again.
  std::string bytes = read_file(path());
  const std::size_t at = record_bytes(1);
  bytes[at + 8 + 7] = 0x10;
  const std::uint64_t check = crypto::short_hash(
      crypto::ShortHashKey{}, std::string_view(bytes).substr(at + 8, record_bytes(2) - 8));
  for (int i = 0; i < 8; ++i)
    bytes[at + static_cast<std::size_t>(i)] = static_cast<char>(check >> (8 * i));
  write_file(path(), bytes);
  std::unique_ptr<FileArchive> archive;
  ASSERT_TRUE(FileArchive::open(journal_, path(), &archive).is_ok());
  ASSERT_TRUE(archive->read_kept(5).is_ok());
  KeptAnswer answer;
  EXPECT_TRUE(archive->kept_answer(1, &answer).is_ok());
  EXPECT_EQ(read_file(path()).size(), record_bytes(1) + record_bytes(2)) << "not damaged";
  ASSERT_TRUE(archive->keep_through(1).is_ok());
  EXPECT_EQ(read_file(path()).size(), record_bytes(1));
}

}  // namespace
}  // namespace triad::frontend
