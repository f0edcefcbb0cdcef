// The range of time pg_pat computes and stores: PostgreSQL's timestamptz range, in microseconds
// since 2000-01-01 00:00 UTC (PostgreSQL's epoch). A value outside it is still a valid int64,
// and a C function may store it, but timestamptz_out writes it as text that timestamptz_in
// refuses: a dump holding it cannot be restored. So every time pg_pat computes is checked here.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pat {

// MIN_TIMESTAMP: 4714-11-24 00:00:00+00 BC, the first valid value.
inline constexpr std::int64_t kTimestampMin = -211813488000000000;
// END_TIMESTAMP: 294277-01-01 00:00:00+00, the first invalid value.
inline constexpr std::int64_t kTimestampEnd = 9223371331200000000;
// -infinity and +infinity (TIMESTAMP_NOBEGIN, TIMESTAMP_NOEND).
inline constexpr std::int64_t kTimestampMinusInfinity = INT64_MIN;
inline constexpr std::int64_t kTimestampInfinity = INT64_MAX;

// A finite timestamptz PostgreSQL accepts (IS_VALID_TIMESTAMP): these round-trip through text.
constexpr bool in_timestamp_range(std::int64_t at) noexcept {
    return at >= kTimestampMin && at < kTimestampEnd;
}

// What a timestamptz column may hold so that a dump of it restores: a value in range or an
// infinity.
constexpr bool restorable_timestamp(std::int64_t at) noexcept {
    return in_timestamp_range(at) || at == kTimestampMinusInfinity || at == kTimestampInfinity;
}

// at + span, nullopt when at is not in range, or the sum overflows or leaves the range.
std::optional<std::int64_t> checked_add(std::int64_t at, std::int64_t span) noexcept;

// later - earlier, nullopt when it overflows (two values in range can be further apart than an
// int64 holds).
std::optional<std::int64_t> checked_difference(std::int64_t later, std::int64_t earlier) noexcept;

// The computed time, or 22008 "<what> is out of range" (with hint) when there is none.
std::int64_t require_in_range(std::optional<std::int64_t> at, std::string_view what,
                              std::string_view hint =
                                  "Choose an earlier expiration or a "
                                  "shorter interval.");

// 22008 unless a stored column's value is restorable (nullopt, NULL, always is).
void require_restorable(std::optional<std::int64_t> at, std::string_view column);

// The longest span pat.max_lifetime or pat.max_inactivity may be, interval '1000 years' (12,000
// months of 30 days, as interval_span counts): now plus or minus it stays far inside the range.
inline constexpr std::int64_t kLongestSettingSpan = 12000LL * 30 * 86400 * 1000000;

// An interval's length in microseconds, a month as 30 days (as PostgreSQL compares intervals);
// nullopt when it overflows.
std::optional<std::int64_t> interval_span(std::int32_t months, std::int32_t days,
                                          std::int64_t micros) noexcept;

}  // namespace pat
