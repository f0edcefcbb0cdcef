// Notices: queueing (pat_queue_notices and the worker), taking (pat_take_notices) and the
// detection of reuse after rotation (pat.record_reuse_after_rotation, called by
// pat_merge_usage); see notices.hpp.
#include "pg/lifecycle/notices.hpp"

#include <vector>

#include "core/error.hpp"
#include "pg/tokens/api_support.hpp"
#include "pg/audit/audit_state.hpp"
#include "pg/audit/audit_writer.hpp"
#include "pg/bridge/convert.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/bridge/json_object.hpp"
#include "pg/bridge/result_rows.hpp"
#include "pg/bridge/schema_version.hpp"
#include "pg/bridge/spi_support.hpp"
#include "pg/tokens/token_context.hpp"

using pat::pg::call_pg;
using pat::pg::KeptPlan;

namespace {

const char kChannel[] = "pat_notices";

const char kInsertNotice[] =
    "INSERT INTO pat.notices (kind, user_id, token_id, token_name, due_at, details)"
    " VALUES ($1, $2, $3, $4, $5, COALESCE($6, '{}'::pg_catalog.jsonb))"
    " ON CONFLICT ON CONSTRAINT notices_token_kind_key DO NOTHING";
// Active tokens expiring in [$1, $2) (a round's range, core's expiry_round_ranges), with the kinds
// queued for each (the core finds nothing due for one given "expired": leaving those out here took
// a second probe of pat.notices per token, which doubled a full round); no successor (a rotated
// token is replaced, its owner knows). In (expires_at, token_id) order from a key, a batch at a
// time, so a round holds one batch in memory and each batch starts where the last ended (the row
// comparison implies expires_at >= $1, which is spelled out for tokens_expires_at_idx).
const char kExpiryCandidates[] =
    "SELECT t.token_id, t.user_id, t.name, t.created_at, t.expires_at,"
    " ARRAY(SELECT n.kind FROM pat.notices n WHERE n.token_id OPERATOR(pg_catalog.=) t.token_id)"
    " FROM pat.tokens t"
    " WHERE t.expires_at OPERATOR(pg_catalog.>=) $1 AND t.expires_at OPERATOR(pg_catalog.<) $2"
    " AND (t.expires_at, t.token_id) OPERATOR(pg_catalog.>) ($1, $3)"
    " AND t.revoked_at IS NULL"
    " AND NOT EXISTS (SELECT FROM pat.tokens s"
    "  WHERE s.rotated_from OPERATOR(pg_catalog.=) t.token_id)"
    " ORDER BY t.expires_at, t.token_id LIMIT $4";
// One batch of notices in one statement.
const char kInsertNotices[] =
    "INSERT INTO pat.notices (kind, user_id, token_id, token_name, due_at, details)"
    " SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
    " pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5),"
    " pg_catalog.unnest($6))"
    " ON CONFLICT ON CONSTRAINT notices_token_kind_key DO NOTHING";
// The oldest untaken notices no other taker holds, marked taken; in notice_id order.
const char kTakeNotices[] =
    "WITH picked AS MATERIALIZED ("
    "  SELECT n.notice_id FROM pat.notices n WHERE n.taken_at IS NULL"
    "  ORDER BY n.notice_id LIMIT $1 FOR UPDATE SKIP LOCKED),"
    " taken AS ("
    "  UPDATE pat.notices n SET taken_at = pg_catalog.now() FROM picked"
    "  WHERE n.notice_id OPERATOR(pg_catalog.=) picked.notice_id"
    "  RETURNING n.notice_id, n.kind, n.user_id, n.token_id, n.token_name, n.due_at, n.details)"
    " SELECT * FROM taken ORDER BY notice_id";
// Tokens refused (revoked or expired) that have a successor and no reuse notice yet.
const char kReusedTokens[] =
    "SELECT t.token_id, t.user_id, t.name, s.token_id FROM pat.tokens t"
    " CROSS JOIN LATERAL (SELECT s.token_id FROM pat.tokens s"
    "  WHERE s.rotated_from OPERATOR(pg_catalog.=) t.token_id"
    "  ORDER BY s.created_at LIMIT 1) s"
    " WHERE t.token_id OPERATOR(pg_catalog.=) ANY ($1)"
    " AND (t.revoked_at IS NOT NULL OR t.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now())"
    " AND NOT EXISTS (SELECT FROM pat.notices n"
    "  WHERE n.token_id OPERATOR(pg_catalog.=) t.token_id"
    "  AND n.kind OPERATOR(pg_catalog.=) 'reuse_after_rotation')";

KeptPlan insert_notice_plan = {
    kInsertNotice, 6, {TEXTOID, TEXTOID, UUIDOID, TEXTOID, TIMESTAMPTZOID, JSONBOID}};
KeptPlan expiry_candidates_plan = {
    kExpiryCandidates, 4, {TIMESTAMPTZOID, TIMESTAMPTZOID, UUIDOID, INT4OID}};
KeptPlan insert_notices_plan = {
    kInsertNotices,
    6,
    {TEXTARRAYOID, TEXTARRAYOID, UUIDARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, JSONBARRAYOID}};

constexpr int32 kExpiryBatch = 10000;
KeptPlan take_notices_plan = {kTakeNotices, 1, {INT4OID}};
KeptPlan reused_tokens_plan = {kReusedTokens, 1, {UUIDARRAYOID}};

// An expiring token as the expiry round reads it; palloc'd.
struct ExpiryCandidate {
    pg_uuid_t *token_id;
    text *user_id;
    text *name;
    TimestampTz created_at;
    TimestampTz expires_at;
    ArrayType *queued_kinds;  // the kinds queued for it so far
};

// Copies the SPI result's column as a palloc'd varlena/uuid in the caller's context.
template <typename T>
T *copied(Datum value, int length = -1) {
    return reinterpret_cast<T *>(DatumGetPointer(SPI_datumTransfer(value, false, length)));
}

}  // namespace

