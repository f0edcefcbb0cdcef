// Issuing and managing tokens: pat_create (three overloads), pat_rotate (three) and
// pat_rotated_from, pat_update, pat_revoke, pat_revoke_all and pat_list.
//
// Arguments are checked by the core's rules (policy.hpp), scopes by the rule every write of a
// token follows, the guards of pat.tokens included (token_rules.hpp). Rows are written with
// kept SPI plans as the owner of pat.tokens under a pinned search path (spi_support.hpp), so the
// triggers on pat.tokens (the guard, the audit, the cache signals) see every change. The
// functions are not SECURITY DEFINER: like pat_validate, they need no SET clause and switch to
// the owner only for their own queries.
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/policy.hpp"
#include "core/random.hpp"
#include "core/rotation.hpp"
#include "core/self_service.hpp"
#include "core/status.hpp"
#include "core/token.hpp"
#include "core/wipe.hpp"
#include "pg/tokens/api_support.hpp"
#include "pg/audit/audit_state.hpp"
#include "pg/audit/audit_writer.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/datetime.hpp"
#include "pg/tokens/expiry.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/json_object.hpp"
#include "pg/tokens/key_status.hpp"
#include "pg/lifecycle/leak_report.hpp"
#include "pg/bridge/result_rows.hpp"
#include "pg/settings.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/token_context.hpp"
#include "pg/tokens/token_rules.hpp"
#include "pg/tokens/token_store.hpp"
#include "pg/usage/usage_store.hpp"

using pat::pg::call_pg;

