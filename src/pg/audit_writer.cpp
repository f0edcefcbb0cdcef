// Appending to pat.audit_log; see audit_writer.hpp.
#include "pg/audit_writer.hpp"

#include "core/digest.hpp"
#include "pg/audit_state.hpp"
#include "pg/convert.hpp"
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

// The fallback for a log whose columns, constraints or triggers were changed: the same row
// through the executor, in the columns' order of 1.1.
const char kAppendQuery[] =
    "INSERT INTO pat.audit_log (seq, occurred_at, user_id, token_id, token_name, actor, action,"
    "                           table_name, old_data, new_data, db_role, session_role, txid,"
    "                           prev_hash, row_hash)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
constexpr int kAuditColumns = 15;
const char *const kAuditColumnNames[kAuditColumns] = {
    "seq",     "occurred_at",  "user_id",    "token_id",  "token_name",
    "actor",   "action",       "table_name", "old_data",  "new_data",
    "db_role", "session_role", "txid",       "prev_hash", "row_hash"};
const Oid kAuditColumnTypes[kAuditColumns] = {INT8OID, TIMESTAMPTZOID, TEXTOID, UUIDOID,  TEXTOID,
                                              TEXTOID, TEXTOID,        TEXTOID, JSONBOID, JSONBOID,
                                              TEXTOID, TEXTOID,        INT8OID, BYTEAOID, BYTEAOID};

SPIPlanPtr lock_plan = nullptr;
SPIPlanPtr tail_plan = nullptr;
SPIPlanPtr append_plan = nullptr;

// A JSON value for the hashed array: a scalar or a container, NULL as JSON null.
void push_text(JsonbParseState **state, const text *value) {
    JsonbValue v;
    if (value == nullptr) {
        v.type = jbvNull;
    } else {
        v.type = jbvString;
        v.val.string.val = const_cast<char *>(VARDATA_ANY(value));
        v.val.string.len = static_cast<int>(VARSIZE_ANY_EXHDR(value));
    }
    pushJsonbValue(state, WJB_ELEM, &v);
}

void push_numeric(JsonbParseState **state, Datum numeric) {
    JsonbValue v;
    v.type = jbvNumeric;
    v.val.numeric = DatumGetNumeric(numeric);
    pushJsonbValue(state, WJB_ELEM, &v);
}

void push_jsonb(JsonbParseState **state, Jsonb *value) {
    JsonbValue v;
    if (value == nullptr) {
        v.type = jbvNull;
    } else {
        v.type = jbvBinary;
        v.val.binary.data = &value->root;
        v.val.binary.len = static_cast<int>(VARSIZE(value) - VARHDRSZ);
    }
    pushJsonbValue(state, WJB_ELEM, &v);
}

