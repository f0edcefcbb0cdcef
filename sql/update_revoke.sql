--
-- pat_update, pat_revoke, pat_revoke_all and pat_list, and what the database itself refuses
-- in a direct UPDATE of pat.tokens. Tokens, ids and timestamps are never printed. Every
-- error is followed by \echo :SQLSTATE; errors whose message names a token id are shown with
-- VERBOSITY sqlstate.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('catalog:read', 'Read the software catalog');
SELECT pat_define_scope('catalog:write', 'Edit the software catalog');
SELECT pat_define_scope('scorecards:write', 'Edit scorecards');
SELECT pat_define_role('ur_reader', '{catalog:read}');
SELECT pat_define_role('ur_writer', '{catalog:write,scorecards:write}');
SELECT pat_grant_role('ur-alice', 'ur_reader'), pat_grant_role('ur-alice', 'ur_writer');
SELECT pat_grant_role('ur-bob', 'ur_reader');

SELECT token AS tok, token_id AS tok_id, expires_at AS tok_expires
FROM pat_create('ur-alice', 'laptop', '{catalog:read}', '30 days') \gset

-- pat_update: rename.
SELECT pat_update(:'tok_id', 'work laptop');
SELECT name, scopes, expires_at = :'tok_expires' AS same_expiry
FROM pat.tokens WHERE token_id = :'tok_id';
SELECT status, token_name, scopes FROM pat_validate(:'tok');
-- Replace the scopes (checked, de-duplicated, sorted), keep the name.
SELECT pat_update(:'tok_id', scopes => '{scorecards:write,catalog:write,catalog:write}');
SELECT name, scopes FROM pat.tokens WHERE token_id = :'tok_id';
SELECT status, scopes FROM pat_validate(:'tok', '{catalog:read}');
SELECT status, scopes FROM pat_validate(:'tok', '{catalog:write}');
-- Both at once.
SELECT pat_update(:'tok_id', 'laptop', '{catalog:read,catalog:write}');
SELECT name, scopes FROM pat.tokens WHERE token_id = :'tok_id';
-- Neither: nothing changes.
SELECT pat_update(:'tok_id');
SELECT pat_update(:'tok_id', NULL, NULL);
SELECT name, scopes FROM pat.tokens WHERE token_id = :'tok_id';
-- No scopes at all is allowed.
SELECT pat_update(:'tok_id', scopes => '{}');
SELECT status, scopes FROM pat_validate(:'tok');
SELECT pat_update(:'tok_id', scopes => '{catalog:read}');
-- The expiry never changes through pat_update.
SELECT expires_at = :'tok_expires' AS same_expiry FROM pat.tokens WHERE token_id = :'tok_id';
SELECT pat_update('00000000-0000-0000-0000-000000000000'::uuid, expires => 'never');
\echo :SQLSTATE

-- pat_update errors: same rules as pat_create; nothing changes.
SELECT pat_update(:'tok_id', '');
\echo :SQLSTATE
SELECT pat_update(:'tok_id', '   ');
\echo :SQLSTATE
SELECT pat_update(:'tok_id', repeat('n', 256));
\echo :SQLSTATE
SELECT pat_update(:'tok_id', scopes => '{nope:read}');
\echo :SQLSTATE
SELECT pat_update(:'tok_id', scopes => ARRAY['catalog:read', NULL]);
\echo :SQLSTATE
SELECT pat_update(:'tok_id', 'renamed', '{catalog:read,nope:read}');
\echo :SQLSTATE
-- The role rules are those of the token's user.
SELECT token AS bob_tok, token_id AS bob_id
FROM pat_create('ur-bob', 'bob', '{catalog:read}', '1 day') \gset
SELECT pat_update(:'bob_id', scopes => '{catalog:read,catalog:write}');
\echo :SQLSTATE
-- A scope the user's roles no longer allow cannot be added back.
SELECT pat_revoke_role('ur-alice', 'ur_writer') AS lost_writer;
SELECT pat_update(:'tok_id', scopes => '{catalog:read,scorecards:write}');
\echo :SQLSTATE
SELECT pat_grant_role('ur-alice', 'ur_writer') AS regained_writer;
SELECT name, scopes FROM pat.tokens WHERE token_id = :'tok_id';
SELECT name, scopes FROM pat.tokens WHERE token_id = :'bob_id';
-- Unknown id 22023 (the message names the id), NULL id 22004.
SELECT pat_update('00000000-0000-0000-0000-000000000000', 'x');
\echo :SQLSTATE
SELECT pat_update(NULL, 'x');
\echo :SQLSTATE
SELECT pat_update(NULL::uuid);
\echo :SQLSTATE
-- An expired token can still be renamed (only a revoked one cannot be edited).
SELECT token_id AS exp_id FROM pat_create('ur-alice', 'old', '{catalog:read}', '1 day') \gset
UPDATE pat.tokens SET expires_at = now() - interval '1 second' WHERE token_id = :'exp_id';
SELECT pat_update(:'exp_id', 'old, expired');
SELECT name FROM pat.tokens WHERE token_id = :'exp_id';

