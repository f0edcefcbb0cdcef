// The token cache: stored tokens keyed by digest, and what each user's roles allow, so that
// checking a token any backend of the server has checked touches no table, and the first check
// of a token of a user this backend knows reads one index entry.
//
// Tokens are kept in one table in shared memory for the whole server, sized at start by
// pat.token_cache_memory, so memory does not grow with connections and a new connection starts
// warm; their scope sets are interned there (shared_tokens.hpp), and each backend keeps copies
// of the entries it checked last (hot_tokens.hpp, under 320 kB). Each backend keeps beside it
// users' grants, the defined scopes and the rare token too big for a shared entry (at most 512 kB,
// and pat.token_cache_size entries); on a standby, where no commit of ours runs, each backend keeps
// every token itself, as bounded by pat.token_cache_memory.
//
// Invalidation is per token and per user (cache_signal.hpp, cache_generations.hpp): a committed
// revoke or edit of a token drops that token, and of a token with children its user's entries
// too (a delegated token is its parent's user's, and answers as its weakest ancestor), a role
// granted or revoked drops that user's entries; only (re)defining scopes or roles, a TRUNCATE or
// DDL drops everything. The next check after a commit sees it, in every session; token_cache.cpp
// gives the argument.
//
// When a cache fills, entries not used since the previous sweep are evicted (a batched
// second-chance policy), then others until a quarter is free.
#pragma once

#include "pg/bridge/postgres.hpp"

#include <string_view>

#include "core/digest.hpp"
#include "core/rate_limit.hpp"

namespace pat::pg {

// The words (cache_generations.hpp) an entry was read under, and the slots they belong to.
struct EntryWords {
    uint32 token_slot;
    uint32 user_slot;
    uint64 token_word;
    uint64 user_word;
    uint64 everything_word;
};

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
    bool revoked;       // it, or an ancestor (token_store.hpp)
    bool organization;  // an organization's token: user_id is an account id
    bool delegated;     // made by pat_delegate
    bool suspended;     // it, or an ancestor (token_store.hpp)
    // Its networks, resource bindings and metadata, encoded (core/restrictions.hpp), in the
    // payload after the views; nullptr for a token without any.
    const varlena *restrictions;
    pat::TokenLimits limits;
    // Where the limiter kept the token's state at its last check (limiter_store.hpp), a guess it
    // verifies; and where the shared table keeps that guess for every backend, so that a check
    // finding the state elsewhere corrects it there (nullptr for an entry of the backend's own).
    uint32 limiter_slot;
    pg_atomic_uint32 *limiter_slot_home;
    EntryWords words;
    void *payload;  // one allocation holding the varlena values and the views above
    Size bytes;     // what the entry costs against pat.token_cache_memory
    bool referenced;
};

// The bytes token's payload block uses (its values, then the views of its scopes, then its
// limits).
Size payload_size(const CachedToken &token);

// token with its payload block copied to room (payload_size(token) bytes, maximally aligned) and
// every member that points into the block moved there: the one place that knows which members
// those are.
CachedToken relocated_token(const CachedToken &token, char *room);

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

// This backend's own cache, for pat_token_cache_stats() (shared_tokens.hpp has the shared
// table's figures).
struct TokenCacheStats {
    int64 tokens;
    int64 users;
    int64 bytes;
    int64 hits;        // this backend's checks answered from a cache, shared or its own
    int64 misses;      // its lookups that read the tables (first checks, unknown tokens)
    int64 dropped;     // entries dropped because a committed change reached them
    int64 evicted;     // entries evicted to stay within the bounds
    int64 resets;      // times the whole cache was dropped
    bool last_missed;  // whether its last lookup read the tables
};
TokenCacheStats token_cache_stats();

// Registers the relcache callback and defines the cache's settings; called from _PG_init.
void setup_token_cache();

}  // namespace pat::pg