// row_hash, as pat.audit_hash() defines it: SHA-256 of prev_hash followed by the UTF-8 text of
// jsonb_build_array(seq, EXTRACT(EPOCH FROM occurred_at), user_id, token_id, token_name, actor,
// action, table_name, old_data, new_data, db_role, session_role, txid). Built with the same
// jsonb values that function gives, so the text is the same; pat_audit_verify() recomputes it
// with the SQL function. May ereport.
bytea *row_hash(const bytea *prev_hash, int64 seq, TimestampTz occurred_at, const AuditEntry &entry,
                text *action, text *db_role, text *session_role, int64 txid) {
    JsonbParseState *state = nullptr;
    pushJsonbValue(&state, WJB_BEGIN_ARRAY, nullptr);
    push_numeric(&state, DirectFunctionCall1(int8_numeric, Int64GetDatum(seq)));
    push_numeric(&state, DirectFunctionCall2(extract_timestamptz, CStringGetTextDatum("epoch"),
                                             TimestampTzGetDatum(occurred_at)));
    push_text(&state, entry.user_id);
    push_text(&state,
              entry.token_id == nullptr
                  ? nullptr
                  : DatumGetTextPP(DirectFunctionCall1(
                        textin, DirectFunctionCall1(uuid_out, UUIDPGetDatum(entry.token_id)))));
    push_text(&state, entry.token_name);
    push_text(&state, entry.actor);
    push_text(&state, action);
    push_text(&state, entry.table_name);
    push_jsonb(&state, entry.old_data);
    push_jsonb(&state, entry.new_data);
    push_text(&state, db_role);
    push_text(&state, session_role);
    push_numeric(&state, DirectFunctionCall1(int8_numeric, Int64GetDatum(txid)));
    Jsonb *array = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_ARRAY, nullptr));
    char *json = JsonbToCString(nullptr, &array->root, VARSIZE(array));
    int json_len = static_cast<int>(strlen(json));
    char *utf8 = pg_server_to_any(json, json_len, PG_UTF8);
    if (utf8 != json) {
        json_len = static_cast<int>(strlen(utf8));
    }
    std::string_view prev = prev_hash == nullptr ? std::string_view()
                                                 : std::string_view(VARDATA_ANY(prev_hash),
                                                                    VARSIZE_ANY_EXHDR(prev_hash));
    // Throws only pat::Error, through frames that own nothing (see guard.hpp).
    pat::Digest digest = pat::sha256_concat(prev, std::string_view(utf8, json_len));
    return make_bytea(digest.data(), digest.size());
}

// Whether rows can go straight into the heap and indexes, as COPY puts them: the log has the
// 1.1 columns, in order, and no CHECK constraint, insert trigger or rule a DBA may have added
// (those need the executor).
bool plain_log(Relation log) {
    TupleDesc desc = RelationGetDescr(log);
    if (log->rd_rel->relkind != RELKIND_RELATION || desc->natts != kAuditColumns ||
        (desc->constr != nullptr &&
         (desc->constr->num_check > 0 || desc->constr->has_generated_stored ||
          desc->constr->num_defval > 1)) ||
        log->rd_rules != nullptr ||
        (log->trigdesc != nullptr &&
         (log->trigdesc->trig_insert_before_row || log->trigdesc->trig_insert_after_row ||
          log->trigdesc->trig_insert_instead_row || log->trigdesc->trig_insert_before_statement ||
          log->trigdesc->trig_insert_after_statement))) {
        return false;
    }
    for (int i = 0; i < kAuditColumns; ++i) {
        Form_pg_attribute attribute = TupleDescAttr(desc, i);
        if (attribute->attisdropped || attribute->atttypid != kAuditColumnTypes[i] ||
            strcmp(NameStr(attribute->attname), kAuditColumnNames[i]) != 0) {
            return false;
        }
    }
    return true;
}

// The log as the direct path keeps it for the rest of the transaction after its first append:
// open, with its indexes, an executor state for their inserts, a slot, and the last heap page
// pinned (a BulkInsertState without a ring buffer), all under the transaction's resource owner
// and in its memory. Each further row then costs its inserts alone. Closed before commit;
// forgotten at abort, whose cleanup releases it; reopened after DDL on the log.
struct OpenLog {
    Relation log = nullptr;
    EState *estate = nullptr;
    ResultRelInfo *result = nullptr;
    TupleTableSlot *slot = nullptr;
    BulkInsertStateData bulk = {nullptr, InvalidBuffer};
    bool stale = false;
};
OpenLog open_log;
bool open_log_callbacks_registered = false;

void close_open_log() {
    if (open_log.log == nullptr) {
        return;
    }
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = TopTransactionResourceOwner;
    if (open_log.bulk.current_buf != InvalidBuffer) {
        ReleaseBuffer(open_log.bulk.current_buf);
    }
    ExecDropSingleTupleTableSlot(open_log.slot);
    ExecCloseIndices(open_log.result);
    table_close(open_log.log, NoLock);  // the lock is kept to commit, as an INSERT keeps it
    FreeExecutorState(open_log.estate);
    CurrentResourceOwner = caller_owner;
    open_log = OpenLog{};
}

