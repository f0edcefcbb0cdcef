// What one token's checks add up to between two flushes: the last valid use and how many checks
// ended in each outcome. Plain data, so it can live in shared memory and be merged from batches.
#pragma once

#include <array>
#include <cstdint>

#include "restrictions.hpp"
#include "status.hpp"

namespace pat {

// Checks are counted per outcome; the order is the column order of UsageTally::checks.
inline constexpr int kOutcomeCount = 10;

// The index of status in UsageTally::checks.
int outcome_index(TokenStatus status) noexcept;

// The status counted at index (0 <= index < kOutcomeCount).
TokenStatus outcome_at(int index) noexcept;

// Whether checks with this outcome name a stored token (and are counted against it); malformed
// and not_found checks are counted for the whole database.
bool outcome_names_token(TokenStatus status) noexcept;

// Day number (days since 2000-01-01, UTC, as PostgreSQL's date) of a PostgreSQL timestamp
// (microseconds since 2000-01-01 UTC).
std::int32_t day_of(std::int64_t timestamp) noexcept;

// How many distinct client addresses a token keeps, with their last use.
inline constexpr int kRecentAddressCount = 5;

// A client address a token was used from, and when last; an empty slot has last_used kNever.
struct RecentAddress {
    std::int64_t last_used = INT64_MIN;
    IpAddress address;

    bool empty() const noexcept { return last_used == INT64_MIN; }
};

// Whether a and b are the same address (normalized first: an IPv4-mapped IPv6 address is its
// IPv4 address).
bool same_address(const IpAddress &a, const IpAddress &b) noexcept;

struct UsageTally {
    static constexpr std::int64_t kNever = INT64_MIN;

    std::int64_t last_used = kNever;  // latest valid check; kNever when none
    std::array<std::uint64_t, kOutcomeCount> checks{};
    // The newest distinct addresses valid checks came from, in no order; a fixed array, so a
    // check allocates nothing and the tally stays plain data in shared memory.
    std::array<RecentAddress, kRecentAddressCount> addresses{};

    // Counts one check at time now; a valid one also moves last_used forward and, with an
    // address, notes it.
    void count(TokenStatus status, std::int64_t now, const IpAddress *address = nullptr) noexcept;

    // Notes a use from address at used_at: an address held already keeps the later time; a new
    // one takes an empty slot, or the oldest one's if it is newer than that.
    void note_address(const IpAddress &address, std::int64_t used_at) noexcept;

    // Adds other's counts; keeps the later last use and the newest distinct addresses of both.
    void merge(const UsageTally &other) noexcept;

    // How many address slots are in use.
    int address_count() const noexcept;

    // The addresses in use, newest first (equal times: IPv4 before IPv6, then by bytes), into
    // out; how many.
    int newest_addresses(RecentAddress (&out)[kRecentAddressCount]) const noexcept;

    bool has_last_used() const noexcept { return last_used != kNever; }
    std::uint64_t total() const noexcept;
};

}  // namespace pat
