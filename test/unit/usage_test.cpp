// Usage tallies: outcome columns, days, counting and merging.
#include "core/usage.hpp"

#include <set>

#include <gtest/gtest.h>

namespace {

using pat::TokenStatus;
using pat::UsageTally;

constexpr std::int64_t kDay = 86400LL * 1000 * 1000;

TEST(UsageOutcome, EveryStatusHasItsOwnColumn) {
    std::set<int> seen;
    for (TokenStatus s :
         {TokenStatus::valid, TokenStatus::malformed, TokenStatus::not_found, TokenStatus::expired,
          TokenStatus::revoked, TokenStatus::insufficient_scope, TokenStatus::suspended,
          TokenStatus::forbidden_network, TokenStatus::rate_limited, TokenStatus::usage_exceeded}) {
        int index = pat::outcome_index(s);
        ASSERT_GE(index, 0);
        ASSERT_LT(index, pat::kOutcomeCount);
        EXPECT_EQ(pat::outcome_at(index), s);
        seen.insert(index);
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(pat::kOutcomeCount));
}

TEST(UsageOutcome, OnlyUnknownAndMalformedAreDatabaseWide) {
    EXPECT_FALSE(pat::outcome_names_token(TokenStatus::malformed));
    EXPECT_FALSE(pat::outcome_names_token(TokenStatus::not_found));
    EXPECT_TRUE(pat::outcome_names_token(TokenStatus::valid));
    EXPECT_TRUE(pat::outcome_names_token(TokenStatus::expired));
    EXPECT_TRUE(pat::outcome_names_token(TokenStatus::revoked));
    EXPECT_TRUE(pat::outcome_names_token(TokenStatus::insufficient_scope));
}

TEST(UsageDay, FloorsToUtcDays) {
    EXPECT_EQ(pat::day_of(0), 0);
    EXPECT_EQ(pat::day_of(kDay - 1), 0);
    EXPECT_EQ(pat::day_of(kDay), 1);
    EXPECT_EQ(pat::day_of(-1), -1);
    EXPECT_EQ(pat::day_of(-kDay), -1);
    EXPECT_EQ(pat::day_of(-kDay - 1), -2);
    // 2026-12-01 is 9831 days after 2000-01-01.
    EXPECT_EQ(pat::day_of(9831 * kDay + 5), 9831);
}

TEST(UsageTally, StartsEmpty) {
    UsageTally tally;
    EXPECT_FALSE(tally.has_last_used());
    EXPECT_EQ(tally.total(), 0u);
}

TEST(UsageTally, OnlyValidChecksAreUses) {
    UsageTally tally;
    tally.count(TokenStatus::expired, 100);
    tally.count(TokenStatus::insufficient_scope, 200);
    EXPECT_FALSE(tally.has_last_used());
    tally.count(TokenStatus::valid, 300);
    EXPECT_EQ(tally.last_used, 300);
    EXPECT_EQ(tally.total(), 3u);
    EXPECT_EQ(tally.checks[pat::outcome_index(TokenStatus::expired)], 1u);
}

TEST(UsageTally, LastUseNeverMovesBack) {
    UsageTally tally;
    tally.count(TokenStatus::valid, 500);
    tally.count(TokenStatus::valid, 400);
    EXPECT_EQ(tally.last_used, 500);
}

TEST(UsageTally, MergeAddsCountsAndKeepsTheLaterUse) {
    UsageTally a, b;
    a.count(TokenStatus::valid, 10);
    a.count(TokenStatus::revoked, 11);
    b.count(TokenStatus::valid, 20);
    b.count(TokenStatus::valid, 15);
    a.merge(b);
    EXPECT_EQ(a.last_used, 20);
    EXPECT_EQ(a.checks[pat::outcome_index(TokenStatus::valid)], 3u);
    EXPECT_EQ(a.checks[pat::outcome_index(TokenStatus::revoked)], 1u);
    EXPECT_EQ(a.total(), 4u);

    UsageTally never;
    a.merge(never);
    EXPECT_EQ(a.last_used, 20);
    never.merge(a);
    EXPECT_EQ(never.last_used, 20);
}

}  // namespace
