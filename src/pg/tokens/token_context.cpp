// The token a transaction authenticated with, and the SQL functions that read it.
#include "pg/tokens/token_context.hpp"

#include <utility>

#include "core/error.hpp"
#include "core/subtransaction_scoped.hpp"
#include "core/self_service.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/settings.hpp"
#include "pg/bridge/spi_support.hpp"

namespace pat::pg {

namespace {

// The context follows savepoints and PL/pgSQL exception blocks: rolling one back restores the
// context that held when it began (a pat_authenticate() or pat_clear() undone must not leave
// the back end's unrestricted access behind).
pat::SubtransactionScoped<TokenContext> scoped_context;

void on_transaction_event(XactEvent event, void *) {
    if (ends_transaction(event)) {
        scoped_context.end_transaction();
    }
}

void on_subtransaction_event(SubXactEvent event, SubTransactionId subxact, SubTransactionId parent,
                             void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        scoped_context.abort(subxact);
    } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
        scoped_context.commit(subxact, parent);
    }
}

}  // namespace

void set_token_context(TokenContext token_context) {
    BackendAllocations kept;
    scoped_context.set(GetCurrentSubTransactionId(), std::move(token_context));
}

const TokenContext *current_token_context() {
    return scoped_context.current();
}

void clear_token_context() {
    BackendAllocations kept;
    scoped_context.reset(GetCurrentSubTransactionId());
}

// TimestampTz is int64: the core takes the same optional.
static_assert(std::is_same_v<TimestampTz, std::int64_t>);

pat::TokenHolder token_holder(const TokenContext &context) {
    return pat::TokenHolder{context.user_id, context.scopes, context.expires_at};
}

const TokenContext *require_self_service(std::string_view user_id) {
    const TokenContext *context = current_token_context();
    if (context != nullptr) {
        pat::TokenHolder holder = token_holder(*context);
        pat::require_manage_scope(holder, manage_scope());
        pat::require_own_user(holder, user_id);
    }
    return context;
}

void require_outside_token_context(const char *function) {
    if (current_token_context() != nullptr) {
        throw pat::Error(
            pat::sqlstate::kInsufficientPrivilege,
            std::string(function) + "() acts for every user and cannot run in a token context", "",
            "Call it in a transaction of the back end's own, not one authenticated "
            "with pat_authenticate().");
    }
}

void register_token_context_callbacks() {
    RegisterXactCallback(on_transaction_event, nullptr);
    RegisterSubXactCallback(on_subtransaction_event, nullptr);
}

}  // namespace pat::pg

using pat::pg::current_token_context;

// pat_current_user(): the user the transaction's token belongs to, NULL without one.
PAT_FUNCTION(pat_current_user) {
    const auto *context = current_token_context();
    if (context == nullptr) {
        PG_RETURN_NULL();
    }
    PG_RETURN_TEXT_P(pat::pg::make_text(context->user_id));
}

// pat_current_token_id(): the transaction's token, NULL without one.
PAT_FUNCTION(pat_current_token_id) {
    const auto *context = current_token_context();
    if (context == nullptr) {
        PG_RETURN_NULL();
    }
    auto *id = static_cast<pg_uuid_t *>(pat::pg::call_pg([] { return palloc(sizeof(pg_uuid_t)); }));
    *id = context->token_id;
    PG_RETURN_UUID_P(id);
}

// pat_current_token_name(): the name of the transaction's token, NULL without one.
PAT_FUNCTION(pat_current_token_name) {
    const auto *context = current_token_context();
    if (context == nullptr) {
        PG_RETURN_NULL();
    }
    PG_RETURN_TEXT_P(pat::pg::make_text(context->token_name));
}

// pat_current_token_type(): personal or organization; NULL outside a token context.
PAT_FUNCTION(pat_current_token_type) {
    const auto *context = current_token_context();
    if (context == nullptr) {
        PG_RETURN_NULL();
    }
    PG_RETURN_TEXT_P(pat::pg::make_text(context->organization ? "organization" : "personal"));
}

// pat_has_scope(scope): whether the transaction's token holds scope; false without a token.
PAT_FUNCTION(pat_has_scope) {
    const auto *context = current_token_context();
    if (PG_ARGISNULL(0) || context == nullptr) {
        PG_RETURN_BOOL(false);
    }
    PG_RETURN_BOOL(context->scopes.contains(pat::pg::text_view(PG_GETARG_TEXT_PP(0))));
}

