// Where and when the audit linker runs; see link_schedule.hpp.
#include "pg/audit/link_schedule.hpp"

#include "pg/bridge/compat.hpp"
#include "pg/bridge/maintenance.hpp"
#include "pg/bridge/postgres.hpp"
#include "pg/bridge/shared_memory.hpp"
#include "pg/bridge/spi_support.hpp"

namespace pat::pg {

namespace {

// Databases whose committed audit rows wait for the linker. More than fit: every database.
constexpr int kMaxWaitingDatabases = 64;

// After a failed pass in a database, the next try there: 10 s later, then twice as long after
// each failure, at most 5 minutes. Commits in the database do not bring it forward (they would,
// every link delay, under load); a pat_audit_link() that succeeds there ends the back-off.
constexpr long kFirstRetryMs = 10 * 1000;
constexpr long kLongestRetryMs = 5 * 60 * 1000;

// Databases whose link passes fail: more than fit are retried as one whole round, at the
// longest back-off.
constexpr int kMaxFailingDatabases = 64;

// A database whose last link pass failed.
struct FailingDatabase {
    Oid database;
    int failures;          // passes failed in a row (or started since the first failure)
    TimestampTz retry_at;  // not visited before
    uint32 logged;         // the failure last logged (failure_key): a repeat is not logged again
};

struct LinkerShared {
    slock_t mutex;
    bool every_database;
    int waiting_count;
    Oid waiting[kMaxWaitingDatabases];
    int failing_count;
    FailingDatabase failing[kMaxFailingDatabases];
    TimestampTz overflow_retry_at;  // 0, or when to look everywhere again (the table was full)
};
LinkerShared *shared = nullptr;

void attach_linker(void *header, bool first) {
    shared = static_cast<LinkerShared *>(header);
    if (first) {
        SpinLockInit(&shared->mutex);
        // After a start or a crash, rows committed before it may wait in any database.
        shared->every_database = true;
        shared->waiting_count = 0;
        shared->failing_count = 0;
        shared->overflow_retry_at = 0;
    }
}

// The back-off after failures passes: kFirstRetryMs doubled for each further one, at most
// kLongestRetryMs.
long retry_delay_ms(int failures) {
    long delay = kFirstRetryMs;
    for (int i = 1; i < failures && delay < kLongestRetryMs; ++i) {
        delay *= 2;
    }
    return Min(delay, kLongestRetryMs);
}

// database's entry in the failing table, or nullptr. Under the mutex.
FailingDatabase *failing_entry(Oid database) {
    for (int i = 0; i < shared->failing_count; ++i) {
        if (shared->failing[i].database == database) {
            return &shared->failing[i];
        }
    }
    return nullptr;
}

// Whether database is waiting out a back-off. Under the mutex.
bool backing_off(Oid database, TimestampTz now) {
    FailingDatabase *entry = failing_entry(database);
    return entry != nullptr && entry->retry_at > now;
}

// Whether database may be visited now: not while it waits out a back-off. A database whose
// passes failed has its next retry set before the visit, so that a visit ending before the
// worker reports (the database was dropped) is not repeated at once; a pass that succeeds
// clears it.
bool begin_visit(Oid database, TimestampTz now) {
    SpinLockAcquire(&shared->mutex);
    FailingDatabase *entry = failing_entry(database);
    bool skip = entry != nullptr && entry->retry_at > now;
    if (entry != nullptr && !skip) {
        entry->failures += 1;
        entry->retry_at = TimestampTzPlusMilliseconds(now, retry_delay_ms(entry->failures));
    }
    SpinLockRelease(&shared->mutex);
    return !skip;
}

// Milliseconds until the first failed database's retry is due (0 if one is), -1 if none is
// failing. Under the mutex.
long ms_until_next_retry_locked() {
    TimestampTz now = GetCurrentTimestamp();
    TimestampTz first = shared->overflow_retry_at;
    for (int i = 0; i < shared->failing_count; ++i) {
        if (first == 0 || shared->failing[i].retry_at < first) {
            first = shared->failing[i].retry_at;
        }
    }
    return first == 0 ? -1 : Max(TimestampDifferenceMilliseconds(now, first), 0L);
}

}  // namespace

void queue_due_link_retries() {
    TimestampTz now = GetCurrentTimestamp();
    SpinLockAcquire(&shared->mutex);
    bool due = shared->overflow_retry_at != 0 && shared->overflow_retry_at <= now;
    for (int i = 0; i < shared->failing_count && !due; ++i) {
        due = shared->failing[i].retry_at <= now;
    }
    SpinLockRelease(&shared->mutex);
    if (!due) {
        return;
    }
    int count = 0;
    Oid *databases = databases_to_visit(true, &count);
    SpinLockAcquire(&shared->mutex);
    if (shared->overflow_retry_at != 0 && shared->overflow_retry_at <= now) {
        shared->overflow_retry_at = 0;
        shared->every_database = true;
    }
    for (int i = shared->failing_count - 1; i >= 0; --i) {
        FailingDatabase &entry = shared->failing[i];
        bool exists = false;
        for (int d = 0; d < count && !exists; ++d) {
            exists = databases[d] == entry.database;
        }
        if (!exists) {
            entry = shared->failing[--shared->failing_count];
            continue;
        }
        if (entry.retry_at > now || shared->every_database) {
            continue;
        }
        bool waiting = false;
        for (int w = 0; w < shared->waiting_count && !waiting; ++w) {
            waiting = shared->waiting[w] == entry.database;
        }
        if (waiting) {
            continue;
        }
        if (shared->waiting_count < kMaxWaitingDatabases) {
            shared->waiting[shared->waiting_count++] = entry.database;
        } else {
            shared->every_database = true;
        }
    }
    SpinLockRelease(&shared->mutex);
    pfree(databases);
}

namespace {

// Which failure an error is, to log a repeat of it only once: its SQLSTATE and message.
uint32 failure_key(const ErrorData *failure) {
    const char *message = failure->message != nullptr ? failure->message : "";
    return hash_combine(hash_bytes(reinterpret_cast<const unsigned char *>(message),
                                   static_cast<int>(strlen(message))),
                        static_cast<uint32>(failure->sqlerrcode));
}

}  // namespace

// Marks database as waiting. Only the first commit to do so since the last round wakes the
// launcher: the others find it waiting already and send no signal; nor does a commit in a
// database waiting out a back-off.
void mark_waiting(Oid database) {
    TimestampTz now = GetCurrentTimestamp();
    SpinLockAcquire(&shared->mutex);
    bool known = shared->every_database || backing_off(database, now);
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
    SpinLockRelease(&shared->mutex);
    if (!known) {
        wake_launcher();
    }
}

// Records that a link pass in database (named name) failed with failure, and logs it: as a
// WARNING the first time, at DEBUG1 when the same failure repeats. Outside a transaction.
void report_link_failure(Oid database, const char *name, const ErrorData *failure) {
    uint32 key = failure_key(failure);
    TimestampTz now = GetCurrentTimestamp();
    long next_ms = kLongestRetryMs;
    bool repeated = false;
    SpinLockAcquire(&shared->mutex);
    FailingDatabase *entry = failing_entry(database);
    if (entry == nullptr && shared->failing_count < kMaxFailingDatabases) {
        entry = &shared->failing[shared->failing_count++];
        entry->database = database;
        entry->failures = 1;
        entry->retry_at = TimestampTzPlusMilliseconds(now, retry_delay_ms(1));
        entry->logged = 0;
    }
    if (entry != nullptr) {
        repeated = entry->failures > 1 && entry->logged == key;
        entry->logged = key;
        next_ms = Max(TimestampDifferenceMilliseconds(now, entry->retry_at), 0L);
    } else {
        // No room to remember it: everything is looked at again after the longest back-off.
        shared->overflow_retry_at = TimestampTzPlusMilliseconds(now, kLongestRetryMs);
    }
    SpinLockRelease(&shared->mutex);
    ereport(repeated ? DEBUG1 : WARNING,
            (errcode(failure->sqlerrcode),
             errmsg("pg_pat could not link the audit rows of database \"%s\": %s", name,
                    failure->message != nullptr ? failure->message : "unknown error"),
             failure->detail != nullptr ? errdetail("%s", failure->detail) : 0,
             errhint("The rows stay pending. pg_pat tries again in %ld s, then less and less often "
                     "(at most every %ld s), without logging this failure again; pat_audit_link() "
                     "tries at once.",
                     next_ms / 1000, kLongestRetryMs / 1000)));
}

// Forgets database's failed passes (a pass there succeeded); logs the recovery, naming the
// database name, when there were any.
void forget_link_failures(Oid database, const char *name) {
    SpinLockAcquire(&shared->mutex);
    FailingDatabase *entry = failing_entry(database);
    bool was_failing = entry != nullptr;
    if (was_failing) {
        *entry = shared->failing[--shared->failing_count];
    }
    SpinLockRelease(&shared->mutex);
    if (was_failing && name != nullptr) {
        ereport(LOG, (errmsg("pg_pat links the audit rows of database \"%s\" again", name)));
    }
}

void request_link_everywhere() {
    SpinLockAcquire(&shared->mutex);
    shared->every_database = true;
    SpinLockRelease(&shared->mutex);
}

bool link_requested() {
    SpinLockAcquire(&shared->mutex);
    bool requested = shared->every_database || shared->waiting_count > 0;
    SpinLockRelease(&shared->mutex);
    return requested;
}

Oid *take_databases_to_link(int *count) {
    SpinLockAcquire(&shared->mutex);
    bool every = shared->every_database;
    int waiting_count = shared->waiting_count;
    Oid waiting[kMaxWaitingDatabases];
    memcpy(waiting, shared->waiting, sizeof(Oid) * waiting_count);
    shared->every_database = false;
    shared->waiting_count = 0;
    SpinLockRelease(&shared->mutex);
    Oid *databases = nullptr;
    if (every) {
        // Templates too: a link pass is harmless there, and pg_pat may be installed in one.
        databases = databases_to_visit(true, &waiting_count);
    } else {
        databases = static_cast<Oid *>(
            MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * kMaxWaitingDatabases));
        memcpy(databases, waiting, sizeof(Oid) * waiting_count);
    }
    TimestampTz now = GetCurrentTimestamp();
    int kept = 0;
    for (int i = 0; i < waiting_count; ++i) {
        if (begin_visit(databases[i], now)) {
            databases[kept++] = databases[i];
        }
    }
    *count = kept;
    return databases;
}

long ms_until_next_link_retry() {
    SpinLockAcquire(&shared->mutex);
    long until_retry = ms_until_next_retry_locked();
    SpinLockRelease(&shared->mutex);
    return until_retry;
}

void note_audit_linked() {
    if (shared != nullptr) {
        forget_link_failures(MyDatabaseId, get_database_name(MyDatabaseId));
    }
}

void note_audit_commit() {
    if (shared != nullptr) {
        mark_waiting(MyDatabaseId);
    }
}

void setup_link_schedule() {
    add_shared_part({sizeof(LinkerShared), nullptr, attach_linker});
}

}  // namespace pat::pg
