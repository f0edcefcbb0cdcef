// The audit log's SQL functions and triggers: pat_set_actor, pat_current_actor, the guard of
// pat.audit_log and pat.audit_pending, pat_audit_link and pat_audit_purge. pat_audit() is in
// audit_table.cpp.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/policy.hpp"
#include "pg/audit/audit_guard.hpp"
#include "pg/audit/link_schedule.hpp"
#include "pg/audit/audit_state.hpp"
#include "pg/audit/audit_writer.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/settings.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/token_context.hpp"

using pat::pg::call_pg;

namespace {

// The append-only refusal.
[[noreturn]] void refuse_change(const char *table, const char *what) {
    bool is_log = strcmp(table, "pat.audit_log") == 0;
    bool is_head = strcmp(table, "pat.audit_head") == 0;
    throw pat::Error(
        pat::sqlstate::kInsufficientPrivilege,
        std::string(table) + (is_head ? " is written by pg_pat's linker only" : " is append-only"),
        std::string(what) + " is refused for every role, superusers included.",
        is_log    ? "Old rows are removed with pat_audit_purge()."
        : is_head ? "It records the head of the chain the linker last linked, for "
                    "pat_audit_verify()."
                  : "pg_pat's worker moves its rows into pat.audit_log; "
                    "pat_audit_link() does it at once.");
}

// The refusal of rows that do not come from pg_pat's writer.
[[noreturn]] void refuse_insert(const char *table) {
    throw pat::Error(pat::sqlstate::kInsufficientPrivilege,
                     std::string("rows enter ") + table + " only through pg_pat",
                     "INSERT is refused for every role, superusers included: audit rows are "
                     "written by pg_pat's triggers and functions, which fire no trigger.",
                     "pg_restore loads the log with COPY as a superuser, which is allowed.");
}

// The purge's first query: where the kept part of the chain begins ($1: older_than). boundary
// is the first row at or after the cutoff (rows are purged as a prefix of the chain, so a clock
// step back cannot punch a hole in it), the anchor is the row_hash the first kept row links to.
const char kPurgePlanQuery[] =
    "SELECT b.cutoff OPERATOR(pg_catalog.>) pg_catalog.now(), b.boundary, b.purged,"
    "       pg_catalog.jsonb_build_object("
    "           'purged', b.purged,"
    "           'through_seq', b.boundary OPERATOR(pg_catalog.-) 1,"
    "           'anchor', pg_catalog.encode(b.anchor, 'hex'),"
    "           'older_than', $1,"
    "           'cutoff', b.cutoff)"
    "  FROM (SELECT k.cutoff, k.boundary,"
    "               (SELECT pg_catalog.count(*) FROM pat.audit_log l"
    "                 WHERE l.seq OPERATOR(pg_catalog.<) k.boundary) AS purged,"
    "               COALESCE((SELECT l.row_hash FROM pat.audit_log l"
    "                          WHERE l.seq OPERATOR(pg_catalog.=)"
    "                                (k.boundary OPERATOR(pg_catalog.-) 1)),"
    "                        (SELECT l.prev_hash FROM pat.audit_log l"
    "                          WHERE l.seq OPERATOR(pg_catalog.=) k.boundary)) AS anchor"
    "          FROM (SELECT c.cutoff,"
    "                       COALESCE((SELECT l.seq FROM pat.audit_log l"
    "                                  WHERE l.occurred_at OPERATOR(pg_catalog.>=) c.cutoff"
    "                                  ORDER BY l.seq LIMIT 1),"
    "                                (SELECT l.seq OPERATOR(pg_catalog.+) 1 FROM pat.audit_log l"
    "                                  ORDER BY l.seq DESC LIMIT 1),"
    "                                1) AS boundary"
    "                  FROM (SELECT pg_catalog.now() OPERATOR(pg_catalog.-) $1 AS cutoff) AS c)"
    "               AS k) AS b";

const char kPurgeDeleteQuery[] =
    "DELETE FROM pat.audit_log l WHERE l.seq OPERATOR(pg_catalog.<) $1";

SPIPlanPtr purge_plan = nullptr;
SPIPlanPtr purge_delete_plan = nullptr;

// What the purge found before deleting.
struct PurgePlan {
    bool negative;
    int64 boundary;
    int64 purged;
    Jsonb *record;
};

// Under the chain lock and with a fresh snapshot: the purge's boundary, count and record. Inside
// SPI, as the log's owner.
PurgePlan plan_purge(Interval *older_than) {
    if (purge_plan == nullptr) {
        Oid type = INTERVALOID;
        purge_plan = pat::pg::keep_plan(kPurgePlanQuery, 1, &type);
    }
    pat::pg::lock_audit_chain();
    Datum values[1] = {IntervalPGetDatum(older_than)};
    int rc = SPI_execute_snapshot(purge_plan, values, nullptr, GetLatestSnapshot(), InvalidSnapshot,
                                  true, false, 1);
    if (rc != SPI_OK_SELECT || SPI_processed != 1) {
        elog(ERROR, "pg_pat could not plan the audit purge: %s", SPI_result_code_string(rc));
    }
    HeapTuple row = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool is_null = false;
    PurgePlan plan;
    plan.negative = DatumGetBool(SPI_getbinval(row, desc, 1, &is_null));
    plan.boundary = DatumGetInt64(SPI_getbinval(row, desc, 2, &is_null));
    plan.purged = DatumGetInt64(SPI_getbinval(row, desc, 3, &is_null));
    plan.record = DatumGetJsonbP(SPI_getbinval(row, desc, 4, &is_null));
    return plan;
}

// Deletes the rows before boundary, with a fresh snapshot; returns how many.
int64 delete_before(int64 boundary) {
    if (purge_delete_plan == nullptr) {
        Oid type = INT8OID;
        purge_delete_plan = pat::pg::keep_plan(kPurgeDeleteQuery, 1, &type);
    }
    Datum values[1] = {Int64GetDatum(boundary)};
    int rc = SPI_execute_snapshot(purge_delete_plan, values, nullptr, GetLatestSnapshot(),
                                  InvalidSnapshot, false, true, 0);
    if (rc != SPI_OK_DELETE) {
        elog(ERROR, "pg_pat could not purge the audit log: %s", SPI_result_code_string(rc));
    }
    return static_cast<int64>(SPI_processed);
}

// now() - span; may ereport (out of range).
TimestampTz before_now(const Interval *span) {
    return DatumGetTimestampTz(DirectFunctionCall2(
        timestamptz_mi_interval, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
        IntervalPGetDatum(span)));
}

// A purge keeps every row younger than pat.audit_min_retention: older_than must reach at least
// as far back (compared as the cutoffs they give now, months and days included).
void check_retention(const Interval *older_than) {
    TimestampTz cutoff = call_pg([&] { return before_now(older_than); });
    if (cutoff > GetCurrentTransactionStartTimestamp()) {
        throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                         "older_than must not be a negative interval");
    }
    const Interval *minimum = pat::pg::audit_min_retention_interval();
    if (minimum == nullptr || cutoff <= call_pg([&] { return before_now(minimum); })) {
        return;
    }
    std::string shown(
        call_pg([] { return GetConfigOption("pat.audit_min_retention", false, false); }));
    throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                     "older_than must be at least pat.audit_min_retention (" + shown + ")",
                     "Audit rows younger than pat.audit_min_retention are kept.",
                     "Only a superuser can lower pat.audit_min_retention.");
}

}  // namespace

