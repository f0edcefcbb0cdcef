-- A token that was never stored is not_found even when its digest's 32-bit hash code equals a
-- stored row's: the hash index on digest matches hash codes only, so every row it returns
-- is checked against the digest itself. The forged digest below was found by brute force (2^32
-- tries of PostgreSQL's hash_bytes, little-endian) against the SHA-256 of the token below; the
-- test cluster has no pat.digest_key, so that SHA-256 is the token's digest.
SET client_min_messages = warning;
SELECT current_setting('pat.digest_key') = '' AS digests_are_plain_sha256;

-- The collision is real: a hash index finds the forged value when asked for the digest, and only
-- the recheck drops it.
CREATE TEMP TABLE collision (digest bytea);
INSERT INTO collision
VALUES ('\x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5f7348aa01000000');
CREATE INDEX ON collision USING hash (digest);
-- Only the plan node's fields that show it are printed: EXPLAIN's text (its row counts, the lines
-- it adds) is PostgreSQL's and changes between majors.
CREATE FUNCTION pg_temp.collision_probe() RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE $query$
        EXPLAIN (ANALYZE, COSTS off, TIMING off, SUMMARY off, FORMAT json)
        SELECT * FROM collision
        WHERE digest = sha256(convert_to('pat_Z1sY9ErTM2BblJPQBYChYWbb7iszdy4aNRnS', 'UTF8'))
    $query$ INTO plan;
    RETURN plan -> 0 -> 'Plan';
END
$$;
SET enable_seqscan = off;
SELECT node ->> 'Node Type' AS node_type, node ->> 'Index Name' AS index_name,
       (node ->> 'Actual Rows')::numeric = 0 AS no_rows,
       node ->> 'Rows Removed by Index Recheck' AS removed_by_recheck
FROM pg_temp.collision_probe() AS node;
RESET enable_seqscan;

-- A stored token with the forged digest, for a user whose role allows catalog:read.
SELECT pat_define_scope('catalog:read');
SELECT pat_define_role('reader', ARRAY['catalog:read']);
SELECT pat_grant_role('victim', 'reader');
INSERT INTO pat.tokens (user_id, name, scopes, digest)
VALUES ('victim', 'forged collision', ARRAY['catalog:read'],
        '\x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5f7348aa01000000');

-- The colliding token is not the stored one: not_found, with the cache and without.
SELECT valid, status, user_id, token_name
FROM pat_validate('pat_Z1sY9ErTM2BblJPQBYChYWbb7iszdy4aNRnS', ARRAY['catalog:read']);
SET pat.token_cache_size = 0;
SELECT valid, status, user_id, token_name
FROM pat_validate('pat_Z1sY9ErTM2BblJPQBYChYWbb7iszdy4aNRnS', ARRAY['catalog:read']);
RESET pat.token_cache_size;
-- It was the hash index that was probed (the B-tree would never return the forged row).
BEGIN;
SELECT status FROM pat_validate('pat_Z1sY9ErTM2BblJPQBYChYWbb7iszdy4aNRnS', ARRAY['catalog:read']);
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) > 0 AS hash_index_probed,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) = 0 AS btree_not_probed;
COMMIT;
SELECT pat_authenticate('pat_Z1sY9ErTM2BblJPQBYChYWbb7iszdy4aNRnS', ARRAY['catalog:read']);

DELETE FROM pat.tokens;
DELETE FROM pat.user_roles;
DELETE FROM pat.role_scopes;
DELETE FROM pat.roles;
DELETE FROM pat.scopes;