-- pat_revoke: true when it was active, then false; the row is kept for the audit.
SELECT pat_revoke(:'tok_id') AS revoked;
SELECT revoked_at IS NOT NULL AS revoked, revoked_at AS first_revoked_at
FROM pat.tokens WHERE token_id = :'tok_id' \gset
SELECT :'revoked' AS revoked;
SELECT pat_revoke(:'tok_id') AS revoked_again;
SELECT revoked_at = :'first_revoked_at' AS revoked_at_unchanged, name
FROM pat.tokens WHERE token_id = :'tok_id';
SELECT valid, status, token_name FROM pat_validate(:'tok');
-- An expired token can be revoked too.
SELECT pat_revoke(:'exp_id') AS revoked;
-- A revoked token cannot be edited: 55000 (the message names the id).
\set VERBOSITY sqlstate
SELECT pat_update(:'tok_id', 'renamed after revoke');
SELECT pat_update(:'tok_id', scopes => '{catalog:read}');
SELECT pat_update(:'tok_id');
\set VERBOSITY default
SELECT name, scopes FROM pat.tokens WHERE token_id = :'tok_id';
-- Unknown id 22023 (the message names the id), NULL id 22004.
SELECT pat_revoke('00000000-0000-0000-0000-000000000000');
\echo :SQLSTATE
SELECT pat_revoke(NULL);
\echo :SQLSTATE

-- A revoke takes effect at commit: rolled back, the token is valid again.
SELECT token AS rb_tok, token_id AS rb_id
FROM pat_create('ur-bob', 'rollback', '{catalog:read}', '1 day') \gset
SELECT status FROM pat_validate(:'rb_tok');
BEGIN;
SELECT pat_revoke(:'rb_id') AS revoked;
SELECT status FROM pat_validate(:'rb_tok');
ROLLBACK;
SELECT status FROM pat_validate(:'rb_tok');
SELECT revoked_at FROM pat.tokens WHERE token_id = :'rb_id';

-- pat_revoke_all: offboarding; counts the tokens it revoked.
SELECT token AS c1_tok FROM pat_create('ur-carol', 'one', '{}', '1 day') \gset
SELECT token AS c2_tok FROM pat_create('ur-carol', 'two', '{}', 'never') \gset
SELECT token_id AS c3_id FROM pat_create('ur-carol', 'three', '{}', '1 day') \gset
SELECT token_id AS c4_id FROM pat_create('ur-carol', 'four, revoked', '{}', '1 day') \gset
SELECT pat_revoke(:'c4_id') AS revoked;
SELECT status FROM pat_validate(:'c1_tok');
SELECT pat_revoke_all('ur-carol') AS revoked_count;
SELECT pat_revoke_all('ur-carol') AS revoked_again;
SELECT status FROM pat_validate(:'c1_tok');
SELECT status FROM pat_validate(:'c2_tok');
SELECT name, revoked_at IS NOT NULL AS revoked FROM pat.tokens WHERE user_id = 'ur-carol'
ORDER BY name;
-- Other users' tokens are untouched.
SELECT status FROM pat_validate(:'bob_tok');
SELECT pat_revoke_all('ur-nobody') AS unknown_user;
SELECT pat_revoke_all(NULL);
\echo :SQLSTATE
SELECT pat_revoke_all('');
\echo :SQLSTATE

-- pat_list: the columns (no digest, no secret) and each token's status.
SELECT * FROM pat_list('ur-alice') LIMIT 0;
SELECT token AS al_tok FROM pat_create('ur-alice', 'active, never expires', '{}', 'never') \gset
SELECT token_id AS ex_id FROM pat_create('ur-alice', 'expired, not revoked', '{}', '1 day') \gset
UPDATE pat.tokens SET expires_at = now() - interval '1 second' WHERE token_id = :'ex_id';
SELECT status FROM pat_validate(:'al_tok');
SELECT name, scopes, status, revoked_at IS NOT NULL AS revoked,
       expires_at IS NOT NULL AS expires, last_used_at IS NOT NULL AS used,
       created_at <= now() AS created_before_now
