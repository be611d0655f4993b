// The front end holds what two replicas agreed on to the transaction it
// sequenced: agreed verdicts on another transaction digest (replicas hashing
// PANs under another card reference key) are answered fail-safe, with no
// certificate that would prove nothing about the client's transaction.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core_driver.h"

namespace triad::frontend {
namespace {

class CoreDigest : public CoreDriver {};

TEST_F(CoreDigest, AgreementOnAnotherTransactionDigestIsAnsweredFailSafe) {
  start({});
  ASSERT_EQ(submit(2, kStartUs), 0u);
  other_tx_digests_[2] = crypto::sha256(std::string_view("another transaction"));
  verdicts(0, 1, 2, kStartUs);
  const Outbox out = verdicts(1, 1, 2, kStartUs);

  ASSERT_EQ(out.decisions.size(), 2u);
  EXPECT_EQ(out.decisions[0].code, "00");
  EXPECT_FALSE(out.decisions[0].certificate.empty());
  EXPECT_EQ(out.decisions[1].code, "96");
  EXPECT_TRUE(out.decisions[1].fail_safe);
  EXPECT_TRUE(out.decisions[1].certificate.empty());
  EXPECT_EQ(out.decisions[1].agree, "");
  ASSERT_EQ(out.to_clients.size(), 2u);
  const auto& bytes = out.to_clients[1].bytes;
  const wire::AlignedFrame frame(bytes.data(), bytes.size());
  const wire::ClientReply* reply = nullptr;
  ASSERT_TRUE(wire::verify_client_reply(frame.bytes(), &reply).is_ok());
  const wire::Decision* d = reply->decision();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->seq(), 2u);
  EXPECT_EQ(wire::as_view(d->code()), "96");
  EXPECT_EQ(wire::as_bytes(d->certificate()).size(), 0u);
  // A restart answers it the same: the answer log has it, with the digest
  // of the transaction sequenced.
  ASSERT_EQ(out.fail_safe_answers.size(), 1u);
  EXPECT_EQ(out.fail_safe_answers[0].seq, 2u);
  EXPECT_EQ(out.fail_safe_answers[0].tx_digest, tx_digest(2));
  EXPECT_EQ(core_->counters().digest_mismatches, 1u);
  EXPECT_EQ(core_->counters().fail_safe, 1u);
  EXPECT_EQ(nlohmann::json::parse(core_->status_json(kStartUs))["digest_mismatches"], 1);
}

// The same for agreement on another ts or rules version: the client checks
// the ts it is given against the certificate, and the rules version is the
// front end's.
TEST_F(CoreDigest, AgreementOnAnotherTsOrRulesVersionIsAnsweredFailSafe) {
  start({});
  ASSERT_EQ(submit(3, kStartUs), 0u);
  other_ts_.insert(2);
  other_rules_.insert(3);
  verdicts(0, 1, 3, kStartUs);
  const Outbox out = verdicts(1, 1, 3, kStartUs);
  ASSERT_EQ(out.decisions.size(), 3u);
  EXPECT_EQ(out.decisions[0].code, "00");
  EXPECT_FALSE(out.decisions[0].certificate.empty());
  for (std::size_t i : {1u, 2u}) {
    EXPECT_EQ(out.decisions[i].code, "96") << i;
    EXPECT_TRUE(out.decisions[i].fail_safe) << i;
    EXPECT_TRUE(out.decisions[i].certificate.empty()) << i;
  }
  EXPECT_EQ(core_->counters().digest_mismatches, 2u);
}

}  // namespace
}  // namespace triad::frontend
