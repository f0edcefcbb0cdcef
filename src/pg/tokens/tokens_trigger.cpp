// The guards of pat.tokens: what no INSERT, UPDATE, DELETE or TRUNCATE may do, whoever runs it,
// by the rules the API follows (core/policy.hpp, core/expiry.hpp, token_rules.hpp). All are
// ENABLE ALWAYS: session_replication_role turns none off.
//
// pat.tokens_before_insert(): a valid user id and name for everyone; for any role but a
// superuser (who may be restoring a dump) no revoked row, no created_at before the
// transaction began or after now, an expiry the API would accept (in the future, within
// pat.max_lifetime), and what pat_create requires: scopes defined and allowed by the user's
// roles, and inside a token context the manage scope, the token's own user, only scopes it
// holds and no later expiry than its own. So a role given direct access cannot put back a
// revoked token, forge an old one or give one more than the API would, and every row it
// inserts is audited (pat.tokens_audit() skips only back-dated rows).
//
// Both, for every role: an expires_at of +infinity is stored as NULL (never, as the API reads
// it), and no time column may hold a value a dump cannot restore (core/time_range.hpp).
//
// pat.tokens_before_update(): identity columns never change, revocations are final, expiries
// only shorten, names follow the API's rule, and new scopes follow pat_update's (those of
// pat_create, checked only when the scopes change: a token whose scopes its user's roles no
// longer allow can still be renamed, shortened and revoked). It also signals the token's change
// to every cache: the ALWAYS trigger pat.invalidate_cached_token() does that too where the
// schema has it (the duplicate costs nothing), and an older schema relies on this one.
//
// pat.tokens_before_delete(): a token's row is the record of its revocation. Once deleted,
// nothing remembers that its digest was revoked, and the digest could be inserted again with a
// fresh expiry; so only the table's owner deletes or truncates token rows.
#include <optional>

#include "core/error.hpp"
#include "core/expiry.hpp"
#include "core/policy.hpp"
#include "core/time_range.hpp"
#include "pg/tokens/api_support.hpp"
#include "pg/tokens/cache_signal.hpp"
#include "pg/bridge/compat.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/settings.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/token_context.hpp"
#include "pg/tokens/token_rules.hpp"

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

// The text column attno of tuple, checked by rule(value, characters) unless NULL (NOT NULL
// reports that).
template <typename Rule>
void check_text_column(HeapTuple tuple, TupleDesc desc, int attno, Rule rule) {
    bool is_null = false;
    Datum value = heap_getattr(tuple, attno, desc, &is_null);
    if (!is_null) {
        text *checked = pat::pg::call_pg([&] { return DatumGetTextPP(value); });
        rule(pat::pg::text_view(checked), pat::pg::char_length(checked));
    }
}

// The expiry column attno of tuple as the rules read it: nullopt when NULL or +infinity, which
// the API reads as never too (expiry_from_timestamptz).
std::optional<int64> expiry_column(HeapTuple tuple, TupleDesc desc, int attno) {
    std::optional<int64> at = timestamp_column(tuple, desc, attno);
    if (at && TIMESTAMP_IS_NOEND(*at)) {
        return std::nullopt;
    }
    return at;
}

// tuple with the expiry column attno stored as NULL when it is +infinity: the API stores never
// as NULL, so every path stores it one way.
HeapTuple never_as_null(HeapTuple tuple, TupleDesc desc, int attno) {
    std::optional<int64> at = timestamp_column(tuple, desc, attno);
    if (!at || !TIMESTAMP_IS_NOEND(*at)) {
        return tuple;
    }
    int columns[1] = {attno};
    Datum values[1] = {0};
    bool nulls[1] = {true};
    return pat::pg::call_pg(
        [&] { return heap_modify_tuple_by_cols(tuple, desc, 1, columns, values, nulls); });
}

// 22008 unless every time column of tuple would restore from a dump; on an UPDATE (old_tuple
// set) only the changed ones, so a row stored before the check can still be revoked.
void require_restorable_times(HeapTuple tuple, HeapTuple old_tuple, Relation relation) {
    TupleDesc desc = RelationGetDescr(relation);
    for (const char *name : {"created_at", "expires_at", "revoked_at"}) {
        int attno = pat::pg::call_pg([&] { return pat::pg::relation_column(relation, name); });
        if (old_tuple == nullptr || pat::pg::column_changed(old_tuple, tuple, desc, attno)) {
            pat::require_restorable(timestamp_column(tuple, desc, attno), name);
        }
    }
}