// pat_set_actor(actor): who acts in this transaction; NULL clears.
PAT_FUNCTION(pat_set_actor) {
    if (PG_ARGISNULL(0)) {
        pat::pg::set_audit_actor(std::nullopt);
        PG_RETURN_VOID();
    }
    text *argument = call_pg([&] { return PG_GETARG_TEXT_PP(0); });
    std::string_view actor = pat::pg::text_view(argument);
    int characters =
        call_pg([&] { return pg_mbstrlen_with_len(actor.data(), static_cast<int>(actor.size())); });
    pat::check_actor(actor, static_cast<std::size_t>(characters));
    pat::pg::set_audit_actor(std::string(actor));
    PG_RETURN_VOID();
}

// pat_current_actor(): the actor set in this transaction, NULL without one.
PAT_FUNCTION(pat_current_actor) {
    const std::string *actor = pat::pg::current_audit_actor();
    if (actor == nullptr) {
        PG_RETURN_NULL();
    }
    PG_RETURN_TEXT_P(pat::pg::make_text(*actor));
}

// What pat.audit_write() may record.
constexpr const char *kLifecycleActions[] = {"created",        "renamed", "scopes_changed",
                                             "expiry_changed", "revoked", "deleted"};

// A nullable text argument, nullptr for NULL.
text *text_arg(FunctionCallInfo fcinfo, int n) {
    return PG_ARGISNULL(n) ? nullptr : call_pg([&] { return PG_GETARG_TEXT_PP(n); });
}

