// The triggers that send cache signals (cache_signal.hpp). They are ENABLE ALWAYS, so a change
// applied by logical replication or under session_replication_role = replica reaches every
// cache too.
#include "core/error.hpp"
#include "pg/tokens/cache_signal.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"

namespace {

TriggerData *row_trigger(FunctionCallInfo fcinfo, const char *name) {
    TriggerData *trigger = pat::pg::trigger_call(fcinfo, name);
    if (!TRIGGER_FIRED_AFTER(trigger->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigger->tg_event)) {
        throw pat::Error(pat::sqlstate::kTriggerProtocolViolated,
                         std::string(name) + " must fire after each row");
    }
    return trigger;
}

// The varlena column of tuple, untoasted (the columns signalled on are short), or nullptr.
const varlena *column_value(Relation relation, HeapTuple tuple, const char *column) {
    return pat::pg::call_pg([&]() -> const varlena * {
        int attno = pat::pg::relation_column(relation, column);
        bool is_null = false;
        Datum value = heap_getattr(tuple, attno, RelationGetDescr(relation), &is_null);
        return is_null ? nullptr : PG_DETOAST_DATUM_PACKED(value);
    });
}

// Signals the column of the old row and, if it differs, of the new one.
template <typename Signal>
void signal_rows(TriggerData *trigger, const char *column, Signal signal) {
    // tg_trigtuple is the new row of an INSERT and the old row of an UPDATE or DELETE.
    const varlena *row_value = column_value(trigger->tg_relation, trigger->tg_trigtuple, column);
    bool inserted = TRIGGER_FIRED_BY_INSERT(trigger->tg_event);
    const varlena *old_value = inserted ? nullptr : row_value;
    const varlena *new_value = inserted ? row_value : nullptr;
    if (TRIGGER_FIRED_BY_UPDATE(trigger->tg_event)) {
        new_value = column_value(trigger->tg_relation, trigger->tg_newtuple, column);
    }
    pat::pg::call_pg([&] {
        if (old_value != nullptr) {
            signal(old_value);
        }
        if (new_value != nullptr &&
            (old_value == nullptr || VARSIZE_ANY_EXHDR(old_value) != VARSIZE_ANY_EXHDR(new_value) ||
             memcmp(VARDATA_ANY(old_value), VARDATA_ANY(new_value), VARSIZE_ANY_EXHDR(new_value)) !=
                 0)) {
            signal(new_value);
        }
    });
}

}  // namespace

// pat.invalidate_token_caches(): row (and TRUNCATE) trigger for changes that reach every cached
// token: scopes and roles defined or changed, a table truncated. Signals of one transaction are
// deduplicated by PostgreSQL, so a row trigger costs little more than a statement trigger.
PAT_FUNCTION(pat_invalidate_token_caches) {
    (void)pat::pg::trigger_call(fcinfo, "pat.invalidate_token_caches()");
    pat::pg::call_pg([] { pat::pg::signal_everything_changed(); });
    return PointerGetDatum(nullptr);
}

namespace {

// Whether the old or the new row (an UPDATE's) of trigger has the boolean column set.
bool either_row_has(TriggerData *trigger, const char *column) {
    return pat::pg::call_pg([&] {
        Relation relation = trigger->tg_relation;
        int attno = pat::pg::relation_column(relation, column);
        bool set = false;
        for (HeapTuple tuple : {trigger->tg_trigtuple, trigger->tg_newtuple}) {
            bool is_null = true;
            Datum value = tuple != nullptr
                              ? heap_getattr(tuple, attno, RelationGetDescr(relation), &is_null)
                              : 0;
            set = set || (!is_null && DatumGetBool(value));
        }
        return set;
    });
}

}  // namespace

// pat.invalidate_cached_token(): AFTER UPDATE OR DELETE row trigger on pat.tokens. For a token
// with children (where the schema has delegation) the token's user is signalled too: a
// delegated token's entry depends on every ancestor's row, and all of them are of the same user
// (token_cache.cpp), so no descendant needs a signal, or a write, of its own. has_children is
// set before the first child is made, in a transaction that holds the parent's row, and never
// cleared, so every change to a parent after its first child commits sees it set.
PAT_FUNCTION(pat_invalidate_cached_token) {
    TriggerData *trigger = row_trigger(fcinfo, "pat.invalidate_cached_token()");
    signal_rows(trigger, "digest", [](const varlena *digest) {
        pat::pg::signal_token_changed(reinterpret_cast<const bytea *>(digest));
    });
    if (pat::pg::call_pg([] { return pat::pg::schema_has(pat::schema_since::kDelegation); }) &&
        either_row_has(trigger, "has_children")) {
        signal_rows(trigger, "user_id", [](const varlena *user_id) {
            pat::pg::signal_user_changed(reinterpret_cast<const text *>(user_id));
        });
    }
    return PointerGetDatum(nullptr);
}

// pat.invalidate_cached_user(): AFTER INSERT OR UPDATE OR DELETE row trigger on pat.user_roles.
PAT_FUNCTION(pat_invalidate_cached_user) {
    TriggerData *trigger = row_trigger(fcinfo, "pat.invalidate_cached_user()");
    signal_rows(trigger, "user_id", [](const varlena *user_id) {
        pat::pg::signal_user_changed(reinterpret_cast<const text *>(user_id));
    });
    return PointerGetDatum(nullptr);
}
