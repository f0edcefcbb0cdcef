// Defining scopes and roles and granting roles: pat_define_scope, pat_define_role,
// pat_grant_role, pat_revoke_role, and pat_grantable_scopes (what a creation form offers).
//
// Written like token_admin.cpp: the core's rules, kept SPI plans as the owner of pg_pat's
// tables under a pinned search path, and the triggers on the tables signal every change to
// every backend's cache.
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/policy.hpp"
#include "core/scope.hpp"
#include "pg/tokens/api_support.hpp"
#include "pg/audit/audit_state.hpp"
#include "pg/audit/audit_writer.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/json_object.hpp"
#include "pg/bridge/result_rows.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/token_cache.hpp"
#include "pg/tokens/token_context.hpp"
#include "pg/tokens/token_store.hpp"

using pat::pg::call_pg;

namespace {

const char kDefineScope[] =
    "INSERT INTO pat.scopes AS s (scope, description) VALUES ($1, $2)"
    " ON CONFLICT ON CONSTRAINT scopes_pkey"
    " DO UPDATE SET description = COALESCE(EXCLUDED.description, s.description)";
const char kDefineRole[] =
    "INSERT INTO pat.roles AS r (role, all_scopes) VALUES ($1, $2)"
    " ON CONFLICT ON CONSTRAINT roles_pkey DO UPDATE SET all_scopes = EXCLUDED.all_scopes";
const char kClearRoleScopes[] =
    "DELETE FROM pat.role_scopes rs WHERE rs.role OPERATOR(pg_catalog.=) $1";
const char kAddRoleScopes[] =
    "INSERT INTO pat.role_scopes (role, scope)"
    " SELECT DISTINCT $1, w FROM pg_catalog.unnest($2) AS w";
const char kRoleExists[] = "SELECT FROM pat.roles r WHERE r.role OPERATOR(pg_catalog.=) $1";
const char kGrantRole[] =
    "INSERT INTO pat.user_roles (user_id, role) VALUES ($1, $2)"
    " ON CONFLICT ON CONSTRAINT user_roles_pkey DO NOTHING";
const char kRevokeRole[] =
    "DELETE FROM pat.user_roles ur"
    " WHERE ur.user_id OPERATOR(pg_catalog.=) $1 AND ur.role OPERATOR(pg_catalog.=) $2";
// What the audit rows of role and scope changes hold (old_data, new_data).
const char kRoleState[] =
    "SELECT pg_catalog.jsonb_build_object('role', r.role, 'all_scopes', r.all_scopes, 'scopes',"
    "       COALESCE((SELECT pg_catalog.jsonb_agg(rs.scope ORDER BY rs.scope)"
    "                   FROM pat.role_scopes rs WHERE rs.role OPERATOR(pg_catalog.=) r.role),"
    "                pg_catalog.jsonb_build_array()))"
    "  FROM pat.roles r WHERE r.role OPERATOR(pg_catalog.=) $1";
const char kScopeState[] =
    "SELECT pg_catalog.jsonb_build_object('scope', s.scope, 'description', s.description)"
    "  FROM pat.scopes s WHERE s.scope OPERATOR(pg_catalog.=) $1";

using pat::pg::KeptPlan;

KeptPlan define_scope_plan = {kDefineScope, 2, {TEXTOID, TEXTOID}};
KeptPlan define_role_plan = {kDefineRole, 2, {TEXTOID, BOOLOID}};
KeptPlan clear_role_scopes_plan = {kClearRoleScopes, 1, {TEXTOID}};
KeptPlan add_role_scopes_plan = {kAddRoleScopes, 2, {TEXTOID, TEXTARRAYOID}};
KeptPlan role_exists_plan = {kRoleExists, 1, {TEXTOID}};
KeptPlan grant_role_plan = {kGrantRole, 2, {TEXTOID, TEXTOID}};
KeptPlan revoke_role_plan = {kRevokeRole, 2, {TEXTOID, TEXTOID}};
KeptPlan role_state_plan = {kRoleState, 1, {TEXTOID}};
KeptPlan scope_state_plan = {kScopeState, 1, {TEXTOID}};

// The jsonb state kept of a role or scope (name: $1), nullptr when it does not exist; copied out of
// SPI's memory. Inside begin_owner_spi.
Jsonb *state_of(KeptPlan &kept, text *name) {
    Datum values[1] = {PointerGetDatum(name)};
    // Not read-only: the state after this call's own change must be seen.
    if (pat::pg::run_kept_plan(kept, values, nullptr, false, SPI_OK_SELECT) != 1) {
        return nullptr;
    }
    bool is_null = false;
    Datum state = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
    // Detoasted first (a short header, too), so that the copy out of SPI is the value itself.
    Datum value = PointerGetDatum(DatumGetJsonbP(state));
    return reinterpret_cast<Jsonb *>(DatumGetPointer(SPI_datumTransfer(value, false, -1)));
}

// One {"role": role} object.
Jsonb *role_object(text *role) {
    pat::pg::JsonObject object;
    object.add_text("role", pat::pg::Field{PointerGetDatum(role), false});
    return object.finish();
}

// Records a change of what tokens may do: a role granted or revoked (user_id set), a role or
// scope defined or redefined. Nothing when old and new state are equal.
void record_change(const char *action, text *user_id, Jsonb *old_data, Jsonb *new_data) {
    if (old_data != nullptr && new_data != nullptr && call_pg([&] {
            return DatumGetBool(DirectFunctionCall2(jsonb_eq, PointerGetDatum(old_data),
                                                    PointerGetDatum(new_data)));
        })) {
        return;
    }
    pat::pg::AuditEntry entry;
    entry.action = action;
    entry.user_id = user_id;
    entry.old_data = old_data;
    entry.new_data = new_data;
    entry.actor = pat::pg::audit_actor_for(user_id);
    pat::pg::register_audit_callbacks();
    call_pg([&] { pat::pg::append_audit_entry(entry); });
}

// Runs a kept plan, not read-only. Inside begin_owner_spi.
uint64 run(KeptPlan &kept, Datum *values, int expected_rc, const char *nulls = nullptr) {
    return pat::pg::run_kept_plan(kept, values, nulls, false, expected_rc);
}

// The role argument n: not NULL (22004) and defined (22023). Inside SPI.
text *defined_role_argument(FunctionCallInfo fcinfo, int n) {
    text *role = pat::pg::required_text(fcinfo, n, "role");
    bool defined = pat::pg::with_owner_spi([&] {
        Datum values[1] = {PointerGetDatum(role)};
        return run(role_exists_plan, values, SPI_OK_SELECT) == 1;
    });
    if (!defined) {
        throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                         "role \"" +
                             std::string(pat::pg::leading_chars(pat::pg::text_view(role), 100)) +
                             "\" is not defined",
                         {}, "Define it first with pat_define_role().");
    }
    return role;
}

