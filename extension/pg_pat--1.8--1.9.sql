-- pg_pat 1.9: trust off the happy path (issue 22).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.9'" to load this file. \quit

SELECT pat.require_preloaded();

-- Only the owner deletes or truncates token rows (issue 22 item 6b) ===========================
-- A token's row is the record of its revocation: a role with DELETE and INSERT (past row
-- security) could delete a revoked token's row and insert its digest again with a fresh
-- expiry, and the token validated again. pat.tokens_before_delete() refuses DELETE and
-- TRUNCATE to every role but the table's owner (its members and superusers included), whatever
-- session_replication_role says. pg_pat itself deletes no token row. (Item 2, the scope rules
-- of pat_create and pat_update in pat.tokens_before_insert() and pat.tokens_before_update(), is
-- in the library: those functions keep their names.)
CREATE FUNCTION pat.tokens_before_delete() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_tokens_before_delete'
    LANGUAGE C;
CREATE TRIGGER tokens_before_delete BEFORE DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.tokens_before_delete();
CREATE TRIGGER tokens_before_truncate BEFORE TRUNCATE ON pat.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION pat.tokens_before_delete();
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_delete;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_before_truncate;
REVOKE ALL ON FUNCTION pat.tokens_before_delete() FROM PUBLIC;
