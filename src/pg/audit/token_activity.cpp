// pat_token_activity(token_id, max): one token's recent audit rows, newest first, for a settings
// page; rows not yet linked into the chain (pat.audit_pending, at most pat.audit_link_delay old)
// are included, so an action shows at once. Also the token context's rule for reading a
// token's records (pat.require_own_token, which pat_usage calls).
#include <string>

#include "core/error.hpp"
#include "pg/tokens/api_support.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/result_rows.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/token_context.hpp"

namespace {

constexpr int32 kMaxRows = 1000;

const char kTokenOwner[] =
    "SELECT t.user_id FROM pat.tokens t WHERE t.token_id OPERATOR(pg_catalog.=) $1";
// The log's newest rows come from audit_log_token_idx, read backwards.
const char kActivity[] =
    "SELECT a.occurred_at, a.action, a.table_name, a.actor FROM ("
    " (SELECT l.occurred_at, l.action, l.table_name,"
    "   COALESCE(l.actor, l.user_id, l.db_role) AS actor, l.seq"
    "  FROM pat.audit_log l WHERE l.token_id OPERATOR(pg_catalog.=) $1"
    "  ORDER BY l.occurred_at DESC LIMIT $2)"
    " UNION ALL"
    " (SELECT p.occurred_at, p.action, p.table_name,"
    "   COALESCE(p.actor, p.user_id, p.db_role), NULL"
    "  FROM pat.audit_pending p WHERE p.token_id OPERATOR(pg_catalog.=) $1)) a"
    " ORDER BY a.occurred_at DESC, a.seq DESC NULLS FIRST LIMIT $2";

// Where the schema has delegation: the rows of the token's descendants too (found through
// tokens_ancestors_idx, deleted ones excepted), each actor followed by the delegated token that
// acted.
const char kActivityWithDescendants[] =
    "WITH descendants AS (SELECT t.token_id FROM pat.tokens t"
    "  WHERE t.ancestors OPERATOR(pg_catalog.@>) ARRAY[$1]::uuid[]),"
    " ids AS (SELECT $1::uuid AS token_id UNION ALL SELECT d.token_id FROM descendants d)"
    "SELECT a.occurred_at, a.action, a.table_name,"
    "  CASE WHEN a.token_id OPERATOR(pg_catalog.=) $1 THEN a.actor"
    "   ELSE a.actor OPERATOR(pg_catalog.||) ' (delegated token '"
    "    OPERATOR(pg_catalog.||) pg_catalog.quote_literal(a.token_name) OPERATOR(pg_catalog.||) ')'"
    "  END FROM ("
    " (SELECT l.occurred_at, l.action, l.table_name,"
    "   COALESCE(l.actor, l.user_id, l.db_role) AS actor, l.seq, l.token_id, l.token_name"
    "  FROM pat.audit_log l WHERE l.token_id IN (SELECT i.token_id FROM ids i)"
    "  ORDER BY l.occurred_at DESC LIMIT $2)"
    " UNION ALL"
    " (SELECT p.occurred_at, p.action, p.table_name,"
    "   COALESCE(p.actor, p.user_id, p.db_role), NULL, p.token_id, p.token_name"
    "  FROM pat.audit_pending p WHERE p.token_id IN (SELECT i.token_id FROM ids i))) a"
    " ORDER BY a.occurred_at DESC, a.seq DESC NULLS FIRST LIMIT $2";

// Where the schema keeps client addresses, and the function has their column: the rows above
// with no address, and the token's last use from each of its last addresses (action used,
// actor its user).
const char kActivityWithAddresses[] =
    "WITH descendants AS (SELECT t.token_id FROM pat.tokens t"
    "  WHERE t.ancestors OPERATOR(pg_catalog.@>) ARRAY[$1]::uuid[]),"
    " ids AS (SELECT $1::uuid AS token_id UNION ALL SELECT d.token_id FROM descendants d)"
    "SELECT a.occurred_at, a.action, a.table_name,"
    "  CASE WHEN a.token_id OPERATOR(pg_catalog.=) $1 THEN a.actor"
    "   ELSE a.actor OPERATOR(pg_catalog.||) ' (delegated token '"
    "    OPERATOR(pg_catalog.||) pg_catalog.quote_literal(a.token_name) OPERATOR(pg_catalog.||) ')'"
    "  END, a.client_address FROM ("
    " (SELECT l.occurred_at, l.action, l.table_name,"
    "   COALESCE(l.actor, l.user_id, l.db_role) AS actor, l.seq, l.token_id, l.token_name,"
    "   NULL::pg_catalog.inet AS client_address"
    "  FROM pat.audit_log l WHERE l.token_id IN (SELECT i.token_id FROM ids i)"
    "  ORDER BY l.occurred_at DESC LIMIT $2)"
    " UNION ALL"
    " (SELECT p.occurred_at, p.action, p.table_name,"
    "   COALESCE(p.actor, p.user_id, p.db_role), NULL, p.token_id, p.token_name, NULL"
    "  FROM pat.audit_pending p WHERE p.token_id IN (SELECT i.token_id FROM ids i))"
    " UNION ALL"
    " (SELECT d.last_used_at, 'used', NULL, t.user_id, NULL, d.token_id, t.name, d.address"
    "  FROM pat.token_addresses d JOIN pat.tokens t"
    "   ON t.token_id OPERATOR(pg_catalog.=) d.token_id"
    "  WHERE d.token_id OPERATOR(pg_catalog.=) $1)) a"
    " ORDER BY a.occurred_at DESC, a.seq DESC NULLS FIRST, a.client_address LIMIT $2";

pat::pg::KeptPlan owner_plan = {kTokenOwner, 1, {UUIDOID}};
pat::pg::KeptPlan activity_plan = {kActivity, 2, {UUIDOID, INT4OID}};
pat::pg::KeptPlan activity_with_descendants_plan = {
    kActivityWithDescendants, 2, {UUIDOID, INT4OID}};
pat::pg::KeptPlan activity_with_addresses_plan = {kActivityWithAddresses, 2, {UUIDOID, INT4OID}};

// Inside a token context: token_id must be a token of the context's user, and the token must
// hold the manage scope. A missing token and another user's get the same answer, as in
// pat_update, so that a token cannot probe for ids.
void require_own_token(pg_uuid_t *token_id) {
    if (pat::pg::current_token_context() == nullptr) {
        return;
    }
    text *owner = pat::pg::with_owner_spi([&]() -> text * {
        Datum values[1] = {UUIDPGetDatum(token_id)};
        if (pat::pg::run_kept_plan(owner_plan, values, nullptr, true, SPI_OK_SELECT) != 1) {
            return nullptr;
        }
        bool is_null = false;
        return reinterpret_cast<text *>(SPI_datumTransfer(
            SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null), false, -1));
    });
    pat::pg::require_self_service(owner != nullptr ? pat::pg::text_view(owner)
                                                   : std::string_view());
}

}  // namespace