// Puts each scope of list into a one-column set result.
void return_scopes(FunctionCallInfo fcinfo, const pat::pg::ScopeList &list) {
    TupleDesc type = CreateTemplateTupleDesc(1);
    TupleDescInitEntry(type, 1, "scope", TEXTOID, -1, 0);
    Tuplestorestate *rows = pat::pg::begin_result_rows(fcinfo, type);
    for (int i = 0; i < list.count; ++i) {
        Datum value = PointerGetDatum(
            cstring_to_text_with_len(list.items[i].data(), static_cast<int>(list.items[i].size())));
        bool is_null = false;
        tuplestore_putvalues(rows, type, &value, &is_null);
    }
}

}  // namespace

// pat_define_scope(scope, description): defines a scope, or updates its description (a NULL
// description keeps the old one).
PAT_FUNCTION(pat_define_scope) {
    text *scope = pat::pg::required_text(fcinfo, 0, "scope");
    std::string_view name = pat::pg::text_view(scope);
    if (!pat::is_valid_scope_name(name)) {
        throw pat::Error(
            pat::sqlstate::kInvalidParameterValue,
            "invalid scope name \"" + std::string(pat::pg::leading_chars(name, 100)) + "\"", {},
            "A scope is segments joined by \":\", each of ASCII letters, digits, \"_\", \"-\" or "
            "\".\", at most 100 characters, e.g. \"catalog:read\".");
    }
    text *description = PG_ARGISNULL(1) ? nullptr : PG_GETARG_TEXT_PP(1);
    Jsonb *old_state = nullptr;
    Jsonb *new_state = pat::pg::with_owner_spi([&] {
        old_state = state_of(scope_state_plan, scope);
        Datum values[2] = {PointerGetDatum(scope), PointerGetDatum(description)};
        char nulls[3] = {' ', description ? ' ' : 'n', '\0'};
        run(define_scope_plan, values, SPI_OK_INSERT, nulls);
        return state_of(scope_state_plan, scope);
    });
    record_change("scope_defined", nullptr, old_state, new_state);
    PG_RETURN_VOID();
}

