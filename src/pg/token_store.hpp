// Reading a stored token (direct index scans) and recording its use (as the owner of pat.tokens).
#pragma once

#include "pg/postgres.hpp"

#include "core/digest.hpp"

namespace pat::pg {

// A stored token as the validate path needs it; pointers are palloc'd in the caller's context.
struct StoredToken {
    pg_uuid_t token_id;
    text *user_id;
    text *name;
    ArrayType *scopes;       // the token's own scopes
    ArrayType *role_scopes;  // scopes the user's roles name
    bool all_scopes;         // a role of the user grants every scope
    bool has_expiry;
    TimestampTz expires_at;
    TimestampTz last_used_at;  // 0 with has_last_used false when never used
    bool has_last_used;
    bool revoked;
};

// The oid of pat.tokens; raises 42P01 when the extension is not installed here.
Oid tokens_relation();

// Looks the digest up in the latest committed state, with the token's last use and what the
// user's roles allow; false when no token has it. Plain PostgreSQL code: it may ereport, so C++
// callers reach it through call_pg.
bool fetch_stored_token(const Digest &digest, StoredToken *token);

// Whether this transaction may record a use: not read-only, not on a standby, and not where a
// write could make the caller's transaction fail (REPEATABLE READ, SERIALIZABLE).
bool token_use_recordable();

// Sets last_used_at = now unless the token was used less than a minute ago, without ever
// waiting for a row lock. Call only when token_use_recordable().
void record_token_use(const pg_uuid_t &token_id, TimestampTz now);

// True when a token last used at last_used_at (has_last_used false: never) is due a new
// last_used_at record at now.
bool token_use_due(bool has_last_used, TimestampTz last_used_at, TimestampTz now);

}  // namespace pat::pg
