// Issuing and managing tokens: pat_create (three overloads), pat_rotate (three) and
// pat_rotated_from, pat_update, pat_revoke, pat_revoke_all and pat_list.
//
// Arguments are checked by the core's rules (policy.hpp), scopes by the rule every write of a
// token follows, the guards of pat.tokens included (token_rules.hpp). Rows are written with
// kept SPI plans as the owner of pat.tokens under a pinned search path (spi_support.hpp), so the
// triggers on pat.tokens (the guard, the audit, the cache signals) see every change. The
// functions are not SECURITY DEFINER: like pat_validate, they need no SET clause and switch to
// the owner only for their own queries.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/policy.hpp"
#include "core/random.hpp"
#include "core/restrictions.hpp"
#include "core/rotation.hpp"
#include "core/self_service.hpp"
#include "core/status.hpp"
#include "core/token.hpp"
#include "core/wipe.hpp"
#include "pg/tokens/api_support.hpp"
#include "pg/audit/audit_state.hpp"
#include "pg/audit/audit_writer.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/datetime.hpp"
#include "pg/tokens/expiry.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/json_object.hpp"
#include "pg/tokens/key_status.hpp"
#include "pg/lifecycle/leak_report.hpp"
#include "pg/bridge/result_rows.hpp"
#include "pg/settings.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/token_context.hpp"
#include "pg/tokens/restrictions_data.hpp"
#include "pg/tokens/token_rules.hpp"
#include "pg/tokens/token_store.hpp"
#include "pg/usage/usage_store.hpp"

using pat::pg::call_pg;

