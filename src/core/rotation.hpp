// The rules of rotating a token (pat_rotate) and of the per-user cap on active tokens. Times
// are microseconds on any one epoch (the glue uses PostgreSQL's).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pat {

// 55000 unless the token may be rotated: a revoked or expired token cannot be (its successor
// would revive access that has ended).
void require_rotatable(std::string_view token_id, bool revoked,
                       std::optional<std::int64_t> expires_at, std::int64_t now);

// The successor's expiry when none is asked for: the old token's lifetime (expires_at -
// created_at) from now, or never for a token that never expires. 22008 when that lies outside
// the timestamptz range (time_range.hpp).
std::optional<std::int64_t> carried_over_expiry(std::int64_t now, std::int64_t created_at,
                                                std::optional<std::int64_t> expires_at);

// 22023 for a negative overlap.
void require_valid_overlap(std::int64_t overlap);

// The old token's expiry after a rotation with a positive overlap: the earlier of its own and
// now + overlap (never later than it was). 22008 when now + overlap is out of range.
std::int64_t overlap_expiry(std::int64_t now, std::int64_t overlap,
                            std::optional<std::int64_t> expires_at);

// 54000 when a user holding active tokens would hold more than max_active (nullopt: no cap).
void require_below_token_cap(std::string_view user_id, std::int64_t active,
                             std::optional<std::int64_t> max_active);

}  // namespace pat