namespace {

// The token's usage row is made by the first write of its usage, not here.
const char kInsertToken[] =
    "INSERT INTO pat.tokens (token_id, user_id, name, scopes, digest, expires_at, key_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)";
// A schema without pat.tokens.key_id (schema_since::kTokenKeyId), run by this library until
// ALTER EXTENSION UPDATE.
const char kInsertTokenWithoutKeyId[] =
    "INSERT INTO pat.tokens (token_id, user_id, name, scopes, digest, expires_at)"
    " VALUES ($1, $2, $3, $4, $5, $6)";
// A rotation's successor names its predecessor.
const char kInsertRotatedToken[] =
    "INSERT INTO pat.tokens"
    " (token_id, user_id, name, scopes, digest, expires_at, key_id, rotated_from)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
// pat.max_active_tokens_per_user: creations for one user wait for each other on the user's row
// of pat.user_token_locks, so the count cannot be passed by two at once. The row is updated, not
// only locked: under REPEATABLE READ or SERIALIZABLE, a creation whose snapshot predates
// another's commit then fails with 40001 rather than counting with that snapshot.
const char kLockUserTokens[] =
    "INSERT INTO pat.user_token_locks (user_id) VALUES ($1)"
    " ON CONFLICT (user_id) DO UPDATE SET counted_at = pg_catalog.now()";
// A schema without that table (schema_since::kUserTokenLocks): an advisory lock keyed by
// pat.tokens' oid and the user id's hash, exact only under READ COMMITTED (and which any role can
// take).
const char kAdvisoryLockUserTokens[] =
    "SELECT pg_catalog.pg_advisory_xact_lock($2, pg_catalog.hashtext($1))";
const char kCountActiveTokens[] =
    "SELECT pg_catalog.count(*) FROM pat.tokens t"
    " WHERE t.user_id OPERATOR(pg_catalog.=) $1 AND t.revoked_at IS NULL"
    " AND (t.expires_at IS NULL OR t.expires_at OPERATOR(pg_catalog.>) $2)"
    " AND t.token_id IS DISTINCT FROM $3";
const char kLockForRotation[] =
    "SELECT t.user_id, t.name, t.scopes, t.created_at, t.expires_at, t.revoked_at IS NOT NULL"
    " FROM pat.tokens t WHERE t.token_id OPERATOR(pg_catalog.=) $1 FOR UPDATE OF t";
const char kShortenExpiry[] =
    "UPDATE pat.tokens t SET expires_at = $2"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1 AND t.expires_at IS DISTINCT FROM $2";
const char kRotatedFrom[] =
    "SELECT t.user_id, t.rotated_from FROM pat.tokens t"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1";
const char kLockToken[] =
    "SELECT t.user_id, t.revoked_at IS NOT NULL FROM pat.tokens t"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1 FOR UPDATE OF t";
const char kUpdateToken[] =
    "UPDATE pat.tokens t"
    " SET name = COALESCE($2, t.name), scopes = COALESCE($3, t.scopes)"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1"
    " AND (t.name, t.scopes) IS DISTINCT FROM"
    " (COALESCE($2, t.name), COALESCE($3, t.scopes))";
const char kRevokeToken[] =
    "UPDATE pat.tokens t SET revoked_at = pg_catalog.now()"
    " WHERE t.token_id OPERATOR(pg_catalog.=) $1 AND t.revoked_at IS NULL";
const char kTokenExists[] = "SELECT FROM pat.tokens t WHERE t.token_id OPERATOR(pg_catalog.=) $1";
const char kRevokeAll[] =
    "UPDATE pat.tokens t SET revoked_at = pg_catalog.now()"
    " WHERE t.user_id OPERATOR(pg_catalog.=) $1 AND t.revoked_at IS NULL";
const char kListTokens[] =
    "SELECT t.token_id, t.name, t.scopes, t.created_at, t.expires_at, u.last_used_at,"
    " t.revoked_at"
    " FROM pat.tokens t"
    " LEFT JOIN pat.token_usage u ON u.token_id OPERATOR(pg_catalog.=) t.token_id"
    " WHERE t.user_id OPERATOR(pg_catalog.=) $1"
    " ORDER BY t.created_at DESC, t.token_id";

using pat::pg::KeptPlan;

KeptPlan insert_plan = {
    kInsertToken, 7, {UUIDOID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, TIMESTAMPTZOID, TEXTOID}};
KeptPlan insert_without_key_id_plan = {
    kInsertTokenWithoutKeyId,
    6,
    {UUIDOID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, TIMESTAMPTZOID}};
KeptPlan insert_rotated_plan = {
    kInsertRotatedToken,
    8,
    {UUIDOID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, TIMESTAMPTZOID, TEXTOID, UUIDOID}};
KeptPlan lock_user_tokens_plan = {kLockUserTokens, 1, {TEXTOID}};
KeptPlan advisory_lock_user_tokens_plan = {kAdvisoryLockUserTokens, 2, {TEXTOID, INT4OID}};
KeptPlan count_active_plan = {kCountActiveTokens, 3, {TEXTOID, TIMESTAMPTZOID, UUIDOID}};
KeptPlan lock_for_rotation_plan = {kLockForRotation, 1, {UUIDOID}};
KeptPlan shorten_expiry_plan = {kShortenExpiry, 2, {UUIDOID, TIMESTAMPTZOID}};
KeptPlan rotated_from_plan = {kRotatedFrom, 1, {UUIDOID}};
KeptPlan lock_plan = {kLockToken, 1, {UUIDOID}};
KeptPlan update_plan = {kUpdateToken, 3, {UUIDOID, TEXTOID, TEXTARRAYOID}};
KeptPlan revoke_plan = {kRevokeToken, 1, {UUIDOID}};
KeptPlan exists_plan = {kTokenExists, 1, {UUIDOID}};
KeptPlan revoke_all_plan = {kRevokeAll, 1, {TEXTOID}};
KeptPlan list_plan = {kListTokens, 1, {TEXTOID}};

uint64 run(KeptPlan &kept, Datum *values, const char *nulls, bool read_only, int expected_rc) {
    return pat::pg::run_kept_plan(kept, values, nulls, read_only, expected_rc);
}

// The requested scopes, checked for user_id by the rule every write of a token follows
// (token_rules.hpp), as a palloc'd text[].
ArrayType *checked_scope_array(ArrayType *requested, text *user_id,
                               const pat::pg::TokenContext *context) {
    return pat::pg::make_text_array(
        pat::pg::checked_token_scopes(pat::pg::text_array_elements(requested), user_id, context));
}

ArrayType *checked_scopes_argument(FunctionCallInfo fcinfo, int n, text *user_id,
                                   const pat::pg::TokenContext *context) {
    pat::pg::require_arg(fcinfo, n, "scopes");
    return checked_scope_array(PG_GETARG_ARRAYTYPE_P(n), user_id, context);
}

// The token name argument n, checked (policy.hpp).
text *token_name_argument(FunctionCallInfo fcinfo, int n) {
    text *name = pat::pg::required_text(fcinfo, n, "token name");
    pat::check_token_name(pat::pg::text_view(name), pat::pg::char_length(name));
    return name;
}

// A version 7 UUID (RFC 9562): 48 bits of Unix time in milliseconds, then 74 bits from
// OpenSSL's CSPRNG. Ids made together sort together, so the primary key and the audit log's
// (token_id, occurred_at) index take new entries on a few recent pages instead of anywhere:
// fewer pages read and fewer full-page images in the WAL. The time they reveal is created_at's.
pg_uuid_t new_token_id() {
    pg_uuid_t id;
    pat::random_bytes(id.data, UUID_LEN);
    TimestampTz now = GetCurrentTimestamp();
    uint64 unix_ms = static_cast<uint64>(
        (now + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY) / 1000);
    for (int i = 0; i < 6; ++i) {
        id.data[i] = static_cast<unsigned char>(unix_ms >> (40 - 8 * i));
    }
    id.data[6] = static_cast<unsigned char>((id.data[6] & 0x0f) | 0x70);
    id.data[8] = static_cast<unsigned char>((id.data[8] & 0x3f) | 0x80);
    return id;
}

// A UUID as uuid_out() spells it.
std::string uuid_text(const pg_uuid_t &id) {
    static const char kHex[] = "0123456789abcdef";
    std::string text;
    for (int i = 0; i < UUID_LEN; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            text += '-';
        }
        text += kHex[id.data[i] >> 4];
        text += kHex[id.data[i] & 0x0f];
    }
    return text;
}

