// Expiration rules. Times are microseconds on any one epoch (the glue uses PostgreSQL's).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pat {

// "never", case-insensitive, surrounding white space ignored.
bool is_never_keyword(std::string_view text) noexcept;

enum class ExpiryVerdict {
    ok,
    not_in_future,        // expires_at <= now
    never_not_allowed,    // no expiry asked for, but a maximum lifetime is set
    beyond_max_lifetime,  // expires_at > latest_allowed
};

// expires_at: nullopt for a token that never expires. latest_allowed: nullopt when no maximum
// lifetime is configured, otherwise now + the maximum lifetime.
ExpiryVerdict check_expiry(std::int64_t now, std::optional<std::int64_t> expires_at,
                           std::optional<std::int64_t> latest_allowed) noexcept;

// Throws pat::Error (22023) with an actionable message for any verdict but ok.
void require_valid_expiry(ExpiryVerdict verdict);

// True when changing an expiry from old_expires_at to new_expires_at would lengthen a token's
// life (nullopt = never expires).
bool extends_expiry(std::optional<std::int64_t> old_expires_at,
                    std::optional<std::int64_t> new_expires_at) noexcept;

}  // namespace pat
