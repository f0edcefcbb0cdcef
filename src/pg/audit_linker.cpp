// The audit linker's launcher and workers; see audit_linker.hpp.
#include "pg/audit_linker.hpp"

#include "pg/audit_writer.hpp"
#include "pg/postgres.hpp"
#include "pg/spi_support.hpp"
#include "pg/workers.hpp"

extern "C" {
PGDLLEXPORT void pat_audit_launcher_main(Datum);
PGDLLEXPORT void pat_audit_link_main(Datum database);
}

namespace pat::pg {

namespace {

int link_delay_ms = 500;

// Databases whose committed audit rows wait for the linker. More than fit: every database.
constexpr int kMaxWaitingDatabases = 64;
// After a failed pass (logged by the worker), the next try: not at once, so that a lasting
// failure does not fill the log.
constexpr long kRetryMs = 10 * 1000;
struct LinkerShared {
    slock_t mutex;
    Latch *launcher_latch;
    bool every_database;
    bool retry_later;  // a pass failed: look everywhere again after kRetryMs
    int waiting_count;
    Oid waiting[kMaxWaitingDatabases];
};
LinkerShared *shared = nullptr;

shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

void request_memory() {
    if (previous_request_hook != nullptr) {
        previous_request_hook();
    }
    RequestAddinShmemSpace(MAXALIGN(sizeof(LinkerShared)));
}

void attach_memory() {
    if (previous_startup_hook != nullptr) {
        previous_startup_hook();
    }
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    shared = static_cast<LinkerShared *>(
        ShmemInitStruct("pg_pat audit linker", sizeof(LinkerShared), &found));
    if (!found) {
        SpinLockInit(&shared->mutex);
        shared->launcher_latch = nullptr;
        // After a start or a crash, rows committed before it may wait in any database.
        shared->every_database = true;
        shared->retry_later = false;
        shared->waiting_count = 0;
    }
    LWLockRelease(AddinShmemInitLock);
}

// Marks database as waiting. Only the first commit to do so since the last round wakes the
// launcher: the others find it waiting already and send no signal.
void mark_waiting(Oid database) {
    SpinLockAcquire(&shared->mutex);
    bool known = shared->every_database;
    for (int i = 0; !known && i < shared->waiting_count; ++i) {
        known = shared->waiting[i] == database;
    }
    if (!known) {
        if (shared->waiting_count < kMaxWaitingDatabases) {
            shared->waiting[shared->waiting_count++] = database;
        } else {
            shared->every_database = true;
        }
    }
    Latch *latch = known ? nullptr : shared->launcher_latch;
    SpinLockRelease(&shared->mutex);
    if (latch != nullptr) {
        SetLatch(latch);
    }
}

// Sleeps for the link delay, waking early only to shut down.
void wait_link_delay() {
    TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), link_delay_ms);
    while (!ShutdownRequestPending) {
        long remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);
        if (remaining <= 0) {
            break;
        }
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, remaining,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
}

// Starts a link worker for database and waits until it has exited.
void link_database(Oid database) {
    if (!run_database_worker("pat_audit_link_main", "pg_pat audit link", database,
                             BgWorkerStart_RecoveryFinished)) {
        mark_waiting(database);
    }
}

void link_round() {
    SpinLockAcquire(&shared->mutex);
    bool every = shared->every_database;
    int count = shared->waiting_count;
    Oid waiting[kMaxWaitingDatabases];
    memcpy(waiting, shared->waiting, sizeof(Oid) * count);
    shared->every_database = false;
    shared->waiting_count = 0;
    SpinLockRelease(&shared->mutex);
    if (every) {
        // Templates too: a link pass is harmless there, and pg_pat may be installed in one.
        Oid *databases = databases_to_visit(true, &count);
        for (int i = 0; i < count && !ShutdownRequestPending; ++i) {
            link_database(databases[i]);
        }
        pfree(databases);
        return;
    }
    for (int i = 0; i < count && !ShutdownRequestPending; ++i) {
        link_database(waiting[i]);
    }
}

// Dead rows in pat.audit_pending worth a vacuum: a few passes' worth under load, so that the
// vacuum's fixed cost is not paid on every pass.
constexpr int64 kVacuumAfterDeadRows = 5000;

// Whether pat.audit_pending has kVacuumAfterDeadRows dead rows, counting the linked ones this
// worker has not reported yet. Its own transaction; call outside one.
bool pending_needs_vacuum(Oid pending, int64 linked) {
    StartTransactionCommand();
    PgStat_StatTabEntry *stats = pgstat_fetch_stat_tabentry(pending);
    int64 dead = linked + (stats != nullptr ? stats->n_dead_tuples : 0);
    CommitTransactionCommand();
    return dead >= kVacuumAfterDeadRows;
}