void on_log_transaction_event(XactEvent event, void *) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
        case XACT_EVENT_PARALLEL_PRE_COMMIT:
        case XACT_EVENT_PRE_PREPARE:
            close_open_log();
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            open_log = OpenLog{};  // the abort released it
            break;
        default:
            break;
    }
}

void on_log_relcache_invalidation(Datum, Oid relation) {
    if (open_log.log != nullptr &&
        (relation == InvalidOid || relation == RelationGetRelid(open_log.log))) {
        open_log.stale = true;
    }
}

ProcessUtility_hook_type previous_process_utility = nullptr;

// Any utility statement (DDL, DROP EXTENSION, but also SAVEPOINT or COMMIT) first closes the
// kept log: a relation this session holds open cannot be altered or dropped by it.
void close_log_before_utility(PlannedStmt *statement, const char *query, bool read_only_tree,
                              ProcessUtilityContext context, ParamListInfo params,
                              QueryEnvironment *environment, DestReceiver *destination,
                              QueryCompletion *completion) {
    close_open_log();
    if (previous_process_utility != nullptr) {
        previous_process_utility(statement, query, read_only_tree, context, params, environment,
                                 destination, completion);
    } else {
        standard_ProcessUtility(statement, query, read_only_tree, context, params, environment,
                                destination, completion);
    }
}

// Opens the log for direct appends, or returns false when it is not plain. May ereport.
bool open_log_for_appends(Oid log_relation) {
    if (open_log.log != nullptr && !open_log.stale) {
        return true;
    }
    close_open_log();
    if (!open_log_callbacks_registered) {
        RegisterXactCallback(on_log_transaction_event, nullptr);
        CacheRegisterRelcacheCallback(on_log_relcache_invalidation, 0);
        open_log_callbacks_registered = true;
    }
    ResourceOwner caller_owner = CurrentResourceOwner;
    MemoryContext caller_memory = MemoryContextSwitchTo(TopTransactionContext);
    CurrentResourceOwner = TopTransactionResourceOwner;
    Relation log = table_open(log_relation, RowExclusiveLock);
    if (!plain_log(log)) {
        table_close(log, NoLock);
        CurrentResourceOwner = caller_owner;
        MemoryContextSwitchTo(caller_memory);
        return false;
    }
    OpenLog opened;
    opened.log = log;
    opened.estate = CreateExecutorState();
    opened.result = makeNode(ResultRelInfo);
    InitResultRelInfo(opened.result, log, 1, nullptr, 0);
    ExecOpenIndices(opened.result, false);
    opened.slot = MakeSingleTupleTableSlot(RelationGetDescr(log), &TTSOpsVirtual);
    CurrentResourceOwner = caller_owner;
    MemoryContextSwitchTo(caller_memory);
    open_log = opened;
    return true;
}

// A role's name as text.
text *role_name(Oid role) {
    return cstring_to_text(GetUserNameFromId(role, false));
}

// Inserts one row (values in kAuditColumnNames order) into the heap and every index, without
// an executor: the cost of a hand-written trigger's INSERT, not of a statement. False when the
// log is not plain (the caller then runs kAppendQuery). May ereport.
bool insert_directly(Oid log_relation, Datum *values, bool *nulls) {
    if (!open_log_for_appends(log_relation)) {
        return false;
    }
    TupleTableSlot *slot = open_log.slot;
    ExecClearTuple(slot);
    memcpy(slot->tts_values, values, sizeof(Datum) * kAuditColumns);
    memcpy(slot->tts_isnull, nulls, sizeof(bool) * kAuditColumns);
    ExecStoreVirtualTuple(slot);
    // The pinned page belongs to the transaction's resource owner, not the statement's.
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = TopTransactionResourceOwner;
    table_tuple_insert(open_log.log, slot, GetCurrentCommandId(true), 0, &open_log.bulk);
    List *recheck =
        ExecInsertIndexTuples(open_log.result, slot, open_log.estate, false, false, nullptr, NIL);
    CurrentResourceOwner = caller_owner;
    list_free(recheck);
    ResetPerTupleExprContext(open_log.estate);
    ExecClearTuple(slot);
    return true;
}

}  // namespace

