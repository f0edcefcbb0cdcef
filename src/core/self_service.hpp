// What a request authenticated with a personal access token may do to tokens: manage only its
// own user's tokens, only while it holds the manage scope, and never mint more than it holds.
// Outside a token context (an application back end acting for its signed-in web user) none of
// these rules applies; the glue decides which case it is in.
#pragma once

#include <cstddef>
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

// Delegation (pat_delegate): a token mints a child of its own user, with scopes it holds (the
// rules above), living no longer than it, within the delegated lifetime and depth.

// 42501 unless the holder holds delegate_scope: a token without it mints no child (empty: no
// token may).
void require_delegate_scope(const TokenHolder &holder, std::string_view delegate_scope);

// 54000 when a child of a token with parent_ancestors tokens above it would be deeper than
// max_depth (a root token is at depth 0, its child at 1).
void require_delegation_depth(std::size_t parent_ancestors, int max_depth);

// 22023 when a child expiring at expires_at (nullopt: never) would outlive latest, now +
// pat.max_delegated_lifetime (nullopt: no such limit).
void require_within_delegated_lifetime(std::optional<std::int64_t> expires_at,
                                       std::optional<std::int64_t> latest);

// The expiry of a child whose caller named none: the longest allowed, the earliest of the
// holder's expiry and the limits given (each nullopt when there is none).
std::optional<std::int64_t> longest_delegated_expiry(const TokenHolder &holder,
                                                     std::optional<std::int64_t> delegated_limit,
                                                     std::optional<std::int64_t> lifetime_limit);

// The scopes a token of user_id may be written with, however it is written (pat_create,
// pat_rotate, pat_update, or an INSERT or UPDATE of pat.tokens): checked_scopes (policy.hpp:
// no NULL, defined, allowed by the user's roles), then, when holder writes (nullptr: the back
// end, outside a token context), require_held_scopes. Sorted and distinct.
std::vector<std::string> writable_scopes(std::string_view user_id,
                                         const std::vector<std::optional<std::string>> &requested,
                                         const ScopeSet &defined, const ScopeSet &grantable,
                                         const TokenHolder *holder);

}  // namespace pat