// Vacuums pat.audit_pending (its own transactions; call outside one). Every row the linker
// moves leaves a dead row behind; without this, with autovacuum off or behind, the table would
// grow with every pass and each pass would read all of it. No truncation: that would take a
// lock writers wait for. Skipped while another vacuum holds the table.
void vacuum_pending(Oid pending) {
    StartTransactionCommand();
    VacuumParams params = {};
    params.options = VACOPT_VACUUM | VACOPT_SKIP_LOCKED;
    params.freeze_min_age = -1;
    params.freeze_table_age = -1;
    params.multixact_freeze_min_age = -1;
    params.multixact_freeze_table_age = -1;
    params.log_min_duration = -1;
    params.index_cleanup = VACOPTVALUE_AUTO;
    params.truncate = VACOPTVALUE_DISABLED;
    params.nworkers = -1;
    VacuumRelation *relation = makeVacuumRelation(
        makeRangeVar(pstrdup("pat"), pstrdup("audit_pending"), -1), pending, NIL);
    vacuum(list_make1(relation), &params, nullptr, true);
    CommitTransactionCommand();
}

}  // namespace

void note_audit_commit() {
    if (shared != nullptr) {
        mark_waiting(MyDatabaseId);
    }
}

void setup_audit_linker() {
    DefineCustomIntVariable(
        "pat.audit_link_delay",
        "How long after a commit pg_pat's background worker links its audit rows into the hash "
        "chain.",
        "Rows committed within the delay are linked together, in one pass; until then they wait "
        "in pat.audit_pending.",
        &link_delay_ms, 500, 0, 60 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    previous_request_hook = shmem_request_hook;
    shmem_request_hook = request_memory;
    previous_startup_hook = shmem_startup_hook;
    shmem_startup_hook = attach_memory;
    // A standby writes no audit rows; a promoted one starts the launcher then.
    register_launcher("pat_audit_launcher_main", "pg_pat audit linker",
                      BgWorkerStart_RecoveryFinished);
}

}  // namespace pat::pg

void pat_audit_launcher_main(Datum) {
    pat::pg::start_launcher();
    using pat::pg::shared;
    SpinLockAcquire(&shared->mutex);
    shared->launcher_latch = MyLatch;
    // A restarted launcher cannot know what its predecessor left: look everywhere once.
    shared->every_database = true;
    SpinLockRelease(&shared->mutex);
    while (!ShutdownRequestPending) {
        ResetLatch(MyLatch);
        pat::pg::link_round();
        // Until a commit with audit rows sets the latch (or a failed pass's retry is due); then
        // the delay gathers more commits into the pass (latch sets during it do not cut it
        // short). Waiting for a link worker resets the latch, so a database that became waiting
        // during the round, and a SIGTERM or SIGHUP that came during it, are looked at here
        // rather than trusted to the latch (a SIGTERM lost so kept the server from shutting
        // down).
        if (ShutdownRequestPending) {
            break;
        }
        SpinLockAcquire(&shared->mutex);
        bool retry = shared->retry_later;
        bool due = shared->every_database || shared->waiting_count > 0 || ConfigReloadPending;
        SpinLockRelease(&shared->mutex);
        int events =
            due ? WL_LATCH_SET
                : WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (retry ? WL_TIMEOUT : 0),
                            retry ? pat::pg::kRetryMs : -1L, PG_WAIT_EXTENSION);
        if ((events & WL_TIMEOUT) != 0) {
            SpinLockAcquire(&shared->mutex);
            shared->retry_later = false;
            shared->every_database = true;
            SpinLockRelease(&shared->mutex);
        }
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        if (!ShutdownRequestPending && pat::pg::link_delay_ms > 0) {
            pat::pg::wait_link_delay();
        }
    }
    SpinLockAcquire(&shared->mutex);
    shared->launcher_latch = nullptr;
    SpinLockRelease(&shared->mutex);
    proc_exit(0);
}

void pat_audit_link_main(Datum database) {
    pat::pg::begin_database_work(database, "pg_pat: linking audit rows");
    // Only where the extension is installed and has its pending table (1.5 or later).
    Oid pending = InvalidOid;
    volatile int64 linked = 0;
    if (OidIsValid(get_extension_oid("pg_pat", true))) {
        pending = pat::pg::find_pat_relation("audit_pending");
    }
    if (OidIsValid(pending)) {
        PG_TRY();
        { linked = pat::pg::link_pending_rows(); }
        PG_CATCH();
        {
            // The rows stay pending; the launcher tries again later.
            SpinLockAcquire(&pat::pg::shared->mutex);
            pat::pg::shared->retry_later = true;
            SpinLockRelease(&pat::pg::shared->mutex);
            PG_RE_THROW();
        }
        PG_END_TRY();
    }
    PopActiveSnapshot();
    CommitTransactionCommand();
    if (linked > 0 && pat::pg::pending_needs_vacuum(pending, linked)) {
        pgstat_report_activity(STATE_RUNNING, "pg_pat: vacuuming pat.audit_pending");
        pat::pg::vacuum_pending(pending);
    }
    pgstat_report_activity(STATE_IDLE, nullptr);
    proc_exit(0);
}