int column(Relation relation, const char *name) {
    return pat::pg::call_pg([&] { return pat::pg::relation_column(relation, name); });
}

bool schema_has(pat::SchemaVersion since) {
    return pat::pg::call_pg([&] { return pat::pg::schema_has(since); });
}

TriggerData *guard_trigger(FunctionCallInfo fcinfo, const char *function, bool insert) {
    TriggerData *trigger = pat::pg::trigger_call(fcinfo, function);
    TriggerEvent event = trigger->tg_event;
    if (!TRIGGER_FIRED_BEFORE(event) || !TRIGGER_FIRED_FOR_ROW(event) ||
        (insert ? !TRIGGER_FIRED_BY_INSERT(event) : !TRIGGER_FIRED_BY_UPDATE(event))) {
        throw pat::Error(pat::sqlstate::kTriggerProtocolViolated,
                         std::string(function) + " must fire before " +
                             (insert ? "insert" : "update") + " for each row");
    }
    return trigger;
}

// The text column attno of tuple, detoasted; nullptr when NULL.
text *text_column(HeapTuple tuple, TupleDesc desc, int attno) {
    bool is_null = false;
    Datum value = heap_getattr(tuple, attno, desc, &is_null);
    if (is_null) {
        return nullptr;
    }
    return pat::pg::call_pg([&] { return DatumGetTextPP(value); });
}

// Whether tuple is an organization's token (where the schema has token_type).
bool is_organization_row(HeapTuple tuple, TupleDesc desc, Relation relation) {
    if (!schema_has(pat::schema_since::kDelegation)) {
        return false;
    }
    text *type = text_column(tuple, desc, column(relation, "token_type"));
    return type != nullptr && pat::pg::text_view(type) == "organization";
}

// The scopes of tuple, a token of its user_id, checked as pat_create and pat_update check them:
// inside a token context the manage scope and the token's own user first (require_self_service),
// then the scopes (token_rules.hpp). Returns the context, or nullptr outside one. A row with a
// NULL user id or scopes is left to NOT NULL, which reports it after the BEFORE triggers
// (nullptr: nothing more to check).
const pat::pg::TokenContext *check_scopes_column(HeapTuple tuple, TupleDesc desc,
                                                 Relation relation) {
    text *user_id = text_column(tuple, desc, column(relation, "user_id"));
    bool is_null = false;
    Datum scopes = heap_getattr(tuple, column(relation, "scopes"), desc, &is_null);
    if (user_id == nullptr || is_null) {
        return nullptr;
    }
    ArrayType *array = pat::pg::call_pg([&] { return DatumGetArrayTypeP(scopes); });
    if (is_organization_row(tuple, desc, relation)) {
        pat::pg::checked_organization_scopes(pat::pg::text_array_elements(array));
        return nullptr;
    }
    // pat_delegate's row is checked against the token that mints it (held scopes, no later
    // expiry), which needs the delegate scope, not the manage scope (pat_delegate checks it).
    const pat::pg::TokenContext *context =
        pat::pg::current_api_insert() == pat::pg::ApiInsert::delegated
            ? pat::pg::current_token_context()
            : pat::pg::require_self_service(pat::pg::text_view(user_id));
    pat::pg::checked_token_scopes(pat::pg::text_array_elements(array), user_id, context);
    return context;
}

// The columns a token is born with and keeps: who made it, its parent and chain, its type.
constexpr const char *kBirthColumns[] = {"parent_id", "ancestors", "created_by", "token_type"};

