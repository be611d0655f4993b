// IntakeThrottle: the admission rate cut while the front end's client socket
// is backlogged, stepped with an injected clock.
#include "frontend/intake_throttle.h"

#include <gtest/gtest.h>

#include <cmath>

namespace triad::frontend {
namespace {

constexpr std::uint64_t kT0 = 5'000'000;
constexpr std::uint64_t kHold = IntakeThrottle::kHoldUs;

// How many of `n` admissions asked for at `now_us` are granted.
int admitted(IntakeThrottle& t, int n, std::uint64_t now_us) {
  int granted = 0;
  for (int i = 0; i < n; ++i) granted += t.admit(now_us) ? 1 : 0;
  return granted;
}

// A drain that read a whole receive queue without finding the socket empty.
void backlog(IntakeThrottle& t, double decided_per_second, std::uint64_t now_us) {
  t.on_drain(IntakeThrottle::kBacklogRequests, false, now_us, [&] { return decided_per_second; });
}

TEST(IntakeThrottle, WithoutABacklogEverythingIsAdmitted) {
  IntakeThrottle t;
  EXPECT_FALSE(t.throttled());
  EXPECT_EQ(t.cap_per_second(kT0), 0);
  EXPECT_EQ(admitted(t, 100'000, kT0), 100'000);
}

// The signal is 4,096 requests read in a row with the socket never found
// empty, over any number of drains; a burst that is read out is none.
TEST(IntakeThrottle, TheSignalIsAWholeReceiveQueueReadWithoutAPause) {
  IntakeThrottle t;
  int asked = 0;
  const auto decided = [&] {
    ++asked;
    return 10'000.0;
  };
  t.on_drain(4000, false, kT0, decided);
  t.on_drain(500, true, kT0, decided);  // emptied: the count starts again
  t.on_drain(3000, false, kT0, decided);
  t.on_drain(1000, false, kT0, decided);
  EXPECT_FALSE(t.throttled());
  EXPECT_EQ(asked, 0);
  t.on_drain(96, false, kT0, decided);  // 4,096 in a row
  EXPECT_TRUE(t.throttled());
  EXPECT_EQ(asked, 1);
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0), 5'000);
}

TEST(IntakeThrottle, ABacklogHalvesTheDecisionRateAndSpreadsTheAdmissions) {
  IntakeThrottle t;
  backlog(t, 10'000, kT0);
  ASSERT_TRUE(t.throttled());
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0), 5'000);
  EXPECT_EQ(admitted(t, 10, kT0), 0);  // the bucket starts empty
  // 10 ms at 5,000/s: 50 tokens.
  EXPECT_EQ(admitted(t, 100, kT0 + 10'000), 50);
  EXPECT_EQ(admitted(t, 100, kT0 + 10'000), 0);
  // A long pause banks no more than one hold period's worth at the cap of
  // the moment: 150 ms on, the cap has grown in the two holds after the one
  // of the cut: 5,000 * 1.125^2 = 6,328/s, so 316.
  EXPECT_EQ(admitted(t, 1'000, kT0 + 3 * kHold), 316);
}

TEST(IntakeThrottle, ASecondBacklogWithinTheHoldPeriodIsIgnored) {
  IntakeThrottle t;
  backlog(t, 10'000, kT0);
  backlog(t, 10'000, kT0 + kHold - 1);
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + kHold - 1), 5'000);
  // After it, while throttled: three quarters of the cap, or of what was
  // decided when that is lower (the cap did not grow: the intake was behind
  // in the hold of the cut).
  backlog(t, 8'000, kT0 + kHold);
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + kHold), 3'750);
  backlog(t, 8'000, kT0 + 3 * kHold);  // it grew in the hold in between
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + 3 * kHold), 3'750 * 1.125 * 0.75);
  backlog(t, 2'000, kT0 + 4 * kHold);
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + 4 * kHold), 1'500);
}

TEST(IntakeThrottle, TheCapNeverFallsBelowTheFloor) {
  IntakeThrottle t;
  backlog(t, 0, kT0);  // nothing decided at all
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0), IntakeThrottle::kMinPerSecond);
  for (int i = 1; i <= 20; ++i) backlog(t, 0, kT0 + static_cast<std::uint64_t>(i) * kHold);
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + 20 * kHold), IntakeThrottle::kMinPerSecond);
}

// The cap grows by an eighth for each hold period after the cut's in which
// the intake kept up: no drain ended with requests still waiting.
TEST(IntakeThrottle, TheCapGrowsByAnEighthPerHoldPeriodUntilItIsLifted) {
  IntakeThrottle t;
  backlog(t, 8'000, kT0);
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + kHold - 1), 4'000);
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + kHold), 4'000);  // the cut's hold was behind
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + 2 * kHold), 4'500);
  t.on_drain(100, true, kT0 + 2 * kHold, [] { return 0.0; });  // emptied: keeping up
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + 3 * kHold), 4'000 * 1.125 * 1.125);
  // Past a million per second it is lifted: 4,000 * 1.125^n > 1e6 at n = 47,
  // n holds after the cut's.
  const auto n = static_cast<std::uint64_t>(std::ceil(std::log(1e6 / 4'000) / std::log(1.125)));
  EXPECT_GT(t.cap_per_second(kT0 + n * kHold), 0);
  EXPECT_EQ(t.cap_per_second(kT0 + (n + 1) * kHold), 0);
  EXPECT_TRUE(t.admit(kT0 + (n + 1) * kHold));
  EXPECT_FALSE(t.throttled());
  EXPECT_EQ(admitted(t, 100'000, kT0 + (n + 1) * kHold), 100'000);
}

// Once the cap has grown past any rate that matters, the next backlog is a
// first one again (half of what is decided), even before an admission
// noticed the lift.
TEST(IntakeThrottle, ABacklogAfterTheLiftIsAFirstCut) {
  IntakeThrottle t;
  backlog(t, 8'000, kT0);
  const std::uint64_t later = kT0 + 100 * kHold;
  ASSERT_EQ(t.cap_per_second(later), 0);
  backlog(t, 6'000, later);
  EXPECT_DOUBLE_EQ(t.cap_per_second(later), 3'000);
}

// While drains keep ending with requests waiting, too few to signal a new
// backlog, the cap holds: it grows again from the first hold that kept up.
TEST(IntakeThrottle, WhileTheIntakeIsBehindTheCapDoesNotGrow) {
  IntakeThrottle t;
  backlog(t, 8'000, kT0);
  for (std::uint64_t hold = 1; hold <= 10; ++hold) {
    t.on_drain(100, false, kT0 + hold * kHold, [] { return 8'000.0; });
    EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + hold * kHold + kHold - 1), 4'000) << hold;
  }
  // Holds 11 and 12 see no drain behind: the cap grows at the end of each.
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + 12 * kHold), 4'500);
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + 13 * kHold), 4'000 * 1.125 * 1.125);
  // Behind again in hold 13: from then on it holds at that.
  t.on_drain(100, false, kT0 + 13 * kHold + 1, [] { return 8'000.0; });
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + 14 * kHold), 4'000 * 1.125 * 1.125);
  EXPECT_DOUBLE_EQ(t.cap_per_second(kT0 + 15 * kHold), 4'000 * 1.125 * 1.125 * 1.125);
}

}  // namespace
}  // namespace triad::frontend