[[noreturn]] void throw_no_such_token(const pg_uuid_t &id) {
    throw pat::Error(pat::sqlstate::kInvalidParameterValue,
                     "token " + uuid_text(id) + " does not exist");
}

// Waits for other creations for user_id, to the end of the transaction. Inside
// begin_owner_spi; may ereport (40001 under REPEATABLE READ or SERIALIZABLE when another
// creation for the user committed after the transaction's snapshot).
void lock_user_tokens(text *user_id) {
    if (pat::pg::schema_has(pat::schema_since::kUserTokenLocks)) {
        Datum values[1] = {PointerGetDatum(user_id)};
        run(lock_user_tokens_plan, values, nullptr, false, SPI_OK_INSERT);
        return;
    }
    Datum values[2] = {PointerGetDatum(user_id),
                       Int32GetDatum(static_cast<int32>(pat::pg::tokens_relation()))};
    run(advisory_lock_user_tokens_plan, values, nullptr, false, SPI_OK_SELECT);
}

// pat.max_active_tokens_per_user: 54000 when user_id already holds that many active tokens, not
// counting not_counted (a rotation's predecessor that is revoked at once). Waits for other
// creations for the same user first; the count's fresh snapshot (READ COMMITTED) then sees theirs.
// Inside begin_owner_spi.
void require_room_for_token(text *user_id, pg_uuid_t *not_counted) {
    std::optional<int64> cap = pat::pg::max_active_tokens_per_user();
    if (!cap) {
        return;
    }
    lock_user_tokens(user_id);
    Datum values[3] = {PointerGetDatum(user_id), TimestampTzGetDatum(pat::pg::policy_clock()),
                       UUIDPGetDatum(not_counted)};
    char nulls[4] = {' ', ' ', not_counted != nullptr ? ' ' : 'n', '\0'};
    run(count_active_plan, values, nulls, false, SPI_OK_SELECT);
    bool is_null = false;
    int64 active =
        DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
    pat::require_below_token_cap(pat::pg::text_view(user_id), active, cap);
}

