// The usage launcher and flush workers; see usage_worker.hpp.
#include "pg/usage/usage_worker.hpp"

#include "pg/bridge/postgres.hpp"
#include "pg/usage/usage_flush.hpp"
#include "pg/usage/usage_store.hpp"
#include "pg/workers/workers.hpp"

extern "C" {
PGDLLEXPORT void pat_usage_launcher_main(Datum);
PGDLLEXPORT void pat_usage_flush_main(Datum database);
}

namespace pat::pg {

namespace {

int flush_interval_ms = 60000;
// Databases flushed per round; more wait for the next round.
constexpr int kMaxDatabasesPerRound = 256;

// Starts a flush worker for database and waits until it has exited.
void flush_database(Oid database) {
    (void)run_database_worker("pat_usage_flush_main", "pg_pat usage flush", database,
                              BgWorkerStart_ConsistentState);
}

// Drops the pending usage of databases that no longer exist: nobody can write it.
void drop_usage_of_dropped(Oid *databases, int *count) {
    StartTransactionCommand();
    int kept = 0;
    for (int i = 0; i < *count; ++i) {
        if (SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(databases[i]))) {
            databases[kept++] = databases[i];
            continue;
        }
        int dropped = 0;
        pfree(take_pending(databases[i], CurrentMemoryContext, &dropped));
        ereport(LOG, (errmsg("pg_pat dropped the usage of %d tokens of dropped database %u",
                             dropped, databases[i])));
    }
    CommitTransactionCommand();
    *count = kept;
}

// Checks whose token (or whole check) shared memory could not keep, not reported yet.
uint64 unreported_unattributed = 0;
uint64 unreported_lost = 0;
TimestampTz last_reported = 0;

// Warns of checks shared memory could not keep whole, at most once per pat.usage_flush_interval
// (a full table also wakes the launcher for an early round).
void report_unkept_usage() {
    unreported_unattributed += take_unattributed_checks();
    unreported_lost += take_lost_checks();
    TimestampTz now = GetCurrentTimestamp();
    if ((unreported_unattributed == 0 && unreported_lost == 0) ||
        !TimestampDifferenceExceeds(last_reported, now, flush_interval_ms)) {
        return;
    }
    if (unreported_unattributed > 0) {
        ereport(WARNING,
                (errmsg("pg_pat counted %llu checks without their tokens: shared memory's usage "
                        "table was full",
                        static_cast<unsigned long long>(unreported_unattributed)),
                 errdetail("Their tokens' last use is not recorded, so pat.max_inactivity "
                           "revokes no token in their databases until it has passed since."),
                 errhint("Raise pat.usage_max_entries (tokens checked between two flushes) or "
                         "lower pat.usage_flush_interval.")));
    }
    if (unreported_lost > 0) {
        ereport(WARNING,
                (errmsg("pg_pat could not keep the usage of %llu checks: shared memory was full",
                        static_cast<unsigned long long>(unreported_lost)),
                 RecoveryInProgress()
                     ? errdetail("Their uses are not recorded, and the primary's "
                                 "pat.max_inactivity cannot know of them.")
                     : errdetail("pat.max_inactivity revokes no token on this server until it "
                                 "has passed since the latest of them."),
                 errhint("Raise pat.usage_max_entries or lower pat.usage_flush_interval.")));
    }
    unreported_unattributed = 0;
    unreported_lost = 0;
    last_reported = now;
}

void flush_round() {
    report_unkept_usage();
    Oid databases[kMaxDatabasesPerRound];
    int count = databases_with_pending(databases, kMaxDatabasesPerRound);
    drop_usage_of_dropped(databases, &count);
    for (int i = 0; i < count && !ShutdownRequestPending; ++i) {
        flush_database(databases[i]);
    }
}

}  // namespace

void setup_usage_worker() {
    DefineCustomIntVariable(
        "pat.usage_flush_interval",
        "How often pg_pat's background worker writes usage from shared memory to the tables.",
        "A crash loses at most the usage of one interval.", &flush_interval_ms, 60000, 100,
        3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    // Consistent state: a hot standby runs it too, and forwards its usage to the primary.
    register_launcher("pat_usage_launcher_main", "pg_pat usage launcher",
                      BgWorkerStart_ConsistentState);
}

}  // namespace pat::pg

void pat_usage_launcher_main(Datum) {
    pat::pg::start_launcher();
    pat::pg::set_flush_latch(MyLatch);
    // The first round runs at once: it writes out the usage a clean shutdown saved.
    TimestampTz last_round = 0;
    while (!ShutdownRequestPending) {
        // A round runs when the interval is over, the table asked for one or the configuration
        // was reloaded (a changed interval counts from then), never merely because the latch
        // was set: PostgreSQL sets it for its own signals too (catching up on cache
        // invalidations, say), and a round between a check and its transaction's end would take
        // that use out of shared memory before it is written. Waiting for a flush worker resets
        // the latch, so a SIGHUP or a request that came during the last round is looked at here
        // rather than trusted to the latch: else a shorter interval would take effect only once
        // the longer one had passed.
        TimestampTz due = TimestampTzPlusMilliseconds(last_round, pat::pg::flush_interval_ms);
        long wait_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), due);
        if (!ConfigReloadPending && !pat::pg::early_flush_requested() && wait_ms > 0) {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms,
                            PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
        }
        CHECK_FOR_INTERRUPTS();
        bool reloaded = ConfigReloadPending;
        if (reloaded) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        if (ShutdownRequestPending) {
            break;
        }
        TimestampTz now = GetCurrentTimestamp();
        bool interval_over =
            TimestampDifferenceExceeds(last_round, now, pat::pg::flush_interval_ms);
        if (pat::pg::take_early_flush_request() || interval_over || reloaded) {
            last_round = now;
            pat::pg::flush_round();
        }
    }
    pat::pg::set_flush_latch(nullptr);
    proc_exit(0);
}

void pat_usage_flush_main(Datum database) {
    pat::pg::begin_database_work(database, "pg_pat: writing usage");
    if (!OidIsValid(get_extension_oid("pg_pat", true))) {
        int dropped = pat::pg::discard_usage();
        ereport(LOG, (errmsg("pg_pat dropped the usage of %d tokens: database \"%s\" has no "
                             "pg_pat extension",
                             dropped, get_database_name(MyDatabaseId))));
    } else if (!pat::pg::usage_kept_here()) {
        // Counted before the extension was recreated at an older version: trying to write it
        // would fail every interval, and it would never leave shared memory.
        int dropped = pat::pg::discard_usage();
        ereport(LOG, (errmsg("pg_pat dropped the usage of %d tokens: pg_pat in database \"%s\" "
                             "is older than 1.2 and keeps no usage",
                             dropped, get_database_name(MyDatabaseId)),
                      errhint("Run ALTER EXTENSION pg_pat UPDATE in that database.")));
    } else {
        pat::pg::flush_usage();
    }
    pat::pg::end_database_work();
}
