// The rules every write of a token row follows, whoever writes it: the API functions
// (token_admin.cpp) and the guards of pat.tokens (tokens_trigger.cpp) call the same ones, so the
// table refuses what the API refuses.
#pragma once

#include "pg/bridge/postgres.hpp"

#include <optional>
#include <string>
#include <vector>

#include "pg/tokens/token_context.hpp"

namespace pat::pg {

// The scopes requested for a token of user_id, checked by the core's writable_scopes
// (core/self_service.hpp): no NULL, defined, allowed by the user's roles now and, inside a token
// context (context not nullptr), held by its token. Sorted and distinct.
std::vector<std::string> checked_token_scopes(
    const std::vector<std::optional<std::string>> &requested, text *user_id,
    const TokenContext *context);

// Inside a token context (context not nullptr), 42501 when a new token would outlive the
// context's (expires_at nullopt: never expires).
void require_no_later_than_context(const TokenContext *context,
                                   std::optional<TimestampTz> expires_at);

}  // namespace pat::pg
