// pat.tokens_before_update(): what no UPDATE of pat.tokens may do, whoever runs it. It also
// signals the token's change to every cache: from 1.3 on the ALWAYS trigger
// pat.invalidate_cached_token() does that too (the duplicate costs nothing), but a 1.2 schema
// running this library relies on this one.
#include <optional>

#include "core/error.hpp"
#include "core/expiry.hpp"
#include "pg/guard.hpp"
#include "pg/spi_support.hpp"
#include "pg/cache_signal.hpp"

namespace {

// The timestamptz column attno of tuple, nullopt when NULL.
std::optional<int64> timestamp_column(HeapTuple tuple, TupleDesc desc, int attno) {
    bool is_null = false;
    Datum value = heap_getattr(tuple, attno, desc, &is_null);
    if (is_null) {
        return std::nullopt;
    }
    return DatumGetTimestampTz(value);
}

// True when the column attno differs between the two tuples.
bool column_changed(HeapTuple old_tuple, HeapTuple new_tuple, TupleDesc desc, int attno) {
    bool old_null = false;
    bool new_null = false;
    Datum old_value = heap_getattr(old_tuple, attno, desc, &old_null);
    Datum new_value = heap_getattr(new_tuple, attno, desc, &new_null);
    if (old_null || new_null) {
        return old_null != new_null;
    }
    Form_pg_attribute attribute = TupleDescAttr(desc, attno - 1);
    return !datumIsEqual(old_value, new_value, attribute->attbyval, attribute->attlen);
}

}  // namespace

PAT_FUNCTION(pat_tokens_before_update) {
    if (!CALLED_AS_TRIGGER(fcinfo)) {
        throw pat::Error("39P01", "pat.tokens_before_update() must be called as a trigger");
    }
    auto *trigger = reinterpret_cast<TriggerData *>(fcinfo->context);
    if (!TRIGGER_FIRED_BY_UPDATE(trigger->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigger->tg_event)) {
        throw pat::Error("39P01",
                         "pat.tokens_before_update() must fire before update for each row");
    }
    Relation relation = trigger->tg_relation;
    TupleDesc desc = RelationGetDescr(relation);
    HeapTuple old_tuple = trigger->tg_trigtuple;
    HeapTuple new_tuple = trigger->tg_newtuple;

    for (const char *fixed : {"token_id", "user_id", "digest", "created_at"}) {
        int attno = pat::pg::call_pg([&] { return pat::pg::relation_column(relation, fixed); });
        if (column_changed(old_tuple, new_tuple, desc, attno)) {
            throw pat::Error("55000", std::string("the ") + fixed + " of a token cannot change", "",
                             "Create a new token instead.");
        }
    }
    int revoked_attno =
        pat::pg::call_pg([&] { return pat::pg::relation_column(relation, "revoked_at"); });
    if (timestamp_column(old_tuple, desc, revoked_attno) &&
        column_changed(old_tuple, new_tuple, desc, revoked_attno)) {
        throw pat::Error("55000", "a token's revocation cannot be undone or changed");
    }
    int expires_attno =
        pat::pg::call_pg([&] { return pat::pg::relation_column(relation, "expires_at"); });
    if (pat::extends_expiry(timestamp_column(old_tuple, desc, expires_attno),
                            timestamp_column(new_tuple, desc, expires_attno))) {
        throw pat::Error("55000", "a token's expiration cannot be extended", "",
                         "Create a new token to renew access.");
    }
    int digest_attno =
        pat::pg::call_pg([&] { return pat::pg::relation_column(relation, "digest"); });
    pat::pg::call_pg([&] {
        bool is_null = false;
        Datum digest = heap_getattr(old_tuple, digest_attno, desc, &is_null);
        if (!is_null) {
            pat::pg::signal_token_changed(DatumGetByteaPP(digest));
        }
    });
    return PointerGetDatum(new_tuple);
}
