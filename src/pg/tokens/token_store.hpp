// Reading a stored token, and a user's roles, by direct index scans.
#pragma once

#include "pg/bridge/postgres.hpp"

#include "core/digest.hpp"
#include "core/rate_limit.hpp"

namespace pat::pg {

// A token row as the validate path needs it; pointers are palloc'd in the caller's context.
struct StoredToken {
    pg_uuid_t token_id;
    text *user_id;
    text *name;
    ArrayType *scopes;  // the token's own scopes
    bool has_expiry;
    TimestampTz expires_at;   // the earliest of its own and its ancestors'
    bool revoked;             // it, or an ancestor, is revoked or gone
    bool organization;        // token_type 'organization': user_id is an account id
    bool delegated;           // made by pat_delegate: it has ancestors
    bool suspended;           // it, or an ancestor, is suspended (pat_suspend)
    ArrayType *networks;      // cidr[], or nullptr for any network
    Jsonb *resources;         // scope -> resource ids, or nullptr
    Jsonb *metadata;          // or nullptr
    pat::TokenLimits limits;  // its rate limit and budget, and its user's rate limit
};

// What a user's roles allow; scopes are palloc'd text values in the caller's context.
struct StoredRoles {
    bool all_scopes;  // a role of the user grants every scope
    Datum *scopes;    // scopes the user's roles name (text; may repeat)
    int scope_count;
};

// Every defined scope (pat.scopes) in the latest committed state: palloc'd text values in the
// caller's context, in no particular order.
struct StoredScopes {
    Datum *scopes;
    int count;
};

// Whether relation is one a lookup reads (a table or index of pg_pat); a relcache
// invalidation of one makes the remembered oids and column numbers be resolved again.
bool is_lookup_relation(Oid relation);
// Forgets the remembered oids and column numbers.
void forget_lookup_relations();
// The oid of pat.tokens as the lookups know it (resolved if need be).
Oid lookup_tokens_relation();

// Looks the digest up in the latest committed state (whatever the caller's isolation level: a
// revoke committed after a REPEATABLE READ transaction began must still refuse the token); false
// when no token has it. One index probe, and one more per ancestor of a delegated token (read
// under the same snapshot: a token is valid only while its whole chain is).
bool fetch_token_row(const Digest &digest, StoredToken *token);

// The balance of token_id's budget as last written out, in the latest committed state; false
// when it has no budget (any more). *version: the budget's (TokenLimits::credits_version).
bool fetch_stored_credits(const pg_uuid_t &token_id, std::int64_t *version,
                          pat::CreditBalance *balance);

// The user's roles in the latest committed state.
void fetch_user_roles(text *user_id, StoredRoles *roles);

// Every defined scope in the latest committed state.
void fetch_defined_scopes(StoredScopes *scopes);

}  // namespace pat::pg