// The birth columns of a row being inserted. created_by: the API's record, a superuser's
// (restoring a dump), else who inserts it now. A parent and chain only from pat_delegate, and an
// organization's token only from pat_create_org_token (or a superuser restoring them).
HeapTuple check_birth_columns(HeapTuple row, TupleDesc desc, Relation relation) {
    pat::pg::ApiInsert api = pat::pg::current_api_insert();
    bool trusted = superuser() || api != pat::pg::ApiInsert::none;
    if (!trusted) {
        for (const char *name : {"parent_id", "ancestors"}) {
            if (!heap_attisnull(row, column(relation, name), desc)) {
                throw pat::Error(pat::sqlstate::kInsufficientPrivilege,
                                 "a delegated token can be made only with pat_delegate()");
            }
        }
        if (is_organization_row(row, desc, relation)) {
            throw pat::Error(pat::sqlstate::kInsufficientPrivilege,
                             "an organization's token can be made only with "
                             "pat_create_org_token()");
        }
    }
    int created_by = column(relation, "created_by");
    if (api != pat::pg::ApiInsert::none ||
        (superuser() && !heap_attisnull(row, created_by, desc))) {
        return row;
    }
    std::string creator = pat::pg::token_creator(nullptr);
    return pat::pg::call_pg([&] {
        int columns[1] = {created_by};
        Datum values[1] = {PointerGetDatum(
            cstring_to_text_with_len(creator.data(), static_cast<int>(creator.size())))};
        bool nulls[1] = {false};
        return heap_modify_tuple_by_cols(row, desc, 1, columns, values, nulls);
    });
}

}  // namespace

PAT_FUNCTION(pat_tokens_before_insert) {
    TriggerData *trigger = guard_trigger(fcinfo, "pat.tokens_before_insert()", true);
    Relation relation = trigger->tg_relation;
    TupleDesc desc = RelationGetDescr(relation);
    int expires_attno = column(relation, "expires_at");
    HeapTuple row = never_as_null(trigger->tg_trigtuple, desc, expires_attno);
    if (schema_has(pat::schema_since::kDelegation)) {
        row = check_birth_columns(row, desc, relation);
    }
    check_text_column(row, desc, column(relation, "user_id"), pat::check_user_id);
    check_text_column(row, desc, column(relation, "name"), pat::check_token_name);
    require_restorable_times(row, nullptr, relation);
    if (superuser()) {
        return PointerGetDatum(row);  // perhaps a restore: rows keep their history
    }
    constexpr const char *kUseTheApi = "Create tokens with pat_create().";
    if (timestamp_column(row, desc, column(relation, "revoked_at"))) {
        throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                         "a token cannot be inserted revoked", "", kUseTheApi);
    }
    std::optional<int64> created_at = timestamp_column(row, desc, column(relation, "created_at"));
    if (created_at && (*created_at < GetCurrentTransactionStartTimestamp() ||
                       *created_at > GetCurrentTimestamp())) {
        throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                         "a token's created_at must be the time it is inserted",
                         "Only a superuser may load rows with an earlier created_at, as a "
                         "restore does.",
                         kUseTheApi);
    }
    TimestampTz now = pat::pg::policy_clock();
    std::optional<int64> expires_at = timestamp_column(row, desc, expires_attno);
    pat::require_valid_expiry(
        pat::check_expiry(now, expires_at, pat::pg::latest_allowed_expiry(now)));
    const pat::pg::TokenContext *context = check_scopes_column(row, desc, relation);
    pat::pg::require_no_later_than_context(context, expires_at);
    return PointerGetDatum(row);
}

