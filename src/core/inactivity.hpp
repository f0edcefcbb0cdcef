// How often pat.max_inactivity is applied, and when it may revoke at all. Finding the tokens
// unused for longer reads the whole tokens table, so the worker does it at most once per
// hundredth of the limit (every 21.6 hours for 90 days, every 36 s for an hour) rather than every
// round: a token is revoked within 1% of the limit after it passes it.
//
// A valid check whose token found shared memory's usage table full is counted for the whole
// database (pat.token_checks, token_id NULL, by UTC day), or, when even that does not fit, lost
// (shared memory keeps the time of the latest). Either may have been a use of any token, so no
// token is revoked as unused over a period in which such a check happened: an overflow never
// makes a used token look unused. Times are microseconds since 2000-01-01 UTC (PostgreSQL's).
#pragma once

#include <cstdint>
#include <optional>

namespace pat {

inline constexpr std::int64_t kInactivityPrecision = 100;

// Whether a round at now applies a limit of max_inactivity, the last one having applied it at
// last (nullopt: never, as after a restart).
bool inactivity_round_due(std::optional<std::int64_t> last, std::int64_t now,
                          std::int64_t max_inactivity) noexcept;

// The latest moment a valid check that named no token may have happened: within
// unattributed_day (a day number, as day_of), or at lost_at; nullopt when neither is known.
std::optional<std::int64_t> latest_unattributed_use(std::optional<std::int32_t> unattributed_day,
                                                    std::optional<std::int64_t> lost_at) noexcept;

// Whether the tokens unused since unused_since (now minus the limit) may be revoked, the latest
// valid check that named no token having happened at unattributed_use: only when it happened
// before unused_since (a token used at unused_since is in use).
bool inactivity_revocation_allowed(std::int64_t unused_since,
                                   std::optional<std::int64_t> unattributed_use) noexcept;

}  // namespace pat
