// What pg_pat's maintenance needs below the wings; see maintenance.hpp.
#include "pg/bridge/maintenance.hpp"

namespace pat::pg {

Oid *databases_to_visit(bool templates, int *count) {
    StartTransactionCommand();
    Relation databases = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(databases, 0, nullptr);
    int capacity = 16;
    int used = 0;
    Oid *oids = static_cast<Oid *>(MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * capacity));
    HeapTuple tuple;
    while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        auto *row = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
        if (!row->datallowconn || (row->datistemplate && !templates)) {
            continue;
        }
        if (used == capacity) {
            capacity *= 2;
            oids = static_cast<Oid *>(repalloc(oids, sizeof(Oid) * capacity));
        }
        oids[used++] = row->oid;
    }
    table_endscan(scan);
    table_close(databases, AccessShareLock);
    CommitTransactionCommand();
    *count = used;
    return oids;
}

void begin_maintenance_transaction(const char *activity) {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, activity);
}

void commit_maintenance_transaction() {
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
}

}  // namespace pat::pg
