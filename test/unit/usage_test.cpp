// Usage tallies: outcome columns, days, counting and merging.
#include "core/usage.hpp"

#include <cstring>
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

pat::IpAddress ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    pat::IpAddress address;
    address.family = pat::AddressFamily::ipv4;
    address.bytes[0] = a;
    address.bytes[1] = b;
    address.bytes[2] = c;
    address.bytes[3] = d;
    return address;
}

pat::IpAddress ipv6_ending(std::uint8_t last) {
    pat::IpAddress address;
    address.family = pat::AddressFamily::ipv6;
    address.bytes[0] = 0x20;
    address.bytes[1] = 0x01;
    address.bytes[15] = last;
    return address;
}

// The time the tally holds for address, or kNever when it holds none.
std::int64_t used_at(const UsageTally &tally, const pat::IpAddress &address) {
    for (const pat::RecentAddress &slot : tally.addresses) {
        if (!slot.empty() && pat::same_address(slot.address, address)) {
            return slot.last_used;
        }
    }
    return UsageTally::kNever;
}

TEST(UsageTally, AValidCheckNotesItsAddressOthersDoNot) {
    UsageTally tally;
    pat::IpAddress one = ipv4(10, 0, 0, 1);
    pat::IpAddress two = ipv4(10, 0, 0, 2);
    tally.count(TokenStatus::valid, 100, &one);
    tally.count(TokenStatus::forbidden_network, 110, &two);
    tally.count(TokenStatus::insufficient_scope, 120, &two);
    tally.count(TokenStatus::valid, 130);  // no address given
    EXPECT_EQ(tally.address_count(), 1);
    EXPECT_EQ(used_at(tally, one), 100);
    EXPECT_EQ(used_at(tally, two), UsageTally::kNever);
}

TEST(UsageTally, AnAddressSeenAgainKeepsItsLatestUse) {
    UsageTally tally;
    pat::IpAddress one = ipv4(10, 0, 0, 1);
    tally.count(TokenStatus::valid, 200, &one);
    tally.count(TokenStatus::valid, 100, &one);
    tally.count(TokenStatus::valid, 300, &one);
    EXPECT_EQ(tally.address_count(), 1);
    EXPECT_EQ(used_at(tally, one), 300);
}

TEST(UsageTally, KeepsTheFiveNewestDistinctAddresses) {
    UsageTally tally;
    for (int i = 1; i <= 7; ++i) {
        pat::IpAddress address = ipv4(192, 0, 2, static_cast<std::uint8_t>(i));
        tally.count(TokenStatus::valid, 1000 + i, &address);
    }
    EXPECT_EQ(tally.address_count(), pat::kRecentAddressCount);
    EXPECT_EQ(used_at(tally, ipv4(192, 0, 2, 1)), UsageTally::kNever);
    EXPECT_EQ(used_at(tally, ipv4(192, 0, 2, 2)), UsageTally::kNever);
    for (int i = 3; i <= 7; ++i) {
        EXPECT_EQ(used_at(tally, ipv4(192, 0, 2, static_cast<std::uint8_t>(i))), 1000 + i);
    }
    // An older use than every kept one does not push a newer one out.
    pat::IpAddress late_comer = ipv4(192, 0, 2, 99);
    tally.note_address(late_comer, 10);
    EXPECT_EQ(used_at(tally, late_comer), UsageTally::kNever);
    EXPECT_EQ(tally.address_count(), pat::kRecentAddressCount);
}