namespace {

// The token's usage row is made by the first write of its usage, not here.
const char kInsertToken[] =
    "INSERT INTO pat.tokens (token_id, user_id, name, scopes, digest, expires_at, key_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)";
// A schema without pat.tokens.key_id (schema_since::kTokenKeyId), run by this library until
// ALTER EXTENSION UPDATE.
const char kInsertTokenWithoutKeyId[] =
    "INSERT INTO pat.tokens (token_id, user_id, name, scopes, digest, expires_at)"
    " VALUES ($1, $2, $3, $4, $5, $6)";
// A rotation's successor names its predecessor.
const char kInsertRotatedToken[] =
    "INSERT INTO pat.tokens"
    " (token_id, user_id, name, scopes, digest, expires_at, key_id, rotated_from)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
// Where the schema has delegation: every token records who made it, its parent and chain (a
// delegated token) and its type.
const char kInsertTokenWithBirth[] =
    "INSERT INTO pat.tokens"
    " (token_id, user_id, name, scopes, digest, expires_at, key_id, rotated_from, parent_id,"
    " ancestors, created_by, token_type)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
// Where the schema has restrictions: a token is born with its limits too.
const char kInsertTokenWithLimits[] =
    "INSERT INTO pat.tokens"
    " (token_id, user_id, name, scopes, digest, expires_at, key_id, rotated_from, parent_id,"
    " ancestors, created_by, token_type, networks, resources, metadata, suspended_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
// A token's limits and scopes as they are (pat_update, pat_rotate).
const char kTokenLimits[] =
    "SELECT t.scopes, t.networks, t.resources, t.metadata, t.suspended_at"
    " FROM pat.tokens t WHERE t.token_id OPERATOR(pg_catalog.=) $1";
// $2, $4, $6: whether networks, resources, metadata are replaced (by $3, $5, $7).
const char kUpdateLimits[] =
    "UPDATE pat.tokens t SET"
    " networks = CASE WHEN $2 THEN $3 ELSE t.networks END,"
    " resources = CASE WHEN $4 THEN $5 ELSE t.resources END,"
    " metadata = CASE WHEN $6 THEN $7 ELSE t.metadata END"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1"
    " AND (t.networks, t.resources, t.metadata) IS DISTINCT FROM"
    " (CASE WHEN $2 THEN $3 ELSE t.networks END, CASE WHEN $4 THEN $5 ELSE t.resources END,"
    "  CASE WHEN $6 THEN $7 ELSE t.metadata END)";
// The expiry never moves: only suspended_at is written.
const char kSuspendToken[] =
    "UPDATE pat.tokens t SET suspended_at = pg_catalog.now()"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1 AND t.suspended_at IS NULL"
    " RETURNING t.user_id, t.name";
const char kResumeToken[] =
    "UPDATE pat.tokens t SET suspended_at = NULL"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1 AND t.suspended_at IS NOT NULL"
    " RETURNING t.user_id, t.name";
// The owner's notice of a suspension or resumption: queued again if one of its kind was.
const char kQueueStateNotice[] =
    "INSERT INTO pat.notices (kind, user_id, token_id, token_name, due_at)"
    " VALUES ($1, $2, $3, $4, pg_catalog.now())"
    " ON CONFLICT ON CONSTRAINT notices_token_kind_key DO UPDATE"
    " SET token_name = EXCLUDED.token_name, due_at = EXCLUDED.due_at,"
    " queued_at = pg_catalog.now(), taken_at = NULL";
// The token pat_delegate mints from: its chain, locked against a concurrent revoke, rotation or
// shortening until this transaction ends (a revoke waits for the child, or the child sees it).
const char kLockParent[] =
    "SELECT t.ancestors, t.revoked_at IS NOT NULL, t.token_type, t.has_children"
    " FROM pat.tokens t WHERE t.token_id OPERATOR(pg_catalog.=) $1 FOR SHARE OF t";
// Before its first child: from then on a change to the parent drops its user's cached tokens
// (cache_triggers.cpp). Set in the transaction that makes the child, so a change to the parent
// that commits after the child does sees it set (it waits for the row).
const char kMarkParent[] =
    "UPDATE pat.tokens t SET has_children = true"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1 AND NOT t.has_children";
// The live descendants of a token, which fall with it, one level at a time: of the children of
// $1 (an array of tokens), how many are live by their own rows (neither revoked nor expired), and
// which have children of their own, the next level down. Read in tokens_parent_id_idx alone (an
// index-only scan: no row is read where the table is vacuumed), entering only the tokens that
// have children.
const char kCountChildren[] =
    "SELECT pg_catalog.count(*) FILTER (WHERE t.revoked_at IS NULL"
    "  AND (t.expires_at IS NULL OR t.expires_at OPERATOR(pg_catalog.>) $2)),"
    " pg_catalog.array_agg(t.token_id) FILTER (WHERE t.has_children)"
    " FROM pat.tokens t"
    " WHERE t.parent_id OPERATOR(pg_catalog.=) ANY ($1) AND t.parent_id IS NOT NULL";
// A schema without that index: the same tokens through tokens_ancestors_idx and each one's row.
const char kCountDescendants[] =
    "SELECT pg_catalog.count(*) FROM pat.tokens t"
    " WHERE t.ancestors OPERATOR(pg_catalog.@>) ARRAY[$1]::uuid[] AND t.revoked_at IS NULL"
    " AND (t.expires_at IS NULL OR t.expires_at OPERATOR(pg_catalog.>) $2)";
// pat.max_active_tokens_per_user: creations for one user wait for each other on the user's row
// of pat.user_token_locks, so the count cannot be passed by two at once. The row is updated, not
// only locked: under REPEATABLE READ or SERIALIZABLE, a creation whose snapshot predates
// another's commit then fails with 40001 rather than counting with that snapshot.
const char kLockUserTokens[] =
    "INSERT INTO pat.user_token_locks (user_id) VALUES ($1)"
    " ON CONFLICT (user_id) DO UPDATE SET counted_at = pg_catalog.now()";
// A schema without that table (schema_since::kUserTokenLocks): an advisory lock keyed by
// pat.tokens' oid and the user id's hash, exact only under READ COMMITTED (and which any role can
// take).
const char kAdvisoryLockUserTokens[] =
    "SELECT pg_catalog.pg_advisory_xact_lock($2, pg_catalog.hashtext($1))";
const char kCountActiveTokens[] =
    "SELECT pg_catalog.count(*) FROM pat.tokens t"
    " WHERE t.user_id OPERATOR(pg_catalog.=) $1 AND t.revoked_at IS NULL"
    " AND (t.expires_at IS NULL OR t.expires_at OPERATOR(pg_catalog.>) $2)"
    " AND t.token_id IS DISTINCT FROM $3";
// Where the schema has token types: a person's tokens and an account's are counted apart.
const char kCountActiveTokensOfType[] =
    "SELECT pg_catalog.count(*) FROM pat.tokens t"
    " WHERE t.user_id OPERATOR(pg_catalog.=) $1 AND t.revoked_at IS NULL"
    " AND (t.expires_at IS NULL OR t.expires_at OPERATOR(pg_catalog.>) $2)"
    " AND t.token_id IS DISTINCT FROM $3 AND t.token_type OPERATOR(pg_catalog.=) $4";
const char kLockForRotation[] =
    "SELECT t.user_id, t.name, t.scopes, t.created_at, t.expires_at, t.revoked_at IS NOT NULL"
    " FROM pat.tokens t WHERE t.token_id OPERATOR(pg_catalog.=) $1 FOR UPDATE OF t";
// Where the schema has delegation: a successor keeps its predecessor's parent, chain and type
// (a rotated child still falls with its parent).
const char kLockForRotationWithBirth[] =
    "SELECT t.user_id, t.name, t.scopes, t.created_at, t.expires_at, t.revoked_at IS NOT NULL,"
    " t.parent_id, t.ancestors, t.token_type OPERATOR(pg_catalog.=) 'organization'"
    " FROM pat.tokens t WHERE t.token_id OPERATOR(pg_catalog.=) $1 FOR UPDATE OF t";
const char kShortenExpiry[] =
    "UPDATE pat.tokens t SET expires_at = $2"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1 AND t.expires_at IS DISTINCT FROM $2";
const char kRotatedFrom[] =
    "SELECT t.user_id, t.rotated_from FROM pat.tokens t"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1";
const char kLockToken[] =
    "SELECT t.user_id, t.revoked_at IS NOT NULL FROM pat.tokens t"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1 FOR UPDATE OF t";
// Where the schema has token types: whether it is an organization's token too.
const char kLockTokenWithType[] =
    "SELECT t.user_id, t.revoked_at IS NOT NULL,"
    " t.token_type OPERATOR(pg_catalog.=) 'organization'"
    " FROM pat.tokens t WHERE t.token_id OPERATOR(pg_catalog.=) $1 FOR UPDATE OF t";
const char kUpdateToken[] =
    "UPDATE pat.tokens t"
    " SET name = COALESCE($2, t.name), scopes = COALESCE($3, t.scopes)"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1"
    " AND (t.name, t.scopes) IS DISTINCT FROM"
    " (COALESCE($2, t.name), COALESCE($3, t.scopes))";
const char kRevokeToken[] =
    "UPDATE pat.tokens t SET revoked_at = pg_catalog.now()"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1 AND t.revoked_at IS NULL";
const char kTokenExists[] = "SELECT FROM pat.tokens t WHERE t.token_id OPERATOR(pg_catalog.=) $1";
const char kRevokeAll[] =
    "UPDATE pat.tokens t SET revoked_at = pg_catalog.now()"
    " WHERE t.user_id OPERATOR(pg_catalog.=) $1 AND t.revoked_at IS NULL";
// Where the schema has token types: a person's tokens only, never an account's of the same id.
const char kRevokeAllPersonal[] =
    "UPDATE pat.tokens t SET revoked_at = pg_catalog.now()"
    " WHERE t.user_id OPERATOR(pg_catalog.=) $1 AND t.revoked_at IS NULL"
    " AND t.token_type OPERATOR(pg_catalog.=) 'personal'";
const char kListTokens[] =
    "SELECT t.token_id, t.name, t.scopes, t.created_at, t.expires_at, u.last_used_at,"
    " t.revoked_at"
    " FROM pat.tokens t"
    " LEFT JOIN pat.token_usage u ON u.token_id OPERATOR(pg_catalog.=) t.token_id"
    " WHERE t.user_id OPERATOR(pg_catalog.=) $1"
    " ORDER BY t.created_at DESC, t.token_id";
// Where the schema has delegation: also the type, parent and creator, and how the chain above
// each token stands (any ancestor revoked or gone; the earliest ancestor's expiry), which its
// status follows as validation's does.
const char kListTokensWithChain[] =
    "SELECT t.token_id, t.name, t.scopes, t.created_at, t.expires_at, u.last_used_at,"
    " t.revoked_at, t.token_type, t.parent_id, t.created_by, c.fallen, c.expires_at"
    " FROM pat.tokens t"
    " LEFT JOIN pat.token_usage u ON u.token_id OPERATOR(pg_catalog.=) t.token_id"
    " LEFT JOIN LATERAL (SELECT"
    "   pg_catalog.count(*) OPERATOR(pg_catalog.<) pg_catalog.cardinality(t.ancestors)"
    "   OR pg_catalog.bool_or(a.revoked_at IS NOT NULL) AS fallen,"
    "   pg_catalog.min(a.expires_at) AS expires_at"
    "  FROM pat.tokens a WHERE a.token_id OPERATOR(pg_catalog.=) ANY (t.ancestors)) c ON true"
    " WHERE t.user_id OPERATOR(pg_catalog.=) $1"
    " ORDER BY t.created_at DESC, t.token_id";

// Where the schema has restrictions: the limits too, and whether the token or an ancestor is
// suspended.
const char kListTokensWithLimits[] =
    "SELECT t.token_id, t.name, t.scopes, t.created_at, t.expires_at, u.last_used_at,"
    " t.revoked_at, t.token_type, t.parent_id, t.created_by, c.fallen, c.expires_at,"
    " t.networks, t.resources, t.metadata,"
    " t.suspended_at IS NOT NULL OR COALESCE(c.suspended, false)"
    " FROM pat.tokens t"
    " LEFT JOIN pat.token_usage u ON u.token_id OPERATOR(pg_catalog.=) t.token_id"
    " LEFT JOIN LATERAL (SELECT"
    "   pg_catalog.count(*) OPERATOR(pg_catalog.<) pg_catalog.cardinality(t.ancestors)"
    "   OR pg_catalog.bool_or(a.revoked_at IS NOT NULL) AS fallen,"
    "   pg_catalog.min(a.expires_at) AS expires_at,"
    "   pg_catalog.bool_or(a.suspended_at IS NOT NULL) AS suspended"
    "  FROM pat.tokens a WHERE a.token_id OPERATOR(pg_catalog.=) ANY (t.ancestors)) c ON true"
    " WHERE t.user_id OPERATOR(pg_catalog.=) $1"
    " ORDER BY t.created_at DESC, t.token_id";
// Where the schema keeps client addresses: the same, then the token's written ones and their
// last uses (NULL when none).
const char kListTokensWithAddresses[] =
    "SELECT t.token_id, t.name, t.scopes, t.created_at, t.expires_at, u.last_used_at,"
    " t.revoked_at, t.token_type, t.parent_id, t.created_by, c.fallen, c.expires_at,"
    " t.networks, t.resources, t.metadata,"
    " t.suspended_at IS NOT NULL OR COALESCE(c.suspended, false),"
    " (SELECT pg_catalog.array_agg(d.address)"
    "  FROM pat.token_addresses d WHERE d.token_id OPERATOR(pg_catalog.=) t.token_id),"
    " (SELECT pg_catalog.array_agg(d.last_used_at)"
    "  FROM pat.token_addresses d WHERE d.token_id OPERATOR(pg_catalog.=) t.token_id)"
    " FROM pat.tokens t"
    " LEFT JOIN pat.token_usage u ON u.token_id OPERATOR(pg_catalog.=) t.token_id"
    " LEFT JOIN LATERAL (SELECT"
    "   pg_catalog.count(*) OPERATOR(pg_catalog.<) pg_catalog.cardinality(t.ancestors)"
    "   OR pg_catalog.bool_or(a.revoked_at IS NOT NULL) AS fallen,"
    "   pg_catalog.min(a.expires_at) AS expires_at,"
    "   pg_catalog.bool_or(a.suspended_at IS NOT NULL) AS suspended"
    "  FROM pat.tokens a WHERE a.token_id OPERATOR(pg_catalog.=) ANY (t.ancestors)) c ON true"
    " WHERE t.user_id OPERATOR(pg_catalog.=) $1"
    " ORDER BY t.created_at DESC, t.token_id";

using pat::pg::KeptPlan;

KeptPlan insert_plan = {
    kInsertToken, 7, {UUIDOID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, TIMESTAMPTZOID, TEXTOID}};
KeptPlan insert_without_key_id_plan = {
    kInsertTokenWithoutKeyId,
    6,
    {UUIDOID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, TIMESTAMPTZOID}};
KeptPlan insert_rotated_plan = {
    kInsertRotatedToken,
    8,
    {UUIDOID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, TIMESTAMPTZOID, TEXTOID, UUIDOID}};
KeptPlan lock_user_tokens_plan = {kLockUserTokens, 1, {TEXTOID}};
KeptPlan advisory_lock_user_tokens_plan = {kAdvisoryLockUserTokens, 2, {TEXTOID, INT4OID}};
KeptPlan count_active_plan = {kCountActiveTokens, 3, {TEXTOID, TIMESTAMPTZOID, UUIDOID}};
KeptPlan lock_for_rotation_plan = {kLockForRotation, 1, {UUIDOID}};
KeptPlan lock_for_rotation_with_birth_plan = {kLockForRotationWithBirth, 1, {UUIDOID}};
KeptPlan shorten_expiry_plan = {kShortenExpiry, 2, {UUIDOID, TIMESTAMPTZOID}};
KeptPlan rotated_from_plan = {kRotatedFrom, 1, {UUIDOID}};
// Rotation: the successor gets the rate limit and what is left of the budget (schema with rate
// limits only).
const char kCarryLimits[] = "SELECT pat.carry_limits($1, $2)";
KeptPlan carry_limits_plan = {kCarryLimits, 2, {UUIDOID, UUIDOID}};
KeptPlan lock_plan = {kLockToken, 1, {UUIDOID}};
KeptPlan lock_with_type_plan = {kLockTokenWithType, 1, {UUIDOID}};
KeptPlan update_plan = {kUpdateToken, 3, {UUIDOID, TEXTOID, TEXTARRAYOID}};
KeptPlan revoke_plan = {kRevokeToken, 1, {UUIDOID}};
KeptPlan exists_plan = {kTokenExists, 1, {UUIDOID}};
KeptPlan revoke_all_plan = {kRevokeAll, 1, {TEXTOID}};
KeptPlan list_plan = {kListTokens, 1, {TEXTOID}};
KeptPlan list_with_chain_plan = {kListTokensWithChain, 1, {TEXTOID}};
KeptPlan list_with_limits_plan = {kListTokensWithLimits, 1, {TEXTOID}};
KeptPlan list_with_addresses_plan = {kListTokensWithAddresses, 1, {TEXTOID}};
KeptPlan insert_with_birth_plan = {
    kInsertTokenWithBirth,
    12,
    {UUIDOID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, TIMESTAMPTZOID, TEXTOID, UUIDOID, UUIDOID,
     UUIDARRAYOID, TEXTOID, TEXTOID}};
KeptPlan lock_parent_plan = {kLockParent, 1, {UUIDOID}};
KeptPlan insert_with_limits_plan = {
    kInsertTokenWithLimits,
    16,
    {UUIDOID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, TIMESTAMPTZOID, TEXTOID, UUIDOID, UUIDOID,
     UUIDARRAYOID, TEXTOID, TEXTOID, CIDRARRAYOID, JSONBOID, JSONBOID, TIMESTAMPTZOID}};
KeptPlan token_limits_plan = {kTokenLimits, 1, {UUIDOID}};
KeptPlan update_limits_plan = {
    kUpdateLimits, 7, {UUIDOID, BOOLOID, CIDRARRAYOID, BOOLOID, JSONBOID, BOOLOID, JSONBOID}};
KeptPlan suspend_plan = {kSuspendToken, 1, {UUIDOID}};
KeptPlan resume_plan = {kResumeToken, 1, {UUIDOID}};
KeptPlan queue_state_notice_plan = {kQueueStateNotice, 4, {TEXTOID, TEXTOID, UUIDOID, TEXTOID}};
KeptPlan mark_parent_plan = {kMarkParent, 1, {UUIDOID}};
KeptPlan count_descendants_plan = {kCountDescendants, 2, {UUIDOID, TIMESTAMPTZOID}};
// Generic: a custom plan for one parent's children is estimated cheaper than the generic one
// (which plans for several), so the query would be planned again at every revoke; the generic
// plan reads the same index.
KeptPlan count_children_plan = {
    kCountChildren, 2, {UUIDARRAYOID, TIMESTAMPTZOID}, nullptr, CURSOR_OPT_GENERIC_PLAN};
KeptPlan count_active_of_type_plan = {
    kCountActiveTokensOfType, 4, {TEXTOID, TIMESTAMPTZOID, UUIDOID, TEXTOID}};
KeptPlan revoke_all_personal_plan = {kRevokeAllPersonal, 1, {TEXTOID}};

uint64 run(KeptPlan &kept, Datum *values, const char *nulls, bool read_only, int expected_rc) {
    return pat::pg::run_kept_plan(kept, values, nulls, read_only, expected_rc);
}

// The requested scopes, checked for user_id by the rule every write of a token follows
// (token_rules.hpp), as a palloc'd text[].
ArrayType *checked_scope_array(ArrayType *requested, text *user_id,
                               const pat::pg::TokenContext *context) {
    return pat::pg::make_text_array(
        pat::pg::checked_token_scopes(pat::pg::text_array_elements(requested), user_id, context));
}

ArrayType *checked_scopes_argument(FunctionCallInfo fcinfo, int n, text *user_id,
                                   const pat::pg::TokenContext *context) {
    pat::pg::require_arg(fcinfo, n, "scopes");
    return checked_scope_array(PG_GETARG_ARRAYTYPE_P(n), user_id, context);
}

// The token name argument n, checked (policy.hpp).
text *token_name_argument(FunctionCallInfo fcinfo, int n) {
    text *name = pat::pg::required_text(fcinfo, n, "token name");
    pat::check_token_name(pat::pg::text_view(name), pat::pg::char_length(name));
    return name;
}

// A token's limits as asked: networks, resources and metadata, each given or not (NULL).
struct Limits {
    bool networks_given = false, resources_given = false, metadata_given = false;
    ArrayType *networks = nullptr;  // nullptr: none
    Jsonb *resources = nullptr;
    Jsonb *metadata = nullptr;
};

// The arguments first (networks), first + 1 (resources) and first + 2 (metadata), where the
// function has them. Detoasted here, before any C++ object with a destructor is alive.
Limits limit_arguments(FunctionCallInfo fcinfo, int first) {
    return call_pg([&] {
        Limits limits;
        if (PG_NARGS() > first && !PG_ARGISNULL(first)) {
            limits.networks_given = true;
            limits.networks = PG_GETARG_ARRAYTYPE_P(first);
        }
        if (PG_NARGS() > first + 1 && !PG_ARGISNULL(first + 1)) {
            limits.resources_given = true;
            limits.resources = PG_GETARG_JSONB_P(first + 1);
        }
        if (PG_NARGS() > first + 2 && !PG_ARGISNULL(first + 2)) {
            limits.metadata_given = true;
            limits.metadata = PG_GETARG_JSONB_P(first + 2);
        }
        return limits;
    });
}

[[noreturn]] void throw_wider_than_context(const char *what) {
    throw pat::Error(pat::sqlstate::kInsufficientPrivilege,
                     std::string("a token made or changed in a token context cannot have ") + what +
                         " wider than the authenticated token's",
                     "", "Leave them out to inherit the authenticated token's.");
}

// Whether any string of the jsonb value (a key or a value) is a well-formed token.
bool holds_a_token(Jsonb *value) {
    JsonbIterator *iterator = call_pg([&] { return JsonbIteratorInit(&value->root); });
    JsonbValue item;
    for (;;) {
        JsonbIteratorToken token =
            call_pg([&] { return JsonbIteratorNext(&iterator, &item, false); });
        if (token == WJB_DONE) {
            return false;
        }
        if ((token == WJB_KEY || token == WJB_VALUE || token == WJB_ELEM) &&
            item.type == jbvString &&
            pat::is_well_formed_token(std::string_view(
                item.val.string.val, static_cast<std::size_t>(item.val.string.len)))) {
            return true;
        }
    }
}

// The limits asked, checked (the caps, 54000; resources only for scopes the token holds, 22023)
// and normalized (an empty list or object, or JSON null, is none; bindings sorted). Inside a
// token context a token gets no wider limits than the authenticated token's, and what it is
// given none of it inherits (changing: what it is given). scopes: the token's scopes.
Limits checked_limits(const Limits &asked, ArrayType *scopes, const pat::pg::TokenContext *context,
                      bool changing) {
    std::vector<pat::Network> networks = pat::pg::networks_of(asked.networks);
    pat::check_network_count(networks.size());
    std::vector<pat::ResourceBinding> bindings = pat::pg::bindings_of(asked.resources);
    pat::check_resources(&bindings);
    std::vector<std::optional<std::string>> held_list = pat::pg::text_array_elements(scopes);
    std::vector<std::string> held_names;
    for (const auto &scope : held_list) {
        if (scope) {
            held_names.push_back(*scope);
        }
    }
    pat::ScopeSet held(held_names);
    for (const pat::ResourceBinding &binding : bindings) {
        if (!held.contains(binding.scope)) {
            throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                             "scope \"" + binding.scope.substr(0, pat::kScopeMaxChars) +
                                 "\" is bound to resources but the token does not hold it");
        }
    }
    Limits checked = asked;
    if (asked.metadata != nullptr) {
        Jsonb *metadata = asked.metadata;
        Size bytes = call_pg([&] {
            return static_cast<Size>(
                strlen(JsonbToCString(nullptr, &metadata->root, VARSIZE(metadata))));
        });
        pat::check_metadata_size(bytes);
        // Never a secret: metadata is returned to whoever presents the token, and kept in
        // plain text (pat_list, the row).
        if (holds_a_token(metadata)) {
            throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                             "token metadata must not hold a token", "",
                             "Keep the token's id in the metadata, never a secret.");
        }
        bool nothing = call_pg([&] {
            if (JB_ROOT_IS_SCALAR(metadata)) {
                JsonbValue scalar;
                return JsonbExtractScalar(&metadata->root, &scalar) && scalar.type == jbvNull;
            }
            return JB_ROOT_COUNT(metadata) == 0;
        });
        if (nothing) {
            checked.metadata = nullptr;
        }
    }
    if (context != nullptr) {
        pat::RestrictionsView own = pat::pg::context_restrictions(*context);
        std::vector<pat::Network> context_networks = own.networks();
        if (!context_networks.empty() && (!changing || asked.networks_given)) {
            if (networks.empty()) {
                networks = context_networks;
            } else if (!pat::networks_within(networks, context_networks)) {
                throw_wider_than_context("networks");
            }
        }
        if (!changing || asked.resources_given) {
            for (const pat::ResourceBinding &bound : own.bindings()) {
                if (!held.contains(bound.scope)) {
                    continue;
                }
                auto mine = std::find_if(
                    bindings.begin(), bindings.end(),
                    [&](const pat::ResourceBinding &b) { return b.scope == bound.scope; });
                if (mine == bindings.end()) {
                    bindings.push_back(bound);
                } else if (!pat::resources_within({*mine}, {bound})) {
                    throw_wider_than_context("resources");
                }
            }
            pat::check_resources(&bindings);
        }
    }
    checked.networks = pat::pg::networks_array(networks);
    checked.resources = pat::pg::bindings_jsonb(bindings);
    return checked;
}

