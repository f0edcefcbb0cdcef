// What a request authenticated with a personal access token may do to tokens: manage only its
// own user's tokens, only while it holds the manage scope, and never mint more than it holds.
// Outside a token context (an application back end acting for its signed-in web user) none of
// these rules applies; the glue decides which case it is in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scope.hpp"

namespace pat {

// The token a transaction authenticated with, as the rules see it.
struct TokenHolder {
    std::string_view user_id;
    const ScopeSet &scopes;                  // effective scopes
    std::optional<std::int64_t> expires_at;  // nullopt: never expires (any clock unit)
};

// 42501 unless the holder holds manage_scope: a token without it manages nothing.
void require_manage_scope(const TokenHolder &holder, std::string_view manage_scope);

// 42501 unless user_id is the holder's user (tokens of other users are out of reach).
void require_own_user(const TokenHolder &holder, std::string_view user_id);

// 42501 unless the holder holds every requested scope (sorted and distinct), naming the first
// it lacks.
void require_held_scopes(const TokenHolder &holder, const std::vector<std::string> &requested);

// 42501 when a new token would outlive the holder (nullopt: never expires).
void require_no_later_expiry(const TokenHolder &holder, std::optional<std::int64_t> expires_at);

// The scopes a token of user_id may be written with, however it is written (pat_create,
// pat_rotate, pat_update, or an INSERT or UPDATE of pat.tokens): checked_scopes (policy.hpp:
// no NULL, defined, allowed by the user's roles), then, when holder writes (nullptr: the back
// end, outside a token context), require_held_scopes. Sorted and distinct.
std::vector<std::string> writable_scopes(std::string_view user_id,
                                         const std::vector<std::optional<std::string>> &requested,
                                         const ScopeSet &defined, const ScopeSet &grantable,
                                         const TokenHolder *holder);

}  // namespace pat
