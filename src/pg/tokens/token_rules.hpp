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

// The scopes requested for an organization's token: no NULL, defined (any defined scope: no
// person's roles bound it). Sorted and distinct.
std::vector<std::string> checked_organization_scopes(
    const std::vector<std::optional<std::string>> &requested);

// Inside a token context (context not nullptr), 42501 when a new token would outlive the
// context's (expires_at nullopt: never expires).
void require_no_later_than_context(const TokenContext *context,
                                   std::optional<TimestampTz> expires_at);

// Which API function is inserting a token row right now (pat.tokens' insert guard lets only
// pat_delegate's row carry a parent and only pat_create_org_token's be an organization's, and
// keeps created_by as the API recorded it). A plain C++ flag in backend memory: no SQL can set
// it. Set for the duration of one insert by ApiInsertScope.
enum class ApiInsert { none, token, delegated, organization };
ApiInsert current_api_insert();

class ApiInsertScope {
  public:
    explicit ApiInsertScope(ApiInsert kind);
    ~ApiInsertScope();
    ApiInsertScope(const ApiInsertScope &) = delete;
    ApiInsertScope &operator=(const ApiInsertScope &) = delete;

  private:
    ApiInsert previous_;
};

// Who is making a token now, as pat.tokens.created_by records it: the authenticated token and
// its user in a token context ("token:<token_id>:<user_id>"), else actor ("actor:<actor>", when
// not nullptr: pat_set_actor()'s), else the current database role ("role:<name>"). Call outside
// owner SPI, where the current role is the caller's. Throws PgError.
std::string token_creator(const std::string *actor);

}  // namespace pat::pg