// A version 7 UUID (RFC 9562): 48 bits of Unix time in milliseconds, then 74 bits from
// OpenSSL's CSPRNG. Ids made together sort together, so the primary key and the audit log's
// (token_id, occurred_at) index take new entries on a few recent pages instead of anywhere:
// fewer pages read and fewer full-page images in the WAL. The time they reveal is created_at's.
pg_uuid_t new_token_id() {
    pg_uuid_t id;
    pat::random_bytes(id.data, UUID_LEN);
    TimestampTz now = GetCurrentTimestamp();
    uint64 unix_ms = static_cast<uint64>(
        (now + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY) / 1000);
    for (int i = 0; i < 6; ++i) {
        id.data[i] = static_cast<unsigned char>(unix_ms >> (40 - 8 * i));
    }
    id.data[6] = static_cast<unsigned char>((id.data[6] & 0x0f) | 0x70);
    id.data[8] = static_cast<unsigned char>((id.data[8] & 0x3f) | 0x80);
    return id;
}

// A UUID as uuid_out() spells it.
std::string uuid_text(const pg_uuid_t &id) {
    static const char kHex[] = "0123456789abcdef";
    std::string text;
    for (int i = 0; i < UUID_LEN; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            text += '-';
        }
        text += kHex[id.data[i] >> 4];
        text += kHex[id.data[i] & 0x0f];
    }
    return text;
}