PAT_FUNCTION(pat_tokens_before_update) {
    TriggerData *trigger = guard_trigger(fcinfo, "pat.tokens_before_update()", false);
    Relation relation = trigger->tg_relation;
    TupleDesc desc = RelationGetDescr(relation);
    HeapTuple old_tuple = trigger->tg_trigtuple;
    int expires_attno = column(relation, "expires_at");
    HeapTuple new_tuple = never_as_null(trigger->tg_newtuple, desc, expires_attno);

    for (const char *fixed : {"token_id", "user_id", "digest", "created_at"}) {
        int attno = pat::pg::call_pg([&] { return pat::pg::relation_column(relation, fixed); });
        if (pat::pg::column_changed(old_tuple, new_tuple, desc, attno)) {
            throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                             std::string("the ") + fixed + " of a token cannot change", "",
                             "Create a new token instead.");
        }
    }
    // rotated_from is part of a token's identity.
    int rotated_attno = schema_has(pat::schema_since::kTokenRotatedFrom)
                            ? column(relation, "rotated_from")
                            : InvalidAttrNumber;
    if (rotated_attno > 0 && pat::pg::column_changed(old_tuple, new_tuple, desc, rotated_attno)) {
        throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                         "the rotated_from of a token cannot change", "",
                         "Create a new token instead.");
    }
    if (schema_has(pat::schema_since::kDelegation)) {
        for (const char *born : kBirthColumns) {
            if (pat::pg::column_changed(old_tuple, new_tuple, desc, column(relation, born))) {
                throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                                 std::string("the ") + born + " of a token cannot change", "",
                                 "Create a new token instead.");
            }
        }
    }
    // has_children is set once a child is made and never cleared: a parent's changes must keep
    // reaching its descendants' cached entries (cache_triggers.cpp).
    if (schema_has(pat::schema_since::kDelegation)) {
        int attno = column(relation, "has_children");
        bool is_null = false;
        bool had = DatumGetBool(heap_getattr(old_tuple, attno, desc, &is_null)) && !is_null;
        bool has = DatumGetBool(heap_getattr(new_tuple, attno, desc, &is_null)) && !is_null;
        if (had && !has) {
            throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                             "a token's has_children cannot be cleared");
        }
    }
    // key_id may be filled in for a token made before the schema had it, never changed once
    // known.
    int key_attno =
        schema_has(pat::schema_since::kTokenKeyId) ? column(relation, "key_id") : InvalidAttrNumber;
    if (key_attno > 0 && !heap_attisnull(old_tuple, key_attno, desc) &&
        pat::pg::column_changed(old_tuple, new_tuple, desc, key_attno)) {
        throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                         "the key_id of a token cannot change once recorded");
    }
    int name_attno = column(relation, "name");
    if (pat::pg::column_changed(old_tuple, new_tuple, desc, name_attno)) {
        check_text_column(new_tuple, desc, name_attno, pat::check_token_name);
    }
    if (pat::pg::column_changed(old_tuple, new_tuple, desc, column(relation, "scopes"))) {
        check_scopes_column(new_tuple, desc, relation);
    }
    int revoked_attno =
        pat::pg::call_pg([&] { return pat::pg::relation_column(relation, "revoked_at"); });
    if (timestamp_column(old_tuple, desc, revoked_attno) &&
        pat::pg::column_changed(old_tuple, new_tuple, desc, revoked_attno)) {
        throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                         "a token's revocation cannot be undone or changed");
    }
    require_restorable_times(new_tuple, old_tuple, relation);
    if (pat::extends_expiry(expiry_column(old_tuple, desc, expires_attno),
                            expiry_column(new_tuple, desc, expires_attno))) {
        throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                         "a token's expiration cannot be extended", "",
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

// pat.tokens_before_delete(): BEFORE DELETE FOR EACH ROW and BEFORE TRUNCATE on pat.tokens.
// Refuses both to every role but the table's owner as PostgreSQL counts owners (the owning role,
// its members, and superusers: all of them could drop the table or this trigger anyway). pg_pat
// itself never deletes a token row: revoked and expired tokens stay, as their record.
PAT_FUNCTION(pat_tokens_before_delete) {
    TriggerData *trigger = pat::pg::trigger_call(fcinfo, "pat.tokens_before_delete()");
    TriggerEvent event = trigger->tg_event;
    bool deleting_row = TRIGGER_FIRED_FOR_ROW(event) && TRIGGER_FIRED_BY_DELETE(event);
    bool truncating = TRIGGER_FIRED_FOR_STATEMENT(event) && TRIGGER_FIRED_BY_TRUNCATE(event);
    if (!TRIGGER_FIRED_BEFORE(event) || !(deleting_row || truncating)) {
        throw pat::Error(pat::sqlstate::kTriggerProtocolViolated,
                         "pat.tokens_before_delete() must fire before delete for each row or "
                         "before truncate");
    }
    Oid relation = RelationGetRelid(trigger->tg_relation);
    if (!pat::pg::call_pg([&] { return pat::pg::compat::owns_table(relation, GetUserId()); })) {
        throw pat::Error(pat::sqlstate::kInsufficientPrivilege,
                         truncating ? "only the owner of pat.tokens may truncate it"
                                    : "only the owner of pat.tokens may delete token rows",
                         "A token's row is the record of its revocation: DELETE and TRUNCATE "
                         "of pat.tokens are refused for every other role.",
                         "Revoke tokens with pat_revoke() or pat_revoke_all(); their rows stay.");
    }
    return deleting_row ? PointerGetDatum(trigger->tg_trigtuple) : PointerGetDatum(nullptr);
}
