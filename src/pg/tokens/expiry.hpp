// Turning what a caller asked for into an expires_at under the lifetime policy (nullopt: the
// token never expires). Relative expirations count from now(), the transaction's start; whether
// the result lies in the future and within pat.max_lifetime is judged on policy_clock(). Errors
// (22007, 22008, 22023) are thrown as pat_create reports them.
#pragma once

#include "pg/bridge/postgres.hpp"

#include <optional>

namespace pat::pg {

// '30 days', '2027-03-01', 'never' (any case, spaces around).
std::optional<TimestampTz> expiry_from_text(const text *spec);
std::optional<TimestampTz> expiry_from_interval(Interval *span);
// +infinity reads as never.
std::optional<TimestampTz> expiry_from_timestamptz(TimestampTz at);
// An expiry worked out otherwise (pat_rotate's carried-over lifetime), checked the same way.
std::optional<TimestampTz> expiry_within_policy(std::optional<TimestampTz> expires_at);

}  // namespace pat::pg
