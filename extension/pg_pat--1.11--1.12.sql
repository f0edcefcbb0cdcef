-- pg_pat 1.12

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.12'" to load this file. \quit

SELECT pat.require_preloaded();

-- pat_revoke's count of the descendants that fall with a token (issue 26) ======================
-- pat_revoke counts the live descendants that fall with a token by walking down from it, one
-- level at a time, in this index alone: what it reads is in the entries (a child's own state,
-- and whether it has children to walk into), so where the table is vacuumed no row is read.
-- Delegated tokens only: a root token (most of them) costs no index entry when it is made.
CREATE INDEX tokens_parent_id_idx ON pat.tokens (parent_id)
    INCLUDE (token_id, has_children, revoked_at, expires_at) WHERE parent_id IS NOT NULL;
