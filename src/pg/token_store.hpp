// Reading a stored token by direct index scans.
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
    bool revoked;
};

// The oid of pat.tokens; raises 42P01 when the extension is not installed here.
Oid tokens_relation();

// Looks the digest up in the latest committed state, with what the user's roles allow; false when
// no token has it. Plain PostgreSQL code: it may ereport, so C++ callers reach it through call_pg.
bool fetch_stored_token(const Digest &digest, StoredToken *token);

}  // namespace pat::pg