// A new token, checked: stores its digest (with rotated_from, for a rotation's successor) and
// returns it once as the result row (token_id, token, expires_at). Writes *new_id.
Datum store_new_token(FunctionCallInfo fcinfo, text *user_id, text *name, ArrayType *scopes,
                      std::optional<TimestampTz> expires_at, pg_uuid_t *rotated_from,
                      pg_uuid_t *not_counted, pg_uuid_t *new_id) {
    TupleDesc type = call_pg([&] { return pat::pg::result_type(fcinfo); });

    pg_uuid_t token_id = new_token_id();
    std::string token = pat::generate_token(pat::pg::token_prefix());
    pat::Digest digest = pat::pg::token_digesters().front().digest(token);
    text *token_text = pat::pg::make_text(token);
    pat::wipe(token);  // the plaintext lives on only in the result
    bytea *stored_digest = pat::pg::make_bytea(digest.data(), digest.size());
    text *key_id = pat::pg::current_key_id();

    pat::pg::with_owner_spi([&] {
        require_room_for_token(user_id, not_counted);
        Datum values[8] = {
            UUIDPGetDatum(&token_id),       PointerGetDatum(user_id),
            PointerGetDatum(name),          PointerGetDatum(scopes),
            PointerGetDatum(stored_digest), TimestampTzGetDatum(expires_at.value_or(0)),
            PointerGetDatum(key_id),        UUIDPGetDatum(rotated_from)};
        char nulls[9] = "        ";
        nulls[5] = expires_at ? ' ' : 'n';
        if (rotated_from != nullptr) {
            run(insert_rotated_plan, values, nulls, false, SPI_OK_INSERT);
        } else {
            run(key_id != nullptr ? insert_plan : insert_without_key_id_plan, values, nulls, false,
                SPI_OK_INSERT);
        }
        pat::pg::remember_token_prefix();
    });
    *new_id = token_id;

    Datum values[3] = {UUIDPGetDatum(new_id), PointerGetDatum(token_text),
                       TimestampTzGetDatum(expires_at.value_or(0))};
    bool nulls[3] = {false, false, !expires_at};
    call_pg([&] {
        Tuplestorestate *rows = pat::pg::begin_result_rows(fcinfo, type);
        tuplestore_putvalues(rows, type, values, nulls);
    });
    return static_cast<Datum>(0);
}

// pat_create with its expiry resolved: checks the rest, stores the digest, returns the token
// once. Expiry errors come first, as the arguments of the 1.0 function were evaluated first.
// Inside a token context the user must be the token's own, before anything about the user (the
// grantable scopes an error names) is read.
Datum create_token(FunctionCallInfo fcinfo, std::optional<TimestampTz> expires_at) {
    text *user_id = pat::pg::user_id_argument(fcinfo, 0);
    const pat::pg::TokenContext *context =
        pat::pg::require_self_service(pat::pg::text_view(user_id));
    text *name = token_name_argument(fcinfo, 1);
    ArrayType *scopes = checked_scopes_argument(fcinfo, 2, user_id, context);
    pat::pg::require_no_later_than_context(context, expires_at);
    pg_uuid_t new_id;
    return store_new_token(fcinfo, user_id, name, scopes, expires_at, nullptr, nullptr, &new_id);
}

struct LockedToken {
    bool found;
    bool revoked;
    text *user_id;
};

// Locks the token's row to the end of the transaction and reads its user.
LockedToken lock_token(pg_uuid_t *token_id) {
    return pat::pg::with_owner_spi([&] {
        Datum values[1] = {UUIDPGetDatum(token_id)};
        LockedToken row = {false, false, nullptr};
        if (run(lock_plan, values, nullptr, false, SPI_OK_SELECT) == 1) {
            bool is_null = false;
            HeapTuple tuple = SPI_tuptable->vals[0];
            row.found = true;
            row.user_id = reinterpret_cast<text *>(SPI_datumTransfer(
                SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &is_null), false, -1));
            row.revoked = DatumGetBool(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &is_null));
        }
        return row;
    });
}

// Inside a token context, requires that token_id is a token of the context's user (and the
// manage scope); a missing token gets the same answer as another user's, so that a token cannot
// probe for ids. Returns the context, or nullptr outside one.
const pat::pg::TokenContext *require_own_token(const LockedToken &locked) {
    return pat::pg::require_self_service(locked.found ? pat::pg::text_view(locked.user_id)
                                                      : std::string_view());
}

// The row a rotation starts from, locked to the end of the transaction.
struct RotationSource {
    bool found = false;
    text *user_id = nullptr;
    text *name = nullptr;
    ArrayType *scopes = nullptr;
    TimestampTz created_at = 0;
    std::optional<TimestampTz> expires_at;
    bool revoked = false;
};

