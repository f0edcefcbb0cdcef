// How often pat.max_inactivity is applied. Finding the tokens unused for longer reads the whole
// tokens table, so the worker does it at most once per hundredth of the limit (every 21.6 hours
// for 90 days, every 36 s for an hour) rather than every round: a token is revoked within 1% of
// the limit after it passes it. Times are microseconds on any one epoch.
#pragma once

#include <cstdint>
#include <optional>

namespace pat {

inline constexpr std::int64_t kInactivityPrecision = 100;

// Whether a round at now applies a limit of max_inactivity, the last one having applied it at
// last (nullopt: never, as after a restart).
bool inactivity_round_due(std::optional<std::int64_t> last, std::int64_t now,
                          std::int64_t max_inactivity) noexcept;

}  // namespace pat
