// The audit linker's pass; see audit_linker.hpp.
#include "pg/audit/audit_linker.hpp"

#include "pg/audit/audit_writer.hpp"
#include "pg/audit/link_schedule.hpp"
#include "pg/bridge/compat.hpp"
#include "pg/bridge/maintenance.hpp"
#include "pg/bridge/spi_support.hpp"

namespace pat::pg {

namespace {

// Dead rows in pat.audit_pending worth a vacuum: a few passes' worth under load, so that the
// vacuum's fixed cost is not paid on every pass.
constexpr int64 kVacuumAfterDeadRows = 5000;

// Whether pat.audit_pending has kVacuumAfterDeadRows dead rows, counting the linked ones this
// worker has not reported yet. Its own transaction; call outside one.
bool pending_needs_vacuum(Oid pending, int64 linked) {
    StartTransactionCommand();
    PgStat_StatTabEntry *stats = pgstat_fetch_stat_tabentry(pending);
    int64 dead = linked + (stats != nullptr ? compat::dead_tuples(*stats) : 0);
    CommitTransactionCommand();
    return dead >= kVacuumAfterDeadRows;
}

// Vacuums pat.audit_pending (its own transactions; call outside one). Every row the linker
// moves leaves a dead row behind; without this, with autovacuum off or behind, the table would
// grow with every pass and each pass would read all of it. No truncation: that would take a
// lock writers wait for. Skipped while another vacuum holds the table.
void vacuum_pending(Oid pending) {
    StartTransactionCommand();
    VacuumParams params = compat::default_vacuum_params();
    params.options = VACOPT_VACUUM | VACOPT_SKIP_LOCKED;
    params.index_cleanup = VACOPTVALUE_AUTO;
    params.truncate = VACOPTVALUE_DISABLED;
    compat::vacuum_table("pat", "audit_pending", pending, &params);
    CommitTransactionCommand();
}

}  // namespace

bool link_audit_rows() {
    begin_maintenance_transaction("pg_pat: linking audit rows");
    // Only where the extension is installed with its pending table: an older schema links each
    // row at once, in the writing transaction.
    Oid pending = InvalidOid;
    volatile int64 linked = 0;
    if (OidIsValid(get_extension_oid("pg_pat", true))) {
        pending = find_pat_relation("audit_pending");
    }
    if (!OidIsValid(pending)) {
        forget_link_failures(MyDatabaseId, nullptr);
        commit_maintenance_transaction();
        return true;
    }
    char *name = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
    MemoryContext work_memory = CurrentMemoryContext;
    ErrorData *volatile failure = nullptr;
    static bool yielded = false;  // static: set inside PG_TRY, read after it
    yielded = false;
    PG_TRY();
    { linked = link_pending_rows(&yielded); }
    PG_CATCH();
    {
        // The rows stay pending; the launcher tries again after a back-off. Logged here, once
        // per failure, rather than as this worker's error at every retry.
        MemoryContextSwitchTo(TopMemoryContext);
        failure = CopyErrorData();
        FlushErrorState();
        AbortCurrentTransaction();
    }
    PG_END_TRY();
    if (failure != nullptr) {
        report_link_failure(MyDatabaseId, name, failure);
        FreeErrorData(failure);
        pfree(name);
        pgstat_report_activity(STATE_IDLE, nullptr);
        return true;
    }
    MemoryContextSwitchTo(work_memory);
    forget_link_failures(MyDatabaseId, name);
    pfree(name);
    commit_maintenance_transaction();
    if (yielded) {
        // Left for a DROP DATABASE or the like: the next worker waits for it to finish (and
        // finds no database, or links the rest).
        mark_waiting(MyDatabaseId);
        return false;
    }
    if (linked > 0 && pending_needs_vacuum(pending, linked)) {
        pgstat_report_activity(STATE_RUNNING, "pg_pat: vacuuming pat.audit_pending");
        vacuum_pending(pending);
        pgstat_report_activity(STATE_IDLE, nullptr);
    }
    return true;
}

}  // namespace pat::pg
