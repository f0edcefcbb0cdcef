-- The token cache: a table in shared memory for the whole server (pat.token_cache_memory, fixed
-- at start), and beside it each backend's own cache of users' grants and of tokens too big for
-- a shared entry (bounded at 512 kB, and in entries by pat.token_cache_size), measured by
-- PostgreSQL's own accounting of that cache's memory context and by pat_token_cache_stats().
SET client_min_messages = warning;

-- Ordinary tokens: the second check of each is a hit in the shared table.
SELECT pat_define_scope('catalog:read');
SELECT pat_define_role('reader', ARRAY['catalog:read']);
SELECT pat_grant_role('plain-user', 'reader');
CREATE TEMP TABLE plain_tokens AS
SELECT i, c.token FROM generate_series(1, 20) AS i,
    LATERAL pat_create('plain-user', 'plain ' || i, '{catalog:read}', '30 days') AS c;
SELECT tokens AS tokens_before, hits AS hits_before, backend_hits AS backend_hits_before,
       backend_misses AS backend_misses_before FROM pat_token_cache_stats() \gset
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM plain_tokens p, pat_validate(p.token, '{catalog:read}') v;
SELECT last_check_missed FROM pat_token_cache_stats();
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM plain_tokens p, pat_validate(p.token, '{catalog:read}') v;
SELECT tokens - :tokens_before AS new_shared_entries, hits - :hits_before AS shared_hits,
       backend_hits - :backend_hits_before AS backend_hits,
       backend_misses - :backend_misses_before AS backend_misses, last_check_missed,
       backend_tokens AS tokens_kept_by_this_backend,
       bytes > 0 AND bytes <= capacity * 512 AS shared_bytes_sane
FROM pat_token_cache_stats();

-- 20 scopes of 60 characters, 30 tokens carrying them all: each set is about 1.3 kB, more than
-- an entry holds, and all 30 share it. The set is interned once, so the shared table grows by
-- 30 small entries and one set, and this backend keeps none of them.
SELECT count(pat_define_scope('mid' || lpad(i::text, 2, '0') || ':' || repeat('m', 56)))
FROM generate_series(1, 20) AS i;
SELECT pat_define_role('mid', array_agg(scope ORDER BY scope)) FROM pat.scopes
WHERE scope LIKE 'mid%';
SELECT pat_grant_role('mid-user', 'mid');
CREATE TEMP TABLE mid_tokens AS
SELECT i, c.token FROM generate_series(1, 30) AS i,
    LATERAL pat_create('mid-user', 'mid ' || i,
                       (SELECT array_agg(scope) FROM pat.scopes WHERE scope LIKE 'mid%'),
                       '30 days') AS c;
SELECT tokens AS tokens_before, bytes AS bytes_before, backend_tokens AS backend_tokens_before
FROM pat_token_cache_stats() \gset
SELECT count(*) FILTER (WHERE v.valid AND cardinality(v.scopes) = 20) AS valid_with_all_scopes
FROM mid_tokens m, pat_validate(m.token, ARRAY['mid01:' || repeat('m', 56)]) v;
SELECT count(*) FILTER (WHERE v.valid AND cardinality(v.scopes) = 20) AS valid_with_all_scopes
FROM mid_tokens m, pat_validate(m.token, ARRAY['mid20:' || repeat('m', 56)]) v;
SELECT tokens - :tokens_before AS new_shared_entries,
       (bytes - :bytes_before) / (tokens - :tokens_before) < 400 AS under_400_bytes_per_token,
       backend_tokens - :backend_tokens_before AS kept_by_this_backend,
       last_check_missed
FROM pat_token_cache_stats();

-- 200 scopes of 96 characters, a role allowing them all, 40 tokens carrying them all: about
-- 25 kB per token, far too big for a shared entry, so each backend keeps them itself, 1 MB for
-- all of them.
SELECT count(pat_define_scope('wide' || lpad(i::text, 4, '0') || ':' || repeat('x', 91)))
FROM generate_series(1, 200) AS i;
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

-- Every check answers in full; this backend's own cache stays within its 512 kB (its memory
-- context included), so not all 40 are kept.
SELECT count(*) FILTER (WHERE v.valid AND cardinality(v.scopes) = 200) AS valid_with_all_scopes
FROM wide_tokens w, pat_validate(w.token, ARRAY['wide0001:' || repeat('x', 91)]) v;
SELECT backend_tokens < 40 AS some_tokens_not_kept, backend_bytes <= 512 * 1024 AS within_bound
FROM pat_token_cache_stats();
SELECT pg_temp.cache_context_bytes() <= 1.25 * 512 * 1024 AS context_within_bound;