RotationSource lock_for_rotation(pg_uuid_t *token_id) {
    return pat::pg::with_owner_spi([&] {
        RotationSource row;
        Datum values[1] = {UUIDPGetDatum(token_id)};
        if (run(lock_for_rotation_plan, values, nullptr, false, SPI_OK_SELECT) != 1) {
            return row;
        }
        Datum columns[6];
        bool nulls[6];
        heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, columns, nulls);
        row.found = true;
        row.user_id = reinterpret_cast<text *>(SPI_datumTransfer(columns[0], false, -1));
        row.name = reinterpret_cast<text *>(SPI_datumTransfer(columns[1], false, -1));
        // Detoasted (a short header or a compressed value is no ArrayType) before the copy.
        row.scopes = reinterpret_cast<ArrayType *>(
            SPI_datumTransfer(PointerGetDatum(DatumGetArrayTypeP(columns[2])), false, -1));
        row.created_at = DatumGetTimestampTz(columns[3]);
        if (!nulls[4]) {
            row.expires_at = DatumGetTimestampTz(columns[4]);
        }
        row.revoked = DatumGetBool(columns[5]);
        return row;
    });
}

// Audit action "rotated" on the old token, naming its successor.
void record_rotation(pg_uuid_t *old_id, const RotationSource &old, const pg_uuid_t &new_id) {
    std::string successor = uuid_text(new_id);
    pat::pg::register_audit_callbacks();
    call_pg([&] {
        pat::pg::JsonObject object;
        object.add_string("rotated_to", successor.c_str());
        pat::pg::append_token_audit("rotated", old.user_id, old_id, old.name, nullptr,
                                    object.finish());
    });
}

// pat_rotate with the successor's expiry resolved (nullopt: the old token's lifetime from
// now): a new token with the old one's user, name and scopes, checked like pat_create; the old
// one revoked at once, or with an overlap expiring at the earlier of its own expiry and now +
// overlap. Inside a token context, only the user's own tokens, as pat_update.
// The successor's expiry as asked: none (keep the lifetime), or an expiry (itself nullopt for
// never).
using Asked = std::optional<std::optional<TimestampTz>>;

Datum rotate_token(FunctionCallInfo fcinfo, Asked asked) {
    pg_uuid_t *token_id = pat::pg::token_id_argument(fcinfo, 0);
    pat::pg::require_arg(fcinfo, 2, "overlap");
    TimestampTz overlap_until = pat::pg::now_plus(PG_GETARG_INTERVAL_P(2));
    TimestampTz started = GetCurrentTransactionStartTimestamp();
    pat::require_valid_overlap(overlap_until - started);

    RotationSource old = lock_for_rotation(token_id);
    const pat::pg::TokenContext *context = pat::pg::require_self_service(
        old.found ? pat::pg::text_view(old.user_id) : std::string_view());
    if (!old.found) {
        throw_no_such_token(*token_id);
    }
    pat::require_rotatable(uuid_text(*token_id), old.revoked, old.expires_at,
                           pat::pg::policy_clock());
    // The scopes the user's roles no longer allow are refused, as pat_create refuses them.
    ArrayType *scopes = checked_scope_array(old.scopes, old.user_id, context);
    std::optional<TimestampTz> expires_at;
    if (asked) {
        expires_at = *asked;
    } else {
        std::optional<std::int64_t> carried =
            pat::carried_over_expiry(started, old.created_at, old.expires_at);
        expires_at = pat::pg::expiry_within_policy(carried ? std::optional<TimestampTz>(*carried)
                                                           : std::nullopt);
    }
    pat::pg::require_no_later_than_context(context, expires_at);

    bool revoke_now = overlap_until <= started;
    pg_uuid_t new_id;
    Datum result = store_new_token(fcinfo, old.user_id, old.name, scopes, expires_at, token_id,
                                   revoke_now ? token_id : nullptr, &new_id);
    record_rotation(token_id, old, new_id);
    TimestampTz old_until = static_cast<TimestampTz>(
        pat::overlap_expiry(started, overlap_until - started, old.expires_at));
    pat::pg::with_owner_spi([&] {
        Datum values[2] = {UUIDPGetDatum(token_id), TimestampTzGetDatum(old_until)};
        if (revoke_now) {
            run(revoke_plan, values, nullptr, false, SPI_OK_UPDATE);
        } else {
            run(shorten_expiry_plan, values, nullptr, false, SPI_OK_UPDATE);
        }
    });
    return result;
}

}  // namespace

