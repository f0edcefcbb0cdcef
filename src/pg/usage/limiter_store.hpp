// Rate limits and credits enforced in shared memory by the check itself: no write, no
// transaction id, no WAL, on a primary or a standby (each server keeps its own window).
//
// One entry per (database, token) that has a rate limit or credits, and per (database, user)
// with a user-wide rate limit. An entry holds the limit's GCRA state and the token's credit
// balance with what was spent of it since the balance was last written out (by the usage
// worker, with usage). Memory is bounded by pat.rate_limit_max_entries. An entry that says no
// more than its absence would (a rate state whose bucket is full again, a balance that holds
// nothing unwritten) is reclaimed when room is needed. When no entry can be made even then, the
// check is refused as rate_limited (fail closed, counted, warned about): a limited token is never
// let through unlimited.
#pragma once

#include <optional>

#include "pg/bridge/postgres.hpp"

#include "core/rate_limit.hpp"

namespace pat::pg {

// A token's limiter state is found through a guess at its slot, carried by the token caches'
// entries: this guesses nothing.
constexpr uint32 kUnknownLimiterSlot = PG_UINT32_MAX;

// A token's budget as stored: the balance last written out, the refill period it belongs to,
// and the plan. version tells budgets apart: setting a budget again gives a new version, and
// shared memory then forgets what it spent of the old one.
struct StoredCredits {
    std::int64_t version = 0;
    pat::CreditPlan plan;
    pat::CreditBalance balance;
};

// What one check of a token must satisfy, beside its status.
struct LimitsToEnforce {
    pg_uuid_t token_id = {};
    std::optional<pat::RateLimit> token_limit;
    // The user's limit across all of its tokens, and the user (not stored: hashed into the key).
    std::optional<pat::RateLimit> user_limit;
    const char *user_id = nullptr;
    int user_id_length = 0;
    std::optional<StoredCredits> credits;
    // Whether credits->balance was read from the table. Without it, a check that finds no entry
    // for this budget asks for it (balance_needed) rather than read a table under a lock.
    bool balance_known = false;
    // Where the token's state was last found (LimitOutcome::token_slot), or kUnknownLimiterSlot.
    // Only a guess: the slot is used if it still holds this token's state.
    uint32 token_slot_hint = kUnknownLimiterSlot;
};

enum class LimitVerdict { allowed, rate_limited, usage_exceeded, balance_needed };

struct LimitOutcome {
    LimitVerdict verdict = LimitVerdict::allowed;
    // rate_limited: how long until the same check could pass (microseconds, >= 1).
    std::int64_t retry_after = 0;
    // With credits: what is left after this check (nullopt without credits).
    std::optional<std::int64_t> remaining;
    // Where the token's state was found, for the next check's guess; kUnknownLimiterSlot when
    // the token has none.
    uint32 token_slot = kUnknownLimiterSlot;
};

// Asks the processor to fetch the state in slot (a token's guess) while the check does other
// work, so that deciding the limits later finds it in cache. Does nothing for
// kUnknownLimiterSlot.
void prefetch_limiter_slot(uint32 slot);

// Defines nothing itself (pat.rate_limit_max_entries is in settings) and adds the store to the
// shared segment; from _PG_init only.
void setup_limiter_store();

// Decides one otherwise valid check at now and, when it passes, spends it: the rate states move
// on and a credit is spent, all under the entries' locks, so two checks of the same token
// never both spend its last credit. A check refused by either rate limit spends nothing; one
// refused for credits still counts against the rate limits (it was a request).
LimitOutcome enforce_limits(const LimitsToEnforce &limits, TimestampTz now);

// The credit balance of token_id as shared memory has it (with any refill due at now), or
// nullopt when it holds none for it (then the stored one is current).
std::optional<std::int64_t> current_credits(const pg_uuid_t &token_id, const StoredCredits &stored,
                                            TimestampTz now);

// A balance to write out: what shared memory spent since the last write.
struct UnwrittenCredits {
    pg_uuid_t token_id;
    std::int64_t version;
    pat::CreditBalance balance;
    std::int64_t spent;  // since the last write
};

// This database's balances with unwritten spending, up to max of them, into out; how many.
// Their spending is now in flight: the entry is kept (not reclaimed) until finish_credit_write
// says whether the write committed (then the stored balance is current) or not (then the
// spending is unwritten again).
int take_unwritten_credits(UnwrittenCredits *out, int max);
void finish_credit_write(const UnwrittenCredits *credits, int count, bool committed);

// Checks refused because no entry could be made (the store was full of live state), since the
// last call; resets the count.
uint64 take_limiter_full_refusals();

// Entries held now, and the most there may be (pat.rate_limit_max_entries).
struct LimiterStats {
    int64 entries;
    int64 capacity;
};
LimiterStats limiter_stats();

}  // namespace pat::pg
