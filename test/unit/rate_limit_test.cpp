// Rate limits (GCRA) and credits: exact decisions, refills from the period, and no overflow at
// the edges (a limit of one or of INT32_MAX requests, a microsecond or a century, clocks at the
// ends of their range).
#include "core/rate_limit.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/time_range.hpp"

namespace {

using pat::CreditBalance;
using pat::CreditPlan;
using pat::RateLimit;
using pat::RateState;

constexpr std::int64_t kSecond = 1000 * 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kDay = 86400 * kSecond;
constexpr std::int64_t kCentury = 100LL * 12 * 30 * kDay;  // '100 years' as PostgreSQL compares it
constexpr std::int64_t kNow = 850000000LL * kSecond;       // 2026, in PostgreSQL's epoch

// Runs checks at now until one is refused; how many were allowed (stops at cap).
int allowed_in_a_row(const RateLimit &limit, RateState *state, std::int64_t now, int cap) {
    for (int n = 0; n < cap; ++n) {
        pat::RateDecision d = pat::decide_rate(limit, *state, now);
        if (!d.allowed) {
            return n;
        }
        *state = d.next;
    }
    return cap;
}

TEST(IntervalSpan, ACenturyFitsAndCountsThirtyDayMonths) {
    EXPECT_EQ(pat::interval_span(1200, 0, 0), kCentury);
    EXPECT_EQ(pat::interval_span(0, 0, 1), 1);
}

TEST(RateLimitArguments, NeedAtLeastOneRequestAndAPositiveInterval) {
    using V = pat::RateLimitVerdict;
    EXPECT_EQ(pat::check_rate_limit(1, 1), V::ok);
    EXPECT_EQ(pat::check_rate_limit(INT32_MAX, kCentury), V::ok);
    EXPECT_EQ(pat::check_rate_limit(0, kMinute), V::requests_not_positive);
    EXPECT_EQ(pat::check_rate_limit(-5, kMinute), V::requests_not_positive);
    EXPECT_EQ(pat::check_rate_limit(INT64_MAX, kMinute), V::requests_not_positive);
    EXPECT_EQ(pat::check_rate_limit(10, 0), V::per_not_positive);
    EXPECT_EQ(pat::check_rate_limit(10, -kMinute), V::per_not_positive);
    EXPECT_EQ(pat::check_rate_limit(10, 10 * kCentury), V::ok);
    EXPECT_EQ(pat::check_rate_limit(10, 10 * kCentury + 1), V::per_too_long);
    EXPECT_EQ(pat::check_rate_limit(10, INT64_MAX), V::per_too_long);
    EXPECT_NO_THROW(pat::require_valid_rate_limit(V::ok));
    try {
        pat::require_valid_rate_limit(V::requests_not_positive);
        FAIL() << "no error";
    } catch (const pat::Error &e) {
        EXPECT_STREQ(e.sqlstate(), "22023");
    }
    EXPECT_THROW(pat::require_valid_rate_limit(V::per_not_positive), pat::Error);
    EXPECT_THROW(pat::require_valid_rate_limit(V::per_too_long), pat::Error);
}

TEST(Gcra, AllowsTheLimitAtOnceThenRefuses) {
    RateLimit limit{10, kMinute};
    RateState state;
    EXPECT_EQ(allowed_in_a_row(limit, &state, kNow, 100), 10);
    pat::RateDecision refused = pat::decide_rate(limit, state, kNow);
    EXPECT_FALSE(refused.allowed);
    // One more is allowed one emission interval (6 s) after the burst began.
    EXPECT_EQ(refused.retry_after, 6 * kSecond);
    EXPECT_EQ(refused.next.high, state.high);
    EXPECT_EQ(refused.next.low, state.low);  // a refusal spends nothing
    EXPECT_FALSE(pat::decide_rate(limit, state, kNow + 6 * kSecond - 1).allowed);
    EXPECT_TRUE(pat::decide_rate(limit, state, kNow + 6 * kSecond).allowed);
}

TEST(Gcra, RetryAfterIsExactlyWhenTheCheckWouldPass) {
    RateLimit limit{7, kSecond};  // an emission interval of 142857.142... µs
    RateState state;
    ASSERT_EQ(allowed_in_a_row(limit, &state, kNow, 100), 7);
    pat::RateDecision refused = pat::decide_rate(limit, state, kNow);
    ASSERT_FALSE(refused.allowed);
    EXPECT_EQ(refused.retry_after, 142858);  // rounded up, never down
    EXPECT_FALSE(pat::decide_rate(limit, state, kNow + refused.retry_after - 1).allowed);
    EXPECT_TRUE(pat::decide_rate(limit, state, kNow + refused.retry_after).allowed);
}

TEST(Gcra, SustainedRateNeverExceedsTheLimitWithoutRounding) {
    // 3 per 10 µs: the interval is not a whole number of microseconds. Checking every
    // microsecond for a long time must allow exactly the burst plus 3 per 10 µs.
    RateLimit limit{3, 10};
    RateState state;
    int allowed = 0;
    constexpr int kSpan = 100000;
    for (int t = 0; t < kSpan; ++t) {
        pat::RateDecision d = pat::decide_rate(limit, state, kNow + t);
        if (d.allowed) {
            ++allowed;
            state = d.next;
        }
    }
    // Burst of 3, then one every 10/3 µs over kSpan - 1 µs: 3 + floor((kSpan - 1) * 3 / 10).
    EXPECT_EQ(allowed, 3 + (kSpan - 1) * 3 / 10);
}

TEST(Gcra, IdleStateCanBeForgotten) {
    RateLimit limit{2, kSecond};
    RateState state;
    EXPECT_TRUE(pat::rate_state_idle(limit, state, kNow));
    state = pat::decide_rate(limit, state, kNow).next;
    EXPECT_FALSE(pat::rate_state_idle(limit, state, kNow));
    EXPECT_FALSE(pat::rate_state_idle(limit, state, kNow + kSecond / 2 - 1));
    EXPECT_TRUE(pat::rate_state_idle(limit, state, kNow + kSecond / 2));
}

TEST(Gcra, OneRequestPerMicrosecondAndPerCentury) {
    RateLimit fast{1, 1};
    RateState state;
    EXPECT_EQ(allowed_in_a_row(fast, &state, kNow, 10), 1);
    EXPECT_EQ(pat::decide_rate(fast, state, kNow).retry_after, 1);
    EXPECT_TRUE(pat::decide_rate(fast, state, kNow + 1).allowed);

    RateLimit slow{1, kCentury};
    state = RateState{};
    EXPECT_EQ(allowed_in_a_row(slow, &state, kNow, 10), 1);
    pat::RateDecision refused = pat::decide_rate(slow, state, kNow + kDay);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.retry_after, kCentury - kDay);
}

