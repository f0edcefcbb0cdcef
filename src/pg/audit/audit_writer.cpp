// Appending to the audit log and linking it; see audit_writer.hpp.
#include "pg/audit/audit_writer.hpp"

#include "pg/audit/audit_hash.hpp"
#include "pg/audit/link_schedule.hpp"
#include "pg/audit/audit_state.hpp"
#include "pg/bridge/compat.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"

namespace pat::pg {

namespace {

// Only ever locked, never updated: a REPEATABLE READ transaction that waited for the lock gets
// it without a serialization failure once the holder commits. Only linkers take it.
const char kLockQuery[] = "SELECT FROM pat.audit_chain_head FOR UPDATE";

// The chain's last row, read with a snapshot taken after the lock: the row the previous holder
// of the lock linked, or this transaction's own.
const char kTailQuery[] =
    "SELECT l.seq, l.row_hash FROM pat.audit_log l ORDER BY l.seq DESC LIMIT 1";

constexpr const char *kUpdateHint = "Update the extension: ALTER EXTENSION pg_pat UPDATE.";

SPIPlanPtr lock_plan = nullptr;
SPIPlanPtr tail_plan = nullptr;

// The columns of pat.audit_log and pat.audit_pending, named here once each. The writer fills
// rows by position, without a statement; open_table() first checks that the table's columns are
// these, by name and type, in this order (check_columns), so a schema that differs is refused
// with a hint instead of written wrongly. The schema stays their source (schema/30-tables.sql):
// the check runs every time a table is opened after DDL, and every test writes through it.
struct Column {
    const char *name;
    Oid type;
};

// The columns a log row and its pending row share, in table order.
enum EntryColumn {
    kOccurredAt,
    kUserId,
    kTokenId,
    kTokenName,
    kActor,
    kAction,
    kTableName,
    kOldData,
    kNewData,
    kDbRole,
    kSessionRole,
    kTxid,
    kEntryColumns
};
constexpr Column kEntryColumnList[kEntryColumns] = {{"occurred_at", TIMESTAMPTZOID},
                                                    {"user_id", TEXTOID},
                                                    {"token_id", UUIDOID},
                                                    {"token_name", TEXTOID},
                                                    {"actor", TEXTOID},
                                                    {"action", TEXTOID},
                                                    {"table_name", TEXTOID},
                                                    {"old_data", JSONBOID},
                                                    {"new_data", JSONBOID},
                                                    {"db_role", TEXTOID},
                                                    {"session_role", TEXTOID},
                                                    {"txid", INT8OID}};

// pat.audit_log: seq, the shared columns, prev_hash and row_hash.
constexpr Column kLogLeading[] = {{"seq", INT8OID}};
constexpr Column kLogTrailing[] = {{"prev_hash", BYTEAOID}, {"row_hash", BYTEAOID}};
constexpr int kLogSeq = 0;
constexpr int kLogEntry = 1;
constexpr int kLogPrevHash = kLogEntry + kEntryColumns;
constexpr int kLogRowHash = kLogPrevHash + 1;
constexpr int kLogColumns = kLogRowHash + 1;

// pat.audit_pending: the transaction's batch and the row's ordinal in it, then the shared ones.
constexpr Column kPendingLeading[] = {{"batch", INT8OID}, {"ordinal", INT4OID}};
constexpr int kPendingBatch = 0;
constexpr int kPendingOrdinal = 1;
constexpr int kPendingEntry = 2;
constexpr int kPendingColumns = kPendingEntry + kEntryColumns;

// What the writer adds to an entry when it is written, the same in its pending row and its log
// row.
struct RowFacts {
    text *action;
    TimestampTz occurred_at;
    text *db_role;
    text *session_role;
    int64 txid;
};

// The shared columns of entry's row (EntryColumn order) into values and nulls.
void put_entry_columns(const AuditEntry &entry, const RowFacts &facts, Datum *values, bool *nulls) {
    auto put = [&](EntryColumn column, Datum value, bool is_null) {
        values[column] = value;
        nulls[column] = is_null;
    };
    put(kOccurredAt, TimestampTzGetDatum(facts.occurred_at), false);
    put(kUserId, PointerGetDatum(entry.user_id), entry.user_id == nullptr);
    put(kTokenId, UUIDPGetDatum(entry.token_id), entry.token_id == nullptr);
    put(kTokenName, PointerGetDatum(entry.token_name), entry.token_name == nullptr);
    put(kActor, PointerGetDatum(entry.actor), entry.actor == nullptr);
    put(kAction, PointerGetDatum(facts.action), false);
    put(kTableName, PointerGetDatum(entry.table_name), entry.table_name == nullptr);
    put(kOldData, PointerGetDatum(entry.old_data), entry.old_data == nullptr);
    put(kNewData, PointerGetDatum(entry.new_data), entry.new_data == nullptr);
    put(kDbRole, PointerGetDatum(facts.db_role), false);
    put(kSessionRole, PointerGetDatum(facts.session_role), false);
    put(kTxid, Int64GetDatum(facts.txid), false);
}

// A nullable text or jsonb column among the shared columns of a row read back, detoasted;
// nullptr for NULL.
text *entry_text(const Datum *values, const bool *nulls, EntryColumn column) {
    return nulls[column] ? nullptr : DatumGetTextPP(values[column]);
}

Jsonb *entry_jsonb(const Datum *values, const bool *nulls, EntryColumn column) {
    return nulls[column] ? nullptr : DatumGetJsonbP(values[column]);
}

// entry and its facts from the shared columns of a row read back. May ereport (detoasting).
void read_entry_columns(const Datum *values, const bool *nulls, AuditEntry *entry,
                        RowFacts *facts) {
    entry->user_id = entry_text(values, nulls, kUserId);
    entry->token_id = nulls[kTokenId] ? nullptr : DatumGetUUIDP(values[kTokenId]);
    entry->token_name = entry_text(values, nulls, kTokenName);
    entry->actor = entry_text(values, nulls, kActor);
    entry->table_name = entry_text(values, nulls, kTableName);
    entry->old_data = entry_jsonb(values, nulls, kOldData);
    entry->new_data = entry_jsonb(values, nulls, kNewData);
    facts->action = entry_text(values, nulls, kAction);
    facts->occurred_at = DatumGetTimestampTz(values[kOccurredAt]);
    facts->db_role = entry_text(values, nulls, kDbRole);
    facts->session_role = entry_text(values, nulls, kSessionRole);
    facts->txid = DatumGetInt64(values[kTxid]);
}

// row_hash of entry as the row seq after prev_hash (audit_hash.hpp). Raises no error because of
// what the entry holds.
bytea *row_hash(const bytea *prev_hash, int64 seq, const AuditEntry &entry, const RowFacts &facts) {
    AuditRowColumns row;
    row.prev_hash = prev_hash;
    row.seq = &seq;
    row.occurred_at = &facts.occurred_at;
    row.user_id = entry.user_id;
    row.token_id = entry.token_id;
    row.token_name = entry.token_name;
    row.actor = entry.actor;
    row.action = facts.action;
    row.table_name = entry.table_name;
    row.old_data = entry.old_data;
    row.new_data = entry.new_data;
    row.db_role = facts.db_role;
    row.session_role = facts.session_role;
    row.txid = &facts.txid;
    return audit_row_hash(row);
}

// A table the writer keeps open for the rest of the transaction after its first insert: open,
// with its indexes, an executor state for their inserts, a slot, and the last heap page pinned
// (a BulkInsertState without a ring buffer), all under the transaction's resource owner and in
// its memory. Each further row then costs its inserts alone. Closed before commit and before
// any utility statement; forgotten at abort, whose cleanup releases it; reopened after DDL.
struct AppendTable {
    const char *name;
    // Its columns: leading ones, the shared ones (kEntryColumnList), trailing ones.
    const Column *leading;
    int leading_count;
    const Column *trailing;
    int trailing_count;
    int natts;
    Relation relation = nullptr;
    EState *estate = nullptr;
    ResultRelInfo *result = nullptr;
    TupleTableSlot *slot = nullptr;
    BulkInsertStateData bulk = {nullptr, InvalidBuffer};
    bool stale = false;
};
AppendTable pending_table = {"audit_pending", kPendingLeading, kPendingEntry, nullptr, 0,
                             kPendingColumns};
AppendTable log_table = {"audit_log", kLogLeading, kLogEntry, kLogTrailing, 2, kLogColumns};

// Column i (0-based) of table.
const Column &table_column(const AppendTable &table, int i) {
    if (i < table.leading_count) {
        return table.leading[i];
    }
    i -= table.leading_count;
    return i < kEntryColumns ? kEntryColumnList[i] : table.trailing[i - kEntryColumns];
}
bool table_callbacks_registered = false;

// What this transaction appended: its batch (0: none drawn yet), the next row's ordinal.
int64 transaction_batch = 0;
int32 next_ordinal = 0;

// Forgets what table kept open (after an abort, which released it; or once closed).
void forget_table(AppendTable &table) {
    table.relation = nullptr;
    table.estate = nullptr;
    table.result = nullptr;
    table.slot = nullptr;
    table.bulk = {nullptr, InvalidBuffer};
    table.stale = false;
}

void close_table(AppendTable &table) {
    if (table.relation == nullptr) {
        return;
    }
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = TopTransactionResourceOwner;
    if (table.bulk.current_buf != InvalidBuffer) {
        ReleaseBuffer(table.bulk.current_buf);
    }
    ExecDropSingleTupleTableSlot(table.slot);
    ExecCloseIndices(table.result);
    table_close(table.relation, NoLock);  // the lock is kept to commit, as an INSERT keeps it
    FreeExecutorState(table.estate);
    CurrentResourceOwner = caller_owner;
    forget_table(table);
}

void on_writer_transaction_event(XactEvent event, void *) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
        case XACT_EVENT_PARALLEL_PRE_COMMIT:
        case XACT_EVENT_PRE_PREPARE:
            close_kept_audit_tables();
            break;
        case XACT_EVENT_COMMIT:
            // Committed and visible: the linker may take the rows now. Cannot fail.
            if (transaction_batch != 0) {
                note_audit_commit();
            }
            transaction_batch = 0;
            break;
        case XACT_EVENT_PREPARE:
            // A prepared transaction's rows are linked after COMMIT PREPARED (audit_guard.cpp).
            transaction_batch = 0;
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            forget_table(pending_table);  // the abort released them
            forget_table(log_table);
            transaction_batch = 0;
            break;
        default:
            break;
    }
}