[[noreturn]] void throw_no_such_token(const pg_uuid_t &id) {
    throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                     "token " + uuid_text(id) + " does not exist");
}

// Waits for other creations for user_id, to the end of the transaction. Inside
// begin_owner_spi; may ereport (40001 under REPEATABLE READ or SERIALIZABLE when another
// creation for the user committed after the transaction's snapshot).
void lock_user_tokens(text *user_id) {
    if (pat::pg::schema_has(pat::schema_since::kUserTokenLocks)) {
        Datum values[1] = {PointerGetDatum(user_id)};
        run(lock_user_tokens_plan, values, nullptr, false, SPI_OK_INSERT);
        return;
    }
    Datum values[2] = {PointerGetDatum(user_id),
                       Int32GetDatum(static_cast<int32>(pat::pg::tokens_relation()))};
    run(advisory_lock_user_tokens_plan, values, nullptr, false, SPI_OK_SELECT);
}

// pat.max_active_tokens_per_user: 54000 when user_id already holds that many active tokens, not
// counting not_counted (a rotation's predecessor that is revoked at once). Waits for other
// creations for the same user first; the count's fresh snapshot (READ COMMITTED) then sees theirs.
// Inside begin_owner_spi.
void require_room_for_token(text *user_id, pg_uuid_t *not_counted, text *token_type) {
    std::optional<int64> cap = pat::pg::max_active_tokens_per_user();
    if (!cap) {
        return;
    }
    lock_user_tokens(user_id);
    Datum values[4] = {PointerGetDatum(user_id), TimestampTzGetDatum(pat::pg::policy_clock()),
                       UUIDPGetDatum(not_counted), PointerGetDatum(token_type)};
    char nulls[5] = {' ', ' ', not_counted != nullptr ? ' ' : 'n', ' ', '\0'};
    if (token_type != nullptr) {
        run(count_active_of_type_plan, values, nulls, false, SPI_OK_SELECT);
    } else {
        run(count_active_plan, values, nulls, false, SPI_OK_SELECT);
    }
    bool is_null = false;
    int64 active =
        DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
    pat::require_below_token_cap(pat::pg::text_view(user_id), active, cap);
}

// What a new token is born with beside its user, name, scopes and expiry.
struct Birth {
    pg_uuid_t *rotated_from = nullptr;  // a rotation's predecessor
    pg_uuid_t *not_counted = nullptr;   // a predecessor revoked at once: not counted for the cap
    pg_uuid_t *parent_id = nullptr;     // pat_delegate's minting token
    ArrayType *ancestors = nullptr;     // and the chain down to it
    bool organization = false;          // pat_create_org_token's
    // Its limits (where the schema has them): nullptr for none.
    ArrayType *networks = nullptr;
    Jsonb *resources = nullptr;
    Jsonb *metadata = nullptr;
    std::optional<TimestampTz> suspended_at;  // a rotated suspended token's successor's
};

// A new token, checked: stores its digest (with what it is born with) and returns it once as
// the result row (token_id, token, expires_at). Writes *new_id.
Datum store_new_token(FunctionCallInfo fcinfo, text *user_id, text *name, ArrayType *scopes,
                      std::optional<TimestampTz> expires_at, const Birth &birth,
                      pg_uuid_t *new_id) {
    TupleDesc type = call_pg([&] { return pat::pg::result_type(fcinfo); });

    pg_uuid_t token_id = new_token_id();
    std::string token = pat::generate_token(pat::pg::token_prefix());
    pat::Digest digest = pat::pg::token_digesters().front().digest(token);
    text *token_text = pat::pg::make_text(token);
    pat::wipe(token);  // the plaintext lives on only in the result
    bytea *stored_digest = pat::pg::make_bytea(digest.data(), digest.size());
    text *key_id = pat::pg::current_key_id();

    bool with_birth = call_pg([] { return pat::pg::schema_has(pat::schema_since::kDelegation); });
    bool with_limits =
        call_pg([] { return pat::pg::schema_has(pat::schema_since::kRestrictions); });
    text *created_by = nullptr;
    text *token_type = nullptr;
    if (with_birth) {
        created_by = pat::pg::make_text(pat::pg::token_creator(pat::pg::current_audit_actor()));
        token_type = pat::pg::make_text(birth.organization ? "organization" : "personal");
    }
    pat::pg::ApiInsertScope inserting(birth.organization ? pat::pg::ApiInsert::organization
                                      : birth.parent_id != nullptr ? pat::pg::ApiInsert::delegated
                                                                   : pat::pg::ApiInsert::token);
    pat::pg::with_owner_spi([&] {
        require_room_for_token(user_id, birth.not_counted, token_type);
        Datum values[12] = {
            UUIDPGetDatum(&token_id),       PointerGetDatum(user_id),
            PointerGetDatum(name),          PointerGetDatum(scopes),
            PointerGetDatum(stored_digest), TimestampTzGetDatum(expires_at.value_or(0)),
            PointerGetDatum(key_id),        UUIDPGetDatum(birth.rotated_from),
            UUIDPGetDatum(birth.parent_id), PointerGetDatum(birth.ancestors),
            PointerGetDatum(created_by),    PointerGetDatum(token_type)};
        char nulls[13] = "            ";
        nulls[5] = expires_at ? ' ' : 'n';
        nulls[6] = key_id != nullptr ? ' ' : 'n';
        nulls[7] = birth.rotated_from != nullptr ? ' ' : 'n';
        nulls[8] = birth.parent_id != nullptr ? ' ' : 'n';
        nulls[9] = birth.ancestors != nullptr ? ' ' : 'n';
        if (with_limits) {
            Datum all[16];
            char all_nulls[17];
            memcpy(all, values, sizeof values);
            memcpy(all_nulls, nulls, 12);
            all[12] = PointerGetDatum(birth.networks);
            all[13] = PointerGetDatum(birth.resources);
            all[14] = PointerGetDatum(birth.metadata);
            all[15] = TimestampTzGetDatum(birth.suspended_at.value_or(0));
            all_nulls[12] = birth.networks != nullptr ? ' ' : 'n';
            all_nulls[13] = birth.resources != nullptr ? ' ' : 'n';
            all_nulls[14] = birth.metadata != nullptr ? ' ' : 'n';
            all_nulls[15] = birth.suspended_at ? ' ' : 'n';
            all_nulls[16] = '\0';
            run(insert_with_limits_plan, all, all_nulls, false, SPI_OK_INSERT);
        } else if (with_birth) {
            run(insert_with_birth_plan, values, nulls, false, SPI_OK_INSERT);
        } else if (birth.rotated_from != nullptr) {
            run(insert_rotated_plan, values, nulls, false, SPI_OK_INSERT);
        } else {
            run(key_id != nullptr ? insert_plan : insert_without_key_id_plan, values, nulls, false,
                SPI_OK_INSERT);
        }
        pat::pg::remember_token_prefix();
    });
    *new_id = token_id;

    Datum values[3] = {UUIDPGetDatum(new_id), PointerGetDatum(token_text),
                       TimestampTzGetDatum(expires_at.value_or(0))};
    bool nulls[3] = {false, false, !expires_at};
    call_pg([&] {
        Tuplestorestate *rows = pat::pg::begin_result_rows(fcinfo, type);
        tuplestore_putvalues(rows, type, values, nulls);
    });
    return static_cast<Datum>(0);
}