TEST(UsageTally, IpV6AndMappedIpV4Addresses) {
    UsageTally tally;
    pat::IpAddress v6 = ipv6_ending(1);
    pat::IpAddress other_v6 = ipv6_ending(2);
    pat::IpAddress v4 = ipv4(198, 51, 100, 7);
    pat::IpAddress mapped;  // ::ffff:198.51.100.7, the same client as v4
    mapped.family = pat::AddressFamily::ipv6;
    mapped.bytes[10] = mapped.bytes[11] = 0xff;
    mapped.bytes[12] = 198;
    mapped.bytes[13] = 51;
    mapped.bytes[14] = 100;
    mapped.bytes[15] = 7;
    tally.count(TokenStatus::valid, 1, &v6);
    tally.count(TokenStatus::valid, 2, &other_v6);
    tally.count(TokenStatus::valid, 3, &v4);
    tally.count(TokenStatus::valid, 4, &mapped);
    EXPECT_EQ(tally.address_count(), 3);
    EXPECT_EQ(used_at(tally, v6), 1);
    EXPECT_EQ(used_at(tally, other_v6), 2);
    EXPECT_EQ(used_at(tally, v4), 4);
    // Kept as the IPv4 address.
    for (const pat::RecentAddress &slot : tally.addresses) {
        if (slot.last_used == 4) {
            EXPECT_EQ(slot.address.family, pat::AddressFamily::ipv4);
            EXPECT_EQ(slot.address.bytes[0], 198);
        }
    }
    // An IPv4 address and an IPv6 one with the same first bytes differ.
    pat::IpAddress lookalike;
    lookalike.family = pat::AddressFamily::ipv6;
    std::memcpy(lookalike.bytes, v4.bytes, 4);
    EXPECT_FALSE(pat::same_address(v4, lookalike));
}

TEST(UsageTally, MergeKeepsTheNewestDistinctAddressesOfBoth) {
    UsageTally a, b;
    pat::IpAddress shared = ipv4(10, 1, 1, 1);
    a.count(TokenStatus::valid, 50, &shared);
    b.count(TokenStatus::valid, 70, &shared);
    for (int i = 1; i <= 3; ++i) {
        pat::IpAddress address = ipv4(10, 2, 0, static_cast<std::uint8_t>(i));
        a.count(TokenStatus::valid, 10 * i, &address);  // 10, 20, 30
        address.bytes[1] = 3;
        b.count(TokenStatus::valid, 10 * i + 5, &address);  // 15, 25, 35
    }
    a.merge(b);
    EXPECT_EQ(a.address_count(), pat::kRecentAddressCount);
    EXPECT_EQ(used_at(a, shared), 70);
    EXPECT_EQ(used_at(a, ipv4(10, 3, 0, 3)), 35);
    EXPECT_EQ(used_at(a, ipv4(10, 2, 0, 3)), 30);
    EXPECT_EQ(used_at(a, ipv4(10, 3, 0, 2)), 25);
    EXPECT_EQ(used_at(a, ipv4(10, 2, 0, 2)), 20);
    EXPECT_EQ(used_at(a, ipv4(10, 3, 0, 1)), UsageTally::kNever);
    EXPECT_EQ(used_at(a, ipv4(10, 2, 0, 1)), UsageTally::kNever);
    EXPECT_EQ(a.total(), 8u);
}

TEST(UsageTally, NewestAddressesComeFirst) {
    UsageTally tally;
    pat::IpAddress v6 = ipv6_ending(9);
    pat::IpAddress late = ipv4(10, 0, 0, 2);
    pat::IpAddress early = ipv4(10, 0, 0, 1);
    pat::IpAddress tied = ipv4(10, 0, 0, 3);
    tally.count(TokenStatus::valid, 20, &v6);
    tally.count(TokenStatus::valid, 30, &late);
    tally.count(TokenStatus::valid, 10, &early);
    tally.count(TokenStatus::valid, 20, &tied);
    pat::RecentAddress newest[pat::kRecentAddressCount];
    ASSERT_EQ(tally.newest_addresses(newest), 4);
    EXPECT_TRUE(pat::same_address(newest[0].address, late));
    EXPECT_TRUE(pat::same_address(newest[1].address, tied));  // IPv4 before IPv6 at equal times
    EXPECT_TRUE(pat::same_address(newest[2].address, v6));
    EXPECT_TRUE(pat::same_address(newest[3].address, early));
    EXPECT_EQ(UsageTally().newest_addresses(newest), 0);
}

}  // namespace
