#include "self_service.hpp"

#include "error.hpp"
#include "message.hpp"
#include "policy.hpp"

namespace pat {

namespace {

constexpr const char *kSelfServiceHint =
    "Inside a transaction authenticated with pat_authenticate(), tokens manage only their own "
    "user's tokens; the application back end can act for any user outside one.";

}  // namespace

void require_manage_scope(const TokenHolder &holder, std::string_view manage_scope) {
    if (manage_scope.empty()) {
        throw Error(sqlstate::kInsufficientPrivilege,
                    "no personal access token may manage tokens: pat.manage_scope is empty");
    }
    if (!holder.scopes.contains(manage_scope)) {
        throw Error(sqlstate::kInsufficientPrivilege,
                    "personal access token lacks scope \"" + shown(manage_scope) +
                        "\", which managing tokens requires",
                    "",
                    "A token manages tokens only if it holds the scope named by pat.manage_scope.");
    }
}

void require_own_user(const TokenHolder &holder, std::string_view user_id) {
    if (user_id != holder.user_id) {
        throw Error(sqlstate::kInsufficientPrivilege,
                    "a personal access token may manage only its own user's tokens", "",
                    kSelfServiceHint);
    }
}

void require_held_scopes(const TokenHolder &holder, const std::vector<std::string> &requested) {
    for (const std::string &scope : requested) {
        if (!holder.scopes.contains(scope)) {
            throw Error(sqlstate::kInsufficientPrivilege,
                        "a personal access token cannot grant scope \"" + shown(scope) +
                            "\", which it does not hold",
                        "", "A token may create or edit tokens only with scopes it holds itself.");
        }
    }
}

void require_no_later_expiry(const TokenHolder &holder, std::optional<std::int64_t> expires_at) {
    if (holder.expires_at && (!expires_at || *expires_at > *holder.expires_at)) {
        throw Error(sqlstate::kInsufficientPrivilege,
                    "a personal access token cannot create a token that outlives it", "",
                    "Choose an expiry no later than the authenticated token's "
                    "(pat_current_expires_at()).");
    }
}

void require_delegate_scope(const TokenHolder &holder, std::string_view delegate_scope) {
    if (delegate_scope.empty()) {
        throw Error(sqlstate::kInsufficientPrivilege,
                    "no personal access token may delegate: pat.delegate_scope is empty");
    }
    if (!holder.scopes.contains(delegate_scope)) {
        throw Error(sqlstate::kInsufficientPrivilege,
                    "personal access token lacks scope \"" + shown(delegate_scope) +
                        "\", which delegating requires",
                    "",
                    "A token mints child tokens only if it holds the scope named by "
                    "pat.delegate_scope.");
    }
}

void require_delegation_depth(std::size_t parent_ancestors, int max_depth) {
    if (max_depth < 0 || parent_ancestors + 1 > static_cast<std::size_t>(max_depth)) {
        throw Error(sqlstate::kProgramLimitExceeded,
                    "a delegated token may be at most " +
                        std::to_string(max_depth < 0 ? 0 : max_depth) + " delegations deep",
                    "", "pat.max_delegation_depth bounds the chain from a root token.");
    }
}

void require_within_delegated_lifetime(std::optional<std::int64_t> expires_at,
                                       std::optional<std::int64_t> latest) {
    if (latest && (!expires_at || *expires_at > *latest)) {
        throw Error(sqlstate::kInvalidParameterValue,
                    "a delegated token may live at most pat.max_delegated_lifetime", "",
                    "Choose a shorter expiry, or NULL for the longest allowed.");
    }
}

std::optional<std::int64_t> longest_delegated_expiry(const TokenHolder &holder,
                                                     std::optional<std::int64_t> delegated_limit,
                                                     std::optional<std::int64_t> lifetime_limit) {
    std::optional<std::int64_t> longest = holder.expires_at;
    for (std::optional<std::int64_t> limit : {delegated_limit, lifetime_limit}) {
        if (limit && (!longest || *limit < *longest)) {
            longest = limit;
        }
    }
    return longest;
}

std::vector<std::string> writable_scopes(std::string_view user_id,
                                         const std::vector<std::optional<std::string>> &requested,
                                         const ScopeSet &defined, const ScopeSet &grantable,
                                         const TokenHolder *holder) {
    std::vector<std::string> checked = checked_scopes(user_id, requested, defined, grantable);
    if (holder != nullptr) {
        require_held_scopes(*holder, checked);
    }
    return checked;
}

}  // namespace pat
