// The maintenance launcher; see launcher.hpp.
#include "pg/workers/launcher.hpp"

#include "pg/audit/link_schedule.hpp"
#include "pg/bridge/maintenance.hpp"
#include "pg/bridge/shared_memory.hpp"
#include "pg/lifecycle/lifecycle_schedule.hpp"
#include "pg/settings.hpp"
#include "pg/usage/usage_store.hpp"
#include "pg/usage/usage_worker.hpp"
#include "pg/workers/maintenance_order.hpp"

extern "C" {
PGDLLEXPORT void pat_maintenance_launcher_main(Datum);
}

namespace pat::pg {

namespace {

// A visit to one database, due or running.
struct Visit {
    Oid database;
    MaintenanceOrder order;
    TimestampTz planned_at;  // with kLifecycleRound: when its round was planned
};

// The running workers, by slot (the slot a lifecycle round reports in); a free slot has no
// handle. A reload may lower pat.max_maintenance_workers below the slots in use: those workers
// finish, and no other starts until fewer run.
struct RunningWorker {
    BackgroundWorkerHandle *handle;
    Visit visit;
};
RunningWorker workers[kMaxMaintenanceWorkersLimit];

// The visits due, at most one per database, in the order they became due: the first is started
// first, so that a database whose duties come due again and again does not keep the others
// waiting. In TopMemoryContext.
Visit *due = nullptr;
int due_count = 0;
int due_capacity = 0;

// A worker that could not be started (max_worker_processes has no free slot) is tried again
// this much later; its failure is logged once until a start succeeds.
constexpr long kStartRetryMs = 1000;
TimestampTz start_retry_at = 0;
bool start_failure_logged = false;

// How often a standby's launcher looks whether it has been promoted: nothing else wakes it
// then, and rows left pending by the old primary should not wait for the next usage round.
constexpr long kPromotionCheckMs = 1000;

void fill_worker(BackgroundWorker *worker, const char *function, const char *type) {
    memset(worker, 0, sizeof(*worker));
    snprintf(worker->bgw_library_name, BGW_MAXLEN, "pg_pat");
    snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
    snprintf(worker->bgw_name, BGW_MAXLEN, "%s", type);
    snprintf(worker->bgw_type, BGW_MAXLEN, "%s", type);
    worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    // Consistent state: a hot standby runs them too, and has its usage forwarded to the primary.
    worker->bgw_start_time = BgWorkerStart_ConsistentState;
}

RunningWorker *worker_in(Oid database) {
    for (RunningWorker &worker : workers) {
        if (worker.handle != nullptr && worker.visit.database == database) {
            return &worker;
        }
    }
    return nullptr;
}

int running_count() {
    int running = 0;
    for (const RunningWorker &worker : workers) {
        running += worker.handle != nullptr ? 1 : 0;
    }
    return running;
}

// database's due visit; a new one, with no duty yet, when it has none.
Visit *due_visit(Oid database) {
    for (int i = 0; i < due_count; ++i) {
        if (due[i].database == database) {
            return &due[i];
        }
    }
    if (due_count == due_capacity) {
        due_capacity = Max(16, due_capacity * 2);
        due = static_cast<Visit *>(
            due == nullptr ? MemoryContextAlloc(TopMemoryContext, sizeof(Visit) * due_capacity)
                           : repalloc(due, sizeof(Visit) * due_capacity));
    }
    Visit *visit = &due[due_count++];
    *visit = Visit{};
    visit->database = database;
    return visit;
}

void add_duty(const Oid *databases, int count, uint32 duty) {
    for (int i = 0; i < count; ++i) {
        due_visit(databases[i])->order.duties |= duty;
    }
}

// Whether database's lifecycle round is due or running: the next is planned once it reported.
bool lifecycle_round_pending(Oid database) {
    for (int i = 0; i < due_count; ++i) {
        if (due[i].database == database) {
            return (due[i].order.duties & kLifecycleRound) != 0;
        }
    }
    RunningWorker *worker = worker_in(database);
    return worker != nullptr && (worker->visit.order.duties & kLifecycleRound) != 0;
}

void plan_usage_writes() {
    int count = 0;
    Oid *databases = databases_with_usage_due(&count);
    add_duty(databases, count, kWriteUsage);
    pfree(databases);
}

void plan_links() {
    int count = 0;
    Oid *databases = take_databases_to_link(&count);
    add_duty(databases, count, kLinkAudit);
    pfree(databases);
}

void plan_lifecycle_rounds(TimestampTz now) {
    int count = 0;
    Oid *databases = databases_to_visit(false, &count);  // templates have no tokens to tell about
    keep_lifecycle_plans(databases, count);
    for (int i = 0; i < count; ++i) {
        if (lifecycle_round_pending(databases[i])) {
            continue;
        }
        LifecycleVisit planned = plan_lifecycle_visit(databases[i], now);
        if (!planned.needed) {
            continue;
        }
        Visit *visit = due_visit(databases[i]);
        visit->order.duties |= kLifecycleRound;
        visit->order.visit = planned;
        visit->planned_at = now;
    }
    pfree(databases);
}

// Frees the slots of the workers that have exited, taking their lifecycle reports.
void note_exited_workers() {
    for (int slot = 0; slot < kMaxMaintenanceWorkersLimit; ++slot) {
        RunningWorker &worker = workers[slot];
        pid_t pid = 0;
        if (worker.handle == nullptr ||
            GetBackgroundWorkerPid(worker.handle, &pid) != BGWH_STOPPED) {
            continue;
        }
        const Visit &visit = worker.visit;
        if ((visit.order.duties & kLifecycleRound) != 0) {
            take_lifecycle_report(slot, visit.database, visit.order.visit, visit.planned_at);
        }
        pfree(worker.handle);
        worker.handle = nullptr;
    }
}

// Starts a worker for visit in slot; false (logged once) when none could be started.
bool start_worker(int slot, Visit visit) {
    visit.order.slot = slot;
    if ((visit.order.duties & kLifecycleRound) != 0) {
        expect_lifecycle_report(slot);
    }
    BackgroundWorker worker;
    fill_worker(&worker, "pat_maintenance_worker_main", kWorkerType);
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    worker.bgw_main_arg = ObjectIdGetDatum(visit.database);
    memcpy(worker.bgw_extra, &visit.order, sizeof(visit.order));
    worker.bgw_notify_pid = MyProcPid;  // its start and exit set this launcher's latch
    BackgroundWorkerHandle *handle = nullptr;
    MemoryContext caller_memory = MemoryContextSwitchTo(TopMemoryContext);
    bool started = RegisterDynamicBackgroundWorker(&worker, &handle);
    MemoryContextSwitchTo(caller_memory);
    if (!started) {
        if (!start_failure_logged) {
            ereport(LOG, (errmsg("pg_pat could not start a worker; retrying later"),
                          errhint("Raise max_worker_processes.")));
            start_failure_logged = true;
        }
        return false;
    }
    start_failure_logged = false;
    workers[slot].handle = handle;
    workers[slot].visit = visit;
    return true;
}

// Starts workers for the due visits, first due first, while fewer than
// pat.max_maintenance_workers run; never a second one in a database.
void start_due_workers(TimestampTz now) {
    if (start_retry_at != 0 && now < start_retry_at) {
        return;
    }
    start_retry_at = 0;
    int running = running_count();
    int i = 0;
    while (i < due_count && running < max_maintenance_workers()) {
        if (worker_in(due[i].database) != nullptr) {
            ++i;
            continue;
        }
        int slot = 0;
        while (workers[slot].handle != nullptr) {
            ++slot;  // one is free: fewer run than the limit, which bounds the setting
        }
        if (!start_worker(slot, due[i])) {
            start_retry_at = TimestampTzPlusMilliseconds(now, kStartRetryMs);
            return;
        }
        ++running;
        memmove(&due[i], &due[i + 1], sizeof(Visit) * (due_count - i - 1));
        --due_count;
    }
}

// Milliseconds from now until at, at least 0.
long ms_until(TimestampTz now, TimestampTz at) {
    return Max(TimestampDifferenceMilliseconds(now, at), 0L);
}

// The shorter of two timeouts, -1 being none.
long sooner(long a, long b) {
    return a < 0 ? b : (b < 0 ? a : Min(a, b));
}

void forget_launcher_latch(int, Datum) {
    set_launcher_latch(nullptr);
}

}  // namespace

void setup_maintenance_launcher() {
    // pg_upgrade runs both servers in binary-upgrade mode (-b). It hands the new cluster the XID
    // counter it read from the old one before starting it, so a write there (usage, links,
    // notices) would leave rows whose XIDs the new cluster hands out again; and the new cluster's
    // tables are being recreated, then replaced by the old files. No launcher runs then, as
    // PostgreSQL's own autovacuum and logical replication launchers do not.
    if (IsBinaryUpgrade) {
        return;
    }
    BackgroundWorker worker;
    fill_worker(&worker, "pat_maintenance_launcher_main", kLauncherType);
    worker.bgw_restart_time = 10;
    RegisterBackgroundWorker(&worker);
}

}  // namespace pat::pg

