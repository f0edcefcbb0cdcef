// Reading a stored token, and recording its use, as the owner of pat.tokens.
//
// The caller (a validating service) has no privilege on the tables: the queries run with the
// table owner's user id, schema-qualify every table and operator, and so do not depend on the
// caller's search_path. Plans are prepared once per backend.
#include "pg/token_store.hpp"

#include "pg/spi_support.hpp"

namespace pat::pg {

static const char kFetchQuery[] =
    "SELECT t.token_id, t.user_id, t.name, t.scopes, t.expires_at, u.last_used_at,"
    "       t.revoked_at IS NOT NULL,"
    "       EXISTS (SELECT 1 FROM pat.user_roles ur JOIN pat.roles r"
    "                 ON r.role OPERATOR(pg_catalog.=) ur.role"
    "               WHERE ur.user_id OPERATOR(pg_catalog.=) t.user_id AND r.all_scopes),"
    "       ARRAY(SELECT rs.scope FROM pat.user_roles ur JOIN pat.role_scopes rs"
    "               ON rs.role OPERATOR(pg_catalog.=) ur.role"
    "             WHERE ur.user_id OPERATOR(pg_catalog.=) t.user_id)"
    "  FROM pat.tokens t LEFT JOIN pat.token_usage u"
    "    ON u.token_id OPERATOR(pg_catalog.=) t.token_id"
    " WHERE t.digest OPERATOR(pg_catalog.=) $1";

// SKIP LOCKED: a usage row another validation is writing is simply not touched. The token row
// itself is never locked here, so revokes and edits never wait for a validating transaction.
static const char kTouchQuery[] =
    "UPDATE pat.token_usage SET last_used_at = $2"
    " WHERE token_id OPERATOR(pg_catalog.=)"
    "   (SELECT token_id FROM pat.token_usage"
    "     WHERE token_id OPERATOR(pg_catalog.=) $1"
    "       AND (last_used_at IS NULL OR last_used_at OPERATOR(pg_catalog.<) $3)"
    "     FOR NO KEY UPDATE SKIP LOCKED)";

// How often last_used_at may be written per token.
static constexpr int64 kTouchInterval = 60 * USECS_PER_SEC;

static SPIPlanPtr fetch_plan = nullptr;
static SPIPlanPtr touch_plan = nullptr;

Oid tokens_relation() {
    return pat_relation("tokens", "Is the pg_pat extension installed in this database?");
}

// A copy of a varlena datum in the current memory context.
template <typename T>
static T *copy_varlena(Datum value) {
    return reinterpret_cast<T *>(PG_DETOAST_DATUM_COPY(value));
}

bool fetch_stored_token(const Digest &digest, StoredToken *token) {
    MemoryContext caller_memory = CurrentMemoryContext;
    SavedUser saved = become_owner_of(tokens_relation());
    if (SPI_connect() != SPI_OK_CONNECT) {
        elog(ERROR, "pg_pat could not connect to SPI");
    }
    if (fetch_plan == nullptr) {
        Oid types[1] = {BYTEAOID};
        fetch_plan = keep_plan(kFetchQuery, 1, types);
    }
    bytea *key = static_cast<bytea *>(palloc(VARHDRSZ + digest.size()));
    SET_VARSIZE(key, VARHDRSZ + digest.size());
    memcpy(VARDATA(key), digest.data(), digest.size());
    Datum args[1] = {PointerGetDatum(key)};
    // The latest committed state, whatever the caller's isolation level: a revoke committed
    // after a REPEATABLE READ transaction began must still refuse the token.
    int rc = SPI_execute_snapshot(fetch_plan, args, nullptr, GetLatestSnapshot(), InvalidSnapshot,
                                  true, false, 1);
    if (rc != SPI_OK_SELECT) {
        elog(ERROR, "pg_pat token lookup failed: %s", SPI_result_code_string(rc));
    }
    bool found = SPI_processed == 1;
    if (found) {
        HeapTuple row = SPI_tuptable->vals[0];
        TupleDesc desc = SPI_tuptable->tupdesc;
        bool is_null = false;
        MemoryContext spi_memory = MemoryContextSwitchTo(caller_memory);
        token->token_id = *DatumGetUUIDP(SPI_getbinval(row, desc, 1, &is_null));
        token->user_id = copy_varlena<text>(SPI_getbinval(row, desc, 2, &is_null));
        token->name = copy_varlena<text>(SPI_getbinval(row, desc, 3, &is_null));
        token->scopes = copy_varlena<ArrayType>(SPI_getbinval(row, desc, 4, &is_null));
        Datum expires = SPI_getbinval(row, desc, 5, &is_null);
        token->has_expiry = !is_null;
        token->expires_at = is_null ? 0 : DatumGetTimestampTz(expires);
        Datum last_used = SPI_getbinval(row, desc, 6, &is_null);
        token->has_last_used = !is_null;
        token->last_used_at = is_null ? 0 : DatumGetTimestampTz(last_used);
        token->revoked = DatumGetBool(SPI_getbinval(row, desc, 7, &is_null));
        token->all_scopes = DatumGetBool(SPI_getbinval(row, desc, 8, &is_null));
        token->role_scopes = copy_varlena<ArrayType>(SPI_getbinval(row, desc, 9, &is_null));
        MemoryContextSwitchTo(spi_memory);
    }
    SPI_finish();
    restore_user(saved);
    return found;
}

bool token_use_recordable() {
    return !XactReadOnly && !RecoveryInProgress() && !IsolationUsesXactSnapshot();
}

void record_token_use(const pg_uuid_t &token_id, TimestampTz now) {
    SavedUser saved = become_owner_of(tokens_relation());
    if (SPI_connect() != SPI_OK_CONNECT) {
        elog(ERROR, "pg_pat could not connect to SPI");
    }
    if (touch_plan == nullptr) {
        Oid types[3] = {UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
        touch_plan = keep_plan(kTouchQuery, 3, types);
    }
    pg_uuid_t *id = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
    *id = token_id;
    Datum args[3] = {UUIDPGetDatum(id), TimestampTzGetDatum(now),
                     TimestampTzGetDatum(now - kTouchInterval)};
    int rc = SPI_execute_plan(touch_plan, args, nullptr, false, 0);
    if (rc != SPI_OK_UPDATE) {
        elog(ERROR, "pg_pat could not record token use: %s", SPI_result_code_string(rc));
    }
    SPI_finish();
    restore_user(saved);
}

}  // namespace pat::pg

namespace pat::pg {

bool token_use_due(bool has_last_used, TimestampTz last_used_at, TimestampTz now) {
    return !has_last_used || last_used_at < now - kTouchInterval;
}

}  // namespace pat::pg