// pat.require_own_token(token_id): the check above, for pg_pat's SQL functions (pat_usage).
PAT_FUNCTION(pat_require_own_token) {
    require_own_token(pat::pg::token_id_argument(fcinfo, 0));
    PG_RETURN_VOID();
}

// pat_token_activity(token_id, max DEFAULT 50): occurred_at, action, table_name and actor (who
// acted: pat_set_actor()'s actor, else the token's user) of the token's audit rows and its
// delegated descendants' (their actor names the delegated token), and where the schema keeps
// client addresses, the token's last use from each (action used, client_address), newest
// first, at most max (1 to 1000). Inside a token context only the user's own tokens (and with
// the manage scope); outside one, also a deleted token's rows.
PAT_FUNCTION(pat_token_activity) {
    pg_uuid_t *token_id = pat::pg::token_id_argument(fcinfo, 0);
    pat::pg::require_arg(fcinfo, 1, "max");
    int32 max = PG_GETARG_INT32(1);
    if (max < 1 || max > kMaxRows) {
        throw pat::Error(pat::sqlstate::kInvalidParameterValue, "max must be between 1 and " +
                                                                    std::to_string(kMaxRows) +
                                                                    ", not " + std::to_string(max));
    }
    TupleDesc type = pat::pg::call_pg([&] { return pat::pg::result_type(fcinfo); });
    require_own_token(token_id);
    pat::pg::with_owner_spi([&] {
        Tuplestorestate *rows = pat::pg::begin_result_rows(fcinfo, type);
        Datum arguments[2] = {UUIDPGetDatum(token_id), Int32GetDatum(max)};
        bool delegation = pat::pg::schema_has(pat::schema_since::kDelegation);
        // The function's shape says whether addresses have a column (the schema that has it
        // has their table).
        bool addresses = type->natts > 4;
        (void)pat::pg::run_kept_plan(addresses    ? activity_with_addresses_plan
                                     : delegation ? activity_with_descendants_plan
                                                  : activity_plan,
                                     arguments, nullptr, true, SPI_OK_SELECT);
        pat::pg::put_spi_rows(rows, type);
    });
    return static_cast<Datum>(0);
}