namespace pat::pg {

bool has_notices() {
    return call_pg([] { return schema_has(pat::schema_since::kNotices); });
}

char *uuid_cstring(pg_uuid_t *id) {
    return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

bool queue_notice(pat::NoticeKind kind, text *user_id, pg_uuid_t *token_id, text *token_name,
                  TimestampTz due_at, Jsonb *details) {
    std::string_view name = pat::notice_kind_name(kind);
    Datum values[6] = {PointerGetDatum(cstring_to_text_with_len(name.data(), name.size())),
                       PointerGetDatum(user_id),
                       UUIDPGetDatum(token_id),
                       PointerGetDatum(token_name),
                       TimestampTzGetDatum(due_at),
                       JsonbPGetDatum(details)};
    char nulls[7] = "      ";
    nulls[5] = details != nullptr ? ' ' : 'n';
    if (run_kept_plan(insert_notice_plan, values, nulls, false, SPI_OK_INSERT) == 0) {
        return false;
    }
    Async_Notify(kChannel, "");
    return true;
}

bool record_token_event(pat::NoticeKind kind, HeapTuple tuple, TupleDesc desc, TimestampTz due_at,
                        Jsonb *details) {
    bool is_null = false;
    auto *token_id = DatumGetUUIDP(SPI_getbinval(tuple, desc, 1, &is_null));
    text *user_id = DatumGetTextPP(SPI_getbinval(tuple, desc, 2, &is_null));
    text *name = DatumGetTextPP(SPI_getbinval(tuple, desc, 3, &is_null));
    if (!queue_notice(kind, user_id, token_id, name, due_at, details)) {
        return false;
    }
    std::string_view action = pat::notice_kind_name(kind);
    register_audit_callbacks();
    append_token_audit(pnstrdup(action.data(), action.size()), user_id, token_id, name, nullptr,
                       details);
    return true;
}

namespace {

// Queues the notices due at now of the tokens expiring in range, a batch at a time.
ExpiryRound queue_in_range(TimestampTz now, pat::ExpiresRange range) {
    struct Candidates {
        ExpiryCandidate *rows;
        uint64 count;
    };
    TimestampTz from = range.from;
    pg_uuid_t after = {};  // the nil uuid: before every token expiring at from
    ExpiryRound round = {0, 0};
    for (;;) {
        Candidates found = with_owner_spi([&] {
            Datum arguments[4] = {TimestampTzGetDatum(from), TimestampTzGetDatum(range.to),
                                  UUIDPGetDatum(&after), Int32GetDatum(kExpiryBatch)};
            uint64 count =
                run_kept_plan(expiry_candidates_plan, arguments, nullptr, true, SPI_OK_SELECT);
            // In the caller's memory, as SPI_datumTransfer puts the values: SPI's goes at its end.
            auto *rows =
                static_cast<ExpiryCandidate *>(SPI_palloc(sizeof(ExpiryCandidate) * (count + 1)));
            for (uint64 i = 0; i < count; ++i) {
                Datum columns[6];
                bool nulls[6];
                heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, columns, nulls);
                rows[i].token_id = copied<pg_uuid_t>(columns[0], UUID_LEN);
                rows[i].user_id = copied<text>(columns[1]);
                rows[i].name = copied<text>(columns[2]);
                rows[i].created_at = DatumGetTimestampTz(columns[3]);
                rows[i].expires_at = DatumGetTimestampTz(columns[4]);
                rows[i].queued_kinds = reinterpret_cast<ArrayType *>(DatumGetPointer(
                    SPI_datumTransfer(PointerGetDatum(DatumGetArrayTypeP(columns[5])), false, -1)));
            }
            return Candidates{rows, count};
        });
        if (found.count == 0) {
            break;
        }
        round.read += static_cast<int64>(found.count);

        // The core decides which notice each is due, if any.
        std::vector<uint64> due_rows;
        std::vector<pat::NoticeKind> due_kinds;
        for (uint64 i = 0; i < found.count; ++i) {
            std::vector<pat::NoticeKind> queued_kinds;
            for (const std::optional<std::string> &name :
                 text_array_elements(found.rows[i].queued_kinds)) {
                if (name) {
                    if (std::optional<pat::NoticeKind> kind = pat::notice_kind_named(*name)) {
                        queued_kinds.push_back(*kind);
                    }
                }
            }
            if (std::optional<pat::NoticeKind> due = pat::due_expiry_notice(
                    found.rows[i].created_at, found.rows[i].expires_at, now, queued_kinds)) {
                due_rows.push_back(i);
                due_kinds.push_back(*due);
            }
        }

        if (!due_rows.empty()) {
            round.queued += with_owner_spi([&] {
                int n = static_cast<int>(due_rows.size());
                auto column = [n] { return static_cast<Datum *>(palloc(sizeof(Datum) * n)); };
                Datum *kinds = column(), *users = column(), *ids = column(), *names = column(),
                      *due_ats = column(), *details = column();
                for (int k = 0; k < n; ++k) {
                    const ExpiryCandidate &row = found.rows[due_rows[k]];
                    std::string_view kind = pat::notice_kind_name(due_kinds[k]);
                    kinds[k] = PointerGetDatum(cstring_to_text_with_len(kind.data(), kind.size()));
                    users[k] = PointerGetDatum(row.user_id);
                    ids[k] = UUIDPGetDatum(row.token_id);
                    names[k] = PointerGetDatum(row.name);
                    due_ats[k] = TimestampTzGetDatum(
                        pat::expiry_notice_due_at(due_kinds[k], row.expires_at));
                    JsonObject object;
                    object.add_timestamptz("expires_at",
                                           Field{TimestampTzGetDatum(row.expires_at), false});
                    details[k] = JsonbPGetDatum(object.finish());
                }
                Datum arrays[6] = {
                    PointerGetDatum(construct_array(kinds, n, TEXTOID, -1, false, TYPALIGN_INT)),
                    PointerGetDatum(construct_array(users, n, TEXTOID, -1, false, TYPALIGN_INT)),
                    PointerGetDatum(
                        construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR)),
                    PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT)),
                    PointerGetDatum(construct_array(due_ats, n, TIMESTAMPTZOID, sizeof(TimestampTz),
                                                    FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
                    PointerGetDatum(
                        construct_array(details, n, JSONBOID, -1, false, TYPALIGN_INT))};
                int inserted = static_cast<int>(
                    run_kept_plan(insert_notices_plan, arrays, nullptr, false, SPI_OK_INSERT));
                if (inserted > 0) {
                    Async_Notify(kChannel, "");
                }
                return inserted;
            });
        }
        if (found.count < static_cast<uint64>(kExpiryBatch)) {
            break;
        }
        const ExpiryCandidate &last = found.rows[found.count - 1];
        from = last.expires_at;
        after = *last.token_id;
    }
    return round;
}

}  // namespace