// pat_require_scope(scope): raises 42501 unless the transaction's token holds scope.
PAT_FUNCTION(pat_require_scope) {
    pat::pg::require_arg(fcinfo, 0, "scope");
    std::string_view scope = pat::pg::text_view(PG_GETARG_TEXT_PP(0));
    const auto *context = current_token_context();
    if (context == nullptr) {
        throw pat::Error(pat::sqlstate::kInsufficientPrivilege,
                         "no personal access token is authenticated in this transaction", "",
                         "Call pat_authenticate() first, in the same transaction.");
    }
    if (!context->scopes.contains(scope)) {
        throw pat::Error(pat::sqlstate::kInsufficientPrivilege,
                         "personal access token lacks scope \"" +
                             std::string(scope.substr(0, pat::kScopeMaxChars)) + "\"");
    }
    PG_RETURN_VOID();
}

// pat_current_scopes(): the transaction's token's effective scopes, sorted; NULL without one.
PAT_FUNCTION(pat_current_scopes) {
    const auto *context = current_token_context();
    if (context == nullptr) {
        PG_RETURN_NULL();
    }
    PG_RETURN_ARRAYTYPE_P(pat::pg::make_text_array(context->scopes.items()));
}

// pat_current_expires_at(): when the transaction's token expires; NULL without one, or for a
// token that never expires (pat_current_token_id() tells the two apart).
PAT_FUNCTION(pat_current_expires_at) {
    const auto *context = current_token_context();
    if (context == nullptr || !context->expires_at) {
        PG_RETURN_NULL();
    }
    PG_RETURN_TIMESTAMPTZ(*context->expires_at);
}

// pat_clear(): ends the token context before the transaction does; whether there was one.
PAT_FUNCTION(pat_clear) {
    bool had_context = current_token_context() != nullptr;
    pat::pg::clear_token_context();
    PG_RETURN_BOOL(had_context);
}

namespace pat::pg {

pat::RestrictionsView context_restrictions(const TokenContext &context) {
    return pat::RestrictionsView(context.restrictions.empty() ? nullptr
                                                              : context.restrictions.data());
}

}  // namespace pat::pg

// pat_has_scope(scope, resource): whether the transaction's token holds scope and the scope
// covers resource (a scope bound to resources covers those only, an unbound one every
// resource); false without a token, or for a NULL argument. For row-level security policies.
PAT_FUNCTION(pat_has_scope_on) {
    const auto *context = current_token_context();
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || context == nullptr) {
        PG_RETURN_BOOL(false);
    }
    std::string_view scope = pat::pg::text_view(PG_GETARG_TEXT_PP(0));
    std::string_view resource = pat::pg::text_view(PG_GETARG_TEXT_PP(1));
    PG_RETURN_BOOL(context->scopes.contains(scope) &&
                   pat::pg::context_restrictions(*context).covers(scope, resource));
}

// pat_current_resources(scope): the resource ids scope is bound to, sorted; NULL when it covers
// every resource, when the token lacks it, or without a token (pat_has_scope tells these apart).
PAT_FUNCTION(pat_current_resources) {
    const auto *context = current_token_context();
    if (PG_ARGISNULL(0) || context == nullptr) {
        PG_RETURN_NULL();
    }
    std::string_view scope = pat::pg::text_view(PG_GETARG_TEXT_PP(0));
    pat::RestrictionsView limits = pat::pg::context_restrictions(*context);
    pat::RestrictionsView::Ids ids;
    if (!context->scopes.contains(scope) || !limits.scope_bound(scope, &ids)) {
        PG_RETURN_NULL();
    }
    std::vector<std::string> items;
    std::string_view id;
    while (ids.next(&id)) {
        items.emplace_back(id);
    }
    PG_RETURN_ARRAYTYPE_P(pat::pg::make_text_array(items));
}

// pat_current_metadata(): the transaction's token's metadata; NULL without a token or metadata.
PAT_FUNCTION(pat_current_metadata) {
    const auto *context = current_token_context();
    if (context == nullptr) {
        PG_RETURN_NULL();
    }
    std::string_view metadata = pat::pg::context_restrictions(*context).metadata();
    if (metadata.empty()) {
        PG_RETURN_NULL();
    }
    void *copy = pat::pg::call_pg([&] { return palloc(metadata.size()); });
    memcpy(copy, metadata.data(), metadata.size());
    PG_RETURN_POINTER(copy);
}