// pat_create with its expiry resolved: checks the rest, stores the digest, returns the token
// once. Expiry errors come first, as the arguments of the 1.0 function were evaluated first.
// Inside a token context the user must be the token's own, before anything about the user (the
// grantable scopes an error names) is read.
Datum create_token(FunctionCallInfo fcinfo, std::optional<TimestampTz> expires_at) {
    text *user_id = pat::pg::user_id_argument(fcinfo, 0);
    const pat::pg::TokenContext *context =
        pat::pg::require_self_service(pat::pg::text_view(user_id));
    text *name = token_name_argument(fcinfo, 1);
    ArrayType *scopes = checked_scopes_argument(fcinfo, 2, user_id, context);
    pat::pg::require_no_later_than_context(context, expires_at);
    Birth birth;
    if (call_pg([] { return pat::pg::schema_has(pat::schema_since::kRestrictions); })) {
        Limits limits = checked_limits(limit_arguments(fcinfo, 4), scopes, context, false);
        birth.networks = limits.networks;
        birth.resources = limits.resources;
        birth.metadata = limits.metadata;
    }
    pg_uuid_t new_id;
    return store_new_token(fcinfo, user_id, name, scopes, expires_at, birth, &new_id);
}

struct LockedToken {
    bool found;
    bool revoked;
    text *user_id;
    bool organization;
};

// Locks the token's row to the end of the transaction and reads its user.
LockedToken lock_token(pg_uuid_t *token_id) {
    return pat::pg::with_owner_spi([&] {
        Datum values[1] = {UUIDPGetDatum(token_id)};
        LockedToken row = {false, false, nullptr, false};
        bool typed = pat::pg::schema_has(pat::schema_since::kDelegation);
        if (run(typed ? lock_with_type_plan : lock_plan, values, nullptr, false, SPI_OK_SELECT) ==
            1) {
            bool is_null = false;
            HeapTuple tuple = SPI_tuptable->vals[0];
            row.found = true;
            row.user_id = reinterpret_cast<text *>(SPI_datumTransfer(
                SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &is_null), false, -1));
            row.revoked = DatumGetBool(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &is_null));
            row.organization =
                typed && DatumGetBool(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 3, &is_null));
        }
        return row;
    });
}

// Inside a token context, requires that token_id is a token of the context's user (and the
// manage scope); a missing token gets the same answer as another user's, so that a token cannot
// probe for ids. Returns the context, or nullptr outside one.
const pat::pg::TokenContext *require_own_token(const LockedToken &locked) {
    return pat::pg::require_self_service(locked.found ? pat::pg::text_view(locked.user_id)
                                                      : std::string_view());
}

// The row a rotation starts from, locked to the end of the transaction.
struct RotationSource {
    bool found = false;
    text *user_id = nullptr;
    text *name = nullptr;
    ArrayType *scopes = nullptr;
    TimestampTz created_at = 0;
    std::optional<TimestampTz> expires_at;
    bool revoked = false;
    pg_uuid_t *parent_id = nullptr;
    ArrayType *ancestors = nullptr;
    bool organization = false;
};

RotationSource lock_for_rotation(pg_uuid_t *token_id) {
    return pat::pg::with_owner_spi([&] {
        RotationSource row;
        Datum values[1] = {UUIDPGetDatum(token_id)};
        bool with_birth = pat::pg::schema_has(pat::schema_since::kDelegation);
        if (run(with_birth ? lock_for_rotation_with_birth_plan : lock_for_rotation_plan, values,
                nullptr, false, SPI_OK_SELECT) != 1) {
            return row;
        }
        Datum columns[9];
        bool nulls[9];
        heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, columns, nulls);
        row.found = true;
        row.user_id = reinterpret_cast<text *>(SPI_datumTransfer(columns[0], false, -1));
        row.name = reinterpret_cast<text *>(SPI_datumTransfer(columns[1], false, -1));
        // Detoasted (a short header or a compressed value is no ArrayType) before the copy.
        row.scopes = reinterpret_cast<ArrayType *>(
            SPI_datumTransfer(PointerGetDatum(DatumGetArrayTypeP(columns[2])), false, -1));
        row.created_at = DatumGetTimestampTz(columns[3]);
        if (!nulls[4]) {
            row.expires_at = DatumGetTimestampTz(columns[4]);
        }
        row.revoked = DatumGetBool(columns[5]);
        if (with_birth) {
            if (!nulls[6]) {
                row.parent_id =
                    reinterpret_cast<pg_uuid_t *>(SPI_datumTransfer(columns[6], false, UUID_LEN));
            }
            if (!nulls[7]) {
                row.ancestors = reinterpret_cast<ArrayType *>(
                    SPI_datumTransfer(PointerGetDatum(DatumGetArrayTypeP(columns[7])), false, -1));
            }
            row.organization = DatumGetBool(columns[8]);
        }
        return row;
    });
}

// A token's scopes and limits as stored (its row is locked by the caller).
struct StoredLimits {
    ArrayType *scopes = nullptr;
    ArrayType *networks = nullptr;
    Jsonb *resources = nullptr;
    Jsonb *metadata = nullptr;
    std::optional<TimestampTz> suspended_at;
};

StoredLimits stored_limits(pg_uuid_t *token_id) {
    return pat::pg::with_owner_spi([&] {
        StoredLimits limits;
        Datum values[1] = {UUIDPGetDatum(token_id)};
        if (run(token_limits_plan, values, nullptr, true, SPI_OK_SELECT) != 1) {
            return limits;
        }
        Datum columns[5];
        bool nulls[5];
        heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, columns, nulls);
        auto transfer = [&](int i) -> void * {
            return nulls[i] ? nullptr
                            : DatumGetPointer(SPI_datumTransfer(
                                  PointerGetDatum(PG_DETOAST_DATUM(columns[i])), false, -1));
        };
        limits.scopes = static_cast<ArrayType *>(transfer(0));
        limits.networks = static_cast<ArrayType *>(transfer(1));
        limits.resources = static_cast<Jsonb *>(transfer(2));
        limits.metadata = static_cast<Jsonb *>(transfer(3));
        if (!nulls[4]) {
            limits.suspended_at = DatumGetTimestampTz(columns[4]);
        }
        return limits;
    });
}

// Audit action "rotated" on the old token, naming its successor.
void record_rotation(pg_uuid_t *old_id, const RotationSource &old, const pg_uuid_t &new_id) {
    std::string successor = uuid_text(new_id);
    pat::pg::register_audit_callbacks();
    call_pg([&] {
        pat::pg::JsonObject object;
        object.add_string("rotated_to", successor.c_str());
        pat::pg::append_token_audit("rotated", old.user_id, old_id, old.name, nullptr,
                                    object.finish());
    });
}

// pat_rotate with the successor's expiry resolved (nullopt: the old token's lifetime from
// now): a new token with the old one's user, name and scopes, checked like pat_create; the old
// one revoked at once, or with an overlap expiring at the earlier of its own expiry and now +
// overlap. Inside a token context, only the user's own tokens, as pat_update.
// The successor's expiry as asked: none (keep the lifetime), or an expiry (itself nullopt for
// never).
using Asked = std::optional<std::optional<TimestampTz>>;