ExpiryRound queue_expiry_notices(TimestampTz now, std::optional<TimestampTz> since) {
    ExpiryRound total = {0, 0};
    for (pat::ExpiresRange range : pat::expiry_round_ranges(now, since)) {
        ExpiryRound round = queue_in_range(now, range);
        total.queued += round.queued;
        total.read += round.read;
    }
    return total;
}

}  // namespace pat::pg

// pat_queue_notices(): queues the expiry notices due now; how many. The worker does the same
// every pat.lifecycle_interval.
PAT_FUNCTION(pat_queue_notices) {
    pat::pg::require_outside_token_context("pat_queue_notices");
    PG_RETURN_INT32(
        pat::pg::queue_expiry_notices(GetCurrentTransactionStartTimestamp(), std::nullopt).queued);
}

// pat_take_notices(max DEFAULT 100): up to max untaken notices, oldest first, marked taken. Rows
// another transaction is taking are skipped, so concurrent takers never get the same notice;
// a rollback leaves them untaken.
PAT_FUNCTION(pat_take_notices) {
    pat::pg::require_outside_token_context("pat_take_notices");
    pat::pg::require_arg(fcinfo, 0, "max");
    int32 max = PG_GETARG_INT32(0);
    pat::require_notice_batch(max);
    TupleDesc type = call_pg([&] { return pat::pg::result_type(fcinfo); });
    pat::pg::with_owner_spi([&] {
        Tuplestorestate *rows = pat::pg::begin_result_rows(fcinfo, type);
        Datum arguments[1] = {Int32GetDatum(max)};
        (void)pat::pg::run_kept_plan(take_notices_plan, arguments, nullptr, false, SPI_OK_SELECT);
        pat::pg::put_spi_rows(rows, type);
    });
    return static_cast<Datum>(0);
}

