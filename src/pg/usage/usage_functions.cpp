// SQL functions over usage: writing it out now, and reading what is still in shared memory.
#include <algorithm>

#include "core/usage.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/usage/usage_flush.hpp"
#include "pg/usage/usage_store.hpp"

namespace {

// Today's day number, as the usage table keys it.
int32 today() {
    return pat::day_of(GetCurrentTransactionStartTimestamp());
}

}  // namespace

// pat_flush_usage(): writes this database's pending usage now; how many tokens it wrote.
PAT_FUNCTION(pat_flush_usage) {
    PG_RETURN_INT32(pat::pg::flush_usage());
}

// pat.pending_last_use(token_id): the latest use this node has not written out yet, or NULL.
PAT_FUNCTION(pat_pending_last_use) {
    TimestampTz last_used = 0;
    if (!pat::pg::pending_last_use(*PG_GETARG_UUID_P(0), &last_used)) {
        PG_RETURN_NULL();
    }
    PG_RETURN_TIMESTAMPTZ(last_used);
}

// pat.pending_checks(token_id, since): (day, outcome, checks) not written out yet, per day
// from since on and per outcome; token_id NULL: the database-wide counts.
PAT_FUNCTION(pat_pending_checks) {
    pg_uuid_t token_id = {};
    if (!PG_ARGISNULL(0)) {
        token_id = *PG_GETARG_UUID_P(0);
    }
    int32 since = PG_ARGISNULL(1) ? PG_INT32_MIN : PG_GETARG_DATEADT(1);
    InitMaterializedSRF(fcinfo, 0);
    auto *result = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    int32 first = std::max(since, pat::pg::oldest_pending_day());
    for (int32 day = first; day <= today() + 1; ++day) {
        pat::UsageTally tally;
        if (!pat::pg::pending_tally(MyDatabaseId, token_id, day, &tally)) {
            continue;
        }
        for (int o = 0; o < pat::kOutcomeCount; ++o) {
            if (tally.checks[o] == 0) {
                continue;
            }
            std::string_view outcome = pat::status_name(pat::outcome_at(o));
            Datum values[3] = {
                DateADTGetDatum(day),
                PointerGetDatum(cstring_to_text_with_len(outcome.data(), outcome.size())),
                Int64GetDatum(static_cast<int64>(tally.checks[o]))};
            bool nulls[3] = {false, false, false};
            tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
        }
    }
    return (Datum)0;
}

// pat.require_preloaded(): nothing; loading the library already failed unless preloaded.
PAT_FUNCTION(pat_require_preloaded) {
    PG_RETURN_VOID();
}
