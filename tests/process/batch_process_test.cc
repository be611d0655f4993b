// The client library's batches (Client::submit_batch) against a real
// cluster: every transaction answered on its own with a certificate that
// verifies offline, and the same batch again answered from the idempotency
// record, identically.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "cluster.h"
#include "process_util.h"
#include "sample_files.h"
#include "triad/certificate.h"
#include "triad/client.h"

namespace triad::testing {
namespace {

struct Answer {
  std::uint64_t seq = 0;
  std::string code;
  bool replayed = false;
};

// Sends `txs` in one submit_batch call (tags 1..n) and collects every reply.
std::map<std::uint64_t, Answer> submit_all(Client& client, const std::vector<Transaction>& txs,
                                           const Keyring& keyring) {
  std::vector<Client::Submission> batch;
  for (std::size_t i = 0; i < txs.size(); ++i) batch.push_back({i + 1, &txs[i]});
  EXPECT_TRUE(client.submit_batch(batch).is_ok());
  EXPECT_EQ(client.in_flight(), txs.size());
  std::map<std::uint64_t, Answer> answers;
  while (answers.size() < txs.size()) {
    Reply reply;
    const Status s = client.next_reply(30'000, &reply);
    if (!s.is_ok()) {
      ADD_FAILURE() << s.to_string() << " after " << answers.size() << " replies";
      break;
    }
    EXPECT_TRUE(reply.status.is_ok()) << reply.status.to_string();
    EXPECT_TRUE(reply.tag >= 1 && reply.tag <= txs.size()) << reply.tag;
    EXPECT_EQ(reply.decision.id, *txs[reply.tag - 1].id);
    CertificateInfo info;
    EXPECT_TRUE(verify_certificate(reply.decision.certificate, keyring, &info).is_ok())
        << "tag " << reply.tag;
    EXPECT_TRUE(answers
                    .emplace(reply.tag, Answer{reply.decision.seq, reply.decision.code,
                                               reply.decision.replayed})
                    .second)
        << "tag " << reply.tag << " answered twice";
  }
  EXPECT_EQ(client.in_flight(), 0u);
  return answers;
}

TEST(BatchProcessTest, EveryTransactionOfABatchIsAnsweredAndAgainIdentically) {
  TempDir tmp;
  sample::Options sample;
  sample.card_count = 100;
  sample.transaction_count = 600;  // about 150 KB encoded: more than one frame
  const std::vector<std::string> lines = write_sample_files(tmp, sample);
  std::vector<Transaction> txs(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    ASSERT_TRUE(parse_transaction_json(lines[i], &txs[i]).is_ok()) << lines[i];
  }
  // Every answer must be certified: a long deadline keeps a slow machine's
  // burst of 600 from being declined fail-safe.
  Cluster cluster(tmp, tmp.file("cards.csv"), {"--deadline-ms", "60000"});
  ASSERT_TRUE(cluster.ready());
  ClientOptions options;
  ASSERT_TRUE(use_cluster_keys(cluster.dir(), &options).is_ok());
  std::unique_ptr<Client> client;
  ASSERT_TRUE(Client::connect(cluster.endpoint(), options, &client).is_ok());
  Keyring keyring;
  ASSERT_TRUE(Keyring::load_dir(cluster.dir(), &keyring).is_ok());

  const auto first = submit_all(*client, txs, keyring);
  ASSERT_EQ(first.size(), txs.size());
  std::set<std::uint64_t> seqs;
  for (const auto& [tag, a] : first) {
    EXPECT_FALSE(a.replayed);
    seqs.insert(a.seq);
  }
  EXPECT_EQ(seqs.size(), txs.size());  // each sequenced once
  EXPECT_EQ(*seqs.begin(), 1u);
  EXPECT_EQ(*seqs.rbegin(), txs.size());

  const auto again = submit_all(*client, txs, keyring);
  ASSERT_EQ(again.size(), txs.size());
  for (const auto& [tag, a] : again) {
    EXPECT_TRUE(a.replayed) << tag;
    EXPECT_EQ(a.seq, first.at(tag).seq) << tag;
    EXPECT_EQ(a.code, first.at(tag).code) << tag;
  }

  // A transaction too large for one message is answered InvalidArgument by
  // the library itself, with its own tag (the front end would refuse the
  // frame, with no tag): the others of its batch go on.
  Transaction huge = txs[0];
  huge.id = "huge";
  huge.merchant = std::string(70'000, 'M');
  const std::vector<Client::Submission> with_huge = {{1, &txs[0]}, {2, &huge}, {3, &txs[1]}};
  ASSERT_TRUE(client->submit_batch(with_huge).is_ok());
  ASSERT_TRUE(client->submit(4, huge).is_ok());
  EXPECT_EQ(client->in_flight(), 4u);
  std::map<std::uint64_t, Reply> replies;
  while (replies.size() < 4) {
    Reply reply;
    ASSERT_TRUE(client->next_reply(30'000, &reply).is_ok()) << replies.size() << " replies";
    replies[reply.tag] = reply;
  }
  EXPECT_EQ(client->in_flight(), 0u);
  EXPECT_TRUE(replies[1].status.is_ok() && replies[1].decision.replayed);
  EXPECT_TRUE(replies[3].status.is_ok() && replies[3].decision.replayed);
  for (const std::uint64_t tag : {2u, 4u}) {
    EXPECT_EQ(replies[tag].status.code(), Status::Code::kInvalidArgument) << tag;
    EXPECT_NE(replies[tag].status.message().find("over the front end's limit"), std::string::npos)
        << replies[tag].status.to_string();
  }

  // An entry without a transaction: refused, nothing sent.
  const std::vector<Client::Submission> bad = {{1, &txs[0]}, {2, nullptr}};
  EXPECT_EQ(client->submit_batch(bad).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(client->in_flight(), 0u);
  client.reset();
  // The front end's log says why when it did not exit cleanly.
  EXPECT_EQ(cluster.stop(), 0) << read_file(tmp.file("up.stderr"));
}

}  // namespace
}  // namespace triad::testing
