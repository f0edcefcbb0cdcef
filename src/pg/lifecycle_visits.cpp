// Which databases the lifecycle launcher visits; see lifecycle_visits.hpp.
//
// Plain PostgreSQL code: nothing here owns a C++ object.
#include "pg/lifecycle_visits.hpp"

#include "pg/utility_hook.hpp"

namespace pat::pg {

namespace {

struct VisitsShared {
    pg_atomic_uint64 extension_changes;  // committed CREATE/ALTER EXTENSION statements
    slock_t mutex;                       // protects the report below
    Oid reported_database;               // InvalidOid until the visit's worker reports
    bool has_lifecycle;
};

VisitsShared *shared = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;
ProcessUtility_hook_type previous_process_utility = nullptr;

// This backend's transaction created or updated an extension.
bool extension_changed = false;

// The launcher's view, in the launcher only.
constexpr int kMaxSkipped = 1024;
constexpr long kRecheckMs = 3600L * 1000;
Oid skipped[kMaxSkipped];
int skipped_count = 0;
uint64 changes_seen = 0;
TimestampTz last_recheck = 0;

void request_memory() {
    if (previous_request_hook != nullptr) {
        previous_request_hook();
    }
    RequestAddinShmemSpace(sizeof(VisitsShared));
}

void attach_memory() {
    if (previous_startup_hook != nullptr) {
        previous_startup_hook();
    }
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    shared = static_cast<VisitsShared *>(
        ShmemInitStruct("pg_pat lifecycle visits", sizeof(VisitsShared), &found));
    if (!found) {
        pg_atomic_init_u64(&shared->extension_changes, 0);
        SpinLockInit(&shared->mutex);
        shared->reported_database = InvalidOid;
        shared->has_lifecycle = false;
    }
    LWLockRelease(AddinShmemInitLock);
}

void count_extension_change() {
    if (shared != nullptr) {
        pg_atomic_fetch_add_u64(&shared->extension_changes, 1);
    }
}

// Counted at commit: a launcher that looked while the transaction was open saw no pg_pat.
void on_transaction_end(XactEvent event, void *) {
    if (!extension_changed) {
        return;
    }
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE) {
        // A prepared one is counted again at COMMIT PREPARED, below.
        count_extension_change();
        extension_changed = false;
    } else if (event == XACT_EVENT_ABORT) {
        extension_changed = false;
    }
}

bool is_commit_prepared(Node *tree) {
    return IsA(tree, TransactionStmt) &&
           castNode(TransactionStmt, tree)->kind == TRANS_STMT_COMMIT_PREPARED;
}

void note_extension_statements(PlannedStmt *statement, const char *query, bool read_only_tree,
                               ProcessUtilityContext context, ParamListInfo params,
                               QueryEnvironment *environment, DestReceiver *destination,
                               QueryCompletion *completion) {
    Node *tree = statement->utilityStmt;
    run_next_utility(previous_process_utility, statement, query, read_only_tree, context, params,
                     environment, destination, completion);
    if (IsA(tree, CreateExtensionStmt) || IsA(tree, AlterExtensionStmt)) {
        extension_changed = true;
    } else if (is_commit_prepared(tree)) {
        count_extension_change();  // it may have created an extension; cheap either way
    }
}

bool is_skipped(Oid database) {
    for (int i = 0; i < skipped_count; ++i) {
        if (skipped[i] == database) {
            return true;
        }
    }
    return false;
}

}  // namespace

void setup_lifecycle_visits() {
    previous_request_hook = shmem_request_hook;
    shmem_request_hook = request_memory;
    previous_startup_hook = shmem_startup_hook;
    shmem_startup_hook = attach_memory;
    previous_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = note_extension_statements;
    RegisterXactCallback(on_transaction_end, nullptr);
}

void begin_lifecycle_round() {
    uint64 changes = pg_atomic_read_u64(&shared->extension_changes);
    TimestampTz now = GetCurrentTimestamp();
    if (changes != changes_seen || TimestampDifferenceExceeds(last_recheck, now, kRecheckMs)) {
        skipped_count = 0;
        changes_seen = changes;
        last_recheck = now;
    }
}

bool lifecycle_visit_needed(Oid database) {
    return !is_skipped(database);
}

void expect_lifecycle_report() {
    SpinLockAcquire(&shared->mutex);
    shared->reported_database = InvalidOid;
    SpinLockRelease(&shared->mutex);
}

void take_lifecycle_report(Oid database) {
    SpinLockAcquire(&shared->mutex);
    bool without_lifecycle = shared->reported_database == database && !shared->has_lifecycle;
    SpinLockRelease(&shared->mutex);
    if (without_lifecycle && skipped_count < kMaxSkipped) {
        skipped[skipped_count++] = database;
    }
}

void report_lifecycle_visit(bool has_lifecycle) {
    SpinLockAcquire(&shared->mutex);
    shared->reported_database = MyDatabaseId;
    shared->has_lifecycle = has_lifecycle;
    SpinLockRelease(&shared->mutex);
    if (!has_lifecycle) {
        ereport(DEBUG1, (errmsg("pg_pat lifecycle: skipping database \"%s\" until an extension "
                                "is created or updated: it has no pg_pat 1.8 or later",
                                get_database_name(MyDatabaseId))));
    }
}

}  // namespace pat::pg
