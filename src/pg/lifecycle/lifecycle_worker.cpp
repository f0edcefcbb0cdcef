// Lifecycle's part of pg_pat's maintenance; see lifecycle_worker.hpp.
#include "pg/lifecycle/lifecycle_worker.hpp"

#include "core/inactivity.hpp"
#include "core/time_range.hpp"
#include "core/notice.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/json_object.hpp"
#include "pg/lifecycle/lifecycle_schedule.hpp"
#include "pg/lifecycle/notices.hpp"
#include "pg/settings.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/token_store.hpp"
#include "pg/usage/usage_flush.hpp"
#include "pg/usage/usage_store.hpp"

namespace pat::pg {

namespace {

// Active tokens neither used since $1 nor made since: revoked, with their last use.
const char kRevokeInactive[] =
    "UPDATE pat.tokens t SET revoked_at = pg_catalog.now()"
    " WHERE t.revoked_at IS NULL"
    " AND (t.expires_at IS NULL OR t.expires_at OPERATOR(pg_catalog.>) $2)"
    " AND t.created_at OPERATOR(pg_catalog.<) $1"
    " AND NOT EXISTS (SELECT FROM pat.token_usage u"
    "  WHERE u.token_id OPERATOR(pg_catalog.=) t.token_id"
    "  AND u.last_used_at OPERATOR(pg_catalog.>=) $1)"
    " RETURNING t.token_id, t.user_id, t.name,"
    " (SELECT u.last_used_at FROM pat.token_usage u"
    "  WHERE u.token_id OPERATOR(pg_catalog.=) t.token_id)";

// The latest UTC day with valid checks counted for the whole database: checks of tokens that
// found shared memory's usage table full (any other valid check names its token).
const char kLatestUnattributedDay[] =
    "SELECT pg_catalog.max(c.day) FROM pat.token_checks c"
    " WHERE c.token_id IS NULL AND c.outcome OPERATOR(pg_catalog.=) 'valid'";

KeptPlan revoke_inactive_plan = {kRevokeInactive, 2, {TIMESTAMPTZOID, TIMESTAMPTZOID}};
KeptPlan latest_unattributed_day_plan = {kLatestUnattributedDay, 0, {}};

// What the worker found, reported once its transaction committed.
bool found_lifecycle = false;
TimestampTz round_now = 0;
std::optional<TimestampTz> last_inactivity;

// The latest moment a valid check in this database, or lost on this server, may have been a
// use of any token (inactivity.hpp). Inside begin_owner_spi, after this database's pending
// usage was written.
std::optional<TimestampTz> latest_unattributed_use() {
    // Not read-only: a fresh snapshot, which sees the flushes the round waited for.
    (void)run_kept_plan(latest_unattributed_day_plan, nullptr, nullptr, false, SPI_OK_SELECT);
    bool is_null = false;
    Datum day = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
    return pat::latest_unattributed_use(
        is_null ? std::nullopt : std::optional<int32>(DatumGetDateADT(day)), latest_lost_use());
}

// Revokes the tokens unused for longer than pat.max_inactivity; how many. None while a use of
// some token since now - the limit may have gone unrecorded. In the worker's transaction, after
// this database's pending usage was written.
int revoke_inactive_tokens(const Interval *max_inactivity, TimestampTz now) {
    TimestampTz unused_since = DatumGetTimestampTz(
        DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(now),
                            IntervalPGetDatum(const_cast<Interval *>(max_inactivity))));
    char *limit = DatumGetCString(DirectFunctionCall1(
        interval_out, IntervalPGetDatum(const_cast<Interval *>(max_inactivity))));
    OwnerSpi spi = begin_owner_spi(tokens_relation());
    std::optional<TimestampTz> unattributed = latest_unattributed_use();
    if (!pat::inactivity_revocation_allowed(unused_since, unattributed)) {
        end_owner_spi(spi);
        ereport(LOG,
                (errmsg("pg_pat revoked no token for inactivity in database \"%s\": uses until "
                        "%s may be unrecorded",
                        get_database_name(MyDatabaseId), timestamptz_to_str(*unattributed)),
                 errdetail("Shared memory's usage table was full, so checks were counted "
                           "without their tokens; any token may have been used then."),
                 errhint("pat.max_inactivity (%s) applies again once it has passed since then. "
                         "Raise pat.usage_max_entries so that the table does not fill.",
                         limit)));
        return 0;
    }
    Datum arguments[2] = {TimestampTzGetDatum(unused_since), TimestampTzGetDatum(now)};
    uint64 count =
        run_kept_plan(revoke_inactive_plan, arguments, nullptr, false, SPI_OK_UPDATE_RETURNING);
    SPITupleTable *rows = SPI_tuptable;
    for (uint64 i = 0; i < count; ++i) {
        Field last_used_at;
        last_used_at.value = SPI_getbinval(rows->vals[i], rows->tupdesc, 4, &last_used_at.is_null);
        JsonObject details;
        details.add_timestamptz("last_used_at", last_used_at);
        details.add_string("max_inactivity", limit);
        record_token_event(pat::NoticeKind::kRevokedInactive, rows->vals[i], rows->tupdesc,
                           GetCurrentTransactionStartTimestamp(), details.finish());
    }
    end_owner_spi(spi);
    return static_cast<int>(count);
}

// An interval as microseconds, a month as 30 days (as PostgreSQL's interval comparison).
// pat.max_inactivity's check bounds it, so it does not overflow.
int64 interval_microseconds(const Interval *interval) {
    return pat::interval_span(interval->month, interval->day, interval->time)
        .value_or(pat::kLongestSettingSpan);
}

// One database's round, in the worker's transaction.
void run_lifecycle(const LifecycleVisit &visit) {
    found_lifecycle = call_pg([] {
        // No pg_pat here, or one without notices: nothing to do.
        return schema_has(pat::schema_since::kNotices);
    });
    if (!found_lifecycle) {
        call_pg([] {
            ereport(DEBUG1, (errmsg("pg_pat lifecycle: skipping database \"%s\" until an extension "
                                    "is created or updated there: it has no pg_pat 1.8 or later",
                                    get_database_name(MyDatabaseId))));
        });
        return;
    }
    TimestampTz now = GetCurrentTransactionStartTimestamp();
    round_now = now;
    last_inactivity = visit.last_inactivity;
    int revoked = -1;  // not applied this round
    const Interval *max_inactivity = max_inactivity_interval();
    if (max_inactivity != nullptr &&
        pat::inactivity_round_due(last_inactivity, now, interval_microseconds(max_inactivity))) {
        revoked = call_pg([&] {
            // Flushes of this database that took usage from shared memory commit first
            // (usage_flush.cpp), so the round judges no token by a use still in flight.
            // pat.tokens first, in the order flushes (and TRUNCATE ... CASCADE) take them.
            Oid usage = known_pat_relation("token_usage");
            if (OidIsValid(usage)) {
                LockRelationOid(tokens_relation(), AccessShareLock);
                LockRelationOid(usage, ShareLock);
            }
            (void)flush_usage();
            CommandCounterIncrement();
            return revoke_inactive_tokens(max_inactivity, now);
        });
        last_inactivity = now;
    }
    TimestampTz started = GetCurrentTimestamp();
    ExpiryRound round = queue_expiry_notices(now, visit.since);
    call_pg([&] {
        long seconds = 0;
        int microseconds = 0;
        TimestampDifference(started, GetCurrentTimestamp(), &seconds, &microseconds);
        ereport(DEBUG1, (errmsg("pg_pat lifecycle: %s round in database \"%s\": %lld tokens "
                                "read, %d notices queued, %.3f ms%s",
                                visit.since ? "incremental" : "full",
                                get_database_name(MyDatabaseId), static_cast<long long>(round.read),
                                round.queued, seconds * 1000.0 + microseconds / 1000.0,
                                revoked >= 0 ? "; pat.max_inactivity applied" : "")));
        if (revoked > 0 || round.queued > 0) {
            ereport(LOG, (errmsg("pg_pat revoked %d inactive tokens and queued %d expiry notices "
                                 "in database \"%s\"",
                                 Max(revoked, 0), round.queued, get_database_name(MyDatabaseId))));
        }
    });
}

}  // namespace

void run_lifecycle_round(const LifecycleVisit &visit) {
    (void)guarded([&] {
        run_lifecycle(visit);
        return static_cast<Datum>(0);
    });
}

void report_lifecycle_round(int slot) {
    report_lifecycle_visit(slot, found_lifecycle, round_now, last_inactivity);
}

}  // namespace pat::pg