void on_table_relcache_invalidation(Datum, Oid relation) {
    for (AppendTable *table : {&pending_table, &log_table}) {
        if (table->relation != nullptr &&
            (relation == InvalidOid || relation == RelationGetRelid(table->relation))) {
            table->stale = true;
        }
    }
}

// Raises unless relation has the columns this build writes (only pg_pat's update scripts can
// change them).
void check_columns(Relation relation, const AppendTable &table) {
    TupleDesc desc = RelationGetDescr(relation);
    bool matches = relation->rd_rel->relkind == RELKIND_RELATION && desc->natts == table.natts;
    for (int i = 0; matches && i < table.natts; ++i) {
        Form_pg_attribute attribute = TupleDescAttr(desc, i);
        const Column &expected = table_column(table, i);
        matches = !attribute->attisdropped && attribute->atttypid == expected.type &&
                  strcmp(NameStr(attribute->attname), expected.name) == 0;
    }
    if (!matches) {
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("pat.%s does not have the columns this pg_pat writes", table.name),
                        errhint("%s", kUpdateHint)));
    }
}

// Opens table for inserts for the rest of the transaction.
void open_table(AppendTable &table) {
    if (table.relation != nullptr && !table.stale) {
        return;
    }
    close_table(table);
    if (!table_callbacks_registered) {
        RegisterXactCallback(on_writer_transaction_event, nullptr);
        CacheRegisterRelcacheCallback(on_table_relcache_invalidation, 0);
        table_callbacks_registered = true;
    }
    Oid relation_id = pat_relation(table.name, kUpdateHint);
    ResourceOwner caller_owner = CurrentResourceOwner;
    MemoryContext caller_memory = MemoryContextSwitchTo(TopTransactionContext);
    CurrentResourceOwner = TopTransactionResourceOwner;
    Relation relation = table_open(relation_id, RowExclusiveLock);
    check_columns(relation, table);
    table.relation = relation;
    table.estate = CreateExecutorState();
    table.result = makeNode(ResultRelInfo);
    InitResultRelInfo(table.result, relation, 1, nullptr, 0);
    ExecOpenIndices(table.result, false);
    table.slot = MakeSingleTupleTableSlot(RelationGetDescr(relation), &TTSOpsVirtual);
    table.stale = false;
    CurrentResourceOwner = caller_owner;
    MemoryContextSwitchTo(caller_memory);
}

