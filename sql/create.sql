--
-- pat_create: the token text, its storage, its expiry forms (text, interval and timestamptz
-- overloads), and every error path. Tokens, ids and timestamps are never printed: only
-- booleans, lengths and counts. Every error is followed by \echo :SQLSTATE.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('catalog:read', 'Read the software catalog');
SELECT pat_define_scope('catalog:write', 'Edit the software catalog');
SELECT pat_define_scope('scorecards:write', 'Edit scorecards');
SELECT pat_define_role('cr_reader', '{catalog:read}');
SELECT pat_define_role('cr_writer', '{catalog:write,scorecards:write}');
SELECT pat_define_role('cr_admin', '{}', true);
SELECT pat_grant_role('cr-alice', 'cr_reader'), pat_grant_role('cr-alice', 'cr_writer');
SELECT pat_grant_role('cr-bob', 'cr_reader');
SELECT pat_grant_role('cr-root', 'cr_admin');

-- The token: prefix pat_, 30 random and 6 checksum base62 characters; returned once.
SELECT token AS tok, token_id AS tok_id, expires_at AS tok_expires
FROM pat_create('cr-alice', 'CI deploy', '{catalog:read,scorecards:write}', '30 days') \gset
SELECT :'tok' ~ '^pat_[0-9A-Za-z]{36}$' AS token_format, length(:'tok') AS token_length,
       pg_typeof(:'tok_id'::uuid) AS token_id_type;
SELECT valid, status, user_id, token_name, scopes, expires_at = :'tok_expires' AS same_expiry
FROM pat_validate(:'tok');
-- Stored as a 32-byte digest under a unique index; the plaintext is nowhere in the row.
SELECT user_id, name, scopes, octet_length(digest) AS digest_bytes,
       created_at BETWEEN now() - interval '1 hour' AND now() AS created_just_now,
       revoked_at,
       position(:'tok' IN t::text) = 0 AS plaintext_absent
FROM pat.tokens t WHERE token_id = :'tok_id';
SELECT count(*) AS unique_digest_indexes
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = 'pat.tokens'::regclass AND i.indisunique AND i.indnatts = 1
  AND a.attname = 'digest';
-- Every token is different, and so is every digest.
SELECT count(*) AS tokens, count(DISTINCT c.token) AS distinct_tokens,
       count(DISTINCT c.token_id) AS distinct_ids,
       count(*) FILTER (WHERE c.token ~ '^pat_[0-9A-Za-z]{36}$') AS well_shaped,
       count(DISTINCT substr(c.token, 5, 30)) AS distinct_random_parts
FROM generate_series(1, 50) AS g,
     LATERAL pat_create('cr-alice', 'batch ' || g, '{}', '1 day') AS c;
SELECT count(DISTINCT digest) AS distinct_digests, count(*) AS rows
FROM pat.tokens WHERE user_id = 'cr-alice';

-- Scopes are checked, de-duplicated and sorted.
SELECT token_id AS dup_id FROM pat_create('cr-alice', 'dups',
    '{scorecards:write,catalog:write,catalog:read,catalog:write}', '1 day') \gset
SELECT scopes FROM pat.tokens WHERE token_id = :'dup_id';
-- A token without scopes, also for a user without roles.
SELECT count(*) FROM pat_create('cr-alice', 'no scopes', '{}', '1 day');
SELECT count(*) FROM pat_create('cr-nobody', 'no roles, no scopes', '{}', '1 day');
-- An all_scopes role may grant every defined scope, also one defined later.
SELECT pat_define_scope('billing:read', 'defined after cr-root got cr_admin');
SELECT token AS root_tok FROM pat_create('cr-root', 'admin token',
    '{billing:read,catalog:read,catalog:write,scorecards:write}', '1 day') \gset
SELECT status, scopes FROM pat_validate(:'root_tok', '{billing:read}');

-- Expiry forms, text overload: positive intervals from now(), future dates, never.
SELECT u.e AS expires, c.expires_at = now() + u.e::interval AS exact,
       c.expires_at > now() AS future
FROM unnest(ARRAY['7 days', '30 days', '60 days', '90 days', 'P30D', '1 hour', '2 weeks',
                  '1 mon', '1 year 2 mons', '  45 days  ', '@ 3 days']) WITH ORDINALITY AS u(e, n),
     LATERAL pat_create('cr-bob', 'expiry ' || u.e, '{catalog:read}', u.e) AS c
ORDER BY u.n;
-- A future date (written out, so the test does not age) and a future timestamp.
SELECT to_char(now() + interval '100 days', 'YYYY-MM-DD') AS future_date \gset
SELECT c.expires_at = :'future_date'::date::timestamptz AS midnight_of_that_date,
       c.expires_at > now() + interval '98 days' AS about_100_days