// pat.record_reuse_after_rotation(token_ids): of the tokens whose checks were refused (revoked
// or expired), those that rotation replaced get audit action reuse_after_rotation and a notice,
// once each. The live successor is left alone: whoever replays an old token must not be able to
// cut the real client off. How many were recorded.
PAT_FUNCTION(pat_record_reuse_after_rotation) {
    ArrayType *token_ids = PG_GETARG_ARRAYTYPE_P(0);
    int recorded = pat::pg::with_owner_spi([&] {
        Datum arguments[1] = {PointerGetDatum(token_ids)};
        uint64 count =
            pat::pg::run_kept_plan(reused_tokens_plan, arguments, nullptr, false, SPI_OK_SELECT);
        SPITupleTable *reused = SPI_tuptable;  // SPI keeps it while the inserts below run
        int n = 0;
        for (uint64 i = 0; i < count; ++i) {
            bool is_null = false;
            char *successor = pat::pg::uuid_cstring(
                DatumGetUUIDP(SPI_getbinval(reused->vals[i], reused->tupdesc, 4, &is_null)));
            pat::pg::JsonObject details;
            details.add_string("rotated_to", successor);
            if (!pat::pg::record_token_event(pat::NoticeKind::kReuseAfterRotation, reused->vals[i],
                                             reused->tupdesc, GetCurrentTimestamp(),
                                             details.finish())) {
                continue;
            }
            ereport(LOG, (errmsg("pg_pat: token %s was used after rotation replaced it with %s",
                                 SPI_getvalue(reused->vals[i], reused->tupdesc, 1), successor),
                          errhint("The owner has a notice (reuse_after_rotation); the new token "
                                  "keeps working.")));
            ++n;
        }
        SPI_freetuptable(reused);
        return n;
    });
    PG_RETURN_INT32(recorded);
}