Datum rotate_token(FunctionCallInfo fcinfo, Asked asked) {
    pg_uuid_t *token_id = pat::pg::token_id_argument(fcinfo, 0);
    pat::pg::require_arg(fcinfo, 2, "overlap");
    TimestampTz overlap_until = pat::pg::now_plus(PG_GETARG_INTERVAL_P(2));
    TimestampTz started = GetCurrentTransactionStartTimestamp();
    pat::require_valid_overlap(overlap_until - started);

    RotationSource old = lock_for_rotation(token_id);
    const pat::pg::TokenContext *context = pat::pg::require_self_service(
        old.found ? pat::pg::text_view(old.user_id) : std::string_view());
    if (!old.found) {
        throw_no_such_token(*token_id);
    }
    pat::require_rotatable(uuid_text(*token_id), old.revoked, old.expires_at,
                           pat::pg::policy_clock());
    // The scopes the user's roles no longer allow are refused, as pat_create refuses them (an
    // organization's token: the scopes no longer defined).
    ArrayType *scopes = old.organization
                            ? pat::pg::make_text_array(pat::pg::checked_organization_scopes(
                                  pat::pg::text_array_elements(old.scopes)))
                            : checked_scope_array(old.scopes, old.user_id, context);
    std::optional<TimestampTz> expires_at;
    if (asked) {
        expires_at = *asked;
    } else {
        std::optional<std::int64_t> carried =
            pat::carried_over_expiry(started, old.created_at, old.expires_at);
        expires_at = pat::pg::expiry_within_policy(carried ? std::optional<TimestampTz>(*carried)
                                                           : std::nullopt);
    }
    pat::pg::require_no_later_than_context(context, expires_at);

    bool revoke_now = overlap_until <= started;
    pg_uuid_t new_id;
    Birth birth;
    birth.rotated_from = token_id;
    birth.not_counted = revoke_now ? token_id : nullptr;
    birth.parent_id = old.parent_id;
    birth.ancestors = old.ancestors;
    birth.organization = old.organization;
    if (call_pg([] { return pat::pg::schema_has(pat::schema_since::kRestrictions); })) {
        StoredLimits carried = stored_limits(token_id);
        birth.networks = carried.networks;
        birth.resources = carried.resources;
        birth.metadata = carried.metadata;
        birth.suspended_at = carried.suspended_at;
    }
    Datum result =
        store_new_token(fcinfo, old.user_id, old.name, scopes, expires_at, birth, &new_id);
    record_rotation(token_id, old, new_id);
    TimestampTz old_until = static_cast<TimestampTz>(
        pat::overlap_expiry(started, overlap_until - started, old.expires_at));
    pat::pg::with_owner_spi([&] {
        if (pat::pg::schema_has(pat::schema_since::kRateLimits)) {
            Datum ids[2] = {UUIDPGetDatum(token_id), UUIDPGetDatum(&new_id)};
            run(carry_limits_plan, ids, nullptr, false, SPI_OK_SELECT);
        }
        Datum values[2] = {UUIDPGetDatum(token_id), TimestampTzGetDatum(old_until)};
        if (revoke_now) {
            run(revoke_plan, values, nullptr, false, SPI_OK_UPDATE);
        } else {
            run(shorten_expiry_plan, values, nullptr, false, SPI_OK_UPDATE);
        }
    });
    return result;
}

// The token pat_delegate mints from, locked to the end of the transaction.
struct Parent {
    bool found = false;
    bool revoked = false;
    bool organization = false;
    ArrayType *ancestors = nullptr;  // root first; nullptr for a root token
};

// The uuid Datums of a chain (nullptr: none), pointing into it.
std::vector<Datum> chain_ids(ArrayType *chain) {
    std::vector<Datum> ids;
    if (chain == nullptr) {
        return ids;
    }
    Datum *elements = nullptr;
    int count = call_pg([&] {
        int found = 0;
        deconstruct_array(chain, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, &elements, nullptr,
                          &found);
        return found;
    });
    ids.assign(elements, elements + count);
    return ids;
}

Parent lock_parent(pg_uuid_t *token_id) {
    return pat::pg::with_owner_spi([&] {
        Parent parent;
        Datum values[1] = {UUIDPGetDatum(token_id)};
        if (run(lock_parent_plan, values, nullptr, false, SPI_OK_SELECT) != 1) {
            return parent;
        }
        Datum columns[4];
        bool nulls[4];
        heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, columns, nulls);
        parent.found = true;
        if (!DatumGetBool(columns[3])) {
            run(mark_parent_plan, values, nullptr, false, SPI_OK_UPDATE);
        }
        parent.revoked = DatumGetBool(columns[1]);
        parent.organization =
            !nulls[2] && pat::pg::text_view(DatumGetTextPP(columns[2])) == "organization";
        if (!nulls[0]) {
            parent.ancestors = reinterpret_cast<ArrayType *>(
                SPI_datumTransfer(PointerGetDatum(DatumGetArrayTypeP(columns[0])), false, -1));
        }
        return parent;
    });
}

// pat_revoke's report: the live descendants that fall with token_id (none where the schema has
// no delegation). Inside owner SPI.
int64 live_descendants(pg_uuid_t *token_id) {
    if (!pat::pg::schema_has(pat::schema_since::kDelegation)) {
        return 0;
    }
    Datum now = TimestampTzGetDatum(pat::pg::policy_clock());
    bool is_null = false;
    // Fresh snapshots: children minted while the revoke waited for the parent's row count too.
    if (!pat::pg::schema_has(pat::schema_since::kParentIdIndex)) {
        Datum values[2] = {UUIDPGetDatum(token_id), now};
        run(count_descendants_plan, values, nullptr, false, SPI_OK_SELECT);
        return DatumGetInt64(
            SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
    }
    // A level per query rather than one recursive query: a recursive query's estimates grow with
    // each level it might have, enough to compile it (JIT) at every revoke. The walk ends: a
    // token's parent is set when it is made and never changed, so no chain loops.
    Datum level = call_pg([&] {
        Datum id = UUIDPGetDatum(token_id);
        return PointerGetDatum(construct_array(&id, 1, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
    });
    int64 live = 0;
    for (;;) {
        Datum values[2] = {level, now};
        run(count_children_plan, values, nullptr, false, SPI_OK_SELECT);
        HeapTuple row = SPI_tuptable->vals[0];
        live += DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &is_null));
        level = SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &is_null);
        if (is_null) {
            return live;
        }
    }
}

}  // namespace

// pat_delegate(name, scopes, expires text DEFAULT NULL): inside a token context whose token
// holds pat.delegate_scope, a child token of the same user (or account): scopes it holds, an
// expiry no later than its own and within pat.max_delegated_lifetime (NULL: the longest
// allowed), at most pat.max_delegation_depth deep. The child records its parent and the chain
// above it, and falls with any of them (token_store.hpp).
PAT_FUNCTION(pat_delegate) {
    const pat::pg::TokenContext *context = pat::pg::current_token_context();
    if (context == nullptr) {
        throw pat::Error(pat::sqlstate::kInsufficientPrivilege,
                         "pat_delegate() mints a child of the authenticated token, and no token "
                         "is authenticated",
                         "",
                         "Call pat_authenticate() with the parent token first, in the same "
                         "transaction.");
    }
    pat::TokenHolder holder = pat::pg::token_holder(*context);
    pat::require_delegate_scope(holder, pat::pg::delegate_scope());
    text *name = token_name_argument(fcinfo, 0);
    pat::pg::require_arg(fcinfo, 1, "scopes");
    // Detoasted here, before any C++ object with a destructor is alive.
    ArrayType *requested = call_pg([&] { return PG_GETARG_ARRAYTYPE_P(1); });
    text *expires = PG_ARGISNULL(2) ? nullptr : pat::pg::required_text(fcinfo, 2, "expires");

    pg_uuid_t parent_id = context->token_id;
    Parent parent = lock_parent(&parent_id);
    if (!parent.found || parent.revoked) {
        throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                         "the authenticated token has been revoked and cannot delegate");
    }
    std::vector<Datum> chain = chain_ids(parent.ancestors);
    pat::require_delegation_depth(chain.size(), pat::pg::max_delegation_depth());

    text *user_id = pat::pg::make_text(context->user_id);
    std::vector<std::string> checked;
    if (parent.organization) {
        checked = pat::pg::checked_organization_scopes(pat::pg::text_array_elements(requested));
        pat::require_held_scopes(holder, checked);
    } else {
        checked = pat::pg::checked_token_scopes(pat::pg::text_array_elements(requested), user_id,
                                                context);
    }
    ArrayType *scopes = pat::pg::make_text_array(checked);

    std::optional<TimestampTz> delegated_limit = call_pg(
        [] { return pat::pg::latest_delegated_expiry(GetCurrentTransactionStartTimestamp()); });
    std::optional<TimestampTz> expires_at;
    if (expires == nullptr) {
        std::optional<TimestampTz> lifetime_limit =
            call_pg([] { return pat::pg::latest_allowed_expiry(pat::pg::policy_clock()); });
        std::optional<std::int64_t> longest =
            pat::longest_delegated_expiry(holder, delegated_limit, lifetime_limit);
        expires_at = pat::pg::expiry_within_policy(longest ? std::optional<TimestampTz>(*longest)
                                                           : std::nullopt);
    } else {
        expires_at = pat::pg::expiry_from_text(expires);
    }
    pat::pg::require_no_later_than_context(context, expires_at);
    pat::require_within_delegated_lifetime(expires_at, delegated_limit);

    chain.push_back(UUIDPGetDatum(&parent_id));
    Birth birth;
    birth.parent_id = &parent_id;
    birth.ancestors = call_pg([&] {
        return construct_array(chain.data(), static_cast<int>(chain.size()), UUIDOID, UUID_LEN,
                               false, TYPALIGN_CHAR);
    });
    birth.organization = parent.organization;
    // A child is never wider than its parent: it inherits the parent's networks and resources.
    if (call_pg([] { return pat::pg::schema_has(pat::schema_since::kRestrictions); })) {
        Limits limits = checked_limits(Limits{}, scopes, context, false);
        birth.networks = limits.networks;
        birth.resources = limits.resources;
    }
    pg_uuid_t new_id;
    return store_new_token(fcinfo, user_id, name, scopes, expires_at, birth, &new_id);
}

