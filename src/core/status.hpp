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
    suspended,          // switched off by pat_suspend() until pat_resume()
    forbidden_network,  // checked from outside the token's networks (or from an unknown address)
    rate_limited,       // otherwise valid, over its own or its user's rate limit (rate_limit.hpp)
    usage_exceeded,     // otherwise valid, its credits spent
};

// "valid", "malformed", "not_found", "expired", "revoked", "insufficient_scope", "suspended",
// "forbidden_network", "rate_limited", "usage_exceeded".
std::string_view status_name(TokenStatus status) noexcept;

struct StoredTokenState {
    bool revoked = false;
    std::optional<std::int64_t> expires_at;  // nullopt: never expires
    bool suspended = false;
};

// Revoked wins over expired, expired over suspended, suspended over a forbidden network, a
// forbidden network over a missing scope (so a check from elsewhere learns nothing of the
// token's scopes). A token expires at expires_at
// (expired when now >= expires_at). required_complete is false when the caller asked for a
// scope that cannot be held (NULL or undefined), which can only be insufficient_scope.
// holds_required: the token holds every scope the caller asked for.
// address_allowed: the caller's address is inside the token's networks (or it has none).
TokenStatus decide_status(std::int64_t now, const StoredTokenState &state, bool holds_required,
                          bool address_allowed = true) noexcept;

// The same, deciding holds_required from the two sets.
TokenStatus decide_status(std::int64_t now, const StoredTokenState &state,
                          const ScopeSet &effective_scopes, const ScopeSet &required_scopes,
                          bool required_complete = true) noexcept;

// How pat_list shows a stored token, with decide_status's precedence and clock: "revoked",
// "expired" or "active" (a suspended token is active: pat_list shows suspension apart).
std::string_view list_status(std::int64_t now, const StoredTokenState &state) noexcept;

}  // namespace pat
