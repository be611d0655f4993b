// Unit tests of the deterministic simulator itself (src/sim): a run is a
// pure function of its seed, the seed mix covers what it must, and the
// checker catches what it must. The 1,000 seeds run in sim_seeds_test.
#include "sim/sim.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>

#include "common/hex.h"
#include "sim/check.h"
#include "sim/sim_util.h"

namespace triad::sim {
namespace {

const Keyring& keyring() { return test_keyring(); }

// A run is a pure function of its seed: the same seed twice gives the same
// trace (every event, its time and its bytes) and the same answers.
TEST(Sim, SameSeedSameTrace) {
  keyring();
  for (const std::uint64_t seed : {3ULL, 17ULL, 4242ULL}) {
    Scenario s = scenario_for_seed(seed);
    s.loss_ppm = 20'000;  // exercise the lossy path too
    const Result a = run(s);
    const Result b = run(s);
    EXPECT_EQ(to_hex(a.trace), to_hex(b.trace)) << "seed " << seed;
    EXPECT_EQ(a.events, b.events) << "seed " << seed;
    ASSERT_EQ(a.replies.size(), b.replies.size());
    for (std::size_t i = 0; i < a.replies.size(); ++i) {
      ASSERT_EQ(a.replies[i].size(), b.replies[i].size());
      for (std::size_t j = 0; j < a.replies[i].size(); ++j) {
        EXPECT_EQ(a.replies[i][j].seq, b.replies[i][j].seq);
        EXPECT_EQ(a.replies[i][j].code, b.replies[i][j].code);
        EXPECT_EQ(a.replies[i][j].at_us, b.replies[i][j].at_us);
        EXPECT_EQ(a.replies[i][j].certificate, b.replies[i][j].certificate);
      }
    }
  }
  EXPECT_NE(to_hex(run(scenario_for_seed(1)).trace), to_hex(run(scenario_for_seed(2)).trace));
}

// The scenario mix covers what the issue asks for: 0, 1 and 2 faulty
// replicas, every fault kind, loss, retries.
TEST(Sim, TheSeedMixCoversEveryFault) {
  std::array<int, 8> kinds{};
  std::array<int, 3> faulty{};
  int loss = 0;
  int retry = 0;
  for (std::uint64_t seed = 1; seed <= 1000; ++seed) {
    const Scenario s = scenario_for_seed(seed);
    for (const auto& f : s.faults) ++kinds[static_cast<std::size_t>(f.kind)];
    const std::uint8_t m = faulty_mask(s);
    ++faulty[static_cast<std::size_t>((m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1))];
    loss += s.loss_ppm > 0;
    retry += s.retry_ppm > 0 || s.duplicate_ppm > 0;
    EXPECT_GE(s.transaction_count, 200u);
    EXPECT_LE(s.transaction_count, 400u);
  }
  for (std::size_t k = 1; k < kinds.size(); ++k) EXPECT_GT(kinds[k], 20) << "fault kind " << k;
  for (const int n : faulty) EXPECT_GT(n, 100);
  EXPECT_GT(loss, 200);
  EXPECT_GT(retry, 500);
}

// A timer's turn takes simulated time, so what runs in shares, a turn each,
// spans time in which messages arrive: a repair's source copies its
// snapshot over several milliseconds, not all at one simulated instant.
TEST(Sim, ATimersTurnTakesSimulatedTime) {
  keyring();
  Scenario s;
  s.seed = 7;
  s.faults[2].kind = replica::Fault::Kind::kCrash;
  s.faults[2].after_count = 120;  // repaired from a snapshot of a checkpoint
  s.capture_log = true;
  // The longest a source took to copy a snapshot in more than one share.
  const auto longest_copy_ms = [](const Result& r) {
    const std::string marker = " shares over ";
    long longest = -1;
    for (std::size_t at = r.log.find(marker); at != std::string::npos;
         at = r.log.find(marker, at + 1)) {
      longest = std::max(longest, std::stol(r.log.substr(at + marker.size())));
    }
    return longest;
  };
  const Result with_turns = run(s);
  EXPECT_TRUE(check(s, with_turns, keyring()).failures.empty());
  EXPECT_GT(longest_copy_ms(with_turns), 0);
  s.max_turn_us = 0;
  EXPECT_EQ(longest_copy_ms(run(s)), 0);
}

// The checker is not vacuous: a tampered result of a clean run is caught.
TEST(SimCheck, CatchesWrongMissingAndForgedAnswers) {
  keyring();
  Scenario s = scenario_for_seed(5);
  s.faults = {};
  s.loss_ppm = 0;
  const Result clean = run(s);
  ASSERT_TRUE(check(s, clean, keyring()).failures.empty());

  Result wrong = clean;  // an agreed decision that is not the reference's
  for (auto& replies : wrong.replies) {
    if (!replies.empty() && replies[0].code == "00" && !replies[0].replayed) {
      replies[0].code = "05";
      break;
    }
  }
  EXPECT_FALSE(check(s, wrong, keyring()).failures.empty());

  Result missing = clean;  // a submission without an answer
  missing.replies[7].clear();
  EXPECT_FALSE(check(s, missing, keyring()).failures.empty());

  Result twice = clean;  // two answers for one submission
  twice.replies[3].push_back(twice.replies[3][0]);
  EXPECT_FALSE(check(s, twice, keyring()).failures.empty());

  Result forged = clean;  // a certificate with a signature bit flipped
  for (auto& replies : forged.replies) {
    if (!replies.empty() && !replies[0].certificate.empty()) {
      replies[0].certificate[replies[0].certificate.size() / 2] ^= 0x01;
      break;
    }
  }
  EXPECT_FALSE(check(s, forged, keyring()).failures.empty());

  Result failsafe = clean;  // a fail-safe with no faulty replica
  for (auto& replies : failsafe.replies) {
    if (!replies.empty() && !replies[0].replayed) {
      replies[0].code = "96";
      replies[0].agree.clear();
      replies[0].certificate.clear();
      break;
    }
  }
  EXPECT_FALSE(check(s, failsafe, keyring()).failures.empty());

  Result diverged = clean;  // replicas that end with different states
  diverged.replicas[1].state_digest[0] ^= 1;
  EXPECT_FALSE(check(s, diverged, keyring()).failures.empty());
}

}  // namespace
}  // namespace triad::sim