TEST(Gcra, HugeLimitsDoNotWrap) {
    RateLimit huge{INT32_MAX, kCentury};
    RateState state;
    EXPECT_EQ(allowed_in_a_row(huge, &state, kNow, 1000), 1000);
    RateLimit dense{INT32_MAX, 1};
    state = RateState{};
    EXPECT_EQ(allowed_in_a_row(dense, &state, kNow, 1000), 1000);
    RateLimit sparse{INT32_MAX, INT64_MAX};
    state = RateState{};
    EXPECT_EQ(allowed_in_a_row(sparse, &state, kNow, 1000), 1000);
    RateLimit one_forever{1, INT64_MAX};
    state = RateState{};
    EXPECT_EQ(allowed_in_a_row(one_forever, &state, kNow, 10), 1);
    pat::RateDecision refused = pat::decide_rate(one_forever, state, kNow);
    EXPECT_FALSE(refused.allowed);
    EXPECT_GT(refused.retry_after, 0);
}

TEST(Gcra, ClocksAtTheEndsOfTheirRange) {
    RateLimit limit{5, kCentury};
    for (std::int64_t now : {INT64_MIN, INT64_MIN + 1, std::int64_t{-1}, std::int64_t{0},
                             INT64_MAX - kCentury, INT64_MAX - 1, INT64_MAX}) {
        RateState state;
        EXPECT_EQ(allowed_in_a_row(limit, &state, now, 100), 5) << now;
        pat::RateDecision refused = pat::decide_rate(limit, state, now);
        EXPECT_FALSE(refused.allowed) << now;
        EXPECT_GT(refused.retry_after, 0) << now;
    }
}

TEST(Gcra, AClockGoingBackNeverFreesChecks) {
    RateLimit limit{3, kMinute};
    RateState state;
    ASSERT_EQ(allowed_in_a_row(limit, &state, kNow, 10), 3);
    EXPECT_EQ(allowed_in_a_row(limit, &state, kNow - kMinute, 10), 0);
}