FROM pat_list('ur-alice') ORDER BY name;
SELECT name, status FROM pat_list('ur-bob') ORDER BY name;
SELECT count(*) FROM pat_list('ur-nobody');
SELECT pat_list(NULL);
\echo :SQLSTATE
SELECT pat_list(' ');
\echo :SQLSTATE
-- The result type has no column that could hold a digest or a token.
SELECT count(*) AS secret_columns
FROM pg_proc p, unnest(p.proargnames) AS a(name)
WHERE p.oid = 'pat_list(text)'::regprocedure AND (a.name LIKE '%digest%' OR a.name = 'token');

-- Direct UPDATEs of pat.tokens, even by a superuser: shortening the expiry and revoking are
-- allowed; extending the expiry, un-revoking and changing identity columns are refused (55000).
SELECT token AS d_tok, token_id AS d_id, expires_at AS d_expires
FROM pat_create('ur-bob', 'direct', '{catalog:read}', '30 days') \gset
UPDATE pat.tokens SET expires_at = expires_at + interval '1 day' WHERE token_id = :'d_id';
\echo :SQLSTATE
UPDATE pat.tokens SET expires_at = expires_at + interval '1 microsecond' WHERE token_id = :'d_id';
\echo :SQLSTATE
UPDATE pat.tokens SET expires_at = NULL WHERE token_id = :'d_id';
\echo :SQLSTATE
UPDATE pat.tokens SET expires_at = 'infinity' WHERE token_id = :'d_id';
\echo :SQLSTATE
UPDATE pat.tokens SET expires_at = expires_at - interval '1 day' WHERE token_id = :'d_id';
UPDATE pat.tokens SET expires_at = expires_at WHERE token_id = :'d_id';
SELECT expires_at = :'d_expires'::timestamptz - interval '1 day' AS shortened_by_a_day
FROM pat.tokens WHERE token_id = :'d_id';
-- Going back up, even to the original expiry, is extending.
UPDATE pat.tokens SET expires_at = :'d_expires' WHERE token_id = :'d_id';
\echo :SQLSTATE
UPDATE pat.tokens SET token_id = gen_random_uuid() WHERE token_id = :'d_id';
\echo :SQLSTATE
UPDATE pat.tokens SET user_id = 'ur-alice' WHERE token_id = :'d_id';
\echo :SQLSTATE
UPDATE pat.tokens SET digest = sha256('x') WHERE token_id = :'d_id';
\echo :SQLSTATE
UPDATE pat.tokens SET created_at = created_at - interval '1 day' WHERE token_id = :'d_id';
\echo :SQLSTATE
-- Unchanged identity columns may be written, and the name and the scopes changed.
UPDATE pat.tokens SET token_id = token_id, user_id = user_id, digest = digest,
                      created_at = created_at, name = 'direct, renamed', scopes = '{}'
WHERE token_id = :'d_id';
SELECT status, token_name, scopes FROM pat_validate(:'d_tok');
-- Revoking directly is allowed; un-revoking or moving the revocation is not.
UPDATE pat.tokens SET revoked_at = now() WHERE token_id = :'d_id';
SELECT status FROM pat_validate(:'d_tok');
UPDATE pat.tokens SET revoked_at = NULL WHERE token_id = :'d_id';
\echo :SQLSTATE
UPDATE pat.tokens SET revoked_at = revoked_at - interval '1 day' WHERE token_id = :'d_id';
\echo :SQLSTATE
UPDATE pat.tokens SET revoked_at = revoked_at WHERE token_id = :'d_id';
SELECT status FROM pat_validate(:'d_tok');
-- A never-expiring token may be given an expiry, which then only shortens.
SELECT token AS n_tok, token_id AS n_id FROM pat_create('ur-bob', 'never', '{}', 'never') \gset
UPDATE pat.tokens SET expires_at = now() + interval '1 day' WHERE token_id = :'n_id';
UPDATE pat.tokens SET expires_at = NULL WHERE token_id = :'n_id';
\echo :SQLSTATE
UPDATE pat.tokens SET expires_at = now() - interval '1 second' WHERE token_id = :'n_id';
SELECT status FROM pat_validate(:'n_tok');
-- A multi-row UPDATE is refused as a whole.
UPDATE pat.tokens SET expires_at = expires_at + interval '1 year' WHERE user_id = 'ur-bob';
\echo :SQLSTATE
SELECT count(*) FILTER (WHERE expires_at > now() + interval '300 days') AS extended
FROM pat.tokens WHERE user_id = 'ur-bob';

-- Clean up: leave the tables as CREATE EXTENSION left them.
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