// Inserts one row into table's heap and every index, without an executor: the cost of a
// hand-written trigger's INSERT, not of a statement. No trigger fires: that is how the guard on
// both tables (audit.cpp) tells pg_pat's rows from anyone else's.
void insert_row(AppendTable &table, const Datum *values, const bool *nulls) {
    open_table(table);
    TupleTableSlot *slot = table.slot;
    ExecClearTuple(slot);
    memcpy(slot->tts_values, values, sizeof(Datum) * table.natts);
    memcpy(slot->tts_isnull, nulls, sizeof(bool) * table.natts);
    ExecStoreVirtualTuple(slot);
    // The pinned page belongs to the transaction's resource owner, not the statement's.
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = TopTransactionResourceOwner;
    table_tuple_insert(table.relation, slot, GetCurrentCommandId(true), 0, &table.bulk);
    if (table.result->ri_NumIndices > 0) {
        List *recheck = compat::insert_index_tuples(table.result, slot, table.estate);
        list_free(recheck);
    }
    CurrentResourceOwner = caller_owner;
    ResetPerTupleExprContext(table.estate);
    ExecClearTuple(slot);
}

// A role's name as text, remembered for the last role asked (the same for every row of a session,
// mostly). In TopMemoryContext.
text *role_name(Oid role, Oid *known_role, text **known_name) {
    if (*known_role != role || *known_name == nullptr) {
        char *name = GetUserNameFromId(role, false);
        MemoryContext caller = MemoryContextSwitchTo(TopMemoryContext);
        text *copy = cstring_to_text(name);
        MemoryContextSwitchTo(caller);
        if (*known_name != nullptr) {
            pfree(*known_name);
        }
        *known_name = copy;
        *known_role = role;
    }
    return *known_name;
}
Oid known_db_role = InvalidOid;
text *known_db_role_name = nullptr;
Oid known_session_role = InvalidOid;
text *known_session_role_name = nullptr;

