-- pg_pat 1.9: trust off the happy path (issue 22).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.9'" to load this file. \quit

SELECT pat.require_preloaded();

-- Per-user creation locks (issue 22 item 8) ================================================
-- pat.max_active_tokens_per_user: a creation for a user first inserts or updates the user's
-- row here, then counts the user's active tokens. Creations for one user so wait for each
-- other, and under REPEATABLE READ or SERIALIZABLE a creation whose snapshot misses another's
-- fails with 40001 (the row was updated after the snapshot) instead of counting without it.
-- Only the owner may lock a row (no role can hold up a user's creations), and no data is
-- dumped: the rows hold nothing but the lock.
CREATE TABLE pat.user_token_locks (
    user_id    text PRIMARY KEY,
    counted_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pat.user_token_locks IS
    'one row per user whose tokens were counted for pat.max_active_tokens_per_user: creations for the user lock it';
REVOKE ALL ON pat.user_token_locks FROM PUBLIC;
