// Checked time arithmetic; see time_range.hpp.
#include "time_range.hpp"

#include <string>

#include "error.hpp"

namespace pat {

std::optional<std::int64_t> checked_add(std::int64_t at, std::int64_t span) noexcept {
    std::int64_t sum = 0;
    if (!in_timestamp_range(at) || __builtin_add_overflow(at, span, &sum) ||
        !in_timestamp_range(sum)) {
        return std::nullopt;
    }
    return sum;
}

std::optional<std::int64_t> checked_difference(std::int64_t later, std::int64_t earlier) noexcept {
    std::int64_t difference = 0;
    if (__builtin_sub_overflow(later, earlier, &difference)) {
        return std::nullopt;
    }
    return difference;
}

std::int64_t require_in_range(std::optional<std::int64_t> at, std::string_view what,
                              std::string_view hint) {
    if (!at || !in_timestamp_range(*at)) {
        throw Error(sqlstate::kDatetimeFieldOverflow, std::string(what) + " is out of range",
                    "A timestamptz lies between 4714-11-24 00:00:00+00 BC and "
                    "294276-12-31 23:59:59.999999+00.",
                    std::string(hint));
    }
    return *at;
}

void require_restorable(std::optional<std::int64_t> at, std::string_view column) {
    if (at && !restorable_timestamp(*at)) {
        throw Error(sqlstate::kDatetimeFieldOverflow,
                    "a token's " + std::string(column) + " is out of range",
                    "A value outside 4714-11-24 00:00:00+00 BC .. "
                    "294276-12-31 23:59:59.999999+00 cannot be restored from a dump.");
    }
}

std::optional<std::int64_t> interval_span(std::int32_t months, std::int32_t days,
                                          std::int64_t micros) noexcept {
    constexpr std::int64_t kMicrosPerDay = 86400LL * 1000000;
    std::int64_t all_days = static_cast<std::int64_t>(months) * 30 + days;  // cannot overflow
    std::int64_t day_micros = 0;
    std::int64_t span = 0;
    if (__builtin_mul_overflow(all_days, kMicrosPerDay, &day_micros) ||
        __builtin_add_overflow(day_micros, micros, &span)) {
        return std::nullopt;
    }
    return span;
}

}  // namespace pat
