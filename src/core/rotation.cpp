#include "rotation.hpp"

#include <string>

#include "error.hpp"
#include "time_range.hpp"

namespace pat {

void require_rotatable(std::string_view token_id, bool revoked,
                       std::optional<std::int64_t> expires_at, std::int64_t now) {
    if (revoked) {
        throw Error(sqlstate::kObjectNotInPrerequisiteState,
                    "token " + std::string(token_id) + " is revoked and cannot be rotated", "",
                    "Create a new token instead.");
    }
    if (expires_at && *expires_at <= now) {
        throw Error(sqlstate::kObjectNotInPrerequisiteState,
                    "token " + std::string(token_id) + " has expired and cannot be rotated", "",
                    "Create a new token instead.");
    }
}

std::optional<std::int64_t> carried_over_expiry(std::int64_t now, std::int64_t created_at,
                                                std::optional<std::int64_t> expires_at) {
    if (!expires_at) {
        return std::nullopt;
    }
    std::optional<std::int64_t> lifetime = checked_difference(*expires_at, created_at);
    return require_in_range(lifetime ? checked_add(now, *lifetime) : std::nullopt,
                            "the old token's lifetime carried over from now",
                            "Give pat_rotate an expiration for the new token.");
}

void require_valid_overlap(std::int64_t overlap) {
    if (overlap < 0) {
        throw Error(sqlstate::kInvalidParameterValue, "overlap must not be negative", "",
                    "Use '0' to revoke the old token at once, or how long both may be used.");
    }
}

std::int64_t overlap_expiry(std::int64_t now, std::int64_t overlap,
                            std::optional<std::int64_t> expires_at) {
    std::int64_t until = require_in_range(checked_add(now, overlap), "now() + overlap");
    return expires_at && *expires_at < until ? *expires_at : until;
}

void require_below_token_cap(std::string_view user_id, std::int64_t active,
                             std::optional<std::int64_t> max_active) {
    if (max_active && active + 1 > *max_active) {
        throw Error(sqlstate::kProgramLimitExceeded,
                    "user \"" + std::string(user_id.substr(0, 64)) + "\" already holds " +
                        std::to_string(active) + " active tokens, the most allowed",
                    "pat.max_active_tokens_per_user is " + std::to_string(*max_active) + ".",
                    "Revoke a token the user no longer needs, or rotate one with no overlap.");
    }
}

}  // namespace pat
