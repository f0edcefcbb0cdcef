// How often pat.max_inactivity is applied: once per hundredth of the limit, at once after a
// restart or a clock that went back. And never over a period in which a valid check was counted
// without its token (shared memory's usage table was full).
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

TEST(Inactivity, RevokesWhenEveryCheckNamedItsToken) {
    EXPECT_TRUE(pat::inactivity_revocation_allowed(100 * kDay, std::nullopt));
    EXPECT_EQ(pat::latest_unattributed_use(std::nullopt, std::nullopt), std::nullopt);
}

TEST(Inactivity, NotOverAPeriodWithAnUnattributedUse) {
    const std::int64_t unused_since = 100 * kDay + 12 * 3600 * kSecond;  // noon of day 100
    // A lost check before the period does not matter; at its start or within it, it does.
    EXPECT_TRUE(pat::inactivity_revocation_allowed(unused_since, unused_since - 1));
    EXPECT_FALSE(pat::inactivity_revocation_allowed(unused_since, unused_since));
    EXPECT_FALSE(pat::inactivity_revocation_allowed(unused_since, unused_since + kSecond));
}

TEST(Inactivity, ADayCountCoversTheWholeDay) {
    // Counted for day 99: it may have been at 23:59:59.999999 of day 99.
    EXPECT_EQ(pat::latest_unattributed_use(99, std::nullopt), 100 * kDay - 1);
    EXPECT_TRUE(pat::inactivity_revocation_allowed(100 * kDay,
                                                   pat::latest_unattributed_use(99, std::nullopt)));
    EXPECT_FALSE(pat::inactivity_revocation_allowed(
        100 * kDay - 1, pat::latest_unattributed_use(99, std::nullopt)));
    // Counted for day 100: revocation waits until the limit has passed since its end, even
    // when the period starts at noon of that day.
    EXPECT_FALSE(pat::inactivity_revocation_allowed(
        100 * kDay + 12 * 3600 * kSecond, pat::latest_unattributed_use(100, std::nullopt)));
    // Before 2000-01-01 too.
    EXPECT_EQ(pat::latest_unattributed_use(-1, std::nullopt), -1);
}

TEST(Inactivity, DaysBeyondTheTimestampRangeClamp) {
    // date 'infinity' and '-infinity' are INT32_MAX and INT32_MIN.
    EXPECT_EQ(pat::latest_unattributed_use(INT32_MAX, std::nullopt), INT64_MAX);
    EXPECT_EQ(pat::latest_unattributed_use(INT32_MIN, std::nullopt), INT64_MIN);
    EXPECT_FALSE(pat::inactivity_revocation_allowed(
        1000 * kDay, pat::latest_unattributed_use(INT32_MAX, std::nullopt)));
    EXPECT_TRUE(pat::inactivity_revocation_allowed(
        1000 * kDay, pat::latest_unattributed_use(INT32_MIN, std::nullopt)));
}

TEST(Inactivity, TheLaterOfADayCountAndALostCheck) {
    EXPECT_EQ(pat::latest_unattributed_use(99, 5 * kDay), 100 * kDay - 1);
    EXPECT_EQ(pat::latest_unattributed_use(99, 200 * kDay), 200 * kDay);
    EXPECT_EQ(pat::latest_unattributed_use(std::nullopt, 7), 7);
}

}  // namespace