// A nullable jsonb argument, nullptr for NULL.
Jsonb *jsonb_arg(FunctionCallInfo fcinfo, int n) {
    return PG_ARGISNULL(n) ? nullptr : call_pg([&] { return PG_GETARG_JSONB_P(n); });
}

// pat.audit_write(action, table_name, user_id, token_id, token_name, old_data, new_data): the
// lifecycle writer the PL/pgSQL trigger of a 1.1 to 1.3 schema calls, kept for databases not
// updated yet. Returns the row's seq (NULL where the row is linked later, from pat.audit_pending).
PAT_FUNCTION(pat_audit_write) {
    pat::pg::require_arg(fcinfo, 0, "action");
    pat::pg::AuditEntry entry;
    std::string_view action = pat::pg::text_view(call_pg([&] { return PG_GETARG_TEXT_PP(0); }));
    for (const char *known : kLifecycleActions) {
        if (action == known) {
            entry.action = known;
        }
    }
    if (entry.action == nullptr) {
        throw pat::Error(
            pat::sqlstate::kInvalidParameterValue,
            "\"" + std::string(action.substr(0, 100)) + "\" is not a token lifecycle action");
    }
    entry.table_name = text_arg(fcinfo, 1);
    entry.user_id = text_arg(fcinfo, 2);
    entry.token_id = PG_ARGISNULL(3) ? nullptr : DatumGetUUIDP(PG_GETARG_DATUM(3));
    entry.token_name = text_arg(fcinfo, 4);
    entry.old_data = jsonb_arg(fcinfo, 5);
    entry.new_data = jsonb_arg(fcinfo, 6);
    entry.actor = pat::pg::audit_actor_for(entry.user_id);
    pat::pg::register_audit_callbacks();
    int64 seq = call_pg([&] { return pat::pg::append_audit_entry(entry); });
    if (seq == 0) {
        PG_RETURN_NULL();
    }
    PG_RETURN_INT64(seq);
}

