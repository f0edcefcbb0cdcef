-- pg_pat 1.10: one token cache for the whole server (issue 25).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.10'" to load this file. \quit

SELECT pat.require_preloaded();

-- pat_token_cache_stats() reports the server's shared cache and this backend's own ===========
-- Its OUT columns change, so it is dropped and created again; whoever could run it keeps
-- that right (a temporary table is no member of the extension).
CREATE TEMP TABLE pat_cache_stats_grantees AS
SELECT pg_catalog.quote_ident(r.rolname) AS grantee
FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a, pg_catalog.pg_roles r
WHERE p.oid = pg_catalog.to_regprocedure('@extschema@.pat_token_cache_stats()')
  AND a.privilege_type = 'EXECUTE' AND r.oid = a.grantee AND a.grantee <> p.proowner;

DROP FUNCTION @extschema@.pat_token_cache_stats();
CREATE FUNCTION @extschema@.pat_token_cache_stats(
    OUT tokens bigint, OUT bytes bigint, OUT capacity bigint, OUT hits bigint,
    OUT misses bigint, OUT evictions bigint, OUT invalidations bigint,
    OUT backend_tokens bigint, OUT backend_users bigint, OUT backend_bytes bigint,
    OUT backend_hits bigint, OUT backend_misses bigint, OUT backend_resets bigint,
    OUT last_check_missed boolean)
    AS 'MODULE_PATHNAME', 'pat_token_cache_stats'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pat_token_cache_stats() IS
    'the server''s shared token cache (entries, bytes, capacity, hits, misses, evictions, entries found invalidated by committed changes) and this backend''s own (entries, users, bytes, hits, misses, times dropped whole, whether its last lookup read the tables)';
REVOKE ALL ON FUNCTION @extschema@.pat_token_cache_stats() FROM PUBLIC;

DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN SELECT g.grantee FROM pg_temp.pat_cache_stats_grantees g ORDER BY 1 LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %I.pat_token_cache_stats() TO %s',
                                  '@extschema@', grantee);
    END LOOP;
END
$$;
DROP TABLE pg_temp.pat_cache_stats_grantees;
