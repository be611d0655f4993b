#include "loadgen/spread.h"

#include <gtest/gtest.h>

namespace triad::loadgen {
namespace {

TEST(SpreadTest, NoValuesIsAllZero) {
  const Spread s = spread_of({});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.min, 0);
  EXPECT_EQ(s.median, 0);
  EXPECT_EQ(s.max, 0);
}

TEST(SpreadTest, OddCountTakesTheMiddleValueInOrder) {
  const Spread s = spread_of({1.9, 1.4, 3.2, 1.6, 1.5});
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.min, 1.4);
  EXPECT_DOUBLE_EQ(s.median, 1.6);
  EXPECT_DOUBLE_EQ(s.max, 3.2);
}

TEST(SpreadTest, EvenCountAveragesTheMiddleTwo) {
  const Spread s = spread_of({2.0, 1.0, 4.0, 3.0});
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.min, 1.0);
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_DOUBLE_EQ(s.max, 4.0);
}

TEST(SpreadTest, OneValueIsEverything) {
  const Spread s = spread_of({1.55});
  EXPECT_EQ(s.count, 1u);
  EXPECT_DOUBLE_EQ(s.min, 1.55);
  EXPECT_DOUBLE_EQ(s.median, 1.55);
  EXPECT_DOUBLE_EQ(s.max, 1.55);
}

}  // namespace
}  // namespace triad::loadgen