// The chain lock and its tail: SPI as the log's owner, once per transaction.
ChainTail lock_chain_and_read_tail() {
    if (audit_chain_locked() && known_audit_chain_tail() != nullptr) {
        return *known_audit_chain_tail();
    }
    OwnerSpi spi = begin_owner_spi(audit_log_relation());
    lock_audit_chain();
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
        if (!is_null) {
            // Out of SPI's memory, which SPI_finish frees.
            tail.hash = reinterpret_cast<bytea *>(DatumGetPointer(
                SPI_datumTransfer(PointerGetDatum(DatumGetByteaP(hash)), false, -1)));
        }
    }
    end_owner_spi(spi);
    return tail;
}

// The log row of entry as the row after tail (seq, prev_hash) into values and nulls, with its
// row_hash, which it returns (palloc'd).
bytea *linked_row(const ChainTail &tail, const AuditEntry &entry, const RowFacts &facts,
                  Datum *values, bool *nulls) {
    int64 seq = tail.seq + 1;
    bytea *hash = row_hash(tail.hash, seq, entry, facts);
    values[kLogSeq] = Int64GetDatum(seq);
    nulls[kLogSeq] = false;
    put_entry_columns(entry, facts, values + kLogEntry, nulls + kLogEntry);
    values[kLogPrevHash] = PointerGetDatum(tail.hash);
    nulls[kLogPrevHash] = tail.hash == nullptr;
    values[kLogRowHash] = PointerGetDatum(hash);
    nulls[kLogRowHash] = false;
    return hash;
}

// Rows the linker inserts into the log at once, as COPY does: one WAL record and one buffer
// lock per page rather than per row.
constexpr int kLinkBatch = 1000;

// Inserts the count rows of slots into the log's heap and then each into its indexes, and clears
// the slots.
void insert_log_batch(TupleTableSlot **slots, int count) {
    if (count == 0) {
        return;
    }
    open_table(log_table);
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = TopTransactionResourceOwner;
    table_multi_insert(log_table.relation, slots, count, GetCurrentCommandId(true), 0,
                       &log_table.bulk);
    for (int i = 0; i < count; ++i) {
        list_free(compat::insert_index_tuples(log_table.result, slots[i], log_table.estate));
        ResetPerTupleExprContext(log_table.estate);
    }
    CurrentResourceOwner = caller_owner;
    for (int i = 0; i < count; ++i) {
        ExecClearTuple(slots[i]);
    }
}

