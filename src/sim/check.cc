#include "sim/check.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "common/hex.h"
#include "crypto/card_ref.h"
#include "wire/codec.h"

namespace triad::sim {
namespace {

class Failures {
 public:
  Failures(CheckReport* report, std::size_t max) : report_(report), max_(max) {}
  void add(const std::string& line) {
    ++count_;
    if (report_->failures.size() < max_) report_->failures.push_back(line);
  }
  std::size_t count() const { return count_; }

 private:
  CheckReport* report_;
  std::size_t max_;
  std::size_t count_ = 0;
};

std::string seq_label(std::uint64_t seq) { return "seq " + std::to_string(seq); }

bool has_replica(const std::string& names, int r) {
  return names.find(replica_name(r)) != std::string::npos;
}

// Rule 3's loss clause for a fail-safe decline of `seq` (see check.h).
bool explained_by_loss(const Scenario& scenario, const Result& result, std::uint64_t seq) {
  const SeqRecord& rec = result.seqs[seq - 1];
  const std::uint64_t deadline_us = rec.opened_us + scenario.deadline_us;
  const std::uint8_t faulty = faulty_mask(scenario);
  for (int r = 0; r < kReplicaCount; ++r) {
    if (faulty & (1u << r)) continue;
    const auto& lost = result.lost_us[static_cast<std::size_t>(r)];
    if (lost.empty() || lost.front() >= deadline_us) continue;
    const bool voting = (rec.voting_mask & (1u << r)) != 0;
    const auto& at = rec.verdict_us[static_cast<std::size_t>(r)];
    if (!voting || !at || *at >= deadline_us) return true;
  }
  return false;
}

}  // namespace

CheckReport check(const Scenario& scenario, const Result& result, const Keyring& keyring,
                  const CheckOptions& options) {
  CheckReport report;
  Failures fail(&report, options.max_failures);
  for (const std::string& e : result.errors) fail.add("harness: " + e);

  // 1. Answers.
  struct Decided {
    std::size_t submission;  // the first one answered with this seq
    const Reply* reply;
  };
  std::vector<std::optional<Decided>> by_seq(result.last_seq);
  std::map<std::string, std::size_t> first_of_id;  // id -> first submission index
  for (std::size_t i = 0; i < result.submissions.size(); ++i) {
    const Submission& s = result.submissions[i];
    const Transaction& tx = result.traffic[s.tx];
    const std::string& id = *tx.id;
    const auto& replies = result.replies[i];
    const std::string who = "submission " + std::to_string(i + 1) + " (id " + id + ", client " +
                            std::to_string(s.client) + ")";
    if (replies.size() != 1) {
      fail.add(who + " got " + std::to_string(replies.size()) + " answers, expected 1");
      if (replies.empty()) continue;
    }
    const Reply& reply = replies.front();
    if (!reply.error.empty()) {
      fail.add(who + " was refused: " + reply.error);
      continue;
    }
    if (reply.id != id) fail.add(who + " was answered for id " + reply.id);
    if (reply.seq == 0 || reply.seq > result.last_seq) {
      fail.add(who + " was answered with seq " + std::to_string(reply.seq) + ", last seq is " +
               std::to_string(result.last_seq));
      continue;
    }
    if (reply.replayed) ++report.replayed;
    const auto [it, fresh] = first_of_id.emplace(id, i);
    if (fresh) {
      if (reply.replayed) fail.add(who + ": the first submission of the id answered as replayed");
      auto& slot = by_seq[reply.seq - 1];
      if (slot) {
        fail.add(seq_label(reply.seq) + " was given to id " + id + " and to id " +
                 *result.traffic[result.submissions[slot->submission].tx].id);
      } else {
        slot = Decided{i, &reply};
      }
      continue;
    }
    const auto& first_replies = result.replies[it->second];
    if (first_replies.empty() || !first_replies.front().error.empty()) continue;
    const Reply& first = first_replies.front();
    if (!reply.replayed) fail.add(who + ": a repeated id answered with replayed=false");
    if (reply.seq != first.seq || reply.ts_ms != first.ts_ms || reply.code != first.code ||
        reply.agree != first.agree || reply.divergent != first.divergent ||
        reply.certificate != first.certificate || reply.card_ref != first.card_ref) {
      fail.add(who + ": a repeated id answered seq " + std::to_string(reply.seq) + " code " +
               reply.code + " agree '" + reply.agree + "', first answer seq " +
               std::to_string(first.seq) + " code " + first.code + " agree '" + first.agree + "'");
    }
  }
  for (std::uint64_t seq = 1; seq <= result.last_seq; ++seq) {
    if (!by_seq[seq - 1])
      fail.add(seq_label(seq) + " was sequenced but no client got its decision");
  }

  // 2. Certificates and fail-safe form.
  for (std::uint64_t seq = 1; seq <= result.last_seq; ++seq) {
    if (!by_seq[seq - 1]) continue;
    const Reply& d = *by_seq[seq - 1]->reply;
    const Transaction& tx = result.traffic[result.submissions[by_seq[seq - 1]->submission].tx];
    ++report.decisions;
    // Every answer carries the card's reference (none without a PAN).
    const CardRef card_ref = crypto::card_ref_of(card_ref_key(), tx);
    const bool card_ref_given =
        card_ref == CardRef{}
            ? d.card_ref.empty()
            : std::equal(d.card_ref.begin(), d.card_ref.end(), card_ref.begin(), card_ref.end());
    if (!card_ref_given) {
      fail.add(seq_label(seq) + ": the answer's card reference is not its card's");
    }
    if (d.agree.empty()) {
      ++report.fail_safe;
      if (d.code != "91" && d.code != "96") {
        fail.add(seq_label(seq) + ": code " + d.code + " released without a majority");
      }
      if (!d.certificate.empty())
        fail.add(seq_label(seq) + ": a fail-safe decline with a certificate");
      continue;
    }
    ++report.agreed;
    if (!scenario.keep_certificates) continue;
    CertificateInfo info;
    const Status s = verify_certificate(d.certificate, keyring, &info);
    if (!s.is_ok()) {
      fail.add(seq_label(seq) + ": code " + d.code +
               " released with a certificate that does not verify: " + s.to_string());
      continue;
    }
    // With the card's reference, the certificate is over this very
    // transaction.
    const std::string tx_digest = to_hex(wire::transaction_digest(tx, card_ref));
    if (info.seq != seq || info.ts_ms != d.ts_ms || info.code != d.code ||
        info.tx_digest_hex != tx_digest) {
      fail.add(seq_label(seq) + ": the certificate (seq " + std::to_string(info.seq) + ", code " +
               info.code + ") does not match the decision (code " + d.code + ") or transaction");
    }
    for (int r = 0; r < kReplicaCount; ++r) {
      if (has_replica(d.agree, r) && !has_replica(info.signers, r)) {
        fail.add(seq_label(seq) + ": agree names " + d.agree +
                 " but the certificate is signed by " + info.signers);
        break;
      }
    }
  }

  // 3. Correctness against the reference.
  if (fail.count() == 0) {
    const std::vector<ResponseCode> reference = reference_codes(result);
    const std::uint8_t faulty = faulty_mask(scenario);
    const int faulty_count = (faulty & 1) + ((faulty >> 1) & 1) + ((faulty >> 2) & 1);
    for (std::uint64_t seq = 1; seq <= result.last_seq && !reference.empty(); ++seq) {
      const Reply& d = *by_seq[seq - 1]->reply;
      const std::string expected = to_string(reference[seq - 1]);
      if (d.agree.empty()) {
        if (faulty_count >= 2) continue;
        if (scenario.loss_ppm > 0 && explained_by_loss(scenario, result, seq)) {
          ++report.fail_safe_by_loss;
          continue;
        }
        fail.add(seq_label(seq) + ": fail-safe " + d.code + " (divergent '" + d.divergent +
                 "') with at most one faulty replica and no transport loss to explain it; the "
                 "reference says " +
                 expected);
        continue;
      }
      if (d.code == expected) continue;
      bool both_flip = d.agree.size() >= 2;
      for (const char name : d.agree) {
        const int r = replica_index(name);
        both_flip =
            both_flip && r >= 0 &&
            scenario.faults[static_cast<std::size_t>(r)].kind == replica::Fault::Kind::kFlip;
      }
      if (faulty_count == 2 && both_flip && d.code == to_string(flipped(reference[seq - 1]))) {
        ++report.flip_flip;
        continue;
      }
      fail.add(seq_label(seq) + ": agreed code " + d.code + " (agree '" + d.agree +
               "'), the reference says " + expected);
    }
  }

  // 4. Recovery.
  // The exceptions of rule 4.
  std::vector<int> healthy;
  for (int r = 0; r < kReplicaCount; ++r) {
    if (result.replicas[static_cast<std::size_t>(r)].state == repair::ReplicaState::kHealthy) {
      healthy.push_back(r);
    }
  }
  bool settle_fail_safe = false;
  for (std::uint64_t seq = 1; seq <= result.last_seq; ++seq) {
    if (result.seqs[seq - 1].opened_us > result.main_done_us && by_seq[seq - 1] &&
        by_seq[seq - 1]->reply->agree.empty()) {
      settle_fail_safe = true;
    }
  }
  const std::uint8_t faulty = faulty_mask(scenario);
  bool flip_pair_healthy = faulty != 0;
  for (int r = 0; r < kReplicaCount; ++r) {
    if ((faulty & (1u << r)) == 0) continue;
    flip_pair_healthy =
        flip_pair_healthy &&
        scenario.faults[static_cast<std::size_t>(r)].kind == replica::Fault::Kind::kFlip &&
        result.replicas[static_cast<std::size_t>(r)].state == repair::ReplicaState::kHealthy;
  }
  const bool two_faulty = (faulty & (faulty - 1)) != 0;
  flip_pair_healthy = flip_pair_healthy && two_faulty;
  const bool cannot_agree = healthy.size() == 1 || (healthy.size() == 2 && settle_fail_safe);
  // Two faulty replicas, each wrong in its own way (corrupt-state on
  // different cards), and all three still healthy: every checkpoint has
  // three digests, so nothing shows whose state is wrong.
  const bool three_ways = two_faulty && healthy.size() == 3 && settle_fail_safe;
  if (!result.settled && (cannot_agree || flip_pair_healthy || three_ways) &&
      !options.strict_recovery) {
    report.stuck =
        flip_pair_healthy ? "TMR limit: two flipping replicas outvote the correct one, which "
                            "cannot rejoin"
        : three_ways      ? "TMR limit: two faulty replicas and the correct one disagree three "
                            "ways, so none is shown faulty"
                          : "known issue: the healthy replicas cannot agree, so no repair can "
                            "complete";
  } else if (!result.settled) {
    std::string state;
    for (int r = 0; r < kReplicaCount; ++r) {
      const ReplicaEnd& e = result.replicas[static_cast<std::size_t>(r)];
      state += std::string(" ") + replica_name(r) + "=" + repair::to_string(e.state) +
               (e.running ? "" : ",no-process") + (e.hung ? ",hung" : "") +
               (e.connected ? "" : ",disconnected") + ",next_seq " + std::to_string(e.next_seq) +
               ",processes " + std::to_string(e.processes);
    }
    fail.add("did not settle within " + std::to_string(scenario.max_settle_us / 1'000'000) +
             " s after the main traffic (last seq " + std::to_string(result.last_seq) +
             "):" + state);
  } else {
    const ReplicaEnd& a = result.replicas[0];
    for (int r = 1; r < kReplicaCount; ++r) {
      const ReplicaEnd& e = result.replicas[static_cast<std::size_t>(r)];
      if (e.state_digest != a.state_digest || e.next_seq != a.next_seq) {
        fail.add(std::string("replica ") + replica_name(r) +
                 " ends with another state digest than a");
      }
      if (e.snapshot.seq != a.snapshot.seq || e.snapshot.state_digest != a.snapshot.state_digest ||
          e.snapshot.checkpoint_digest != a.snapshot.checkpoint_digest ||
          e.snapshot.engine_state != a.snapshot.engine_state) {
        fail.add(std::string("replica ") + replica_name(r) + " ends with another checkpoint (seq " +
                 std::to_string(e.snapshot.seq) + ") than a (seq " +
                 std::to_string(a.snapshot.seq) + ")");
      }
    }
  }
  if (fail.count() > report.failures.size()) {
    report.failures.push_back("... " + std::to_string(fail.count() - report.failures.size()) +
                              " more");
  }
  return report;
}

}  // namespace triad::sim