// pat_define_role(role, scopes, all_scopes): creates or replaces a role.
PAT_FUNCTION(pat_define_role) {
    text *role = pat::pg::required_text(fcinfo, 0, "role");
    pat::pg::require_arg(fcinfo, 1, "scopes");
    pat::pg::require_arg(fcinfo, 2, "all_scopes");
    ArrayType *scopes = PG_GETARG_ARRAYTYPE_P(1);
    bool all_scopes = PG_GETARG_BOOL(2);
    pat::check_role_name(pat::pg::text_view(role), pat::pg::char_length(role));
    std::vector<std::optional<std::string>> requested = pat::pg::text_array_elements(scopes);
    pat::pg::ScopeList defined = call_pg([] { return pat::pg::find_defined_scopes(); });
    pat::defined_scopes_of(requested, pat::ScopeSet(std::vector<std::string>(
                                          defined.items, defined.items + defined.count)));
    Jsonb *old_state = nullptr;
    Jsonb *new_state = pat::pg::with_owner_spi([&] {
        old_state = state_of(role_state_plan, role);
        Datum values[2] = {PointerGetDatum(role), BoolGetDatum(all_scopes)};
        run(define_role_plan, values, SPI_OK_INSERT);
        run(clear_role_scopes_plan, values, SPI_OK_DELETE);
        values[1] = PointerGetDatum(scopes);
        run(add_role_scopes_plan, values, SPI_OK_INSERT);
        return state_of(role_state_plan, role);
    });
    record_change("role_defined", nullptr, old_state, new_state);
    PG_RETURN_VOID();
}

// pat_grant_role(user_id, role): false if the user already held it.
PAT_FUNCTION(pat_grant_role) {
    text *user_id = pat::pg::user_id_argument(fcinfo, 0);
    text *role = defined_role_argument(fcinfo, 1);
    bool granted = pat::pg::with_owner_spi([&] {
        Datum values[2] = {PointerGetDatum(user_id), PointerGetDatum(role)};
        return run(grant_role_plan, values, SPI_OK_INSERT) == 1;
    });
    if (granted) {
        record_change("role_granted", user_id, nullptr, call_pg([&] { return role_object(role); }));
    }
    PG_RETURN_BOOL(granted);
}

// pat_revoke_role(user_id, role): its scopes leave every token of the user at once; false if
// the user did not hold it.
PAT_FUNCTION(pat_revoke_role) {
    text *user_id = pat::pg::user_id_argument(fcinfo, 0);
    text *role = defined_role_argument(fcinfo, 1);
    bool revoked = pat::pg::with_owner_spi([&] {
        Datum values[2] = {PointerGetDatum(user_id), PointerGetDatum(role)};
        return run(revoke_role_plan, values, SPI_OK_DELETE) == 1;
    });
    if (revoked) {
        record_change("role_revoked", user_id, call_pg([&] { return role_object(role); }), nullptr);
    }
    PG_RETURN_BOOL(revoked);
}

// pat_grantable_scopes(user_id): what a creation form may offer, sorted; the rule and the data
// validation uses.
// Inside a token context, only the token's own user, and only what the token holds itself.
PAT_FUNCTION(pat_grantable_scopes) {
    text *user_id = pat::pg::user_id_argument(fcinfo, 0);
    const pat::pg::TokenContext *context =
        pat::pg::require_self_service(pat::pg::text_view(user_id));
    if (context == nullptr) {
        call_pg([&] { return_scopes(fcinfo, pat::pg::find_user_grants(user_id).grantable); });
        return static_cast<Datum>(0);
    }
    std::vector<std::string_view> held(context->scopes.items().begin(),
                                       context->scopes.items().end());
    call_pg([&] {
        pat::pg::ScopeList grantable = pat::pg::find_user_grants(user_id).grantable;
        auto *offered =
            static_cast<std::string_view *>(palloc(sizeof(std::string_view) * (held.size() + 1)));
        size_t count = pat::intersect_sorted_scopes(grantable.items, grantable.count, held.data(),
                                                    held.size(), offered);
        return_scopes(fcinfo, pat::pg::ScopeList{offered, static_cast<int>(count)});
    });
    return static_cast<Datum>(0);
}
