// pat.tokens_audit(): the lifecycle rows of pat.tokens (created, renamed, scopes_changed,
// expiry_changed, revoked, deleted), written by whoever changes the table: the API functions,
// or a role given direct access. Never the digest. A row whose created_at is before the
// transaction began is being restored (pg_restore), not created: its creation is in the
// restored log already (pat.tokens_before_insert lets only a superuser load such rows).
//
// old_data and new_data are what jsonb_build_object() gives (what the PL/pgSQL trigger of older
// schemas wrote, so the log reads alike), built here without an executor per row. The trigger
// also tells the lifecycle schedule of the changes its incremental rounds could miss
// (lifecycle_schedule.hpp).
#include "core/error.hpp"
#include "pg/audit/audit_state.hpp"
#include "pg/audit/audit_writer.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/json_object.hpp"
#include "pg/lifecycle/lifecycle_schedule.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/token_context.hpp"

using pat::pg::call_pg;
using pat::pg::Field;
using pat::pg::field;
using pat::pg::JsonObject;

namespace {

// The columns a lifecycle row reads, by number.
struct TokenColumns {
    int token_id, user_id, name, scopes, created_at, expires_at, revoked_at;
};

TokenColumns token_columns(Relation relation) {
    auto column = [&](const char *name) { return pat::pg::relation_column(relation, name); };
    return {column("token_id"),   column("user_id"),    column("name"),      column("scopes"),
            column("created_at"), column("expires_at"), column("revoked_at")};
}

// Appends one lifecycle row about the token in tuple.
void append_lifecycle(const char *action, HeapTuple tuple, TupleDesc desc,
                      const TokenColumns &columns, Jsonb *old_data, Jsonb *new_data) {
    pat::pg::append_token_audit(action, DatumGetTextPP(field(tuple, desc, columns.user_id).value),
                                DatumGetUUIDP(field(tuple, desc, columns.token_id).value),
                                DatumGetTextPP(field(tuple, desc, columns.name).value), old_data,
                                new_data);
}

// What a token is born with, in its creation's row: its type, who made it, and for a delegated
// token its parent and the chain above it (root first), so the log alone names the chain.
void add_birth(JsonObject &created, HeapTuple row, TupleDesc desc, Relation relation) {
    auto column = [&](const char *name) { return pat::pg::relation_column(relation, name); };
    created.add_text("token_type", field(row, desc, column("token_type")));
    created.add_text("created_by", field(row, desc, column("created_by")));
    Field parent = field(row, desc, column("parent_id"));
    if (!parent.is_null) {
        created.add_string("parent_id",
                           DatumGetCString(DirectFunctionCall1(uuid_out, parent.value)));
        Field ancestors = field(row, desc, column("ancestors"));
        created.add_string("ancestors", ancestors.is_null
                                            ? nullptr
                                            : OidOutputFunctionCall(F_ARRAY_OUT, ancestors.value));
    }
}

// A token's limits changed (networks and resources shown as they are now; metadata only named,
// it is the application's), and its suspension or resumption.
void audit_restrictions(Relation relation, HeapTuple old_row, HeapTuple new_row, TupleDesc desc,
                        const TokenColumns &columns) {
    auto column = [&](const char *name) { return pat::pg::relation_column(relation, name); };
    JsonObject changed;
    bool any = false;
    for (const char *name : {"networks", "resources"}) {
        int attno = column(name);
        if (pat::pg::column_changed(old_row, new_row, desc, attno)) {
            Field after = field(new_row, desc, attno);
            Oid type = TupleDescAttr(desc, attno - 1)->atttypid;
            Oid output = InvalidOid;
            bool varlena = false;
            getTypeOutputInfo(type, &output, &varlena);
            changed.add_string(
                name, after.is_null ? nullptr : OidOutputFunctionCall(output, after.value));
            any = true;
        }
    }
    if (pat::pg::column_changed(old_row, new_row, desc, column("metadata"))) {
        changed.add_string("metadata", "changed");
        any = true;
    }
    if (any) {
        append_lifecycle("restrictions_changed", new_row, desc, columns, nullptr, changed.finish());
    }
    int suspended_at = column("suspended_at");
    Field before = field(old_row, desc, suspended_at);
    Field after = field(new_row, desc, suspended_at);
    if (before.is_null && !after.is_null) {
        JsonObject suspended;
        suspended.add_timestamptz("suspended_at", after);
        append_lifecycle("suspended", new_row, desc, columns, nullptr, suspended.finish());
    } else if (!before.is_null && after.is_null) {
        JsonObject resumed;
        resumed.add_timestamptz("suspended_at", before);
        append_lifecycle("resumed", new_row, desc, columns, resumed.finish(), nullptr);
    }
}

// The rows of one trigger event.
void audit_event(TriggerData *trigger) {
    Relation relation = trigger->tg_relation;
    TupleDesc desc = RelationGetDescr(relation);
    TokenColumns columns = token_columns(relation);
    TriggerEvent event = trigger->tg_event;
    if (TRIGGER_FIRED_BY_INSERT(event)) {
        HeapTuple row = trigger->tg_trigtuple;
        Field created_at = field(row, desc, columns.created_at);
        Field expires_at = field(row, desc, columns.expires_at);
        if (!created_at.is_null && !expires_at.is_null) {
            pat::pg::note_token_inserted(DatumGetTimestampTz(created_at.value),
                                         DatumGetTimestampTz(expires_at.value));
        }
        if (!created_at.is_null &&
            DatumGetTimestampTz(created_at.value) < GetCurrentTransactionStartTimestamp()) {
            return;  // restored, not created
        }
        JsonObject created;
        created.add_text("name", field(row, desc, columns.name));
        created.add_text_array("scopes", field(row, desc, columns.scopes));
        created.add_timestamptz("expires_at", field(row, desc, columns.expires_at));
        if (pat::pg::schema_has(pat::schema_since::kDelegation)) {
            add_birth(created, row, desc, relation);
        }
        append_lifecycle("created", row, desc, columns, nullptr, created.finish());
        return;
    }
    if (TRIGGER_FIRED_BY_DELETE(event)) {
        HeapTuple row = trigger->tg_trigtuple;
        JsonObject deleted;
        deleted.add_text("name", field(row, desc, columns.name));
        deleted.add_text_array("scopes", field(row, desc, columns.scopes));
        deleted.add_timestamptz("expires_at", field(row, desc, columns.expires_at));
        deleted.add_timestamptz("revoked_at", field(row, desc, columns.revoked_at));
        append_lifecycle("deleted", row, desc, columns, deleted.finish(), nullptr);
        return;
    }
    HeapTuple old_row = trigger->tg_trigtuple;
    HeapTuple new_row = trigger->tg_newtuple;
    struct Change {
        const char *action;
        const char *key;
        int attno;
        bool is_text_array;
        bool is_timestamp;
    };
    const Change changes[] = {{"renamed", "name", columns.name, false, false},
                              {"scopes_changed", "scopes", columns.scopes, true, false},
                              {"expiry_changed", "expires_at", columns.expires_at, false, true}};
    for (const Change &change : changes) {
        if (!pat::pg::column_changed(old_row, new_row, desc, change.attno)) {
            continue;
        }
        Field before = field(old_row, desc, change.attno);
        Field after = field(new_row, desc, change.attno);
        JsonObject old_data;
        JsonObject new_data;
        if (change.is_timestamp) {
            old_data.add_timestamptz(change.key, before);
            new_data.add_timestamptz(change.key, after);
        } else if (change.is_text_array) {
            old_data.add_text_array(change.key, before);
            new_data.add_text_array(change.key, after);
        } else {
            old_data.add_text(change.key, before);
            new_data.add_text(change.key, after);
        }
        append_lifecycle(change.action, new_row, desc, columns, old_data.finish(),
                         new_data.finish());
    }
    Field revoked_before = field(old_row, desc, columns.revoked_at);
    Field revoked_after = field(new_row, desc, columns.revoked_at);
    if (pat::pg::column_changed(old_row, new_row, desc, columns.created_at) ||
        pat::pg::column_changed(old_row, new_row, desc, columns.expires_at) ||
        (!revoked_before.is_null && revoked_after.is_null)) {
        pat::pg::note_full_round_needed();  // notices may have fallen due out of any range
    }
    if (revoked_before.is_null && !revoked_after.is_null) {
        JsonObject revoked;
        revoked.add_timestamptz("revoked_at", revoked_after);
        append_lifecycle("revoked", new_row, desc, columns, nullptr, revoked.finish());
    }
    if (pat::pg::schema_has(pat::schema_since::kRestrictions)) {
        audit_restrictions(relation, old_row, new_row, desc, columns);
    }
}

}  // namespace

// pat.tokens_audit(): AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW on pat.tokens.
PAT_FUNCTION(pat_tokens_audit) {
    TriggerData *trigger = pat::pg::trigger_call(fcinfo, "pat.tokens_audit()");
    if (!TRIGGER_FIRED_AFTER(trigger->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigger->tg_event) ||
        TRIGGER_FIRED_BY_TRUNCATE(trigger->tg_event)) {
        throw pat::Error(
            pat::sqlstate::kTriggerProtocolViolated,
            "pat.tokens_audit() must fire AFTER INSERT, UPDATE or DELETE FOR EACH ROW");
    }
    pat::pg::register_audit_callbacks();
    call_pg([&] { audit_event(trigger); });
    return PointerGetDatum(nullptr);
}
