// FileArchive: certificates written to DIR/certificates and read back,
// whether still buffered or on file, and kept when the disk refuses them;
// entries read through the input journal.
#include "frontend/file_archive.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

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
  EXPECT_EQ(read_file(path()), "") << "emptied at open";
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Decided out of seq order, as the voter decides; 2,000 certificates pass
  // the 1 MiB buffer, so some are written by put_certificate itself.
  std::vector<std::uint64_t> order;
  for (std::uint64_t seq = 1; seq <= 2000; ++seq) order.push_back(seq % 2 == 0 ? seq - 1 : seq + 1);
  for (std::uint64_t seq : order) archive->put_certificate(seq, certificate_of(seq));
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
  archive->put_certificate(1, certificate_of(1));
  archive->flush_if_due(now_us);  // the first: a second since "never"
  EXPECT_EQ(archive->buffered_bytes(), 0u);
  archive->put_certificate(2, certificate_of(2));
  archive->flush_if_due(now_us += 999'999);
  EXPECT_EQ(archive->buffered_bytes(), certificate_of(2).size()) << "within the second";
  archive->flush_if_due(now_us += 1);
  EXPECT_EQ(archive->buffered_bytes(), 0u) << "a second after the last write";
  std::uint64_t seq = 3;
  for (; archive->buffered_bytes() < 64 * 1024; ++seq) {
    archive->put_certificate(seq, certificate_of(seq));
  }
  archive->flush_if_due(now_us += 1);
  EXPECT_EQ(archive->buffered_bytes(), 0u) << "64 KiB buffered";
  EXPECT_EQ(read_file(path()).size(), [&] {
    std::size_t bytes = 0;
    for (std::uint64_t s = 1; s < seq; ++s) bytes += certificate_of(s).size();
    return bytes;
  }());
}

// /dev/full refuses every write (ENOSPC): the certificates stay readable.
TEST_F(FileArchiveTest, ADiskThatRefusesWritesLosesNothing) {
  std::unique_ptr<FileArchive> archive;
  ASSERT_TRUE(FileArchive::open(journal_, "/dev/full", &archive).is_ok());
  for (std::uint64_t seq = 1; seq <= 10; ++seq) archive->put_certificate(seq, certificate_of(seq));
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

}  // namespace
}  // namespace triad::frontend