// Each duty is planned on its own schedule, never merely because the latch was set: PostgreSQL
// sets it for its own reasons too (a worker starting or exiting, a ProcSignalBarrier, catching
// up on cache invalidations), and a round per wake-up would never stop. Usage in particular is
// written out only when its interval is over, shared memory's table asked for it or the
// configuration was reloaded (a changed interval counts from then): a round between a check
// and its transaction's end would take that use out of shared memory before it is written.
void pat_maintenance_launcher_main(Datum) {
    using namespace pat::pg;
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);  // shared catalogs only
    set_launcher_latch(MyLatch);
    before_shmem_exit(forget_launcher_latch, 0);
    // The first usage round runs at once: it writes out the usage a clean shutdown saved.
    TimestampTz last_usage_round = 0;
    TimestampTz last_lifecycle_round = 0;
    TimestampTz link_due_at = 0;  // 0: no link pass is waiting out pat.audit_link_delay
    bool primary = false;         // the duties of a primary are taken up
    while (!ShutdownRequestPending) {
        // Reset before looking at what is due: whatever sets it from here on ends the wait below.
        ResetLatch(MyLatch);
        // Absorbs a ProcSignalBarrier too: DROP DATABASE waits for every process to, while a
        // worker may be waiting for DROP DATABASE (to connect to the database it drops).
        CHECK_FOR_INTERRUPTS();
        bool reloaded = ConfigReloadPending;
        if (reloaded) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        if (ShutdownRequestPending) {
            break;
        }
        note_exited_workers();
        TimestampTz now = GetCurrentTimestamp();
        if (!primary && !RecoveryInProgress()) {
            // Started on a primary, or promoted. This launcher cannot know what a predecessor
            // (before a crash) or the old primary left pending: every database is linked once,
            // at once, since those rows are committed already. The first lifecycle round comes
            // after one interval, as after every start.
            primary = true;
            request_link_everywhere();
            link_due_at = now;
            last_lifecycle_round = now;
        }
        if (take_early_flush_request() || reloaded ||
            TimestampDifferenceExceeds(last_usage_round, now, usage_flush_interval_ms())) {
            last_usage_round = now;
            plan_usage_writes();
        }
        // A standby writes nothing: the primary's link passes and lifecycle rounds cover it.
        if (primary) {
            queue_due_link_retries();
            // The delay gathers the commits that come meanwhile into the same pass.
            if (link_due_at == 0 && link_requested()) {
                link_due_at = TimestampTzPlusMilliseconds(now, audit_link_delay_ms());
            }
            if (link_due_at != 0 && now >= link_due_at) {
                link_due_at = 0;
                plan_links();
            }
            if (TimestampDifferenceExceeds(last_lifecycle_round, now, lifecycle_interval_ms())) {
                last_lifecycle_round = now;
                plan_lifecycle_rounds(now);
            }
        }
        start_due_workers(now);

        now = GetCurrentTimestamp();
        long timeout =
            ms_until(now, TimestampTzPlusMilliseconds(last_usage_round, usage_flush_interval_ms()));
        if (primary) {
            // A failed database's retry, once due, is queued as a link request above.
            timeout = sooner(timeout, link_due_at != 0 ? ms_until(now, link_due_at)
                                                       : ms_until_next_link_retry());
            timeout =
                sooner(timeout, ms_until(now, TimestampTzPlusMilliseconds(
                                                  last_lifecycle_round, lifecycle_interval_ms())));
        } else {
            timeout = sooner(timeout, kPromotionCheckMs);
        }
        if (start_retry_at != 0 && due_count > 0) {
            timeout = sooner(timeout, ms_until(now, start_retry_at));
        }
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout,
                        PG_WAIT_EXTENSION);
    }
    // A shutdown does not wait for a link or a flush to finish.
    for (RunningWorker &worker : workers) {
        if (worker.handle != nullptr) {
            TerminateBackgroundWorker(worker.handle);
        }
    }
    proc_exit(0);
}
