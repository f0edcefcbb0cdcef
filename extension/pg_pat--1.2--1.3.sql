-- pg_pat 1.3: invalidation per token and per user.
--
-- A committed revoke or edit of a token drops only that token from every backend's cache, a
-- role granted or revoked only that user's tokens; only defining or changing scopes and roles,
-- or a TRUNCATE, drops everything. The triggers that signal changes are ENABLE ALWAYS, so a
-- change applied by logical replication or under session_replication_role = replica reaches
-- every cache too.

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.3'" to load this file. \quit

SELECT pat.require_preloaded();

-- A token's first check in a backend probes this index: one bucket page instead of a B-tree
-- descent. (The unique B-tree on digest stays: hash indexes cannot enforce uniqueness.)
CREATE INDEX tokens_digest_hash_idx ON pat.tokens USING hash (digest);

-- Cache signals ------------------------------------------------------------------------------

CREATE FUNCTION pat.invalidate_cached_token() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_invalidate_cached_token'
    LANGUAGE C;
CREATE FUNCTION pat.invalidate_cached_user() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pat_invalidate_cached_user'
    LANGUAGE C;

DROP TRIGGER tokens_invalidate_caches ON pat.tokens;
CREATE TRIGGER tokens_invalidate_cached_token AFTER UPDATE OR DELETE ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_cached_token();
CREATE TRIGGER tokens_invalidate_caches AFTER TRUNCATE ON pat.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();

DROP TRIGGER user_roles_invalidate_caches ON pat.user_roles;
CREATE TRIGGER user_roles_invalidate_cached_user AFTER INSERT OR UPDATE OR DELETE ON pat.user_roles
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_cached_user();
CREATE TRIGGER user_roles_invalidate_caches AFTER TRUNCATE ON pat.user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();

-- Logical replication's apply fires row triggers only (and TRUNCATE's), so the triggers of
-- scopes, roles and role scopes become row triggers too.
DROP TRIGGER scopes_invalidate_caches ON pat.scopes;
CREATE TRIGGER scopes_invalidate_caches AFTER INSERT OR UPDATE OR DELETE ON pat.scopes
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER scopes_truncate_invalidate_caches AFTER TRUNCATE ON pat.scopes
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
DROP TRIGGER roles_invalidate_caches ON pat.roles;
CREATE TRIGGER roles_invalidate_caches AFTER INSERT OR UPDATE OR DELETE ON pat.roles
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER roles_truncate_invalidate_caches AFTER TRUNCATE ON pat.roles
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();
DROP TRIGGER role_scopes_invalidate_caches ON pat.role_scopes;
CREATE TRIGGER role_scopes_invalidate_caches AFTER INSERT OR UPDATE OR DELETE ON pat.role_scopes
    FOR EACH ROW EXECUTE FUNCTION pat.invalidate_token_caches();
CREATE TRIGGER role_scopes_truncate_invalidate_caches AFTER TRUNCATE ON pat.role_scopes
    FOR EACH STATEMENT EXECUTE FUNCTION pat.invalidate_token_caches();

ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_invalidate_cached_token;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_invalidate_caches;
ALTER TABLE pat.user_roles ENABLE ALWAYS TRIGGER user_roles_invalidate_cached_user;
ALTER TABLE pat.user_roles ENABLE ALWAYS TRIGGER user_roles_invalidate_caches;
ALTER TABLE pat.scopes ENABLE ALWAYS TRIGGER scopes_invalidate_caches;
ALTER TABLE pat.scopes ENABLE ALWAYS TRIGGER scopes_truncate_invalidate_caches;
ALTER TABLE pat.roles ENABLE ALWAYS TRIGGER roles_invalidate_caches;
ALTER TABLE pat.roles ENABLE ALWAYS TRIGGER roles_truncate_invalidate_caches;
ALTER TABLE pat.role_scopes ENABLE ALWAYS TRIGGER role_scopes_invalidate_caches;
ALTER TABLE pat.role_scopes ENABLE ALWAYS TRIGGER role_scopes_truncate_invalidate_caches;

-- Diagnostics -------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pat_token_cache_stats(
    OUT tokens bigint, OUT users bigint, OUT bytes bigint, OUT hits bigint, OUT misses bigint,
    OUT dropped bigint, OUT evicted bigint, OUT resets bigint)
    AS 'MODULE_PATHNAME', 'pat_token_cache_stats'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_token_cache_stats() IS
    'this backend''s token cache: entries, bytes, hits, misses, entries dropped by committed changes, evictions, resets';

-- Privileges -------------------------------------------------------------------------------

INSERT INTO pat.profile_functions (function_signature, least_profile) VALUES
    ('pat_token_cache_stats()', 'admin');

REVOKE ALL ON FUNCTION
    pat.invalidate_cached_token(),
    pat.invalidate_cached_user(),
    @extschema@.pat_token_cache_stats()
FROM PUBLIC;
