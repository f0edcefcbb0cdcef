// A per-backend cache of stored tokens, keyed by digest, and of what each user's roles allow, so
// that checking a token a backend has seen touches no table, and the first check of a token of
// a known user reads one index entry.
//
// Invalidation is per token and per user (cache_signal.hpp): a committed revoke or edit of a
// token drops that token from every backend's cache, a role granted or revoked drops that
// user's entries; only (re)defining scopes or roles, or a TRUNCATE, drops everything. Every
// lookup first accepts pending invalidations, so the next check after a commit sees it.
//
// The cache is bounded both in entries (pat.token_cache_size) and in bytes
// (pat.token_cache_memory). When either fills, entries not used since the previous sweep are
// evicted (a batched second-chance policy), then others until a quarter is free.
#pragma once

#include "pg/bridge/postgres.hpp"

#include <string_view>

#include "core/digest.hpp"

namespace pat::pg {

// A token as the validate path needs it. Lives in the cache's memory (or the caller's context
// when it is not cached) until the next find_token() call.
struct CachedToken {
    pat::Digest digest;  // the hash key: must stay first
    pg_uuid_t token_id;
    text *user_id;
    text *name;
    ArrayType *scopes;                      // effective scopes, sorted: the token's own scopes that
                                            // the user's roles still allow
    const std::string_view *sorted_scopes;  // the same, for membership tests
    int scope_count;
    bool has_expiry;
    TimestampTz expires_at;
    bool revoked;
    // Bookkeeping: the signal slots the entry was read under, and their generations then.
    uint32 token_slot;
    uint32 token_generation;
    uint32 user_slot;
    uint32 user_generation;
    void *payload;  // one allocation holding the varlena values and the views above
    Size bytes;     // what the entry costs against pat.token_cache_memory
    bool referenced;
};

// The token stored under digest, or nullptr when there is none.
CachedToken *find_token(const pat::Digest &digest);

// Sorted, distinct scope names, valid until the next find_token() or find_user_grants() call.
struct ScopeList {
    const std::string_view *items;
    int count;
};

// What a user may grant now (policy.hpp's rule over the latest committed state, and this
// transaction's own changes), and every defined scope. The same cached data validation uses.
struct UserGrants {
    ScopeList grantable;
    ScopeList defined;
};

// The user's grants.
UserGrants find_user_grants(text *user_id);

// Every defined scope.
ScopeList find_defined_scopes();

// This backend's cache, for pat_token_cache_stats().
struct TokenCacheStats {
    int64 tokens;
    int64 users;
    int64 bytes;
    int64 hits;     // checks answered from the cache
    int64 misses;   // lookups that read the tables (first checks, unknown tokens)
    int64 dropped;  // entries dropped because a committed change reached them
    int64 evicted;  // entries evicted to stay within the bounds
    int64 resets;   // times the whole cache was dropped
};
TokenCacheStats token_cache_stats();

// Registers the relcache callback and defines the cache's settings; called from _PG_init.
void setup_token_cache();

}  // namespace pat::pg
