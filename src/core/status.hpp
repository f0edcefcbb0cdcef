// The outcome of checking a token, decided from a stored token's state.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "scope.hpp"

namespace pat {

enum class TokenStatus {
    valid,
    malformed,
    not_found,
    expired,
    revoked,
    insufficient_scope,
    rate_limited,    // otherwise valid, over its own or its user's rate limit (rate_limit.hpp)
    usage_exceeded,  // otherwise valid, its credits spent
};

// "valid", "malformed", "not_found", "expired", "revoked", "insufficient_scope", "rate_limited",
// "usage_exceeded".
std::string_view status_name(TokenStatus status) noexcept;

struct StoredTokenState {
    bool revoked = false;
    std::optional<std::int64_t> expires_at;  // nullopt: never expires
};

// Revoked wins over expired, expired over a missing scope. A token expires at expires_at
// (expired when now >= expires_at). required_complete is false when the caller asked for a
// scope that cannot be held (NULL or undefined), which can only be insufficient_scope.
// holds_required: the token holds every scope the caller asked for.
TokenStatus decide_status(std::int64_t now, const StoredTokenState &state,
                          bool holds_required) noexcept;

// The same, deciding holds_required from the two sets.
TokenStatus decide_status(std::int64_t now, const StoredTokenState &state,
                          const ScopeSet &effective_scopes, const ScopeSet &required_scopes,
                          bool required_complete = true) noexcept;

// How pat_list shows a stored token, with decide_status's precedence and clock: "revoked",
// "expired" or "active".
std::string_view list_status(std::int64_t now, const StoredTokenState &state) noexcept;

}  // namespace pat
