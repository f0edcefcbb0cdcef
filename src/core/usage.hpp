// What one token's checks add up to between two flushes: the last valid use and how many checks
// ended in each outcome. Plain data, so it can live in shared memory and be merged from batches.
#pragma once

#include <array>
#include <cstdint>

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

struct UsageTally {
    static constexpr std::int64_t kNever = INT64_MIN;

    std::int64_t last_used = kNever;  // latest valid check; kNever when none
    std::array<std::uint64_t, kOutcomeCount> checks{};

    // Counts one check at time now; a valid one also moves last_used forward.
    void count(TokenStatus status, std::int64_t now) noexcept;

    // Adds other's counts; keeps the later last use.
    void merge(const UsageTally &other) noexcept;

    bool has_last_used() const noexcept { return last_used != kNever; }
    std::uint64_t total() const noexcept;
};

}  // namespace pat