// Where the schema has no pat.audit_pending: the row linked at once, under the chain lock held
// to commit.
int64 append_linked_entry(const AuditEntry &entry, const RowFacts &facts) {
    ChainTail tail = lock_chain_and_read_tail();
    Datum values[kLogColumns];
    bool nulls[kLogColumns];
    bytea *hash = linked_row(tail, entry, facts, values, nulls);
    insert_row(log_table, values, nulls);
    set_known_audit_chain_tail(tail.seq + 1, hash);
    return tail.seq + 1;
}

// A pending row's place in the link order.
struct PendingRow {
    int64 batch;
    int32 ordinal;
    ItemPointerData tid;
};

int compare_pending(const void *a, const void *b) {
    const auto *x = static_cast<const PendingRow *>(a);
    const auto *y = static_cast<const PendingRow *>(b);
    if (x->batch != y->batch) {
        return x->batch < y->batch ? -1 : 1;
    }
    if (x->ordinal != y->ordinal) {
        return x->ordinal < y->ordinal ? -1 : 1;
    }
    return ItemPointerCompare(const_cast<ItemPointer>(&x->tid), const_cast<ItemPointer>(&y->tid));
}

// The pending rows snapshot sees, in link order; *count set. palloc'd.
PendingRow *pending_rows_in_order(Relation pending, Snapshot snapshot, TupleTableSlot *slot,
                                  int64 *count) {
    int64 capacity = 256;
    int64 used = 0;
    auto *rows = static_cast<PendingRow *>(palloc(sizeof(PendingRow) * capacity));
    TableScanDesc scan = table_beginscan(pending, snapshot, 0, nullptr);
    while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
        slot_getsomeattrs(slot, kPendingOrdinal + 1);
        if (used == capacity) {
            capacity *= 2;
            rows = static_cast<PendingRow *>(
                repalloc_huge(rows, sizeof(PendingRow) * static_cast<Size>(capacity)));
        }
        rows[used].batch = DatumGetInt64(slot->tts_values[kPendingBatch]);
        rows[used].ordinal = DatumGetInt32(slot->tts_values[kPendingOrdinal]);
        rows[used].tid = slot->tts_tid;
        ++used;
    }
    table_endscan(scan);
    qsort(rows, static_cast<size_t>(used), sizeof(PendingRow), compare_pending);
    *count = used;
    return rows;
}

// Records the chain's new head in pat.audit_head (one row, no index), in the linking
// transaction: pat_audit_verify() then finds a deleted tail. Under the chain lock, so the latest
// snapshot sees the one row as the previous linker left it; updated in place (simple_heap_update
// takes no snapshot's view, so a REPEATABLE READ caller of pat_audit_link() does not fail) and
// firing no trigger, as the log's rows. Nothing where the schema has no pat.audit_head..
void anchor_head(int64 seq, const bytea *hash) {
    if (!schema_has(pat::schema_since::kAuditHead) || hash == nullptr) {
        return;
    }
    Oid head_id = pat_relation("audit_head", kUpdateHint);
    Relation head = table_open(head_id, RowExclusiveLock);
    TupleDesc desc = RelationGetDescr(head);
    if (desc->natts != 2 || TupleDescAttr(desc, 0)->atttypid != INT8OID ||
        TupleDescAttr(desc, 1)->atttypid != BYTEAOID) {
        elog(ERROR, "pat.audit_head does not have the columns pg_pat expects");
    }
    Datum values[2] = {Int64GetDatum(seq), PointerGetDatum(hash)};
    bool nulls[2] = {false, false};
    HeapTuple row = heap_form_tuple(desc, values, nulls);
    Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
    TableScanDesc scan = table_beginscan(head, snapshot, 0, nullptr);
    HeapTuple current = heap_getnext(scan, ForwardScanDirection);
    if (current != nullptr) {
        ItemPointerData tid = current->t_self;
        table_endscan(scan);
        compat::update_heap_row(head, &tid, row);
    } else {
        table_endscan(scan);
        simple_heap_insert(head, row);
    }
    UnregisterSnapshot(snapshot);
    heap_freetuple(row);
    table_close(head, NoLock);
}

}  // namespace

