// Deciding a stored token's status.
#include "status.hpp"

namespace pat {

// The name of a status as SQL reports it.
std::string_view status_name(TokenStatus status) noexcept {
    switch (status) {
        case TokenStatus::valid:
            return "valid";
        case TokenStatus::malformed:
            return "malformed";
        case TokenStatus::not_found:
            return "not_found";
        case TokenStatus::expired:
            return "expired";
        case TokenStatus::revoked:
            return "revoked";
        case TokenStatus::insufficient_scope:
            return "insufficient_scope";
        case TokenStatus::suspended:
            return "suspended";
        case TokenStatus::forbidden_network:
            return "forbidden_network";
        case TokenStatus::rate_limited:
            return "rate_limited";
        case TokenStatus::usage_exceeded:
            return "usage_exceeded";
    }
    return "unknown";
}

// Applies the precedence revoked > expired > suspended > forbidden_network >
// insufficient_scope > valid.
TokenStatus decide_status(std::int64_t now, const StoredTokenState &state, bool holds_required,
                          bool address_allowed) noexcept {
    if (state.revoked)
        return TokenStatus::revoked;
    if (state.expires_at && now >= *state.expires_at)
        return TokenStatus::expired;
    if (state.suspended)
        return TokenStatus::suspended;
    if (!address_allowed)
        return TokenStatus::forbidden_network;
    if (!holds_required)
        return TokenStatus::insufficient_scope;
    return TokenStatus::valid;
}

TokenStatus decide_status(std::int64_t now, const StoredTokenState &state,
                          const ScopeSet &effective_scopes, const ScopeSet &required_scopes,
                          bool required_complete) noexcept {
    return decide_status(now, state,
                         required_complete && effective_scopes.contains_all(required_scopes));
}

std::string_view list_status(std::int64_t now, const StoredTokenState &state) noexcept {
    switch (decide_status(now, state, true)) {
        case TokenStatus::revoked:
            return "revoked";
        case TokenStatus::expired:
            return "expired";
        default:
            return "active";
    }
}

}  // namespace pat
