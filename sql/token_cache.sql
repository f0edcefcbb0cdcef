-- The token cache: bounded in bytes (pat.token_cache_memory) as well as entries
-- (pat.token_cache_size), measured by PostgreSQL's own accounting of the cache's memory
-- context, and pat_token_cache_stats() of this backend.
SET client_min_messages = warning;

-- 1,000 scopes of 96 characters, a role allowing them all, 40 tokens carrying them all: about
-- 120 kB per token in the cache, 5 MB for all of them.
SELECT count(pat_define_scope('wide' || lpad(i::text, 4, '0') || ':' || repeat('x', 91)))
FROM generate_series(1, 1000) AS i;
SELECT pat_define_role('wide', array_agg(scope ORDER BY scope)) FROM pat.scopes
WHERE scope LIKE 'wide%';
SELECT pat_grant_role('wide-user', 'wide');
CREATE TEMP TABLE wide_tokens AS
SELECT i, c.token FROM generate_series(1, 40) AS i,
    LATERAL pat_create('wide-user', 'wide ' || i,
                       (SELECT array_agg(scope) FROM pat.scopes WHERE scope LIKE 'wide%'),
                       '30 days') AS c;

CREATE FUNCTION pg_temp.cache_context_bytes() RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(sum(total_bytes), 0)::bigint FROM pg_backend_memory_contexts
    WHERE name = 'pg_pat token cache'
$$;

-- A 1 MB bound: every check answers in full, the cache stays within the bound (its memory
-- context included), and entries are evicted to stay there.
SET pat.token_cache_memory = '1MB';
SELECT count(*) FILTER (WHERE v.valid AND cardinality(v.scopes) = 1000) AS valid_with_all_scopes
FROM wide_tokens w, pat_validate(w.token, ARRAY['wide0001:' || repeat('x', 91)]) v;
SELECT tokens < 40 AS some_tokens_not_kept, bytes <= 1024 * 1024 AS within_bound,
       evicted > 0 AS evicted
FROM pat_token_cache_stats();
SELECT pg_temp.cache_context_bytes() <= 1.25 * 1024 * 1024 AS context_within_bound;

-- A second pass: still right, still bounded.
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM wide_tokens w, pat_validate(w.token, ARRAY['wide1000:' || repeat('x', 91)]) v;
SELECT bytes <= 1024 * 1024 AS within_bound FROM pat_token_cache_stats();

-- A bound too small for one such entry: nothing is kept, checks are still answered.
SET pat.token_cache_memory = '256kB';
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM wide_tokens w, pat_validate(w.token, ARRAY['wide0500:' || repeat('x', 91)]) v;
SELECT bytes <= 256 * 1024 AS within_bound FROM pat_token_cache_stats();

-- An entry bound: at most 5 tokens kept.
RESET pat.token_cache_memory;
SET pat.token_cache_size = 5;
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM wide_tokens w, pat_validate(w.token, ARRAY['wide0002:' || repeat('x', 91)]) v;
SELECT tokens <= 5 AS within_entry_bound, users <= 5 AS users_within_entry_bound
FROM pat_token_cache_stats();

-- Turning the cache off frees it.
SET pat.token_cache_memory = 0;
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM wide_tokens w, pat_validate(w.token, ARRAY['wide0003:' || repeat('x', 91)]) v;
SELECT tokens, users, bytes FROM pat_token_cache_stats();
RESET pat.token_cache_memory;
RESET pat.token_cache_size;

-- With room, the second check of a token is a hit.
SELECT hits AS hits_before, misses AS misses_before FROM pat_token_cache_stats() \gset
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM wide_tokens w, pat_validate(w.token, '{}') v WHERE w.i <= 3;
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM wide_tokens w, pat_validate(w.token, '{}') v WHERE w.i <= 3;
SELECT hits - :hits_before AS hits, misses - :misses_before AS misses
FROM pat_token_cache_stats();

-- Settings are superuser-only and bounded. The out-of-range refusal is PostgreSQL's, worded
-- differently by each major, so it shows its SQLSTATE only; the bounds come from pg_settings.
SELECT min_val, max_val, unit FROM pg_settings WHERE name = 'pat.token_cache_memory';
\set VERBOSITY sqlstate
SET pat.token_cache_memory = -1;
\set VERBOSITY default
SET pat.token_cache_memory = 'lots';

-- Not for PUBLIC.
CREATE ROLE regress_pat_cache_nobody;
SET ROLE regress_pat_cache_nobody;
SELECT * FROM pat_token_cache_stats();
SET pat.token_cache_memory = '1MB';
RESET ROLE;
DROP ROLE regress_pat_cache_nobody;

DELETE FROM pat.tokens;
DELETE FROM pat.user_roles;
DELETE FROM pat.role_scopes;
DELETE FROM pat.roles;
DELETE FROM pat.scopes;