TEST(CreditArguments, RejectsNegativesAndHalfARefill) {
    using V = pat::CreditVerdict;
    EXPECT_EQ(pat::check_credits(0, std::nullopt, std::nullopt), V::ok);
    EXPECT_EQ(pat::check_credits(INT64_MAX, INT64_MAX, 10 * kCentury), V::ok);
    EXPECT_EQ(pat::check_credits(-1, std::nullopt, std::nullopt), V::remaining_negative);
    EXPECT_EQ(pat::check_credits(5, -1, kDay), V::refill_amount_negative);
    EXPECT_EQ(pat::check_credits(5, 10, 0), V::refill_every_not_positive);
    EXPECT_EQ(pat::check_credits(5, 10, -kDay), V::refill_every_not_positive);
    EXPECT_EQ(pat::check_credits(5, 10, 10 * kCentury + 1), V::refill_every_too_long);
    EXPECT_EQ(pat::check_credits(5, 10, std::nullopt), V::refill_incomplete);
    EXPECT_EQ(pat::check_credits(5, std::nullopt, kDay), V::refill_incomplete);
    for (V v : {V::remaining_negative, V::refill_amount_negative, V::refill_every_not_positive,
                V::refill_incomplete, V::refill_every_too_long}) {
        EXPECT_THROW(pat::require_valid_credits(v), pat::Error);
    }
    EXPECT_NO_THROW(pat::require_valid_credits(V::ok));
}

TEST(Credits, SpendDownToZeroAndNeverBelow) {
    CreditPlan plan;
    CreditBalance balance{2, 0};
    EXPECT_TRUE(pat::spend_credit(plan, &balance, kNow));
    EXPECT_TRUE(pat::spend_credit(plan, &balance, kNow));
    EXPECT_EQ(balance.remaining, 0);
    EXPECT_FALSE(pat::spend_credit(plan, &balance, kNow));
    EXPECT_FALSE(pat::spend_credit(plan, &balance, kNow + kCentury));  // no refill: never
    EXPECT_EQ(balance.remaining, 0);
}

TEST(Credits, RefillSetsTheAmountAtEachPeriodWithoutAWrite) {
    CreditPlan plan{100, kDay, kNow};
    CreditBalance balance{1, 0};
    EXPECT_TRUE(pat::spend_credit(plan, &balance, kNow + 1));
    EXPECT_FALSE(pat::spend_credit(plan, &balance, kNow + kDay - 1));
    EXPECT_EQ(pat::credit_period(plan, kNow + kDay), 1);
    // The stored balance (period 0, none left) reads as refilled once the day is over.
    CreditBalance stored = balance;
    EXPECT_EQ(pat::balance_at(plan, stored, kNow + kDay).remaining, 100);
    EXPECT_TRUE(pat::spend_credit(plan, &balance, kNow + kDay));
    EXPECT_EQ(balance.remaining, 99);
    EXPECT_EQ(balance.period, 1);
    // Several periods later: one refill, to the amount, not one per period missed.
    EXPECT_TRUE(pat::spend_credit(plan, &balance, kNow + 10 * kDay + 5));
    EXPECT_EQ(balance.remaining, 99);
    EXPECT_EQ(balance.period, 10);
}

TEST(Credits, AMicrosecondOrACenturyRefillAndExtremeClocks) {
    CreditPlan fast{1, 1, kNow};
    CreditBalance balance{0, 0};
    EXPECT_FALSE(pat::spend_credit(fast, &balance, kNow));
    EXPECT_TRUE(pat::spend_credit(fast, &balance, kNow + 1));
    EXPECT_FALSE(pat::spend_credit(fast, &balance, kNow + 1));

    CreditPlan slow{5, kCentury, kNow};
    balance = CreditBalance{0, 0};
    EXPECT_FALSE(pat::spend_credit(slow, &balance, kNow + kCentury - 1));
    EXPECT_TRUE(pat::spend_credit(slow, &balance, kNow + kCentury));

    CreditPlan wide{INT64_MAX, 1, INT64_MIN};
    EXPECT_EQ(pat::credit_period(wide, INT64_MAX), INT64_MAX);
    balance = CreditBalance{0, 0};
    EXPECT_TRUE(pat::spend_credit(wide, &balance, INT64_MAX));
    EXPECT_EQ(balance.remaining, INT64_MAX - 1);
    // Before the anchor (a clock set back): period 0, no refill.
    EXPECT_EQ(pat::credit_period(slow, kNow - kDay), 0);
}

}  // namespace