// pat_create(user_id, name, scopes, expires text): '30 days', '2027-03-01' or 'never'.
PAT_FUNCTION(pat_create_text) {
    text *expires = pat::pg::required_text(fcinfo, 3, "expires");
    return create_token(fcinfo, pat::pg::expiry_from_text(expires));
}

// pat_create(user_id, name, scopes, expires interval).
PAT_FUNCTION(pat_create_interval) {
    pat::pg::require_arg(fcinfo, 3, "expires");
    return create_token(fcinfo, pat::pg::expiry_from_interval(PG_GETARG_INTERVAL_P(3)));
}

// pat_create(user_id, name, scopes, expires timestamptz).
PAT_FUNCTION(pat_create_timestamptz) {
    pat::pg::require_arg(fcinfo, 3, "expires");
    return create_token(fcinfo, pat::pg::expiry_from_timestamptz(PG_GETARG_TIMESTAMPTZ(3)));
}

// pat_update(token_id, name, scopes): rename and/or replace the scopes (the rules of
// pat_create); never the expiry. A revoked token cannot be edited (55000).
PAT_FUNCTION(pat_update) {
    pg_uuid_t *token_id = pat::pg::token_id_argument(fcinfo, 0);
    LockedToken locked = lock_token(token_id);
    const pat::pg::TokenContext *context = require_own_token(locked);
    if (!locked.found) {
        throw_no_such_token(*token_id);
    }
    if (locked.revoked) {
        throw pat::Error(pat::sqlstate::kObjectNotInPrerequisiteState,
                         "token " + uuid_text(*token_id) + " is revoked and cannot be edited");
    }
    text *name = PG_ARGISNULL(1) ? nullptr : token_name_argument(fcinfo, 1);
    ArrayType *scopes =
        PG_ARGISNULL(2) ? nullptr : checked_scopes_argument(fcinfo, 2, locked.user_id, context);
    if (name != nullptr || scopes != nullptr) {
        pat::pg::with_owner_spi([&] {
            Datum values[3] = {UUIDPGetDatum(token_id), PointerGetDatum(name),
                               PointerGetDatum(scopes)};
            char nulls[4] = {' ', name ? ' ' : 'n', scopes ? ' ' : 'n', '\0'};
            run(update_plan, values, nulls, false, SPI_OK_UPDATE);
        });
    }
    PG_RETURN_VOID();
}

// pat_revoke(token_id): revoked at commit; false if it already was.
PAT_FUNCTION(pat_revoke) {
    pg_uuid_t *token_id = pat::pg::token_id_argument(fcinfo, 0);
    if (pat::pg::current_token_context() != nullptr) {
        require_own_token(lock_token(token_id));
    }
    struct Outcome {
        bool revoked;
        bool exists;
    };
    Outcome outcome = pat::pg::with_owner_spi([&] {
        Datum values[1] = {UUIDPGetDatum(token_id)};
        Outcome result = {run(revoke_plan, values, nullptr, false, SPI_OK_UPDATE) == 1, true};
        if (!result.revoked) {
            result.exists = run(exists_plan, values, nullptr, false, SPI_OK_SELECT) == 1;
        }
        return result;
    });
    if (!outcome.exists) {
        throw_no_such_token(*token_id);
    }
    PG_RETURN_BOOL(outcome.revoked);
}

// pat_revoke_all(user_id): revokes every active token of the user; how many.
PAT_FUNCTION(pat_revoke_all) {
    text *user_id = pat::pg::user_id_argument(fcinfo, 0);
    pat::pg::require_self_service(pat::pg::text_view(user_id));
    uint64 revoked = pat::pg::with_owner_spi([&] {
        Datum values[1] = {PointerGetDatum(user_id)};
        return run(revoke_all_plan, values, nullptr, false, SPI_OK_UPDATE);
    });
    PG_RETURN_INT32(static_cast<int32>(revoked));
}