void close_kept_audit_tables() {
    close_table(pending_table);
    close_table(log_table);
}

Oid audit_log_relation() {
    return pat_relation("audit_log", kUpdateHint);
}

void lock_audit_chain() {
    if (audit_chain_locked()) {
        return;
    }
    // The tables a chain holder writes are locked before the head row, so that DDL holding one
    // of them (an extension update's ALTER TABLE, which then locks the head row itself) makes
    // this wait without the head row, instead of the two deadlocking.
    LockRelationOid(audit_log_relation(), RowExclusiveLock);
    if (schema_has(pat::schema_since::kAuditPending)) {
        LockRelationOid(pat_relation("audit_pending", kUpdateHint), RowExclusiveLock);
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

void append_token_audit(const char *action, text *user_id, pg_uuid_t *token_id, text *token_name,
                        Jsonb *old_data, Jsonb *new_data) {
    AuditEntry entry;
    entry.action = action;
    entry.user_id = user_id;
    entry.token_id = token_id;
    entry.token_name = token_name;
    entry.actor = audit_actor_for(user_id);
    entry.old_data = old_data;
    entry.new_data = new_data;
    append_audit_entry(entry);
}

int64 append_audit_entry(const AuditEntry &entry) {
    if (entry.action == nullptr) {
        elog(ERROR, "an audit entry needs an action");
    }
    // Refused here rather than stored: the log must read back and restore as text.
    check_audit_data("old_data", entry.old_data);
    check_audit_data("new_data", entry.new_data);
    // Who ran it: the SQL role outside any SECURITY DEFINER function (SET ROLE applies), and
    // the session's role.
    RowFacts facts;
    facts.action = cstring_to_text(entry.action);
    facts.occurred_at = GetCurrentTimestamp();
    facts.db_role = role_name(GetOuterUserId(), &known_db_role, &known_db_role_name);
    facts.session_role =
        role_name(GetSessionUserId(), &known_session_role, &known_session_role_name);
    facts.txid = static_cast<int64>(U64FromFullTransactionId(GetTopFullTransactionId()));
    if (!schema_has(pat::schema_since::kAuditPending)) {
        return append_linked_entry(entry, facts);
    }
    if (transaction_batch == 0) {
        // Drawn once per transaction, before its first row: a transaction that began writing
        // after another committed gets a later batch, so it is linked after it.
        transaction_batch = nextval_internal(pat_relation("audit_batch_seq", kUpdateHint), false);
        next_ordinal = 0;
    }
    Datum values[kPendingColumns];
    bool nulls[kPendingColumns];
    values[kPendingBatch] = Int64GetDatum(transaction_batch);
    nulls[kPendingBatch] = false;
    values[kPendingOrdinal] = Int32GetDatum(++next_ordinal);
    nulls[kPendingOrdinal] = false;
    put_entry_columns(entry, facts, values + kPendingEntry, nulls + kPendingEntry);
    insert_row(pending_table, values, nulls);
    return 0;
}

namespace {

// Whether a command that needs the database to itself (DROP DATABASE, CREATE DATABASE with it as
// template) holds the database's lock, waiting for every session in it to leave: the lock a
// connecting session takes would conflict. Such a command waits only 5 s, and for a worker no
// signal asks it to leave.
bool database_wanted_alone() {
    LOCKTAG tag;
    SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, MyDatabaseId, 0);
    if (LockAcquire(&tag, RowExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL) {
        return true;
    }
    LockRelease(&tag, RowExclusiveLock, false);
    return false;
}

// How often a pass looks at database_wanted_alone(): a row can take a while to hash (a large one
// a second or two), a look costs a lock table probe.
constexpr long kYieldCheckMs = 100;

}  // namespace

int64 link_pending_rows(bool *yielded) {
    if (!schema_has(pat::schema_since::kAuditPending)) {
        return 0;  // every row was linked as it was written
    }
    Oid pending_id = pat_relation("audit_pending", kUpdateHint);
    // This transaction's own pending rows (a purge's) become visible to the snapshot below.
    CommandCounterIncrement();
    ChainTail tail = lock_chain_and_read_tail();
    if (tail.hash != nullptr) {
        // Ours to free as the tail moves on (the known tail's copy is audit_state's).
        bytea *copy = static_cast<bytea *>(palloc(VARSIZE(tail.hash)));
        memcpy(copy, tail.hash, VARSIZE(tail.hash));
        tail.hash = copy;
    }
    // Taken after the lock: every pending row a previous linker deleted is gone from it.
    Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
    Relation pending = table_open(pending_id, RowExclusiveLock);
    check_columns(pending, pending_table);
    TupleTableSlot *slot = table_slot_create(pending, nullptr);
    int64 count = 0;
    PendingRow *rows = pending_rows_in_order(pending, snapshot, slot, &count);

    MemoryContext row_memory =
        AllocSetContextCreate(CurrentMemoryContext, "pg_pat audit link", ALLOCSET_DEFAULT_SIZES);
    MemoryContext caller_memory = CurrentMemoryContext;
    open_table(log_table);
    int batch_size = static_cast<int>(Min(count, static_cast<int64>(kLinkBatch)));
    auto **batch =
        static_cast<TupleTableSlot **>(palloc(sizeof(TupleTableSlot *) * Max(batch_size, 1)));
    for (int b = 0; b < batch_size; ++b) {
        batch[b] = MakeSingleTupleTableSlot(RelationGetDescr(log_table.relation), &TTSOpsVirtual);
    }
    int filled = 0;
    int64 linked = 0;
    TimestampTz last_yield_check = 0;
    for (int64 i = 0; i < count; ++i) {
        CHECK_FOR_INTERRUPTS();  // a shutdown or a cancel need not wait for a long pass
        if (yielded != nullptr) {
            TimestampTz now = GetCurrentTimestamp();
            if (TimestampDifferenceExceeds(last_yield_check, now, kYieldCheckMs)) {
                last_yield_check = now;
                if (database_wanted_alone()) {
                    *yielded = true;  // the rows linked so far are kept; the rest stay pending
                    break;
                }
            }
        }
        ++linked;
        MemoryContextSwitchTo(row_memory);
        if (!table_tuple_fetch_row_version(pending, &rows[i].tid, snapshot, slot)) {
            elog(ERROR, "pg_pat could not read a pending audit row");
        }
        slot_getallattrs(slot);
        AuditEntry entry;
        RowFacts facts;
        read_entry_columns(slot->tts_values + kPendingEntry, slot->tts_isnull + kPendingEntry,
                           &entry, &facts);
        // Copied into the batch's slot: the pending row and its toast go away below.
        TupleTableSlot *out = batch[filled++];
        ExecClearTuple(out);
        bytea *hash = linked_row(tail, entry, facts, out->tts_values, out->tts_isnull);
        ExecStoreVirtualTuple(out);
        ExecMaterializeSlot(out);
        ExecClearTuple(slot);
        simple_table_tuple_delete(pending, &rows[i].tid, snapshot);

        // The new tail, kept across the row memory's reset.
        MemoryContextSwitchTo(caller_memory);
        if (tail.hash != nullptr) {
            pfree(tail.hash);
        }
        tail.seq += 1;
        tail.hash = static_cast<bytea *>(palloc(VARSIZE(hash)));
        memcpy(tail.hash, hash, VARSIZE(hash));
        MemoryContextReset(row_memory);
        if (filled == batch_size) {
            insert_log_batch(batch, filled);
            filled = 0;
        }
    }
    MemoryContextSwitchTo(caller_memory);
    insert_log_batch(batch, filled);
    for (int b = 0; b < batch_size; ++b) {
        ExecDropSingleTupleTableSlot(batch[b]);
    }
    pfree(batch);
    MemoryContextDelete(row_memory);
    pfree(rows);
    ExecDropSingleTupleTableSlot(slot);
    table_close(pending, NoLock);
    UnregisterSnapshot(snapshot);
    set_known_audit_chain_tail(tail.seq, tail.hash);
    if (count > 0) {
        anchor_head(tail.seq, tail.hash);
    }
    // The linked rows become visible to this transaction's next snapshot (a purge's plan).
    CommandCounterIncrement();
    return linked;
}

}  // namespace pat::pg
