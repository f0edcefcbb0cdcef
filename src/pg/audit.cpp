// The audit log's SQL functions and triggers: pat_set_actor, pat_current_actor, pat_audit (the
// trigger applications attach), pat.audit_write (lifecycle rows), the append-only trigger of
// pat.audit_log, and pat_audit_purge.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "pg/audit_state.hpp"
#include "pg/audit_writer.hpp"
#include "pg/convert.hpp"
#include "pg/guard.hpp"
#include "pg/spi_support.hpp"
#include "pg/token_context.hpp"

using pat::pg::call_pg;

namespace {

// Longest actor accepted, in characters, as for user ids.
constexpr int kActorMaxChars = 255;

// What pat.audit_write() may record; pat_audit() writes insert, update and delete, and
// pat_audit_purge() audit_purged.
constexpr const char *kLifecycleActions[] = {"created",        "renamed", "scopes_changed",
                                             "expiry_changed", "revoked", "deleted"};

// Raises 39P01 unless fcinfo is a trigger call of the expected kind.
TriggerData *trigger_data(FunctionCallInfo fcinfo, const char *function) {
    if (!CALLED_AS_TRIGGER(fcinfo)) {
        throw pat::Error(pat::sqlstate::kTriggerProtocolViolated,
                         std::string(function) + " must be called as a trigger");
    }
    return reinterpret_cast<TriggerData *>(fcinfo->context);
}

// The authenticated token's user, id and name into entry (none outside a token context).
void attribute_to_token_context(pat::pg::AuditEntry &entry) {
    const auto *context = pat::pg::current_token_context();
    if (context == nullptr) {
        return;
    }
    entry.user_id = pat::pg::make_text(context->user_id);
    entry.token_name = pat::pg::make_text(context->token_name);
    entry.token_id = call_pg([] { return static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t))); });
    *entry.token_id = context->token_id;
}

// A nullable text argument, nullptr for NULL.
text *text_arg(FunctionCallInfo fcinfo, int n) {
    return PG_ARGISNULL(n) ? nullptr : call_pg([&] { return PG_GETARG_TEXT_PP(n); });
}

// A nullable jsonb argument, nullptr for NULL.
Jsonb *jsonb_arg(FunctionCallInfo fcinfo, int n) {
    return PG_ARGISNULL(n) ? nullptr : call_pg([&] { return PG_GETARG_JSONB_P(n); });
}

// pat_audit()'s trigger arguments.
struct AuditArguments {
    bool always = false;               // record changes made outside a token context too
    std::vector<std::string> exclude;  // columns left out of old_data and new_data
};

// Parses 'always' and 'exclude=<column>' (one argument per column; the name is taken literally,
// commas included) and checks each excluded column exists, so that a typo cannot leak a column
// meant to stay out of the log.
AuditArguments audit_arguments(const Trigger *trigger, TupleDesc desc) {
    AuditArguments arguments;
    constexpr std::string_view kExclude = "exclude=";
    for (int i = 0; i < trigger->tgnargs; ++i) {
        std::string_view argument = trigger->tgargs[i];
        if (argument == "always") {
            arguments.always = true;
        } else if (argument.substr(0, kExclude.size()) == kExclude &&
                   argument.size() > kExclude.size()) {
            std::string column(argument.substr(kExclude.size()));
            // Cannot raise: SPI_fnumber only compares names.
            if (SPI_fnumber(desc, column.c_str()) <= 0) {
                throw pat::Error(pat::sqlstate::kUndefinedColumn,
                                 "pat_audit() cannot exclude column \"" + column +
                                     "\": the table has no such column",
                                 "", "Fix the trigger's arguments, e.g. with pat_audit_table().");
            }
            arguments.exclude.push_back(std::move(column));
        } else {
            throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                             "unknown pat_audit() trigger argument \"" +
                                 std::string(argument.substr(0, 100)) + "\"",
                             "", "The arguments are 'always' and 'exclude=<column>'.");
        }
    }
    return arguments;
}