// pat_create_org_token(account_id, name, scopes, expires text): a token of an organization's
// account, made by the back end (never inside a token context): any defined scope, no person's
// roles bound it, and no user's role loss or pat_revoke_all reaches it.
PAT_FUNCTION(pat_create_org_token) {
    pat::pg::require_outside_token_context("pat_create_org_token");
    text *account_id = pat::pg::user_id_argument(fcinfo, 0);
    text *name = token_name_argument(fcinfo, 1);
    pat::pg::require_arg(fcinfo, 2, "scopes");
    ArrayType *scopes = pat::pg::make_text_array(pat::pg::checked_organization_scopes(
        pat::pg::text_array_elements(PG_GETARG_ARRAYTYPE_P(2))));
    text *expires = pat::pg::required_text(fcinfo, 3, "expires");
    std::optional<TimestampTz> expires_at = pat::pg::expiry_from_text(expires);
    Birth birth;
    birth.organization = true;
    pg_uuid_t new_id;
    return store_new_token(fcinfo, account_id, name, scopes, expires_at, birth, &new_id);
}

// pat_create(user_id, name, scopes, expires text): '30 days', '2027-03-01' or 'never'.
PAT_FUNCTION(pat_create_text) {
    text *expires = pat::pg::required_text(fcinfo, 3, "expires");
    return create_token(fcinfo, pat::pg::expiry_from_text(expires));
}

// pat_create(user_id, name, scopes, expires interval).
PAT_FUNCTION(pat_create_interval) {
    pat::pg::require_arg(fcinfo, 3, "expires");
    return create_token(fcinfo, pat::pg::expiry_from_interval(PG_GETARG_INTERVAL_P(3)));
}

// pat_create(user_id, name, scopes, expires timestamptz).
PAT_FUNCTION(pat_create_timestamptz) {
    pat::pg::require_arg(fcinfo, 3, "expires");
    return create_token(fcinfo, pat::pg::expiry_from_timestamptz(PG_GETARG_TIMESTAMPTZ(3)));
}

// pat_update(token_id, name, scopes): rename and/or replace the scopes (the rules of
// pat_create); never the expiry. A revoked token cannot be edited (55000).
PAT_FUNCTION(pat_update) {
    pg_uuid_t *token_id = pat::pg::token_id_argument(fcinfo, 0);
    LockedToken locked = lock_token(token_id);
    const pat::pg::TokenContext *context = require_own_token(locked);
    if (!locked.found) {
        throw_no_such_token(*token_id);
    }
    if (locked.revoked) {
        throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                         "token " + uuid_text(*token_id) + " is revoked and cannot be edited");
    }
    text *name = PG_ARGISNULL(1) ? nullptr : token_name_argument(fcinfo, 1);
    // An organization's token may be given any defined scope, as pat_create_org_token gives.
    ArrayType *scopes = nullptr;
    if (!PG_ARGISNULL(2)) {
        scopes = locked.organization
                     ? pat::pg::make_text_array(pat::pg::checked_organization_scopes(
                           pat::pg::text_array_elements(PG_GETARG_ARRAYTYPE_P(2))))
                     : checked_scopes_argument(fcinfo, 2, locked.user_id, context);
    }
    if (name != nullptr || scopes != nullptr) {
        pat::pg::with_owner_spi([&] {
            Datum values[3] = {UUIDPGetDatum(token_id), PointerGetDatum(name),
                               PointerGetDatum(scopes)};
            char nulls[4] = {' ', name ? ' ' : 'n', scopes ? ' ' : 'n', '\0'};
            run(update_plan, values, nulls, false, SPI_OK_UPDATE);
        });
    }
    if (!call_pg([] { return pat::pg::schema_has(pat::schema_since::kRestrictions); })) {
        PG_RETURN_VOID();
    }
    Limits asked = limit_arguments(fcinfo, 3);
    if (!asked.networks_given && !asked.resources_given && !asked.metadata_given) {
        PG_RETURN_VOID();
    }
    ArrayType *final_scopes = scopes != nullptr ? scopes : stored_limits(token_id).scopes;
    Limits limits = checked_limits(asked, final_scopes, context, true);
    pat::pg::with_owner_spi([&] {
        Datum values[7] = {UUIDPGetDatum(token_id),           BoolGetDatum(limits.networks_given),
                           PointerGetDatum(limits.networks),  BoolGetDatum(limits.resources_given),
                           PointerGetDatum(limits.resources), BoolGetDatum(limits.metadata_given),
                           PointerGetDatum(limits.metadata)};
        char nulls[8] = {' ',
                         ' ',
                         limits.networks ? ' ' : 'n',
                         ' ',
                         limits.resources ? ' ' : 'n',
                         ' ',
                         limits.metadata ? ' ' : 'n',
                         '\0'};
        run(update_limits_plan, values, nulls, false, SPI_OK_UPDATE);
    });
    PG_RETURN_VOID();
}

namespace {

// pat_suspend and pat_resume: the state changed (the row written by plan), with its audit row
// (the trigger's) and the owner's notice; whether it changed. A revoked token cannot be
// suspended or resumed (55000); inside a token context only the user's own tokens.
bool change_suspension(pg_uuid_t *token_id, KeptPlan &plan, const char *kind) {
    LockedToken locked = lock_token(token_id);
    require_own_token(locked);
    if (!locked.found) {
        throw_no_such_token(*token_id);
    }
    if (locked.revoked) {
        throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                         "token " + uuid_text(*token_id) + " is revoked");
    }
    bool changed = pat::pg::with_owner_spi([&] {
        Datum values[1] = {UUIDPGetDatum(token_id)};
        if (run(plan, values, nullptr, false, SPI_OK_UPDATE_RETURNING) != 1) {
            return false;
        }
        bool is_null = false;
        Datum notice[4] = {
            PointerGetDatum(cstring_to_text(kind)),
            SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null),
            UUIDPGetDatum(token_id),
            SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &is_null)};
        run(queue_state_notice_plan, notice, nullptr, false, SPI_OK_INSERT);
        return true;
    });
    if (changed) {
        call_pg([] { Async_Notify("pat_notices", ""); });
    }
    return changed;
}

}  // namespace

// pat_suspend(token_id): checks answer suspended from the commit on, in every session; the
// token keeps its expiry. False if it already was suspended.
PAT_FUNCTION(pat_suspend) {
    pg_uuid_t *token_id = pat::pg::token_id_argument(fcinfo, 0);
    PG_RETURN_BOOL(change_suspension(token_id, suspend_plan, "suspended"));
}

// pat_resume(token_id): the token works again from the commit on, with the expiry it always had
// (a suspension never extends a life). False if it was not suspended.
PAT_FUNCTION(pat_resume) {
    pg_uuid_t *token_id = pat::pg::token_id_argument(fcinfo, 0);
    PG_RETURN_BOOL(change_suspension(token_id, resume_plan, "resumed"));
}

// pat_revoke(token_id): revoked at commit; false if it already was.
PAT_FUNCTION(pat_revoke) {
    pg_uuid_t *token_id = pat::pg::token_id_argument(fcinfo, 0);
    if (pat::pg::current_token_context() != nullptr) {
        require_own_token(lock_token(token_id));
    }
    struct Outcome {
        bool revoked;
        bool exists;
        int64 descendants;
    };
    Outcome outcome = pat::pg::with_owner_spi([&] {
        Datum values[1] = {UUIDPGetDatum(token_id)};
        Outcome result = {run(revoke_plan, values, nullptr, false, SPI_OK_UPDATE) == 1, true, 0};
        if (!result.revoked) {
            result.exists = run(exists_plan, values, nullptr, false, SPI_OK_SELECT) == 1;
        } else {
            result.descendants = live_descendants(token_id);
        }
        return result;
    });
    if (!outcome.exists) {
        throw_no_such_token(*token_id);
    }
    // The descendants' rows are not written: each answers revoked from its next check on.
    if (outcome.descendants > 0) {
        call_pg([&] {
            ereport(NOTICE,
                    (errmsg("%lld delegated descendant token(s) revoked with it",
                            static_cast<long long>(outcome.descendants)),
                     errdetail("Their rows are unchanged; each answers revoked from its next "
                               "check on.")));
        });
    }
    PG_RETURN_BOOL(outcome.revoked);
}

