// A per-backend cache of stored tokens, keyed by digest, so that checking a token a backend has
// seen before touches no table. Any committed change to tokens, roles or scopes invalidates
// every backend's cache at commit (a relcache invalidation of pat.tokens, sent by triggers), and
// every lookup first accepts pending invalidations, so a committed revoke refuses the very next
// check in every session.
#pragma once

#include "pg/postgres.hpp"

#include <string_view>

#include "core/digest.hpp"

namespace pat::pg {

// A token as the validate path needs it. Lives in the cache's memory context (or the caller's
// when caching is off) until the next find_token() call.
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
};

// The token stored under digest, or nullptr when there is none. Plain PostgreSQL code in the
// sense of guard.hpp: it may ereport, so C++ frames owning objects call it through call_pg.
CachedToken *find_token(const pat::Digest &digest);

// Makes every backend drop its cache when the current transaction commits.
void invalidate_token_caches();

// Registers the relcache callback and defines pat.token_cache_size; called from _PG_init.
void setup_token_cache();

}  // namespace pat::pg