// The audited table's name, schema-qualified and quoted; a partition is named by the root of
// its partition tree, so that "which tokens touched table T" finds every partition's rows.
text *audited_table_name(Relation relation) {
    Oid table = RelationGetRelid(relation);
    if (relation->rd_rel->relispartition) {
        table = llast_oid(get_partition_ancestors(table));
    }
    char *schema = get_namespace_name(get_rel_namespace(table));
    char *name = get_rel_name(table);
    if (schema == nullptr || name == nullptr) {
        elog(ERROR, "cache lookup failed for relation %u", table);
    }
    return cstring_to_text(quote_qualified_identifier(schema, name));
}

// to_jsonb(row) - exclude, computed as the user running the statement (a type's cast to json
// is user code and must not run as the log's owner). exclude may be nullptr.
Jsonb *row_jsonb(HeapTuple tuple, TupleDesc desc, ArrayType *exclude) {
    Datum row = heap_copy_tuple_as_datum(tuple, desc);
    // to_jsonb() is polymorphic: it reads its argument's type from the call expression.
    FmgrInfo to_jsonb_info;
    fmgr_info(F_TO_JSONB, &to_jsonb_info);
    Node *argument = reinterpret_cast<Node *>(makeNullConst(desc->tdtypeid, -1, InvalidOid));
    FuncExpr *call = makeFuncExpr(F_TO_JSONB, JSONBOID, list_make1(argument), InvalidOid,
                                  InvalidOid, COERCE_EXPLICIT_CALL);
    fmgr_info_set_expr(reinterpret_cast<Node *>(call), &to_jsonb_info);
    Datum json = FunctionCall1(&to_jsonb_info, row);
    if (exclude != nullptr) {
        json = DirectFunctionCall2(jsonb_delete_array, json, PointerGetDatum(exclude));
    }
    return DatumGetJsonbP(json);
}

// The append-only refusal.
[[noreturn]] void refuse_change(const char *what) {
    throw pat::Error(pat::sqlstate::kInsufficientPrivilege, "pat.audit_log is append-only",
                     std::string(what) + " is refused for every role, superusers included.",
                     "Old rows are removed with pat_audit_purge().");
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

// Under the chain lock and with a fresh snapshot: the purge's boundary, count and record.
// Inside SPI, as the log's owner; may ereport.
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

// Deletes the rows before boundary, with a fresh snapshot; returns how many. May ereport.
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
    bool blank = actor.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
    bool control = false;
    for (unsigned char c : actor) {
        control = control || c < 0x20 || c == 0x7f;
    }
    if (blank || control || characters > kActorMaxChars) {
        throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                         "actor must be 1 to 255 characters, not blank, without control "
                         "characters");
    }
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

// pat.audit_write(action, table_name, user_id, token_id, token_name, old_data, new_data): appends
// one token lifecycle row; its actor comes from the transaction. The writer of the lifecycle
// trigger on pat.tokens.
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
    PG_RETURN_INT64(call_pg([&] { return pat::pg::append_audit_entry(entry); }));
}

