// Rate limits and credits; see rate_limit.hpp.
//
// The arithmetic runs in 128 bits: a time (64 bits) times a request count (31 bits), plus an
// interval times the count, fits with room to spare, so no limit, interval or clock can wrap.
#include "rate_limit.hpp"

#include "error.hpp"

namespace pat {

using rate_detail::value_of;
using rate_detail::Wide;

RateLimitVerdict check_rate_limit(std::int64_t requests, std::int64_t per) noexcept {
    if (requests < 1 || requests > INT32_MAX) {
        return RateLimitVerdict::requests_not_positive;
    }
    if (per < 1) {
        return RateLimitVerdict::per_not_positive;
    }
    if (per > kLongestLimitInterval) {
        return RateLimitVerdict::per_too_long;
    }
    return RateLimitVerdict::ok;
}

void require_valid_rate_limit(RateLimitVerdict verdict) {
    switch (verdict) {
        case RateLimitVerdict::ok:
            return;
        case RateLimitVerdict::requests_not_positive:
            throw Error(sqlstate::kInvalidParameterValue,
                        "a rate limit must allow at least one request", {},
                        "Give requests of 1 or more, or NULL to remove the limit; to refuse every "
                        "check, revoke the token.");
        case RateLimitVerdict::per_not_positive:
            throw Error(sqlstate::kInvalidParameterValue,
                        "a rate limit's interval must be positive", {},
                        "Give an interval of at least one microsecond, such as '1 minute'.");
        case RateLimitVerdict::per_too_long:
            throw Error(sqlstate::kInvalidParameterValue,
                        "a rate limit's interval must be at most 1000 years");
    }
    throw Error(sqlstate::kInternalError, "unknown rate limit verdict");
}

bool rate_state_idle(const RateLimit &limit, const RateState &state, std::int64_t now) noexcept {
    return value_of(state) <= Wide(now) * limit.requests;
}

CreditVerdict check_credits(std::int64_t remaining, std::optional<std::int64_t> refill_amount,
                            std::optional<std::int64_t> refill_every) noexcept {
    if (remaining < 0) {
        return CreditVerdict::remaining_negative;
    }
    if (refill_amount.has_value() != refill_every.has_value()) {
        return CreditVerdict::refill_incomplete;
    }
    if (refill_amount && *refill_amount < 0) {
        return CreditVerdict::refill_amount_negative;
    }
    if (refill_every && *refill_every < 1) {
        return CreditVerdict::refill_every_not_positive;
    }
    if (refill_every && *refill_every > kLongestLimitInterval) {
        return CreditVerdict::refill_every_too_long;
    }
    return CreditVerdict::ok;
}

void require_valid_credits(CreditVerdict verdict) {
    switch (verdict) {
        case CreditVerdict::ok:
            return;
        case CreditVerdict::remaining_negative:
            throw Error(sqlstate::kInvalidParameterValue, "remaining credits cannot be negative",
                        {}, "Give 0 or more, or NULL to remove the budget.");
        case CreditVerdict::refill_amount_negative:
            throw Error(sqlstate::kInvalidParameterValue, "a refill amount cannot be negative");
        case CreditVerdict::refill_every_not_positive:
            throw Error(sqlstate::kInvalidParameterValue, "a refill period must be positive", {},
                        "Give an interval of at least one microsecond, such as '1 day'.");
        case CreditVerdict::refill_incomplete:
            throw Error(sqlstate::kInvalidParameterValue,
                        "a refill needs both an amount and a period", {},
                        "Give refill_amount and refill_every together, or neither.");
        case CreditVerdict::refill_every_too_long:
            throw Error(sqlstate::kInvalidParameterValue,
                        "a refill period must be at most 1000 years");
    }
    throw Error(sqlstate::kInternalError, "unknown credit verdict");
}

std::int64_t credit_period(const CreditPlan &plan, std::int64_t now) noexcept {
    if (!plan.refills() || now < plan.anchor) {
        return 0;
    }
    // now - anchor may need 65 bits, and so may the period count with a 1 µs period.
    Wide period = (Wide(now) - plan.anchor) / plan.refill_every;
    return period > INT64_MAX ? INT64_MAX : static_cast<std::int64_t>(period);
}

CreditBalance balance_at(const CreditPlan &plan, const CreditBalance &balance,
                         std::int64_t now) noexcept {
    std::int64_t period = credit_period(plan, now);
    if (plan.refills() && period > balance.period) {
        return CreditBalance{plan.refill_amount, period};
    }
    return balance;
}

bool spend_credit(const CreditPlan &plan, CreditBalance *balance, std::int64_t now) noexcept {
    *balance = balance_at(plan, *balance, now);
    if (balance->remaining <= 0) {
        balance->remaining = 0;
        return false;
    }
    --balance->remaining;
    return true;
}

}  // namespace pat
