// Checked time arithmetic: PostgreSQL's timestamptz range, sums that leave it or overflow, and
// the bounded span of a setting.
#include "core/time_range.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace {

template <typename Fn>
std::string sqlstate_of(Fn fn) {
    try {
        fn();
    } catch (const pat::Error &e) {
        return e.sqlstate();
    }
    return "";
}

constexpr std::int64_t kDay = 86400LL * 1000000;
constexpr std::int64_t kLast = pat::kTimestampEnd - 1;  // 294276-12-31 23:59:59.999999+00

TEST(TimeRange, IsPostgresRange) {
    EXPECT_TRUE(pat::in_timestamp_range(0));
    EXPECT_TRUE(pat::in_timestamp_range(pat::kTimestampMin));
    EXPECT_TRUE(pat::in_timestamp_range(kLast));
    EXPECT_FALSE(pat::in_timestamp_range(pat::kTimestampEnd));
    EXPECT_FALSE(pat::in_timestamp_range(pat::kTimestampMin - 1));
    EXPECT_FALSE(pat::in_timestamp_range(pat::kTimestampInfinity));
    EXPECT_FALSE(pat::in_timestamp_range(pat::kTimestampMinusInfinity));
}

TEST(TimeRange, InfinitiesAreRestorableButNotInRange) {
    EXPECT_TRUE(pat::restorable_timestamp(pat::kTimestampInfinity));
    EXPECT_TRUE(pat::restorable_timestamp(pat::kTimestampMinusInfinity));
    EXPECT_TRUE(pat::restorable_timestamp(kLast));
    EXPECT_FALSE(pat::restorable_timestamp(pat::kTimestampEnd));
    EXPECT_FALSE(pat::restorable_timestamp(pat::kTimestampInfinity - 1));
    EXPECT_EQ(sqlstate_of([] { pat::require_restorable(std::nullopt, "expires_at"); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::require_restorable(kLast, "expires_at"); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::require_restorable(kLast + 1500000, "expires_at"); }), "22008");
}

TEST(TimeRange, CheckedAddStaysInRange) {
    EXPECT_EQ(pat::checked_add(10 * kDay, kDay), 11 * kDay);
    EXPECT_EQ(pat::checked_add(kLast - 1, 1), kLast);
    EXPECT_EQ(pat::checked_add(kLast, 1), std::nullopt);
    EXPECT_EQ(pat::checked_add(kLast, 1500000), std::nullopt);  // the rotation of issue 22
    EXPECT_EQ(pat::checked_add(pat::kTimestampMin, -1), std::nullopt);
    // An overflow of int64 never wraps back into the range.
    EXPECT_EQ(pat::checked_add(kLast, INT64_MAX), std::nullopt);
    EXPECT_EQ(pat::checked_add(pat::kTimestampMin, INT64_MIN), std::nullopt);
    // Nothing is added to an infinity.
    EXPECT_EQ(pat::checked_add(pat::kTimestampMinusInfinity, kDay), std::nullopt);
}

TEST(TimeRange, CheckedDifferenceOverflows) {
    EXPECT_EQ(pat::checked_difference(30 * kDay, 10 * kDay), 20 * kDay);
    EXPECT_EQ(pat::checked_difference(kLast, pat::kTimestampMin), std::nullopt);
    EXPECT_EQ(pat::checked_difference(kLast, pat::kTimestampMinusInfinity), std::nullopt);
}

TEST(TimeRange, RequireInRangeIs22008) {
    EXPECT_EQ(pat::require_in_range(kLast, "x"), kLast);
    EXPECT_EQ(sqlstate_of([] { pat::require_in_range(std::nullopt, "x"); }), "22008");
    EXPECT_EQ(sqlstate_of([] { pat::require_in_range(pat::kTimestampEnd, "x"); }), "22008");
}

TEST(TimeRange, IntervalSpanCountsThirtyDayMonths) {
    EXPECT_EQ(pat::interval_span(1, 2, 3), 32 * kDay + 3);
    EXPECT_EQ(pat::interval_span(INT32_MAX, INT32_MAX, INT64_MAX), std::nullopt);
    EXPECT_EQ(pat::interval_span(0, 0, INT64_MAX), INT64_MAX);
    EXPECT_EQ(*pat::interval_span(12 * 1000, 0, 0), pat::kLongestSettingSpan);
    EXPECT_GT(*pat::interval_span(0, 360001, 0), pat::kLongestSettingSpan);
}

}  // namespace