-- A second pass: still right, still bounded.
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM wide_tokens w, pat_validate(w.token, ARRAY['wide0200:' || repeat('x', 91)]) v;
SELECT backend_bytes <= 512 * 1024 AS within_bound FROM pat_token_cache_stats();

-- An entry bound: at most 5 tokens and 5 users kept by this backend.
SET pat.token_cache_size = 5;
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM wide_tokens w, pat_validate(w.token, ARRAY['wide0002:' || repeat('x', 91)]) v;
SELECT backend_tokens <= 5 AS within_entry_bound, backend_users <= 5 AS users_within_entry_bound
FROM pat_token_cache_stats();

-- Turning caching off for this backend frees its cache and leaves the shared one alone.
SELECT hits AS hits_before FROM pat_token_cache_stats() \gset
SET pat.token_cache_size = 0;
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM wide_tokens w, pat_validate(w.token, ARRAY['wide0003:' || repeat('x', 91)]) v;
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM plain_tokens p, pat_validate(p.token, '{catalog:read}') v;
SELECT backend_tokens, backend_users, backend_bytes, hits - :hits_before AS shared_hits,
       last_check_missed
FROM pat_token_cache_stats();
RESET pat.token_cache_size;

-- With room, the second check of a wide token is a hit in this backend's cache.
SELECT backend_hits AS hits_before, backend_misses AS misses_before FROM pat_token_cache_stats() \gset
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM wide_tokens w, pat_validate(w.token, '{}') v WHERE w.i <= 3;
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM wide_tokens w, pat_validate(w.token, '{}') v WHERE w.i <= 3;
SELECT backend_hits - :hits_before AS hits, backend_misses - :misses_before AS misses
FROM pat_token_cache_stats();

-- More tokens than this backend's copies of hot tokens hold (a ring of 352 kB): 2,000 tokens
-- checked three times over, so that the copies wrap around the ring and those checked again move
-- to its head; then a third of them revoked. Every answer is its own token's, as its row says,
-- whichever copy or entry gives it.
CREATE TEMP TABLE ring_tokens AS
SELECT i, c.token_id, c.token FROM generate_series(1, 2000) AS i,
    LATERAL pat_create('plain-user', 'ring ' || i, '{catalog:read}', '30 days') AS c;
SELECT count(*) FILTER (WHERE v.valid) AS valid
FROM generate_series(1, 3) AS pass, ring_tokens r,
    LATERAL pat_validate(CASE WHEN pass > 0 THEN r.token END, '{catalog:read}') v;
SELECT count(*) FILTER (WHERE pat_revoke(token_id)) AS revoked FROM ring_tokens WHERE i % 3 = 0;
SELECT v.status, count(*) FROM ring_tokens r, LATERAL pat_validate(r.token, '{catalog:read}') v
GROUP BY v.status ORDER BY v.status;
SELECT count(*) AS wrong_answers
FROM generate_series(1, 2) AS pass, ring_tokens r,
    LATERAL pat_validate(CASE WHEN pass > 0 THEN r.token END, '{catalog:read}') v
WHERE v.token_id IS DISTINCT FROM r.token_id OR v.valid <> (r.i % 3 <> 0);

-- The shared cache's size is fixed at start: a superuser cannot change it in a session either.
-- The bounds come from pg_settings.
SELECT context, min_val, max_val, unit FROM pg_settings WHERE name = 'pat.token_cache_memory';
\set VERBOSITY sqlstate
SET pat.token_cache_memory = '1MB';
\set VERBOSITY default

-- Not for PUBLIC.
CREATE ROLE regress_pat_cache_nobody;
SET ROLE regress_pat_cache_nobody;
SELECT * FROM pat_token_cache_stats();
SET pat.token_cache_size = 5;
RESET ROLE;
DROP ROLE regress_pat_cache_nobody;

DELETE FROM pat.tokens;
DELETE FROM pat.user_roles;
DELETE FROM pat.role_scopes;
DELETE FROM pat.roles;
DELETE FROM pat.scopes;
