// Cache signals: stripes, slots and signal ids.
#include "core/cache_signal.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace {

using pat::SignalKind;

TEST(CacheSignal, SignalIdsFillTheTopOfTheOidSpaceAndRoundTrip) {
    EXPECT_EQ(pat::signal_id(pat::signal_slot(SignalKind::user, pat::kSignalStripes - 1)),
              0xFFFFFFFFu);
    EXPECT_EQ(pat::signal_id(pat::signal_slot(SignalKind::token, 0)), pat::kSignalBase);
    for (std::uint32_t slot : {0u, 1u, 65535u, 65536u, 131071u}) {
        std::uint32_t back = 0;
        ASSERT_TRUE(pat::signal_slot_of(pat::signal_id(slot), &back));
        EXPECT_EQ(back, slot);
    }
}

TEST(CacheSignal, OrdinaryOidsAreNoSignal) {
    std::uint32_t slot = 7;
    for (std::uint32_t oid : {0u, 1259u, 16384u, 2000000000u, pat::kSignalBase - 1}) {
        EXPECT_FALSE(pat::signal_slot_of(oid, &slot)) << oid;
    }
    EXPECT_EQ(slot, 7u);
}

TEST(CacheSignal, TokenAndUserSlotsNeverOverlap) {
    for (std::uint32_t stripe : {0u, 12345u, pat::kSignalStripes - 1}) {
        EXPECT_LT(pat::signal_slot(SignalKind::token, stripe), pat::kSignalStripes);
        EXPECT_GE(pat::signal_slot(SignalKind::user, stripe), pat::kSignalStripes);
        EXPECT_LT(pat::signal_slot(SignalKind::user, stripe), pat::kSignalSlots);
    }
}

TEST(CacheSignal, StripesAreStableAndSpread) {
    // Fixed values: every backend of every node must compute the same stripe.
    EXPECT_EQ(pat::user_stripe("alice"), pat::user_stripe(std::string("alice")));
    EXPECT_NE(pat::user_stripe("alice"), pat::user_stripe("alicf"));
    std::set<std::uint32_t> stripes;
    for (int i = 0; i < 1000; ++i) {
        std::uint32_t stripe = pat::user_stripe("user-" + std::to_string(i));
        EXPECT_LT(stripe, pat::kSignalStripes);
        stripes.insert(stripe);
    }
    EXPECT_GT(stripes.size(), 985u);  // 1000 into 65536: about 8 collisions expected
    unsigned char id[32] = {};
    std::uint32_t zero = pat::token_stripe(id, sizeof id);
    id[1] = 1;
    EXPECT_NE(pat::token_stripe(id, sizeof id), zero);
    id[0] = 0xAB;
    EXPECT_EQ(pat::token_stripe(id, sizeof id), 0xAB01u);
}

}  // namespace
