// Rotation and the active-token cap: what may be rotated, the successor's expiry, the old
// token's expiry under an overlap, and the cap.
#include "core/rotation.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/time_range.hpp"

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

TEST(Rotation, OnlyAnActiveTokenMayBeRotated) {
    EXPECT_EQ(sqlstate_of([] { pat::require_rotatable("t", false, std::nullopt, 100); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::require_rotatable("t", false, 101, 100); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::require_rotatable("t", false, 100, 100); }), "55000");
    EXPECT_EQ(sqlstate_of([] { pat::require_rotatable("t", false, 99, 100); }), "55000");
    EXPECT_EQ(sqlstate_of([] { pat::require_rotatable("t", true, std::nullopt, 100); }), "55000");
}

TEST(Rotation, TheSuccessorKeepsTheLifetime) {
    // Made on day 0 for 30 days, rotated on day 20: the successor lasts 30 days from day 20.
    EXPECT_EQ(pat::carried_over_expiry(20 * kDay, 0, 30 * kDay), 50 * kDay);
    EXPECT_EQ(pat::carried_over_expiry(20 * kDay, 0, std::nullopt), std::nullopt);
}

TEST(Rotation, ACarriedOverLifetimeStaysInRange) {
    // Made to expire at the last valid time, rotated 1.5 s later: 22008, not a value no
    // restore can read.
    static constexpr std::int64_t kLast = pat::kTimestampEnd - 1;
    EXPECT_EQ(sqlstate_of([] { pat::carried_over_expiry(1500000, 0, kLast); }), "22008");
    EXPECT_EQ(pat::carried_over_expiry(0, 0, kLast), kLast);
    // A lifetime wider than an int64 (a row loaded with created_at at the range's start).
    EXPECT_EQ(sqlstate_of([] { pat::carried_over_expiry(0, pat::kTimestampMin, kLast); }), "22008");
    EXPECT_EQ(sqlstate_of([] { pat::overlap_expiry(kLast, 1, std::nullopt); }), "22008");
}

TEST(Rotation, AnOverlapNeverLengthensTheOldToken) {
    EXPECT_EQ(pat::overlap_expiry(10 * kDay, kDay, 30 * kDay), 11 * kDay);
    EXPECT_EQ(pat::overlap_expiry(10 * kDay, 30 * kDay, 12 * kDay), 12 * kDay);
    EXPECT_EQ(pat::overlap_expiry(10 * kDay, kDay, std::nullopt), 11 * kDay);
    EXPECT_EQ(sqlstate_of([] { pat::require_valid_overlap(0); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::require_valid_overlap(-1); }), "22023");
}

TEST(TokenCap, RefusesTheTokenBeyondTheCap) {
    EXPECT_EQ(sqlstate_of([] { pat::require_below_token_cap("u", 100, std::nullopt); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::require_below_token_cap("u", 2, 3); }), "");
    EXPECT_EQ(sqlstate_of([] { pat::require_below_token_cap("u", 3, 3); }), "54000");
    EXPECT_EQ(sqlstate_of([] { pat::require_below_token_cap("u", 0, 0); }), "54000");
}

}  // namespace
