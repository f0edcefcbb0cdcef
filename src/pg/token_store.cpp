// Reading a stored token.
//
// The caller (a validating service) has no privilege on the tables. A token is read by direct
// index scans, which check no privilege and resolve no name through the search_path. Its use is
// counted in shared memory (usage_store.hpp), never written here.
#include "pg/token_store.hpp"

#include "pg/spi_support.hpp"

namespace pat::pg {

Oid tokens_relation() {
    return pat_relation("tokens", "Is the pg_pat extension installed in this database?");
}

// A copy of a varlena datum in the current memory context.
template <typename T>
static T *copy_varlena(Datum value) {
    return reinterpret_cast<T *>(PG_DETOAST_DATUM_COPY(value));
}

namespace {

// A pg_pat table and one of its indexes, opened for equality lookups. No privilege check
// applies (table_open checks none), so the caller needs no grant on the table, and no name is
// resolved through a search_path.
struct IndexedTable {
    Relation table;
    Relation index;
    TupleTableSlot *slot;
};

IndexedTable open_indexed(const char *table_name, const char *index_name) {
    const char *hint = "Reinstall the extension.";
    Oid table = pat_relation(table_name, hint);
    Oid index = pat_relation(index_name, hint);
    IndexedTable opened;
    opened.table = table_open(table, AccessShareLock);
    opened.index = index_open(index, AccessShareLock);
    opened.slot = table_slot_create(opened.table, nullptr);
    return opened;
}

void close_indexed(const IndexedTable &opened) {
    ExecDropSingleTupleTableSlot(opened.slot);
    index_close(opened.index, AccessShareLock);
    table_close(opened.table, AccessShareLock);
}

AttrNumber column_number(const IndexedTable &opened, const char *name) {
    AttrNumber attno = get_attnum(RelationGetRelid(opened.table), name);
    if (attno == InvalidAttrNumber) {
        elog(ERROR, "pg_pat's table %s has no column \"%s\"", RelationGetRelationName(opened.table),
             name);
    }
    return attno;
}

// Visits the rows whose leading index columns equal key (one column, compared with
// equality_proc) until visit returns false.
template <typename Visit>
void scan_equal(const IndexedTable &opened, Snapshot snapshot, Datum key,
                RegProcedure equality_proc, Visit visit) {
    ScanKeyData scan_key;
    ScanKeyEntryInitialize(&scan_key, 0, 1, BTEqualStrategyNumber, InvalidOid,
                           opened.index->rd_indcollation[0], equality_proc, key);
    IndexScanDesc scan = index_beginscan(opened.table, opened.index, snapshot, 1, 0);
    index_rescan(scan, &scan_key, 1, nullptr, 0);
    while (index_getnext_slot(scan, ForwardScanDirection, opened.slot)) {
        if (!visit(opened.slot)) {
            break;
        }
    }
    index_endscan(scan);
}

// The timestamptz column attno of slot, or has_value false when NULL.
void read_timestamp(TupleTableSlot *slot, AttrNumber attno, bool *has_value, TimestampTz *value) {
    bool is_null = false;
    Datum datum = slot_getattr(slot, attno, &is_null);
    *has_value = !is_null;
    *value = is_null ? 0 : DatumGetTimestampTz(datum);
}

// The user's roles: whether one grants every scope, and the scopes they name.
void read_role_scopes(Snapshot snapshot, Datum user_id, StoredToken *token) {
    IndexedTable user_roles = open_indexed("user_roles", "user_roles_pkey");
    IndexedTable roles = open_indexed("roles", "roles_pkey");
    IndexedTable role_scopes = open_indexed("role_scopes", "role_scopes_pkey");
    AttrNumber role_column = column_number(user_roles, "role");
    AttrNumber all_scopes_column = column_number(roles, "all_scopes");
    AttrNumber scope_column = column_number(role_scopes, "scope");
    ArrayBuildState *scopes = initArrayResult(TEXTOID, CurrentMemoryContext, false);
    token->all_scopes = false;
    scan_equal(user_roles, snapshot, user_id, F_TEXTEQ, [&](TupleTableSlot *user_role) {
        bool is_null = false;
        Datum role = datumCopy(slot_getattr(user_role, role_column, &is_null), false, -1);
        scan_equal(roles, snapshot, role, F_TEXTEQ, [&](TupleTableSlot *row) {
            token->all_scopes |= DatumGetBool(slot_getattr(row, all_scopes_column, &is_null));
            return false;
        });
        scan_equal(role_scopes, snapshot, role, F_TEXTEQ, [&](TupleTableSlot *row) {
            Datum scope = slot_getattr(row, scope_column, &is_null);
            accumArrayResult(scopes, datumCopy(scope, false, -1), false, TEXTOID,
                             CurrentMemoryContext);
            return true;
        });
        return true;
    });
    token->role_scopes = DatumGetArrayTypeP(makeArrayResult(scopes, CurrentMemoryContext));
    close_indexed(role_scopes);
    close_indexed(roles);
    close_indexed(user_roles);
}

}  // namespace

bool fetch_stored_token(const Digest &digest, StoredToken *token) {
    // The latest committed state, whatever the caller's isolation level: a revoke committed
    // after a REPEATABLE READ transaction began must still refuse the token.
    Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
    bytea *key = static_cast<bytea *>(palloc(VARHDRSZ + digest.size()));
    SET_VARSIZE(key, VARHDRSZ + digest.size());
    memcpy(VARDATA(key), digest.data(), digest.size());

    IndexedTable tokens = open_indexed("tokens", "tokens_digest_key");
    AttrNumber id_column = column_number(tokens, "token_id");
    AttrNumber user_column = column_number(tokens, "user_id");
    AttrNumber name_column = column_number(tokens, "name");
    AttrNumber scopes_column = column_number(tokens, "scopes");
    AttrNumber expires_column = column_number(tokens, "expires_at");
    AttrNumber revoked_column = column_number(tokens, "revoked_at");
    bool found = false;
    scan_equal(tokens, snapshot, PointerGetDatum(key), F_BYTEAEQ, [&](TupleTableSlot *row) {
        bool is_null = false;
        token->token_id = *DatumGetUUIDP(slot_getattr(row, id_column, &is_null));
        token->user_id = copy_varlena<text>(slot_getattr(row, user_column, &is_null));
        token->name = copy_varlena<text>(slot_getattr(row, name_column, &is_null));
        token->scopes = copy_varlena<ArrayType>(slot_getattr(row, scopes_column, &is_null));
        read_timestamp(row, expires_column, &token->has_expiry, &token->expires_at);
        slot_getattr(row, revoked_column, &is_null);
        token->revoked = !is_null;
        found = true;
        return false;
    });
    close_indexed(tokens);

    if (found) {
        read_role_scopes(snapshot, PointerGetDatum(token->user_id), token);
    }
    UnregisterSnapshot(snapshot);
    return found;
}

}  // namespace pat::pg
