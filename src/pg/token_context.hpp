// The token a transaction authenticated with, kept in backend memory (not in a GUC a client
// could SET) and forgotten when the transaction, or the subtransaction that set it, ends.
#pragma once

#include "pg/postgres.hpp"

#include <string>

#include "core/scope.hpp"

namespace pat::pg {

struct TokenContext {
    pg_uuid_t token_id;
    std::string user_id;
    std::string token_name;
    pat::ScopeSet scopes;  // effective scopes at authentication
};

// Makes context the current transaction's token context.
void set_token_context(TokenContext context);

// The current context, or nullptr outside an authenticated transaction.
const TokenContext *current_token_context();

// Registers the transaction callbacks that clear the context; called from _PG_init.
void register_token_context_callbacks();

}  // namespace pat::pg
