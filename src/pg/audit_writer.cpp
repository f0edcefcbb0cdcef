// Appending to pat.audit_log; see audit_writer.hpp.
#include "pg/audit_writer.hpp"

#include "pg/audit_state.hpp"
#include "pg/spi_support.hpp"

namespace pat::pg {

namespace {

// Only ever locked, never updated: a REPEATABLE READ transaction that waited for the lock gets
// it without a serialization failure once the holder commits.
const char kLockQuery[] = "SELECT FROM pat.audit_chain_head FOR UPDATE";

// The chain's last row, read with a snapshot taken after the lock: the row the previous holder
// of the lock appended, or this transaction's own.
const char kTailQuery[] =
    "SELECT l.seq, l.row_hash FROM pat.audit_log l ORDER BY l.seq DESC LIMIT 1";

// $1 action, $2 table_name, $3 user_id, $4 token_id, $5 token_name, $6 actor, $7 old_data,
// $8 new_data, $9 db_role, $10 session_role, $11 txid, $12 seq, $13 prev_hash, $14 occurred_at.
const char kAppendQuery[] =
    "INSERT INTO pat.audit_log (seq, occurred_at, user_id, token_id, token_name, actor, action,"
    "                           table_name, old_data, new_data, db_role, session_role, txid,"
    "                           prev_hash, row_hash)"
    " VALUES ($12, $14, $3, $4, $5, $6, $1, $2, $7, $8, $9, $10, $11, $13,"
    "         pat.audit_hash($13, $12, $14, $3, $4, $5, $6, $1, $2, $7, $8, $9, $10, $11))"
    " RETURNING row_hash";

SPIPlanPtr lock_plan = nullptr;
SPIPlanPtr tail_plan = nullptr;
SPIPlanPtr append_plan = nullptr;

// A role's name as text.
text *role_name(Oid role) {
    return cstring_to_text(GetUserNameFromId(role, false));
}

}  // namespace

Oid audit_log_relation() {
    return pat_relation("audit_log", "Update the extension: ALTER EXTENSION pg_pat UPDATE.");
}

void lock_audit_chain() {
    if (audit_chain_locked()) {
        return;
    }
    if (lock_plan == nullptr) {
        lock_plan = keep_plan(kLockQuery, 0, nullptr);
    }
    int rc = SPI_execute_plan(lock_plan, nullptr, nullptr, false, 0);
    if (rc != SPI_OK_SELECT || SPI_processed != 1) {
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("pat.audit_chain_head must hold exactly one row"),
                        errhint("Restore it with INSERT INTO pat.audit_chain_head DEFAULT "
                                "VALUES.")));
    }
    note_audit_chain_locked();
}

// The chain's last row: remembered from this transaction's previous append, else read.
ChainTail chain_tail() {
    if (const ChainTail *known = known_audit_chain_tail()) {
        return *known;
    }
    if (tail_plan == nullptr) {
        tail_plan = keep_plan(kTailQuery, 0, nullptr);
    }
    int rc = SPI_execute_snapshot(tail_plan, nullptr, nullptr, GetLatestSnapshot(), InvalidSnapshot,
                                  true, false, 1);
    if (rc != SPI_OK_SELECT) {
        elog(ERROR, "pg_pat could not read the audit chain: %s", SPI_result_code_string(rc));
    }
    ChainTail tail = {0, nullptr};
    if (SPI_processed == 1) {
        bool is_null = false;
        HeapTuple row = SPI_tuptable->vals[0];
        tail.seq = DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &is_null));
        Datum hash = SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &is_null);
        tail.hash = is_null ? nullptr : DatumGetByteaP(hash);
    }
    return tail;
}

int64 append_audit_entry(const AuditEntry &entry) {
    if (entry.action == nullptr) {
        elog(ERROR, "an audit entry needs an action");
    }
    // Who ran it, read before the switch to the owner: the SQL role outside any SECURITY
    // DEFINER function (SET ROLE applies), and the session's role.
    text *db_role = role_name(GetOuterUserId());
    text *session_role = role_name(GetSessionUserId());
    int64 txid = static_cast<int64>(U64FromFullTransactionId(GetTopFullTransactionId()));

    OwnerSpi spi = begin_owner_spi(audit_log_relation());
    if (append_plan == nullptr) {
        Oid types[14] = {TEXTOID,  TEXTOID, TEXTOID, UUIDOID, TEXTOID, TEXTOID,  JSONBOID,
                         JSONBOID, TEXTOID, TEXTOID, INT8OID, INT8OID, BYTEAOID, TIMESTAMPTZOID};
        append_plan = keep_plan(kAppendQuery, 14, types);
    }
    lock_audit_chain();
    ChainTail tail = chain_tail();
    int64 seq = tail.seq + 1;
    // Taken under the lock, so occurred_at grows with seq (as far as the clock does).
    TimestampTz occurred_at = GetCurrentTimestamp();

    Datum values[14] = {CStringGetTextDatum(entry.action),
                        PointerGetDatum(entry.table_name),
                        PointerGetDatum(entry.user_id),
                        UUIDPGetDatum(entry.token_id),
                        PointerGetDatum(entry.token_name),
                        PointerGetDatum(entry.actor),
                        PointerGetDatum(entry.old_data),
                        PointerGetDatum(entry.new_data),
                        PointerGetDatum(db_role),
                        PointerGetDatum(session_role),
                        Int64GetDatum(txid),
                        Int64GetDatum(seq),
                        PointerGetDatum(tail.hash),
                        TimestampTzGetDatum(occurred_at)};
    const void *pointers[14] = {entry.action,     entry.table_name, entry.user_id,  entry.token_id,
                                entry.token_name, entry.actor,      entry.old_data, entry.new_data,
                                db_role,          session_role,     &txid,          &seq,
                                tail.hash,        &occurred_at};
    char nulls[15] = {};
    for (int i = 0; i < 14; ++i) {
        nulls[i] = pointers[i] == nullptr ? 'n' : ' ';
    }
    int rc = SPI_execute_plan(append_plan, values, nulls, false, 1);
    if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1) {
        elog(ERROR, "pg_pat could not append to the audit log: %s", SPI_result_code_string(rc));
    }
    bool is_null = false;
    Datum row_hash = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
    set_known_audit_chain_tail(seq, DatumGetByteaP(row_hash));
    end_owner_spi(spi);
    return seq;
}

}  // namespace pat::pg