// pat_list(user_id): the user's tokens, newest first, with last use (including what this node
// has not written out yet) and status, judged by the rule and clock validation uses.
PAT_FUNCTION(pat_list) {
    text *user_id = pat::pg::user_id_argument(fcinfo, 0);
    pat::pg::require_self_service(pat::pg::text_view(user_id));
    TupleDesc type = call_pg([&] { return pat::pg::result_type(fcinfo); });
    TimestampTz now = pat::pg::policy_clock();
    pat::pg::with_owner_spi([&] {
        Tuplestorestate *rows = pat::pg::begin_result_rows(fcinfo, type);
        Datum arguments[1] = {PointerGetDatum(user_id)};
        uint64 count = run(list_plan, arguments, nullptr, true, SPI_OK_SELECT);
        for (uint64 i = 0; i < count; ++i) {
            Datum values[8];
            bool nulls[8];
            heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
            // Last use: the later of the written one and what is still pending here.
            TimestampTz pending = 0;
            if (pat::pg::pending_last_use(*DatumGetUUIDP(values[0]), &pending) &&
                (nulls[5] || DatumGetTimestampTz(values[5]) < pending)) {
                values[5] = TimestampTzGetDatum(pending);
                nulls[5] = false;
            }
            pat::StoredTokenState state;
            state.revoked = !nulls[6];
            if (!nulls[4]) {
                state.expires_at = DatumGetTimestampTz(values[4]);
            }
            std::string_view status = pat::list_status(now, state);
            values[7] = PointerGetDatum(
                cstring_to_text_with_len(status.data(), static_cast<int>(status.size())));
            nulls[7] = false;
            tuplestore_putvalues(rows, type, values, nulls);
        }
    });
    return static_cast<Datum>(0);
}

// pat_rotate(token_id, expires text DEFAULT NULL, overlap interval DEFAULT '0'): NULL keeps the
// old token's lifetime.
PAT_FUNCTION(pat_rotate_text) {
    if (PG_ARGISNULL(1)) {
        return rotate_token(fcinfo, std::nullopt);
    }
    return rotate_token(fcinfo,
                        Asked(std::in_place, pat::pg::expiry_from_text(PG_GETARG_TEXT_PP(1))));
}

// pat_rotate(token_id, expires interval, overlap interval DEFAULT '0').
PAT_FUNCTION(pat_rotate_interval) {
    pat::pg::require_arg(fcinfo, 1, "expires");
    return rotate_token(
        fcinfo, Asked(std::in_place, pat::pg::expiry_from_interval(PG_GETARG_INTERVAL_P(1))));
}

// pat_rotate(token_id, expires timestamptz, overlap interval DEFAULT '0').
PAT_FUNCTION(pat_rotate_timestamptz) {
    pat::pg::require_arg(fcinfo, 1, "expires");
    return rotate_token(
        fcinfo, Asked(std::in_place, pat::pg::expiry_from_timestamptz(PG_GETARG_TIMESTAMPTZ(1))));
}

// pat_rotated_from(token_id): the token this one was rotated from; NULL for a first token.
// Inside a token context, only the user's own tokens.
PAT_FUNCTION(pat_rotated_from) {
    pg_uuid_t *token_id = pat::pg::token_id_argument(fcinfo, 0);
    struct Row {
        bool found;
        text *user_id;
        pg_uuid_t *rotated_from;
    };
    Row row = pat::pg::with_owner_spi([&] {
        Row found = {false, nullptr, nullptr};
        Datum values[1] = {UUIDPGetDatum(token_id)};
        if (run(rotated_from_plan, values, nullptr, true, SPI_OK_SELECT) == 1) {
            Datum columns[2];
            bool nulls[2];
            heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, columns, nulls);
            found.found = true;
            found.user_id = reinterpret_cast<text *>(SPI_datumTransfer(columns[0], false, -1));
            if (!nulls[1]) {
                found.rotated_from =
                    reinterpret_cast<pg_uuid_t *>(SPI_datumTransfer(columns[1], false, UUID_LEN));
            }
        }
        return found;
    });
    pat::pg::require_self_service(row.found ? pat::pg::text_view(row.user_id) : std::string_view());
    if (!row.found) {
        throw_no_such_token(*token_id);
    }
    if (row.rotated_from == nullptr) {
        PG_RETURN_NULL();
    }
    PG_RETURN_UUID_P(row.rotated_from);
}
