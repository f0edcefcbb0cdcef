// How often pat.max_inactivity is applied, and when it may revoke; see inactivity.hpp.
#include "inactivity.hpp"

#include <algorithm>
#include <cstdint>

namespace pat {

bool inactivity_round_due(std::optional<std::int64_t> last, std::int64_t now,
                          std::int64_t max_inactivity) noexcept {
    // A clock that went back counts as a due round, as does a first one.
    return !last || now < *last || now - *last >= max_inactivity / kInactivityPrecision;
}

std::optional<std::int64_t> latest_unattributed_use(std::optional<std::int32_t> unattributed_day,
                                                    std::optional<std::int64_t> lost_at) noexcept {
    constexpr std::int64_t kMicrosPerDay = 86400LL * 1000 * 1000;
    constexpr std::int64_t kLastWholeDay = INT64_MAX / kMicrosPerDay - 1;
    constexpr std::int64_t kFirstWholeDay = INT64_MIN / kMicrosPerDay + 1;
    std::optional<std::int64_t> latest = lost_at;
    if (unattributed_day) {
        // Known only by its day: as late as the day's last microsecond. Days beyond the
        // timestamp range (a date 'infinity') clamp to its ends.
        std::int64_t day = *unattributed_day;
        std::int64_t day_end = day > kLastWholeDay    ? INT64_MAX
                               : day < kFirstWholeDay ? INT64_MIN
                                                      : (day + 1) * kMicrosPerDay - 1;
        latest = latest ? std::max(*latest, day_end) : day_end;
    }
    return latest;
}

bool inactivity_revocation_allowed(std::int64_t unused_since,
                                   std::optional<std::int64_t> unattributed_use) noexcept {
    return !unattributed_use || *unattributed_use < unused_since;
}

}  // namespace pat