void setup_audit_writer() {
    previous_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = close_log_before_utility;
}

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
    // Who ran it: the SQL role outside any SECURITY DEFINER function (SET ROLE applies), and
    // the session's role.
    text *db_role = role_name(GetOuterUserId());
    text *session_role = role_name(GetSessionUserId());
    int64 txid = static_cast<int64>(U64FromFullTransactionId(GetTopFullTransactionId()));
    Oid log_relation = audit_log_relation();

    // The chain lock and the tail: SPI as the log's owner, once per transaction.
    ChainTail tail;
    if (audit_chain_locked() && known_audit_chain_tail() != nullptr) {
        tail = *known_audit_chain_tail();
    } else {
        OwnerSpi spi = begin_owner_spi(log_relation);
        lock_audit_chain();
        tail = chain_tail();
        if (tail.hash != nullptr) {
            // Out of SPI's memory, which SPI_finish frees.
            tail.hash = reinterpret_cast<bytea *>(
                DatumGetPointer(SPI_datumTransfer(PointerGetDatum(tail.hash), false, -1)));
        }
        end_owner_spi(spi);
    }
    int64 seq = tail.seq + 1;
    // Taken under the lock, so occurred_at grows with seq (as far as the clock does).
    TimestampTz occurred_at = GetCurrentTimestamp();
    text *action = cstring_to_text(entry.action);
    bytea *hash = row_hash(tail.hash, seq, occurred_at, entry, action, db_role, session_role, txid);

    Datum values[kAuditColumns] = {Int64GetDatum(seq),
                                   TimestampTzGetDatum(occurred_at),
                                   PointerGetDatum(entry.user_id),
                                   UUIDPGetDatum(entry.token_id),
                                   PointerGetDatum(entry.token_name),
                                   PointerGetDatum(entry.actor),
                                   PointerGetDatum(action),
                                   PointerGetDatum(entry.table_name),
                                   PointerGetDatum(entry.old_data),
                                   PointerGetDatum(entry.new_data),
                                   PointerGetDatum(db_role),
                                   PointerGetDatum(session_role),
                                   Int64GetDatum(txid),
                                   PointerGetDatum(tail.hash),
                                   PointerGetDatum(hash)};
    const void *pointers[kAuditColumns] = {&seq,           &occurred_at,     entry.user_id,
                                           entry.token_id, entry.token_name, entry.actor,
                                           action,         entry.table_name, entry.old_data,
                                           entry.new_data, db_role,          session_role,
                                           &txid,          tail.hash,        hash};
    bool nulls[kAuditColumns];
    char spi_nulls[kAuditColumns + 1] = {};
    for (int i = 0; i < kAuditColumns; ++i) {
        nulls[i] = pointers[i] == nullptr;
        spi_nulls[i] = nulls[i] ? 'n' : ' ';
    }
    if (!insert_directly(log_relation, values, nulls)) {
        OwnerSpi spi = begin_owner_spi(log_relation);
        if (append_plan == nullptr) {
            Oid types[kAuditColumns];
            memcpy(types, kAuditColumnTypes, sizeof(types));
            append_plan = keep_plan(kAppendQuery, kAuditColumns, types);
        }
        int rc = SPI_execute_plan(append_plan, values, spi_nulls, false, 1);
        if (rc != SPI_OK_INSERT) {
            elog(ERROR, "pg_pat could not append to the audit log: %s", SPI_result_code_string(rc));
        }
        end_owner_spi(spi);
    }
    set_known_audit_chain_tail(seq, hash);
    return seq;
}

}  // namespace pat::pg