// pat.audit_log_append_only(): BEFORE INSERT OR UPDATE OR DELETE FOR EACH ROW and BEFORE
// TRUNCATE on pat.audit_log and pat.audit_pending. pg_pat's writer and linker insert and delete
// without firing triggers; of everyone else it refuses everything, for every role, but the
// deletes pat_audit_purge() runs and the COPY of a superuser's restore.
PAT_FUNCTION(pat_audit_log_append_only) {
    TriggerData *trigger = pat::pg::trigger_call(fcinfo, "pat.audit_log_append_only()");
    TriggerEvent event = trigger->tg_event;
    if (!TRIGGER_FIRED_BEFORE(event)) {
        throw pat::Error(pat::sqlstate::kTriggerProtocolViolated,
                         "pat.audit_log_append_only() must fire BEFORE");
    }
    Oid relation = RelationGetRelid(trigger->tg_relation);
    bool is_log = relation == pat::pg::audit_log_relation();
    bool is_head = relation == pat::pg::known_pat_relation("audit_head");
    const char *table = is_log ? "pat.audit_log" : is_head ? "pat.audit_head" : "pat.audit_pending";
    if (TRIGGER_FIRED_BY_INSERT(event)) {
        if (pat::pg::copying_into_audit_tables() && superuser()) {
            return PointerGetDatum(trigger->tg_trigtuple);
        }
        refuse_insert(table);
    }
    if (TRIGGER_FIRED_BY_TRUNCATE(event)) {
        refuse_change(table, "TRUNCATE");
    }
    if (TRIGGER_FIRED_BY_UPDATE(event)) {
        refuse_change(table, "UPDATE");
    }
    if (is_log && TRIGGER_FIRED_BY_DELETE(event) && TRIGGER_FIRED_FOR_ROW(event)) {
        TupleDesc desc = RelationGetDescr(trigger->tg_relation);
        int seq_column = SPI_fnumber(desc, "seq");
        bool is_null = true;
        Datum seq = seq_column > 0 ? heap_getattr(trigger->tg_trigtuple, seq_column, desc, &is_null)
                                   : Datum(0);
        if (!is_null && pat::pg::purge_allows_delete(DatumGetInt64(seq))) {
            return PointerGetDatum(trigger->tg_trigtuple);
        }
    }
    refuse_change(table, "DELETE");
}

// pat_audit_link(): links the committed pending rows now, as pg_pat's worker does shortly
// after each commit; returns how many. Holds the chain lock (the worker's) to commit.
PAT_FUNCTION(pat_audit_link) {
    pat::pg::register_audit_callbacks();
    PG_RETURN_INT64(call_pg([] {
        int64 linked = pat::pg::link_pending_rows();
        pat::pg::note_audit_linked();
        return linked;
    }));
}

// pat_audit_purge(older_than): deletes the oldest part of the chain, every row before the first
// one that occurred at or after now() - older_than, after appending an audit_purged row that
// records how many and the anchor (the row_hash the first kept row links to). Returns how many.
PAT_FUNCTION(pat_audit_purge) {
    pat::pg::require_arg(fcinfo, 0, "older_than");
    Interval *older_than = PG_GETARG_INTERVAL_P(0);
    check_retention(older_than);
    pat::pg::AuditEntry entry;
    entry.action = "audit_purged";
    pat::pg::register_audit_callbacks();
    call_pg([&] { pat::pg::attribute_to_token_context(entry); });
    entry.actor = pat::pg::audit_actor_for(entry.user_id);

    // The chain lock and every committed row linked first: the purge sees the whole chain, and
    // its own row, linked right after, records what it removes.
    call_pg([] { pat::pg::link_pending_rows(); });
    pat::pg::OwnerSpi spi =
        call_pg([] { return pat::pg::begin_owner_spi(pat::pg::audit_log_relation()); });
    PurgePlan plan = call_pg([&] { return plan_purge(older_than); });
    if (plan.negative) {
        throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                         "older_than must not be a negative interval");
    }
    entry.new_data = plan.record;
    call_pg([&] {
        pat::pg::append_audit_entry(entry);
        pat::pg::link_pending_rows();
    });
    int64 deleted = 0;
    {
        pat::pg::PurgePermission permission(plan.boundary - 1);
        deleted = call_pg([&] { return delete_before(plan.boundary); });
    }
    if (deleted != plan.purged) {
        throw pat::Error(pat::sqlstate::kInternalError,
                         "the audit log changed while it was being purged");
    }
    call_pg([&] { pat::pg::end_owner_spi(spi); });
    PG_RETURN_INT64(deleted);
}