FROM pat_create('cr-bob', 'until a date', '{catalog:read}', :'future_date') AS c;
SELECT c.expires_at = '2099-03-01'::timestamptz AS exact
FROM pat_create('cr-bob', 'until 2099', '{catalog:read}', '2099-03-01') AS c;
SELECT c.expires_at = '2099-03-01 12:30:00+00'::timestamptz AS exact
FROM pat_create('cr-bob', 'until 2099 noon', '{catalog:read}', '2099-03-01 12:30:00+00') AS c;
SELECT c.expires_at = 'tomorrow'::timestamptz AS exact
FROM pat_create('cr-bob', 'until tomorrow', '{catalog:read}', 'tomorrow') AS c;
-- never: expires_at is NULL ('infinity' reads as never too).
SELECT e AS expires, c.expires_at IS NULL AS never_expires
FROM unnest(ARRAY['never', 'NEVER', ' Never ', 'infinity']) AS e,
     LATERAL pat_create('cr-bob', 'forever ' || e, '{catalog:read}', e) AS c
ORDER BY e COLLATE "C";
SELECT token AS never_tok FROM pat_create('cr-bob', 'never', '{catalog:read}', 'never') \gset
SELECT status, expires_at FROM pat_validate(:'never_tok');

-- Past, zero or negative: 22023. Unparsable: 22007. NULL: 22004.
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', 'yesterday');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', 'today');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', 'now');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '2001-01-01');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', 'epoch');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '-infinity');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '0 days');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '0');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '-1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '3 days ago');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', 'P-1D');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', 'garbage');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '   ');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '30 dayz');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', 'never ever');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '2099-02-30');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', repeat('9', 200));
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '1000000 years');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', NULL);
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', NULL::text);
\echo :SQLSTATE

-- interval overload.
SELECT c.expires_at = now() + interval '45 days' AS exact, pg_typeof(c.token_id) AS id_type
FROM pat_create('cr-bob', 'interval', '{catalog:read}', interval '45 days') AS c;
SELECT c.expires_at = now() + interval '90 minutes' AS exact
FROM pat_create('cr-bob', 'interval minutes', '{catalog:read}', '90 minutes'::interval) AS c;
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', interval '0');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', interval '-1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', interval '-90 minutes');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', NULL::interval);
\echo :SQLSTATE

-- timestamptz overload (a date converts to it).
SELECT c.expires_at = now() + interval '10 days' AS exact
FROM pat_create('cr-bob', 'timestamptz', '{catalog:read}', now() + interval '10 days') AS c;
SELECT c.expires_at = '2099-03-01'::timestamptz AS exact
FROM pat_create('cr-bob', 'date', '{catalog:read}', DATE '2099-03-01') AS c;
SELECT c.expires_at IS NULL AS never_expires
FROM pat_create('cr-bob', 'timestamptz infinity', '{catalog:read}', 'infinity'::timestamptz) AS c;
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', now());
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', now() - interval '1 second');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', '-infinity'::timestamptz);
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read}', NULL::timestamptz);
\echo :SQLSTATE

-- Name: required, not blank, at most 255 characters (not bytes).
SELECT count(*) FROM pat_create('cr-bob', repeat('n', 255), '{catalog:read}', '1 day');
SELECT count(*) FROM pat_create('cr-bob', repeat('é', 255), '{catalog:read}', '1 day');
SELECT count(*) FROM pat_create('cr-bob', 'Déploiement — prod ✓', '{catalog:read}', '1 day');
SELECT * FROM pat_create('cr-bob', repeat('n', 256), '{catalog:read}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', repeat('é', 256), '{catalog:read}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', '', '{catalog:read}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', '   ', '{catalog:read}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', NULL, '{catalog:read}', '1 day');
\echo :SQLSTATE

-- User id: required, not blank, at most 255 characters.
SELECT * FROM pat_create(NULL, 'x', '{}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('', 'x', '{}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create(' ', 'x', '{}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create(repeat('u', 256), 'x', '{}', '1 day');
\echo :SQLSTATE

-- Scopes: undefined 22023 (even when also not allowed), not allowed by the roles 42501.
SELECT * FROM pat_create('cr-bob', 'x', '{nope:read}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read,nope:read}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{bad scope}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:write}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:read,scorecards:write}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-nobody', 'x', '{catalog:read}', '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', ARRAY['catalog:read', NULL], '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', 'x', NULL, '1 day');
\echo :SQLSTATE
-- The typed overloads apply the same rules.
SELECT * FROM pat_create('cr-bob', 'x', '{catalog:write}', interval '1 day');
\echo :SQLSTATE
SELECT * FROM pat_create('cr-bob', '', '{catalog:read}', now() + interval '1 day');
\echo :SQLSTATE

-- None of the failed calls stored anything.
SELECT count(*) AS failed_rows FROM pat.tokens WHERE name = 'x' OR name = '' OR length(name) > 255;
SELECT user_id, count(*) FROM pat.tokens GROUP BY user_id ORDER BY user_id;

-- Clean up: leave the tables as CREATE EXTENSION left them.
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
