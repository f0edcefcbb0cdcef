// The rules every write of a token, role or grant follows, in one place: what an identifier may
// look like, which scopes a user may grant, and which requested scopes a token may carry.
// Creation, update, listing and validation all call these; the table triggers too.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scope.hpp"

namespace pat {

inline constexpr std::size_t kUserIdMaxChars = 255;
inline constexpr std::size_t kTokenNameMaxChars = 255;
inline constexpr std::size_t kRoleMaxChars = 100;
inline constexpr std::size_t kActorMaxChars = 255;

// Each check takes the value's bytes and its length in characters (of the database encoding,
// which only the caller knows), and throws pat::Error with the SQLSTATE the API reports.

// A user id: 1 to 255 characters, not only spaces (22023).
void check_user_id(std::string_view user_id, std::size_t chars);

// A token name: not only spaces (22023), at most 255 characters (22001).
void check_token_name(std::string_view name, std::size_t chars);

// A role name: 1 to 100 characters, not only spaces, no control characters (22023).
void check_role_name(std::string_view role, std::size_t chars);

// Whether text is empty or only spaces (as SQL's btrim() sees blank).
bool is_blank(std::string_view text) noexcept;

// An audit actor (pat_set_actor): 1 to 255 characters, not only spaces, no control characters
// (22023).
void check_actor(std::string_view actor, std::size_t chars);

// Whether text (UTF-8 or any ASCII-compatible encoding) holds a control character: C0, DEL, or
// a UTF-8 encoded C1 control (U+0080 to U+009F, such as NEL and CSI, which terminals act on).
// The one home of every "no control characters" rule: role names, actors, leak-report
// sources.
bool has_control_character(std::string_view text) noexcept;

// What a user may grant: every defined scope when one of the user's roles is an all-scopes
// role, else the union of the scopes the user's roles name. role_scopes may repeat and be in
// any order; it is sorted in place. Writes the result, sorted and distinct, to out (room for
// role_count + defined_count) and returns how many. No allocation, no exception.
std::size_t grantable_scopes(bool all_scopes_role, std::string_view *role_scopes,
                             std::size_t role_count, const std::string_view *defined,
                             std::size_t defined_count, std::string_view *out) noexcept;

// The same, as a ScopeSet.
ScopeSet grantable_scopes(bool all_scopes_role, std::vector<std::string_view> role_scopes,
                          const ScopeSet &defined);

// Requested scopes that must all be defined (a role's, or a token's before the grant check),
// sorted and distinct: nullopt elements are NULLs (22004); an undefined scope is 22023 (the
// first, in byte order).
std::vector<std::string> defined_scopes_of(const std::vector<std::optional<std::string>> &requested,
                                           const ScopeSet &defined);

// The scopes a token asks for, checked for a user and returned sorted and distinct. nullopt
// elements are NULLs (22004); an undefined scope is 22023 (the first, in byte order, even when
// it is also not grantable); one the user may not grant is 42501, naming the grantable ones.
std::vector<std::string> checked_scopes(std::string_view user_id,
                                        const std::vector<std::optional<std::string>> &requested,
                                        const ScopeSet &defined, const ScopeSet &grantable);

}  // namespace pat
