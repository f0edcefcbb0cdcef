// The maintenance worker: one visit to one database, doing the duties the launcher ordered; see
// launcher.hpp.
#include "pg/audit/audit_linker.hpp"
#include "pg/bridge/maintenance.hpp"
#include "pg/lifecycle/lifecycle_worker.hpp"
#include "pg/usage/usage_worker.hpp"
#include "pg/workers/maintenance_order.hpp"

extern "C" {
PGDLLEXPORT void pat_maintenance_worker_main(Datum database);
}

namespace pat::pg {

namespace {

void write_usage_duty(const MaintenanceOrder &) {
    write_out_usage();
}

void lifecycle_duty(const MaintenanceOrder &order) {
    run_lifecycle_round(order.visit);
}

// Runs duty in a transaction of its own, shown as activity; whether it committed. A duty that
// fails is logged as the worker's own error would be, and the visit goes on with the next
// duty, which does not depend on it: usage that could not be written goes back to shared
// memory (usage_flush.hpp), and a lifecycle round that failed is not reported, so the next one
// reads the database in full.
bool run_duty(const char *activity, void (*duty)(const MaintenanceOrder &),
              const MaintenanceOrder &order) {
    begin_maintenance_transaction(activity);
    volatile bool committed = true;
    PG_TRY();
    {
        duty(order);
        commit_maintenance_transaction();
    }
    PG_CATCH();
    {
        HOLD_INTERRUPTS();
        EmitErrorReport();
        FlushErrorState();
        AbortCurrentTransaction();
        RESUME_INTERRUPTS();
        pgstat_report_activity(STATE_IDLE, nullptr);
        committed = false;
    }
    PG_END_TRY();
    return committed;
}

}  // namespace

}  // namespace pat::pg

void pat_maintenance_worker_main(Datum database) {
    using namespace pat::pg;
    MaintenanceOrder order;
    memcpy(&order, MyBgworkerEntry->bgw_extra, sizeof(order));
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    // Whether or not the database accepts connections now: one being dropped is waited for
    // here, then found gone.
    BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(database), InvalidOid,
                                              BGWORKER_BYPASS_ALLOWCONN);
    if ((order.duties & kWriteUsage) != 0) {
        (void)run_duty("pg_pat: writing usage", write_usage_duty, order);
    }
    if ((order.duties & kLinkAudit) != 0 && !link_audit_rows()) {
        proc_exit(0);  // a DROP DATABASE or the like wants the database: leave it now
    }
    if ((order.duties & kLifecycleRound) != 0 &&
        run_duty("pg_pat: token lifecycle", lifecycle_duty, order)) {
        report_lifecycle_round(order.slot);
    }
    proc_exit(0);
}
