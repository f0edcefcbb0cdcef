// Rate limits and usage credits, decided from a few integers that can live in shared memory.
// Times are microseconds on any one epoch (the glue uses PostgreSQL's).
//
// A rate limit of `requests` per `per` is a GCRA (generic cell rate algorithm): the same
// decisions as a token bucket that holds `requests` checks, full at first, and refills
// continuously at `requests` per `per`. So a token may make `requests` checks at once, then one
// more every per/requests; over any span of length t it makes at most requests + t*requests/per.
// The state is one point in time (the theoretical arrival time), kept exactly: in units of
// 1/requests of a microsecond, so no rounding ever lets a check through that the rule refuses.
//
// A credit budget is a balance that each valid check spends one of. With a refill, the balance
// is set back to the refill amount at every multiple of the refill period after an anchor; the
// period a balance belongs to is stored with it, so a refill needs no write when it falls due.
#pragma once

#include <cstdint>
#include <optional>

namespace pat {

struct RateLimit {
    std::int32_t requests = 0;  // >= 1
    std::int64_t per = 0;       // microseconds, >= 1
};

// Why a limit cannot be set; ok when it can.
enum class RateLimitVerdict { ok, requests_not_positive, per_not_positive, per_too_long };
RateLimitVerdict check_rate_limit(std::int64_t requests, std::int64_t per) noexcept;

// Throws pat::Error (22023) with an actionable message for any verdict but ok.
void require_valid_rate_limit(RateLimitVerdict verdict);

// The theoretical arrival time in units of 1/requests of a microsecond: a 128-bit number kept
// as two 64-bit words (shared memory promises no 16-byte alignment), so that neither a clock at
// the end of its range nor a century's interval can make it wrap. A fresh state is at the
// earliest time: nothing spent. It is only meaningful with the limit it was computed for.
struct RateState {
    std::int64_t high = INT64_MIN;
    std::uint64_t low = 0;
};

struct RateDecision {
    bool allowed = false;
    // When refused: how long until the same check would be allowed, rounded up to a
    // microsecond (>= 1). 0 when allowed.
    std::int64_t retry_after = 0;
    // The state after this check: moved on when allowed, unchanged when refused.
    RateState next;
};

namespace rate_detail {

__extension__ typedef __int128 Wide;

// floor(a / b) for b > 0.
inline Wide floor_div(Wide a, Wide b) noexcept {
    Wide q = a / b;
    if (a % b != 0 && a < 0) {
        --q;
    }
    return q;
}

inline Wide value_of(const RateState &state) noexcept {
    return Wide(state.high) * (Wide(1) << 64) + Wide(state.low);
}

inline RateState state_of(Wide value) noexcept {
    RateState state;
    state.high = static_cast<std::int64_t>(floor_div(value, Wide(1) << 64));
    state.low = static_cast<std::uint64_t>(value - Wide(state.high) * (Wide(1) << 64));
    return state;
}

}  // namespace rate_detail

// Decides one check at now. Never overflows, whatever the limit and the times. Inline: it runs
// in every check of a limited token, inside the limiter's spinlock.
inline RateDecision decide_rate(const RateLimit &limit, const RateState &state,
                                std::int64_t now) noexcept {
    using rate_detail::Wide;
    RateDecision decision;
    decision.next = state;
    Wide now_scaled = Wide(now) * limit.requests;
    Wide arrival = rate_detail::value_of(state);
    if (arrival < now_scaled) {
        arrival = now_scaled;
    }
    // One check moves the arrival time on by the emission interval, per / requests of a
    // microsecond: per units. It conforms unless that puts it more than a whole interval
    // (per * requests units) ahead of now.
    Wide next = arrival + limit.per;
    Wide allowed_from = next - Wide(limit.per) * limit.requests;
    if (allowed_from > now_scaled) {
        Wide wait = allowed_from - now_scaled;
        Wide micros = (wait + limit.requests - 1) / limit.requests;
        decision.retry_after = micros > INT64_MAX ? INT64_MAX : static_cast<std::int64_t>(micros);
        return decision;
    }
    decision.allowed = true;
    decision.next = rate_detail::state_of(next);
    return decision;
}

// Whether state says no more than a fresh one would at now (the bucket is full again), so it
// can be forgotten without letting any check through that it would refuse.
bool rate_state_idle(const RateLimit &limit, const RateState &state, std::int64_t now) noexcept;

struct CreditPlan {
    std::int64_t refill_amount = 0;  // the balance each refill sets; >= 0
    std::int64_t refill_every = 0;   // microseconds; 0: never refilled
    std::int64_t anchor = 0;         // refills fall at anchor + k * refill_every, k >= 1
    bool refills() const noexcept { return refill_every > 0; }
};

// Why a budget cannot be set; ok when it can. refill_amount and refill_every come together.
enum class CreditVerdict {
    ok,
    remaining_negative,
    refill_amount_negative,
    refill_every_not_positive,
    refill_incomplete,
    refill_every_too_long,
};

// The longest interval a limit or refill may have: 1000 years (months of 30 days).
inline constexpr std::int64_t kLongestLimitInterval = 12000LL * 30 * 86400 * 1000000;
CreditVerdict check_credits(std::int64_t remaining, std::optional<std::int64_t> refill_amount,
                            std::optional<std::int64_t> refill_every) noexcept;

// Throws pat::Error (22023) with an actionable message for any verdict but ok.
void require_valid_credits(CreditVerdict verdict);

// The refill period now falls in: 0 from the anchor until the first refill, and 0 always
// without refills (or before the anchor).
std::int64_t credit_period(const CreditPlan &plan, std::int64_t now) noexcept;

struct CreditBalance {
    std::int64_t remaining = 0;  // >= 0
    std::int64_t period = 0;     // the refill period remaining belongs to
};

// The balance at now: refilled when a refill fell due since its period.
CreditBalance balance_at(const CreditPlan &plan, const CreditBalance &balance,
                         std::int64_t now) noexcept;

// What a token's check must satisfy beyond its status, as stored with it (plain data: it lives
// in the token caches, shared memory included).
// Packed (48 bytes): every backend keeps copies of its hot tokens within a fixed budget.
struct TokenLimits {
    static constexpr std::int64_t kNoCredits = INT64_MIN;

    std::int64_t rate_per = 0;
    std::int64_t user_rate_per = 0;  // its user's limit, across all of the user's tokens
    std::int32_t rate_requests = 0;  // 0: no limit
    std::int32_t user_rate_requests = 0;
    std::int64_t credits_version = kNoCredits;  // when the budget was set; the refill anchor
    std::int64_t refill_amount = 0;
    std::int64_t refill_every = 0;  // 0: no refill

    bool has_rate() const noexcept { return rate_requests > 0; }
    bool has_user_rate() const noexcept { return user_rate_requests > 0; }
    bool has_credits() const noexcept { return credits_version != kNoCredits; }
    bool any() const noexcept { return has_rate() || has_user_rate() || has_credits(); }
    RateLimit rate() const noexcept { return RateLimit{rate_requests, rate_per}; }
    RateLimit user_rate() const noexcept { return RateLimit{user_rate_requests, user_rate_per}; }
    CreditPlan plan() const noexcept {
        return CreditPlan{refill_amount, refill_every, credits_version};
    }
};

// Spends one credit at now: true and balance lowered by one (after any refill due), or false
// when none is left (balance still brought up to now). Never goes below zero.
bool spend_credit(const CreditPlan &plan, CreditBalance *balance, std::int64_t now) noexcept;

}  // namespace pat
