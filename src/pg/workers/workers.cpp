// pg_pat's background worker plumbing; see workers.hpp.
#include "pg/workers/workers.hpp"

namespace pat::pg {

namespace {

void fill_worker(BackgroundWorker *worker, const char *function, const char *name,
                 BgWorkerStartTime start) {
    memset(worker, 0, sizeof(*worker));
    snprintf(worker->bgw_library_name, BGW_MAXLEN, "pg_pat");
    snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
    snprintf(worker->bgw_name, BGW_MAXLEN, "%s", name);
    snprintf(worker->bgw_type, BGW_MAXLEN, "%s", name);
    worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker->bgw_start_time = start;
}

// Waits until the worker has exited, or the launcher is asked to shut down (then the worker is
// asked too, and the shutdown does not wait for a link or flush to finish). Like
// WaitForBackgroundWorkerShutdown() it resets the latch, so the launcher must look at its
// flags before it sleeps again.
void wait_for_worker_exit(BackgroundWorkerHandle *handle) {
    for (;;) {
        pid_t pid = 0;
        if (GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED) {
            return;
        }
        if (ShutdownRequestPending) {
            TerminateBackgroundWorker(handle);
            return;
        }
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, 0, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        // Absorbs a ProcSignalBarrier: DROP DATABASE waits for every process to, while the
        // worker may be waiting for DROP DATABASE (to connect to the database it drops).
        CHECK_FOR_INTERRUPTS();
    }
}

}  // namespace

void begin_database_work(Datum database, const char *activity) {
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(database), InvalidOid,
                                              BGWORKER_BYPASS_ALLOWCONN);
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, activity);
}

void commit_database_work() {
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
}

void end_database_work() {
    commit_database_work();
    proc_exit(0);
}

void register_launcher(const char *function, const char *name, BgWorkerStartTime start) {
    // pg_upgrade runs both servers in binary-upgrade mode (-b). It hands the new cluster the XID
    // counter it read from the old one before starting it, so a write there (usage, links,
    // notices) would leave rows whose XIDs the new cluster hands out again; and the new cluster's
    // tables are being recreated, then replaced by the old files. No launcher runs then, as
    // PostgreSQL's own autovacuum and logical replication launchers do not.
    if (IsBinaryUpgrade) {
        return;
    }
    BackgroundWorker worker;
    fill_worker(&worker, function, name, start);
    worker.bgw_restart_time = 10;
    RegisterBackgroundWorker(&worker);
}

void start_launcher() {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
}

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

bool run_database_worker(const char *function, const char *name, Oid database,
                         BgWorkerStartTime start, const void *extra, size_t extra_size) {
    BackgroundWorker worker;
    fill_worker(&worker, function, name, start);
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    worker.bgw_main_arg = ObjectIdGetDatum(database);
    Assert(extra_size <= BGW_EXTRALEN);
    if (extra != nullptr) {
        memcpy(worker.bgw_extra, extra, extra_size);
    }
    worker.bgw_notify_pid = MyProcPid;
    BackgroundWorkerHandle *handle = nullptr;
    if (!RegisterDynamicBackgroundWorker(&worker, &handle)) {
        ereport(LOG, (errmsg("pg_pat could not start a worker (%s); retrying later", name),
                      errhint("Raise max_worker_processes.")));
        return false;
    }
    wait_for_worker_exit(handle);
    pfree(handle);
    return true;
}

}  // namespace pat::pg
