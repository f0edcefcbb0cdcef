// The token a transaction authenticated with, kept in backend memory (not in a GUC a client
// could SET) and forgotten when the transaction ends. It follows subtransactions: rolling back
// a savepoint or a PL/pgSQL exception block restores the context that held when it began.
#pragma once

#include "pg/bridge/postgres.hpp"

#include <optional>
#include <string>

#include "core/restrictions.hpp"
#include "core/scope.hpp"
#include "core/self_service.hpp"

namespace pat::pg {

struct TokenContext {
    pg_uuid_t token_id;
    std::string user_id;
    std::string token_name;
    pat::ScopeSet scopes;  // effective scopes at authentication
    std::optional<TimestampTz> expires_at;
    bool organization = false;  // an organization's token: user_id is an account id
    bool delegated = false;     // made by pat_delegate: its audit rows name its chain
    // The token's networks, resource bindings and metadata, encoded (core/restrictions.hpp,
    // with a varlena header); empty for a token without any.
    std::string restrictions;
};

// The context's limits, read in place.
pat::RestrictionsView context_restrictions(const TokenContext &context);

// Makes context the current transaction's token context. Throws std::bad_alloc.
void set_token_context(TokenContext context);

// The current context, or nullptr outside an authenticated transaction.
const TokenContext *current_token_context();

// The context as core/self_service.hpp's rules see it (views into context).
pat::TokenHolder token_holder(const TokenContext &context);

// Ends the context early (pat_clear()); a rollback of the current subtransaction undoes it.
// Throws std::bad_alloc.
void clear_token_context();

// Inside a token context, the rules of core/self_service.hpp for acting on user_id's tokens:
// 42501 unless the context's token holds pat.manage_scope and user_id is its user. Outside
// one, nothing. Returns the context, or nullptr outside one.
const TokenContext *require_self_service(std::string_view user_id);

// 42501 inside a token context: function (a name, for the message) serves every user (a mailer,
// a scanner), never one token's request.
void require_outside_token_context(const char *function);

// Registers the transaction callbacks that clear the context; called from _PG_init.
void register_token_context_callbacks();

}  // namespace pat::pg
