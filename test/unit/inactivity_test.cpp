// How often pat.max_inactivity is applied: once per hundredth of the limit, at once after a
// restart or a clock that went back.
#include "core/inactivity.hpp"

#include <gtest/gtest.h>

namespace {

constexpr std::int64_t kSecond = 1000000;
constexpr std::int64_t kDay = 86400 * kSecond;

TEST(Inactivity, OncePerHundredthOfTheLimit) {
    const std::int64_t last = 1000 * kDay;
    // 90 days: every 21.6 hours.
    EXPECT_FALSE(pat::inactivity_round_due(last, last + 21 * 3600 * kSecond, 90 * kDay));
    EXPECT_TRUE(
        pat::inactivity_round_due(last, last + 21 * 3600 * kSecond + 36 * 60 * kSecond, 90 * kDay));
    // An hour: every 36 s.
    EXPECT_FALSE(pat::inactivity_round_due(last, last + 35 * kSecond, 3600 * kSecond));
    EXPECT_TRUE(pat::inactivity_round_due(last, last + 36 * kSecond, 3600 * kSecond));
    // A limit under 100 microseconds: every round.
    EXPECT_TRUE(pat::inactivity_round_due(last, last, 50));
}

TEST(Inactivity, AtOnceWithoutALastRoundOrWhenTheClockWentBack) {
    EXPECT_TRUE(pat::inactivity_round_due(std::nullopt, 5 * kDay, 90 * kDay));
    EXPECT_TRUE(pat::inactivity_round_due(5 * kDay, 5 * kDay - kSecond, 90 * kDay));
    EXPECT_FALSE(pat::inactivity_round_due(5 * kDay, 5 * kDay, 90 * kDay));
}

}  // namespace
