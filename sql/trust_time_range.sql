--
-- Every time pg_pat computes is range-checked (22008), and every time pat.tokens stores
-- round-trips through text, so that a dump of it restores: pat_rotate once carried a lifetime
-- past the last valid timestamptz (294276-12-31 23:59:59.999999+00), a value pg_dump writes and
-- COPY refuses. +infinity is stored as never (NULL), as pat_create reads it.
--
\set SHOW_CONTEXT never
SELECT pat_define_scope('tr:read');
SELECT pat_define_role('tr_reader', '{tr:read}');
SELECT pat_grant_role('tr-alice', 'tr_reader');

-- A token made to expire at the last valid time, 1.5 seconds ago (a superuser loads it, as a
-- restore would).
INSERT INTO pat.tokens (user_id, name, scopes, digest, created_at, expires_at)
VALUES ('tr-alice', 'edge', '{tr:read}', sha256('tr-edge'), now() - interval '1.5 seconds',
        '294276-12-31 23:59:59.999999+00')
RETURNING token_id AS edge_id \gset

-- Rotating it with the lifetime carried over would end after the range: refused.
SELECT token_id FROM pat_rotate(:'edge_id');
\echo :SQLSTATE
-- Nothing was stored, the old token is untouched.
SELECT count(*) AS tokens, count(revoked_at) AS revoked FROM pat.tokens WHERE user_id = 'tr-alice';
-- With an expiration of its own, the rotation works.
SELECT expires_at IS NOT NULL AS expires FROM pat_rotate(:'edge_id', '30 days');

-- An overlap or an expiry beyond the range: 22008, never a value wrapped back into range.
SELECT token_id AS rot_id FROM pat_create('tr-alice', 'rot', '{tr:read}', '30 days') \gset
SELECT token_id FROM pat_rotate(:'rot_id', '30 days', '300000 years');
\echo :SQLSTATE
SELECT token_id FROM pat_rotate(:'rot_id', '30 days', '290000 years 2562047788 hours');
\echo :SQLSTATE
SELECT token_id FROM pat_create('tr-alice', 'huge', '{tr:read}', '300000 years');
\echo :SQLSTATE
SELECT token_id FROM pat_create('tr-alice', 'huge', '{tr:read}', interval '290000 years 2562047788 hours');
\echo :SQLSTATE
SELECT token_id FROM pat_create('tr-alice', 'huge', '{tr:read}', '2562047788 hours');
\echo :SQLSTATE
SELECT expires_at > now() + interval '9 years' AS ten_years
FROM pat_create('tr-alice', 'ten', '{tr:read}', '10 years');

-- pat.max_lifetime and pat.max_inactivity are at most 1000 years, so now() +/- them is a time.
SET pat.max_lifetime = '2000 years';
\echo :SQLSTATE
SET pat.max_inactivity = '178956970 years';
\echo :SQLSTATE
SET pat.max_lifetime = '1000 years';
SELECT expires_at IS NOT NULL AS expires FROM pat_create('tr-alice', 'millennium', '{tr:read}', '999 years');
RESET pat.max_lifetime;

-- +infinity means never, however it arrives: pat_create stores NULL, and so does the table.
SELECT expires_at IS NULL AS never FROM pat_create('tr-alice', 'inf-text', '{tr:read}', 'infinity');
SELECT expires_at IS NULL AS never
FROM pat_create('tr-alice', 'inf-ts', '{tr:read}', 'infinity'::timestamptz);
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES ('tr-alice', 'inf-row', '{tr:read}', sha256('tr-inf'), 'infinity');
SELECT token_id AS never_id FROM pat_create('tr-alice', 'never', '{tr:read}', 'never') \gset
UPDATE pat.tokens SET expires_at = 'infinity' WHERE token_id = :'never_id';
SELECT name, expires_at FROM pat.tokens
WHERE user_id = 'tr-alice' AND name IN ('inf-text', 'inf-ts', 'inf-row', 'never') ORDER BY name;

-- Every stored time round-trips through text.
SELECT count(*) AS not_round_tripping FROM pat.tokens
WHERE expires_at::text::timestamptz IS DISTINCT FROM expires_at
   OR created_at::text::timestamptz IS DISTINCT FROM created_at
   OR revoked_at::text::timestamptz IS DISTINCT FROM revoked_at;
