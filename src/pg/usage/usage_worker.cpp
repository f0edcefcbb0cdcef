// Usage's part of pg_pat's maintenance; see usage_worker.hpp.
#include "pg/usage/usage_worker.hpp"

#include "pg/settings.hpp"
#include "pg/usage/usage_flush.hpp"
#include "pg/usage/usage_store.hpp"

namespace pat::pg {

namespace {

// Databases flushed per round; more wait for the next round.
constexpr int kMaxDatabasesPerRound = 256;

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
        !TimestampDifferenceExceeds(last_reported, now, usage_flush_interval_ms())) {
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

}  // namespace

Oid *databases_with_usage_due(int *count) {
    report_unkept_usage();
    Oid *databases = static_cast<Oid *>(palloc(sizeof(Oid) * kMaxDatabasesPerRound));
    *count = databases_with_pending(databases, kMaxDatabasesPerRound);
    drop_usage_of_dropped(databases, count);
    return databases;
}

void write_out_usage() {
    if (!OidIsValid(get_extension_oid("pg_pat", true))) {
        int dropped = discard_usage();
        ereport(LOG, (errmsg("pg_pat dropped the usage of %d tokens: database \"%s\" has no "
                             "pg_pat extension",
                             dropped, get_database_name(MyDatabaseId))));
    } else if (!usage_kept_here()) {
        // Counted before the extension was recreated at an older version: trying to write it
        // would fail every interval, and it would never leave shared memory.
        int dropped = discard_usage();
        ereport(LOG, (errmsg("pg_pat dropped the usage of %d tokens: pg_pat in database \"%s\" "
                             "is older than 1.2 and keeps no usage",
                             dropped, get_database_name(MyDatabaseId)),
                      errhint("Run ALTER EXTENSION pg_pat UPDATE in that database.")));
    } else {
        (void)flush_usage();
    }
}

}  // namespace pat::pg
