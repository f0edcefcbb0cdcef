// The rules of a token row's writes; see token_rules.hpp.
#include "pg/tokens/token_rules.hpp"

#include "core/policy.hpp"
#include "core/self_service.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/tokens/token_cache.hpp"

namespace pat::pg {

namespace {

// A ScopeSet of a cached scope list (copied: the list lives only until the next cache call).
pat::ScopeSet scope_set(const ScopeList &list) {
    return pat::ScopeSet(std::vector<std::string>(list.items, list.items + list.count));
}

}  // namespace

std::vector<std::string> checked_token_scopes(
    const std::vector<std::optional<std::string>> &requested, text *user_id,
    const TokenContext *context) {
    UserGrants grants = call_pg([&] { return find_user_grants(user_id); });
    pat::ScopeSet grantable = scope_set(grants.grantable);
    pat::ScopeSet defined = scope_set(grants.defined);
    if (context == nullptr) {
        return pat::writable_scopes(text_view(user_id), requested, defined, grantable, nullptr);
    }
    pat::TokenHolder holder = token_holder(*context);
    return pat::writable_scopes(text_view(user_id), requested, defined, grantable, &holder);
}

std::vector<std::string> checked_organization_scopes(
    const std::vector<std::optional<std::string>> &requested) {
    pat::ScopeSet defined = scope_set(call_pg([] { return find_defined_scopes(); }));
    return pat::checked_scopes("organization", requested, defined, defined);
}

void require_no_later_than_context(const TokenContext *context,
                                   std::optional<TimestampTz> expires_at) {
    if (context != nullptr) {
        pat::require_no_later_expiry(token_holder(*context), expires_at);
    }
}

namespace {

ApiInsert api_insert = ApiInsert::none;

}  // namespace

ApiInsert current_api_insert() {
    return api_insert;
}

ApiInsertScope::ApiInsertScope(ApiInsert kind) : previous_(api_insert) {
    api_insert = kind;
}

ApiInsertScope::~ApiInsertScope() {
    api_insert = previous_;
}

std::string token_creator(const std::string *actor) {
    if (const TokenContext *context = current_token_context()) {
        pg_uuid_t token_id = context->token_id;
        const char *id = call_pg([&] {
            return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&token_id)));
        });
        return "token:" + std::string(id) + ":" + context->user_id;
    }
    if (actor != nullptr) {
        return "actor:" + *actor;
    }
    const char *role = call_pg([] { return GetUserNameFromId(GetUserId(), false); });
    return "role:" + std::string(role);
}

}  // namespace pat::pg
