// Usage kept in shared memory: every check is counted here, by the validating backend, and
// written to the tables later by pg_pat's maintenance worker (usage_worker.hpp) or by
// pat_flush_usage(). A check therefore writes no table, takes no transaction id and generates
// no WAL, on a primary or a standby, at any isolation level.
//
// One entry per (database, UTC day, token); database-wide entries (a zero token id) count
// malformed and unknown tokens, and the checks of tokens that found the table full (with their
// last use, which pat.max_inactivity heeds). Memory is bounded by pat.usage_max_entries; a check
// that fits nowhere is counted as lost and reported, and the time of the latest lost use kept.
#pragma once

#include <optional>

#include "pg/bridge/postgres.hpp"

#include "core/status.hpp"
#include "core/usage.hpp"

namespace pat::pg {

struct UsageKey {
    Oid database;
    int32 day;           // days since 2000-01-01, UTC
    pg_uuid_t token_id;  // all zero: the whole database
};

struct UsageEntry {
    UsageKey key;  // the hash key: must stay first
    pat::UsageTally tally;
};

// Whether key counts for the whole database rather than one token.
bool is_database_wide(const UsageKey &key);

// Defines pat.usage_max_entries and adds the store to the shared segment; from _PG_init only.
void setup_usage_store();

// Whether this database's pg_pat keeps usage: without pat.token_checks and pat_merge_usage(),
// which the worker writes through (schema_since::kTokenChecks), nothing could ever write a check
// out. May ereport (schema_version()).
bool usage_kept_here();

// Counts one check of token_id (nullptr when no stored token was found) at now, unless this
// database keeps no usage; a valid one notes the client address, if given, among the token's
// recent ones. May ereport (usage_kept_here).
void count_check(const pg_uuid_t *token_id, pat::TokenStatus status, TimestampTz now,
                 const pat::IpAddress *address = nullptr);

// Removes this database's pending entries and returns them, allocated in memory; *count is
// set.
UsageEntry *take_pending(Oid database, MemoryContext memory, int *count);

// Adds entries back (a flush that failed), merging with whatever arrived meanwhile.
void put_back(const UsageEntry *entries, int count);

// The pending tally of token_id on day, or false when none is pending.
bool pending_tally(Oid database, const pg_uuid_t &token_id, int32 day, pat::UsageTally *tally);

// Notes in *tally the client addresses of token_id's entries in this database not written out
// yet, every pending day's.
void pending_addresses(const pg_uuid_t &token_id, pat::UsageTally *tally);

// The earliest day any pending entry has; later than today when nothing is pending.
int32 oldest_pending_day();

// The latest use of token_id in this database not written out yet, or false when none.
bool pending_last_use(const pg_uuid_t &token_id, TimestampTz *last_used);

// The databases that have pending entries, up to max of them, into databases; how many.
int databases_with_pending(Oid *databases, int max);

// Checks that could be kept nowhere since the last call (and resets the count).
uint64 take_lost_checks();

// Checks of tokens that found the table full, counted for their database without the token,
// since the last call (and resets the count).
uint64 take_unattributed_checks();

// The latest valid check that could be kept nowhere (not even for its database), since the
// server started (a clean restart keeps it); nullopt when none was lost.
std::optional<TimestampTz> latest_lost_use();

// Whether the table filling up has asked for a round before the interval is over (it wakes the
// launcher too); take_ also clears the request. The request outlives the latch: the latch is
// set for PostgreSQL's own reasons too.
bool early_flush_requested();
bool take_early_flush_request();

}  // namespace pat::pg
