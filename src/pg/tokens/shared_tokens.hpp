// The server's shared table of cached tokens: fixed-size entries in a partitioned hash in shared
// memory (one LWLock per partition, as the usage store and PostgreSQL's lock manager have),
// sized at start by pat.token_cache_memory. token_cache.cpp decides what may be stored and when
// an entry is current; this file only keeps them.
#pragma once

#include "pg/bridge/postgres.hpp"

#include "core/digest.hpp"
#include "pg/tokens/token_cache.hpp"

namespace pat::pg {

// Whether the shared table exists (preloaded, pat.token_cache_memory above zero).
bool shared_tokens_exist();

// Looks the digest up in this database. When an entry is found, its words are handed to
// is_current; when it says yes, the entry is copied into *token (its payload palloc'd in the
// current memory context) and true returned; when it says no, the entry counts as invalidated.
bool find_shared_token(const pat::Digest &digest, bool (*is_current)(const EntryWords &),
                       CachedToken *token);

// Stores a token read under words, its scopes as an interned set. Returns false when the token
// cannot be kept in the shared table (its user id and name, or its scopes, are too big): the
// caller keeps it in the backend's own cache instead.
bool store_shared_token(const CachedToken &token, const EntryWords &words);

// The shared table's figures, for pat_token_cache_stats().
struct SharedTokenStats {
    int64 tokens;
    int64 bytes;
    int64 capacity;
    int64 hits;
    int64 misses;
    int64 evictions;
    int64 invalidations;
};
SharedTokenStats shared_token_stats();
// Counts a lookup that read the tables (found nothing current in the shared table).
void count_shared_miss();
// Counts a check answered by the backend's copy of a shared entry (hot_tokens.hpp).
void count_shared_hit();

// Adds the table to the shared segment; from _PG_init, after the settings are defined.
void setup_shared_tokens();

}  // namespace pat::pg
