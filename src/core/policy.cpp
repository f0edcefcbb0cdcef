// The write rules; see policy.hpp.
#include "policy.hpp"

#include <algorithm>

#include "error.hpp"
#include "message.hpp"

namespace pat {

bool is_blank(std::string_view text) noexcept {
    return text.find_first_not_of(' ') == std::string_view::npos;
}

bool has_control_character(std::string_view text) noexcept {
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x20 || byte == 0x7f) {
            return true;
        }
        // U+0080..U+009F are C2 80..C2 9F in UTF-8.
        if (byte == 0xc2 && i + 1 < text.size()) {
            auto next = static_cast<unsigned char>(text[i + 1]);
            if (next >= 0x80 && next <= 0x9f) {
                return true;
            }
        }
    }
    return false;
}

void check_user_id(std::string_view user_id, std::size_t chars) {
    if (is_blank(user_id) || chars > kUserIdMaxChars) {
        throw Error(sqlstate::kInvalidParameterValue,
                    "user_id must be 1 to 255 characters and not blank");
    }
}

void check_token_name(std::string_view name, std::size_t chars) {
    if (is_blank(name)) {
        throw Error(sqlstate::kInvalidParameterValue, "token name must not be empty");
    }
    if (chars > kTokenNameMaxChars) {
        throw Error(sqlstate::kStringDataRightTruncation,
                    "token name is longer than 255 characters");
    }
}

void check_role_name(std::string_view role, std::size_t chars) {
    if (is_blank(role) || chars > kRoleMaxChars || has_control_character(role)) {
        throw Error(sqlstate::kInvalidParameterValue,
                    "role must be 1 to 100 characters, not blank, without control characters");
    }
}

void check_actor(std::string_view actor, std::size_t chars) {
    if (is_blank(actor) || chars > kActorMaxChars || has_control_character(actor)) {
        throw Error(sqlstate::kInvalidParameterValue,
                    "actor must be 1 to 255 characters, not blank, without control characters");
    }
}

std::size_t grantable_scopes(bool all_scopes_role, std::string_view *role_scopes,
                             std::size_t role_count, const std::string_view *defined,
                             std::size_t defined_count, std::string_view *out) noexcept {
    if (all_scopes_role) {
        // Every defined scope; what the roles name is defined too (a foreign key says so).
        std::copy(defined, defined + defined_count, out);
        return sort_unique_scopes(out, defined_count);
    }
    std::size_t count = sort_unique_scopes(role_scopes, role_count);
    std::copy(role_scopes, role_scopes + count, out);
    return count;
}

ScopeSet grantable_scopes(bool all_scopes_role, std::vector<std::string_view> role_scopes,
                          const ScopeSet &defined) {
    std::vector<std::string_view> defined_views(defined.items().begin(), defined.items().end());
    std::vector<std::string_view> out(role_scopes.size() + defined_views.size());
    std::size_t count = grantable_scopes(all_scopes_role, role_scopes.data(), role_scopes.size(),
                                         defined_views.data(), defined_views.size(), out.data());
    return ScopeSet(std::vector<std::string>(out.begin(), out.begin() + count));
}

std::vector<std::string> defined_scopes_of(const std::vector<std::optional<std::string>> &requested,
                                           const ScopeSet &defined) {
    std::vector<std::string> wanted;
    wanted.reserve(requested.size());
    for (const std::optional<std::string> &scope : requested) {
        if (!scope) {
            throw Error(sqlstate::kNullValueNotAllowed, "scopes must not contain null");
        }
        wanted.push_back(*scope);
    }
    ScopeSet set(std::move(wanted));
    for (const std::string &scope : set.items()) {
        if (!defined.contains(scope)) {
            throw Error(sqlstate::kInvalidParameterValue,
                        "scope \"" + shown(scope) + "\" is not defined", {},
                        "Define it first with pat_define_scope().");
        }
    }
    return set.items();
}

std::vector<std::string> checked_scopes(std::string_view user_id,
                                        const std::vector<std::optional<std::string>> &requested,
                                        const ScopeSet &defined, const ScopeSet &grantable) {
    std::vector<std::string> wanted = defined_scopes_of(requested, defined);
    for (const std::string &scope : wanted) {
        if (!grantable.contains(scope)) {
            std::string listed;
            for (const std::string &item : grantable.items()) {
                listed += listed.empty() ? item : ", " + item;
            }
            throw Error(
                sqlstate::kInsufficientPrivilege,
                "the roles of user \"" + std::string(user_id) + "\" do not allow scope \"" + scope +
                    "\"",
                "Grantable scopes: " + (listed.empty() ? std::string("none") : listed) + ".");
        }
    }
    return wanted;
}

}  // namespace pat
