// When pg_pat's maintenance launcher has a lifecycle round run in a database, and how much a
// round reads; see lifecycle_schedule.hpp.
#include "pg/lifecycle/lifecycle_schedule.hpp"

#include "core/notice.hpp"
#include "pg/bridge/shared_memory.hpp"
#include "pg/bridge/utility_hook.hpp"
#include "pg/settings.hpp"

namespace pat::pg {

namespace {

// Changes are counted by database OID modulo this; a collision only makes a round full.
constexpr int kChangeSlots = 256;

// What a visit's worker found, once its transaction committed.
struct VisitReport {
    Oid reported_database;  // InvalidOid until the visit's worker reports
    bool has_lifecycle;
    TimestampTz round_now;
    std::optional<TimestampTz> last_inactivity;
};

struct ScheduleShared {
    pg_atomic_uint64 changes[kChangeSlots];
    slock_t mutex;                                     // protects the reports below
    VisitReport reports[kMaxMaintenanceWorkersLimit];  // by the launcher's worker slot
};

ScheduleShared *shared = nullptr;

// This backend's transaction: a change that needs a full round, and the earliest instant a
// notice falls due for a token it inserted (DT_NOEND: none).
bool full_round_needed = false;
TimestampTz earliest_crossing = DT_NOEND;

constexpr long kFullRoundEveryMs = 10L * 60 * 1000;
constexpr long kAbsentRecheckMs = 3600L * 1000;

// The launcher's plans, in the launcher only.
struct Plan {
    Oid database;
    uint64 changes_seen;    // the database's change count when the last visit began
    bool has_lifecycle;     // what the last visit found
    TimestampTz round_now;  // the last round's time: the next incremental round's since
    TimestampTz last_full;  // when the last full round, or visit finding no pg_pat, began
    std::optional<TimestampTz> last_inactivity;  // when pat.max_inactivity was last applied
};
constexpr int kMaxPlans = 1024;
Plan plans[kMaxPlans];
int plan_count = 0;

pg_atomic_uint64 *change_count(Oid database) {
    return &shared->changes[database % kChangeSlots];
}

void count_change() {
    if (shared != nullptr && OidIsValid(MyDatabaseId)) {
        pg_atomic_fetch_add_u64(change_count(MyDatabaseId), 1);
    }
}

void attach_schedule(void *header, bool first) {
    shared = static_cast<ScheduleShared *>(header);
    if (first) {
        for (pg_atomic_uint64 &count : shared->changes) {
            pg_atomic_init_u64(&count, 0);
        }
        SpinLockInit(&shared->mutex);
        for (VisitReport &report : shared->reports) {
            report = VisitReport{InvalidOid, false, 0, std::nullopt};
        }
    }
}

// Counted at commit, when the transaction's rows are visible: a round that began before could
// not see them, and the next one is full. A token's first notice falling due after this moment
// needs nothing: any round whose range holds that instant begins after it, so sees the token.
void on_transaction_end(XactEvent event, void *) {
    if (!full_round_needed && earliest_crossing == DT_NOEND) {
        return;
    }
    if (event == XACT_EVENT_COMMIT) {
        if (full_round_needed || earliest_crossing <= GetCurrentTimestamp()) {
            count_change();
        }
    } else if (event != XACT_EVENT_ABORT && event != XACT_EVENT_PREPARE) {
        return;  // a prepared transaction is counted at COMMIT PREPARED
    }
    full_round_needed = false;
    earliest_crossing = DT_NOEND;
}

void note_extension_statements(UtilityCall *call) {
    Node *tree = call->statement->utilityStmt;
    run_rest_of_utility(call);
    if (IsA(tree, CreateExtensionStmt) || IsA(tree, AlterExtensionStmt)) {
        full_round_needed = true;
    } else if (IsA(tree, TransactionStmt) &&
               castNode(TransactionStmt, tree)->kind == TRANS_STMT_COMMIT_PREPARED) {
        count_change();  // whatever it committed; cheap, and rare
    }
}

Plan *find_plan(Oid database) {
    for (int i = 0; i < plan_count; ++i) {
        if (plans[i].database == database) {
            return &plans[i];
        }
    }
    return nullptr;
}

void forget_plan(Plan *plan) {
    *plan = plans[--plan_count];
}

}  // namespace

void setup_lifecycle_schedule() {
    add_shared_part({sizeof(ScheduleShared), nullptr, attach_schedule});
    add_utility_handler(note_extension_statements);
    RegisterXactCallback(on_transaction_end, nullptr);
}

void note_token_inserted(TimestampTz created_at, TimestampTz expires_at) {
    earliest_crossing = Min(earliest_crossing, pat::first_expiry_crossing(created_at, expires_at));
}

void note_full_round_needed() {
    full_round_needed = true;
}

LifecycleVisit plan_lifecycle_visit(Oid database, TimestampTz now) {
    LifecycleVisit visit = {true, std::nullopt, std::nullopt,
                            pg_atomic_read_u64(change_count(database))};
    const Plan *plan = find_plan(database);
    if (plan != nullptr) {
        visit.last_inactivity = plan->last_inactivity;
    }
    if (plan == nullptr || plan->changes_seen != visit.changes_before) {
        return visit;
    }
    if (!plan->has_lifecycle) {
        visit.needed = TimestampDifferenceExceeds(plan->last_full, now, kAbsentRecheckMs);
    } else if (!TimestampDifferenceExceeds(plan->last_full, now, kFullRoundEveryMs)) {
        visit.since = plan->round_now;
    }
    return visit;
}

void expect_lifecycle_report(int slot) {
    SpinLockAcquire(&shared->mutex);
    shared->reports[slot].reported_database = InvalidOid;
    SpinLockRelease(&shared->mutex);
}

void take_lifecycle_report(int slot, Oid database, const LifecycleVisit &visit, TimestampTz now) {
    SpinLockAcquire(&shared->mutex);
    const VisitReport report = shared->reports[slot];
    SpinLockRelease(&shared->mutex);
    bool reported = report.reported_database == database;
    bool has_lifecycle = report.has_lifecycle;
    TimestampTz round_now = report.round_now;
    std::optional<TimestampTz> last_inactivity = report.last_inactivity;
    Plan *plan = find_plan(database);
    if (!reported) {
        if (plan != nullptr) {
            forget_plan(plan);
        }
        return;
    }
    if (plan == nullptr) {
        if (plan_count == kMaxPlans) {
            return;  // visited in full every round
        }
        plan = &plans[plan_count++];
        plan->database = database;
        plan->last_full = now;
    }
    plan->changes_seen = visit.changes_before;
    plan->has_lifecycle = has_lifecycle;
    plan->round_now = round_now;
    plan->last_inactivity = last_inactivity;
    if (!visit.since || !has_lifecycle) {
        plan->last_full = now;
    }
}

void keep_lifecycle_plans(const Oid *databases, int count) {
    for (int i = plan_count - 1; i >= 0; --i) {
        bool listed = false;
        for (int j = 0; j < count && !listed; ++j) {
            listed = databases[j] == plans[i].database;
        }
        if (!listed) {
            forget_plan(&plans[i]);
        }
    }
}

void report_lifecycle_visit(int slot, bool has_lifecycle, TimestampTz round_now,
                            std::optional<TimestampTz> last_inactivity) {
    SpinLockAcquire(&shared->mutex);
    shared->reports[slot] = VisitReport{MyDatabaseId, has_lifecycle, round_now, last_inactivity};
    SpinLockRelease(&shared->mutex);
}

}  // namespace pat::pg