// pat_audit(): AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW. Records the change against the
// transaction's token; outside a token context only with the argument 'always'.
PAT_FUNCTION(pat_audit) {
    TriggerData *trigger = trigger_data(fcinfo, "pat_audit()");
    TriggerEvent event = trigger->tg_event;
    if (!TRIGGER_FIRED_AFTER(event) || !TRIGGER_FIRED_FOR_ROW(event) ||
        TRIGGER_FIRED_BY_TRUNCATE(event)) {
        throw pat::Error(pat::sqlstate::kTriggerProtocolViolated,
                         "pat_audit() must fire AFTER INSERT, UPDATE or DELETE FOR EACH ROW", "",
                         "Attach it with pat_audit_table().");
    }
    Relation relation = trigger->tg_relation;
    TupleDesc desc = RelationGetDescr(relation);
    AuditArguments arguments = audit_arguments(trigger->tg_trigger, desc);
    if (pat::pg::current_token_context() == nullptr && !arguments.always) {
        return PointerGetDatum(nullptr);
    }

    pat::pg::AuditEntry entry;
    HeapTuple old_row = nullptr;
    HeapTuple new_row = nullptr;
    if (TRIGGER_FIRED_BY_INSERT(event)) {
        entry.action = "insert";
        new_row = trigger->tg_trigtuple;
    } else if (TRIGGER_FIRED_BY_UPDATE(event)) {
        entry.action = "update";
        old_row = trigger->tg_trigtuple;
        new_row = trigger->tg_newtuple;
    } else {
        entry.action = "delete";
        old_row = trigger->tg_trigtuple;
    }
    ArrayType *exclude =
        arguments.exclude.empty() ? nullptr : pat::pg::make_text_array(arguments.exclude);
    call_pg([&] {
        entry.table_name = audited_table_name(relation);
        entry.old_data = old_row != nullptr ? row_jsonb(old_row, desc, exclude) : nullptr;
        entry.new_data = new_row != nullptr ? row_jsonb(new_row, desc, exclude) : nullptr;
    });
    attribute_to_token_context(entry);
    entry.actor = pat::pg::audit_actor_for(entry.user_id);
    pat::pg::register_audit_callbacks();
    call_pg([&] { pat::pg::append_audit_entry(entry); });
    return PointerGetDatum(nullptr);
}

// pat.audit_log_append_only(): BEFORE UPDATE OR DELETE FOR EACH ROW and BEFORE TRUNCATE on
// pat.audit_log. Refuses everything, for every role, but the deletes pat_audit_purge() runs.
PAT_FUNCTION(pat_audit_log_append_only) {
    TriggerData *trigger = trigger_data(fcinfo, "pat.audit_log_append_only()");
    TriggerEvent event = trigger->tg_event;
    if (!TRIGGER_FIRED_BEFORE(event)) {
        throw pat::Error(pat::sqlstate::kTriggerProtocolViolated,
                         "pat.audit_log_append_only() must fire BEFORE");
    }
    if (TRIGGER_FIRED_BY_TRUNCATE(event)) {
        refuse_change("TRUNCATE");
    }
    if (TRIGGER_FIRED_BY_UPDATE(event)) {
        refuse_change("UPDATE");
    }
    if (TRIGGER_FIRED_BY_DELETE(event) && TRIGGER_FIRED_FOR_ROW(event)) {
        TupleDesc desc = RelationGetDescr(trigger->tg_relation);
        int seq_column = SPI_fnumber(desc, "seq");
        bool is_null = true;
        Datum seq = seq_column > 0 ? heap_getattr(trigger->tg_trigtuple, seq_column, desc, &is_null)
                                   : Datum(0);
        if (!is_null && pat::pg::purge_allows_delete(DatumGetInt64(seq))) {
            return PointerGetDatum(trigger->tg_trigtuple);
        }
    }
    refuse_change("DELETE");
}

// pat_audit_purge(older_than): deletes the oldest part of the chain, every row before the first
// one that occurred at or after now() - older_than, after appending an audit_purged row that
// records how many and the anchor (the row_hash the first kept row links to). Returns how many.
PAT_FUNCTION(pat_audit_purge) {
    pat::pg::require_arg(fcinfo, 0, "older_than");
    Interval *older_than = PG_GETARG_INTERVAL_P(0);
    pat::pg::AuditEntry entry;
    entry.action = "audit_purged";
    attribute_to_token_context(entry);
    entry.actor = pat::pg::audit_actor_for(entry.user_id);
    pat::pg::register_audit_callbacks();

    pat::pg::OwnerSpi spi =
        call_pg([] { return pat::pg::begin_owner_spi(pat::pg::audit_log_relation()); });
    PurgePlan plan = call_pg([&] { return plan_purge(older_than); });
    if (plan.negative) {
        throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                         "older_than must not be a negative interval");
    }
    entry.new_data = plan.record;
    call_pg([&] { pat::pg::append_audit_entry(entry); });
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
