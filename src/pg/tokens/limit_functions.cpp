// The C parts of the SQL functions that set and read rate limits and credits (40-functions.sql):
// the argument rules of the core (rate_limit.hpp), and a budget's balance now.
#include "core/error.hpp"
#include "core/rate_limit.hpp"
#include "core/time_range.hpp"
#include "pg/bridge/guard.hpp"
#include "pg/usage/limiter_store.hpp"

namespace {

// An interval argument in microseconds; anything that overflows (infinite intervals too: their
// fields are at their extremes) counts as too long.
int64 interval_argument(FunctionCallInfo fcinfo, int index) {
    const Interval *value = PG_GETARG_INTERVAL_P(index);
    return pat::interval_span(value->month, value->day, value->time).value_or(INT64_MAX);
}

}  // namespace

// pat.require_rate_limit(requests, per): 22023 unless a limit can be set (NULL requests, which
// removes it, always can); 22004 for requests without an interval.
PAT_FUNCTION(pat_require_rate_limit) {
    if (PG_ARGISNULL(0)) {
        PG_RETURN_VOID();
    }
    if (PG_ARGISNULL(1)) {
        throw pat::Error(
            pat::sqlstate::kNullValueNotAllowed, "per must not be null", {},
            "Give an interval such as '1 minute', or NULL requests to remove the limit.");
    }
    pat::require_valid_rate_limit(
        pat::check_rate_limit(PG_GETARG_INT32(0), interval_argument(fcinfo, 1)));
    PG_RETURN_VOID();
}

// pat.require_credits(remaining, refill_amount, refill_every): 22023 unless a budget can be set.
PAT_FUNCTION(pat_require_credits) {
    if (PG_ARGISNULL(0)) {
        PG_RETURN_VOID();
    }
    std::optional<int64> amount;
    std::optional<int64> every;
    if (!PG_ARGISNULL(1)) {
        amount = PG_GETARG_INT64(1);
    }
    if (!PG_ARGISNULL(2)) {
        every = interval_argument(fcinfo, 2);
    }
    pat::require_valid_credits(pat::check_credits(PG_GETARG_INT64(0), amount, every));
    PG_RETURN_VOID();
}

// pat.credit_period(set_at, refill_every): the refill period now falls in.
PAT_FUNCTION(pat_credit_period) {
    pat::CreditPlan plan;
    plan.anchor = PG_GETARG_TIMESTAMPTZ(0);
    plan.refill_every = interval_argument(fcinfo, 1);
    PG_RETURN_INT64(pat::credit_period(plan, GetCurrentTimestamp()));
}

// pat.next_refill_at(set_at, refill_every): when the next refill falls due; NULL without one, or
// past the end of timestamptz's range.
PAT_FUNCTION(pat_next_refill_at) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) {
        PG_RETURN_NULL();
    }
    pat::CreditPlan plan;
    plan.anchor = PG_GETARG_TIMESTAMPTZ(0);
    plan.refill_every = interval_argument(fcinfo, 1);
    __int128 next = static_cast<__int128>(plan.anchor) +
                    static_cast<__int128>(pat::credit_period(plan, GetCurrentTimestamp()) + 1) *
                        plan.refill_every;
    if (next >= pat::kTimestampEnd) {
        PG_RETURN_NULL();
    }
    PG_RETURN_TIMESTAMPTZ(static_cast<TimestampTz>(next));
}

// pat.current_credits(token_id, credits_set_at, credits_remaining, credits_period,
// refill_amount, refill_every): the balance now, as this server's shared memory has it, else the
// stored one with any refill due since; NULL without a budget.
PAT_FUNCTION(pat_current_credits) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2)) {
        PG_RETURN_NULL();
    }
    pat::pg::StoredCredits stored;
    stored.version = PG_GETARG_TIMESTAMPTZ(1);
    stored.plan.anchor = stored.version;
    stored.balance.remaining = PG_GETARG_INT64(2);
    stored.balance.period = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3);
    if (!PG_ARGISNULL(4) && !PG_ARGISNULL(5)) {
        stored.plan.refill_amount = PG_GETARG_INT64(4);
        stored.plan.refill_every = interval_argument(fcinfo, 5);
    }
    TimestampTz now = GetCurrentTimestamp();
    std::optional<int64> live = pat::pg::current_credits(*PG_GETARG_UUID_P(0), stored, now);
    PG_RETURN_INT64(live ? *live : pat::balance_at(stored.plan, stored.balance, now).remaining);
}