// pat_revoke_all(user_id): revokes every active token of the user; how many.
PAT_FUNCTION(pat_revoke_all) {
    text *user_id = pat::pg::user_id_argument(fcinfo, 0);
    pat::pg::require_self_service(pat::pg::text_view(user_id));
    uint64 revoked = pat::pg::with_owner_spi([&] {
        Datum values[1] = {PointerGetDatum(user_id)};
        bool typed = pat::pg::schema_has(pat::schema_since::kDelegation);
        return run(typed ? revoke_all_personal_plan : revoke_all_plan, values, nullptr, false,
                   SPI_OK_UPDATE);
    });
    PG_RETURN_INT32(static_cast<int32>(revoked));
}

// pat_list's last_addresses: the token's newest 5 of the addresses written (columns[16], their
// last uses columns[17]) and those this node has not written out yet (unless
// pat.client_addresses is off: then the flush drops them), newest first; NULL when none.
static void last_addresses(const Datum *columns, const bool *column_nulls, Datum *value,
                           bool *null) {
    pat::UsageTally seen;
    if (!column_nulls[16] && !column_nulls[17]) {
        Datum *addresses = nullptr;
        Datum *times = nullptr;
        int count = 0;
        int times_count = 0;
        deconstruct_array(DatumGetArrayTypeP(columns[16]), INETOID, -1, false, TYPALIGN_INT,
                          &addresses, nullptr, &count);
        deconstruct_array(DatumGetArrayTypeP(columns[17]), TIMESTAMPTZOID, sizeof(TimestampTz),
                          FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &times, nullptr, &times_count);
        for (int i = 0; i < count && i < times_count; ++i) {
            seen.note_address(
                pat::pg::address_of(reinterpret_cast<const inet *>(DatumGetPointer(addresses[i]))),
                DatumGetTimestampTz(times[i]));
        }
    }
    if (pat::pg::client_addresses() != pat::pg::ClientAddresses::off) {
        pat::pg::pending_addresses(*DatumGetUUIDP(columns[0]), &seen);
    }
    pat::RecentAddress newest[pat::kRecentAddressCount];
    int count = seen.newest_addresses(newest);
    if (count == 0) {
        return;
    }
    pat::IpAddress addresses[pat::kRecentAddressCount];
    for (int i = 0; i < count; ++i) {
        addresses[i] = newest[i].address;
    }
    *value = PointerGetDatum(pat::pg::addresses_array(addresses, count));
    *null = false;
}

// pat_list(user_id): the user's tokens, newest first, with last use and last client addresses
// (including what this node has not written out yet) and status, judged by the rule and clock
// validation uses.
PAT_FUNCTION(pat_list) {
    text *user_id = pat::pg::user_id_argument(fcinfo, 0);
    pat::pg::require_self_service(pat::pg::text_view(user_id));
    TupleDesc type = call_pg([&] { return pat::pg::result_type(fcinfo); });
    TimestampTz now = pat::pg::policy_clock();
    // The function's shape says which query: eleven columns where the schema has delegation,
    // sixteen where it has restrictions.
    bool with_chain = type->natts > 8;
    bool with_limits = type->natts > 11;
    // The addresses' table is the schema's to say: the shape has their column from restrictions
    // on, before the table.
    bool with_addresses = with_limits && pat::pg::schema_has(pat::schema_since::kTokenAddresses);
    pat::pg::with_owner_spi([&] {
        Tuplestorestate *rows = pat::pg::begin_result_rows(fcinfo, type);
        Datum arguments[1] = {PointerGetDatum(user_id)};
        uint64 count = run(with_addresses ? list_with_addresses_plan
                           : with_limits  ? list_with_limits_plan
                           : with_chain   ? list_with_chain_plan
                                          : list_plan,
                           arguments, nullptr, true, SPI_OK_SELECT);
        for (uint64 i = 0; i < count; ++i) {
            // The query's columns: those of the result but status, then the chain's state, then
            // the limits, then the addresses and their last uses.
            Datum columns[18];
            bool column_nulls[18];
            heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, columns, column_nulls);
            Datum values[16];
            bool nulls[16];
            if (with_limits) {
                for (int c = 11; c < 15; ++c) {
                    values[c] = columns[c + 1];
                    nulls[c] = column_nulls[c + 1];
                }
                values[15] = 0;
                nulls[15] = true;
                if (with_addresses) {
                    last_addresses(columns, column_nulls, &values[15], &nulls[15]);
                }
            }
            for (int c = 0; c < 7; ++c) {
                values[c] = columns[c];
                nulls[c] = column_nulls[c];
            }
            bool ancestor_fell = false;
            if (with_chain) {
                for (int c = 8; c < 11; ++c) {
                    values[c] = columns[c - 1];
                    nulls[c] = column_nulls[c - 1];
                }
                ancestor_fell = !column_nulls[10] && DatumGetBool(columns[10]);
            }
            // Last use: the later of the written one and what is still pending here.
            TimestampTz pending = 0;
            if (pat::pg::pending_last_use(*DatumGetUUIDP(values[0]), &pending) &&
                (nulls[5] || DatumGetTimestampTz(values[5]) < pending)) {
                values[5] = TimestampTzGetDatum(pending);
                nulls[5] = false;
            }
            pat::StoredTokenState state;
            state.revoked = !nulls[6] || ancestor_fell;
            if (!nulls[4]) {
                state.expires_at = DatumGetTimestampTz(values[4]);
            }
            // A delegated token expires with its earliest-expiring ancestor.
            if (with_chain && !column_nulls[11] &&
                (!state.expires_at || DatumGetTimestampTz(columns[11]) < *state.expires_at)) {
                state.expires_at = DatumGetTimestampTz(columns[11]);
            }
            std::string_view status = pat::list_status(now, state);
            values[7] = PointerGetDatum(
                cstring_to_text_with_len(status.data(), static_cast<int>(status.size())));
            nulls[7] = false;
            tuplestore_putvalues(rows, type, values, nulls);
        }
    });
    return static_cast<Datum>(0);
}

// pat_rotate(token_id, expires text DEFAULT NULL, overlap interval DEFAULT '0'): NULL keeps the
// old token's lifetime.
PAT_FUNCTION(pat_rotate_text) {
    if (PG_ARGISNULL(1)) {
        return rotate_token(fcinfo, std::nullopt);
    }
    return rotate_token(fcinfo,
                        Asked(std::in_place, pat::pg::expiry_from_text(PG_GETARG_TEXT_PP(1))));
}

// pat_rotate(token_id, expires interval, overlap interval DEFAULT '0').
PAT_FUNCTION(pat_rotate_interval) {
    pat::pg::require_arg(fcinfo, 1, "expires");
    return rotate_token(
        fcinfo, Asked(std::in_place, pat::pg::expiry_from_interval(PG_GETARG_INTERVAL_P(1))));
}

// pat_rotate(token_id, expires timestamptz, overlap interval DEFAULT '0').
PAT_FUNCTION(pat_rotate_timestamptz) {
    pat::pg::require_arg(fcinfo, 1, "expires");
    return rotate_token(
        fcinfo, Asked(std::in_place, pat::pg::expiry_from_timestamptz(PG_GETARG_TIMESTAMPTZ(1))));
}

// pat_rotated_from(token_id): the token this one was rotated from; NULL for a first token.
// Inside a token context, only the user's own tokens.
PAT_FUNCTION(pat_rotated_from) {
    pg_uuid_t *token_id = pat::pg::token_id_argument(fcinfo, 0);
    struct Row {
        bool found;
        text *user_id;
        pg_uuid_t *rotated_from;
    };
    Row row = pat::pg::with_owner_spi([&] {
        Row found = {false, nullptr, nullptr};
        Datum values[1] = {UUIDPGetDatum(token_id)};
        if (run(rotated_from_plan, values, nullptr, true, SPI_OK_SELECT) == 1) {
            Datum columns[2];
            bool nulls[2];
            heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, columns, nulls);
            found.found = true;
            found.user_id = reinterpret_cast<text *>(SPI_datumTransfer(columns[0], false, -1));
            if (!nulls[1]) {
                found.rotated_from =
                    reinterpret_cast<pg_uuid_t *>(SPI_datumTransfer(columns[1], false, UUID_LEN));
            }
        }
        return found;
    });
    pat::pg::require_self_service(row.found ? pat::pg::text_view(row.user_id) : std::string_view());
    if (!row.found) {
        throw_no_such_token(*token_id);
    }
    if (row.rotated_from == nullptr) {
        PG_RETURN_NULL();
    }
    PG_RETURN_UUID_P(row.rotated_from);
}
