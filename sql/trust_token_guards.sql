--
-- The tokens table refuses what the API refuses, off the API's paths too:
-- - a direct UPDATE of a token's scopes follows pat_update's rules (defined, allowed by the
--   user's roles, and inside a token context the manage scope and only scopes the
--   authenticating token holds), and a direct INSERT follows pat_create's;
-- - no role but the table's owner (or a superuser) deletes or truncates token rows, so a
--   revoked token cannot be deleted and inserted again to validate once more.
-- Tokens, ids and digests are never printed. Every error is followed by \echo :SQLSTATE.
--
\set SHOW_CONTEXT never
SELECT pat_define_scope('tgg:read'), pat_define_scope('tgg:write'), pat_define_scope('tgg:secret'),
       pat_define_scope('tokens:manage');
SELECT pat_define_role('tgg_member', '{tgg:read,tgg:write,tokens:manage}');
SELECT pat_grant_role('tgg-alice', 'tgg_member'), pat_grant_role('tgg-bob', 'tgg_member');
SELECT token AS ro_tok, token_id AS ro_id
FROM pat_create('tgg-alice', 'reader', '{tgg:read}', '30 days') \gset
SELECT token AS mgr_tok, token_id AS mgr_id
FROM pat_create('tgg-alice', 'manager', '{tgg:read,tokens:manage}', '30 days') \gset
SELECT token_id AS bob_id FROM pat_create('tgg-bob', 'bob', '{tgg:read}', '30 days') \gset

-- The README's recipe: SELECT and UPDATE, row security limiting them to the authenticated
-- user's rows.
CREATE ROLE regress_tgg_editor NOBYPASSRLS;
GRANT USAGE ON SCHEMA pat TO regress_tgg_editor;
GRANT SELECT, UPDATE ON pat.tokens TO regress_tgg_editor;
SELECT pat_grant_profile('regress_tgg_editor', 'application');

-- A read-only token widens itself: refused, as pat_update refuses it (no manage scope).
SET ROLE regress_tgg_editor;
BEGIN;
SELECT pat_authenticate(:'ro_tok') AS user_id;
UPDATE pat.tokens SET scopes = '{tgg:read,tgg:write,tokens:manage,undefined:later}'
WHERE token_id = pat_current_token_id();
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'ro_tok') AS user_id;
-- Narrowing is managing too.
UPDATE pat.tokens SET scopes = '{}' WHERE token_id = pat_current_token_id();
\echo :SQLSTATE
ROLLBACK;
-- Renames stay open to the recipe's role, as before.
BEGIN;
SELECT pat_authenticate(:'ro_tok') AS user_id;
UPDATE pat.tokens SET name = 'reader (renamed)' WHERE token_id = pat_current_token_id();
SELECT name, scopes FROM pat.tokens WHERE token_id = pat_current_token_id();
ROLLBACK;

-- A managing token: the scope rules of pat_update, each one.
BEGIN;
SELECT pat_authenticate(:'mgr_tok') AS user_id;
SAVEPOINT s;
UPDATE pat.tokens SET scopes = '{tgg:read,undefined:later}' WHERE token_id = pat_current_token_id();
\echo :SQLSTATE
ROLLBACK TO s;
UPDATE pat.tokens SET scopes = '{tgg:read,tgg:secret}' WHERE token_id = pat_current_token_id();
\echo :SQLSTATE
ROLLBACK TO s;
UPDATE pat.tokens SET scopes = '{tgg:read,tgg:write,tokens:manage}'
WHERE token_id = pat_current_token_id();
\echo :SQLSTATE
ROLLBACK TO s;
UPDATE pat.tokens SET scopes = '{tgg:read,NULL}' WHERE token_id = pat_current_token_id();
\echo :SQLSTATE
ROLLBACK TO s;
-- The same through the API, for comparison.
SELECT pat_update(:'mgr_id', NULL, '{tgg:read,tgg:write,tokens:manage}');
\echo :SQLSTATE
ROLLBACK TO s;
-- What it holds, it may give: the reader gets the manage scope, the manager narrows itself.
UPDATE pat.tokens SET scopes = '{tokens:manage,tgg:read}' WHERE token_id = :'ro_id';
UPDATE pat.tokens SET scopes = '{tgg:read}' WHERE token_id = pat_current_token_id();
COMMIT;
RESET ROLE;
SELECT name, scopes FROM pat.tokens WHERE user_id = 'tgg-alice' ORDER BY name;
SELECT valid, status FROM pat_validate(:'mgr_tok', '{tokens:manage}');

-- Outside a token context (the back end, a superuser here): the user's roles decide.
UPDATE pat.tokens SET scopes = '{tgg:secret}' WHERE token_id = :'ro_id';
\echo :SQLSTATE
UPDATE pat.tokens SET scopes = '{nope:never}' WHERE token_id = :'ro_id';
\echo :SQLSTATE
UPDATE pat.tokens SET scopes = '{{tgg:read},{tgg:write}}' WHERE token_id = :'ro_id';
\echo :SQLSTATE
UPDATE pat.tokens SET scopes = '{tgg:write,tgg:read}' WHERE token_id = :'ro_id';
SELECT scopes FROM pat.tokens WHERE token_id = :'ro_id';
-- Only a change of scopes is checked: once the roles allow less, the token is still renamed,
-- shortened and revoked.
SELECT pat_revoke_role('tgg-alice', 'tgg_member');
UPDATE pat.tokens SET name = 'reader (old)', expires_at = now() + interval '1 day',
                      revoked_at = now()
WHERE token_id = :'ro_id';
SELECT name, scopes, revoked_at IS NOT NULL AS revoked FROM pat.tokens WHERE token_id = :'ro_id';
SELECT pat_grant_role('tgg-alice', 'tgg_member');

-- Past row security (BYPASSRLS), with every table privilege.
CREATE ROLE regress_tgg_bypass BYPASSRLS;
GRANT USAGE ON SCHEMA pat TO regress_tgg_bypass;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON pat.tokens TO regress_tgg_bypass;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON pat.token_usage, pat.token_checks,
    pat.token_limits, pat.token_addresses
TO regress_tgg_bypass;
SELECT pat_grant_profile('regress_tgg_bypass', 'validator');
SET ROLE regress_tgg_bypass;
-- INSERT follows pat_create: scopes defined and allowed by the user's roles...
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES ('tgg-alice', 'forged', '{tgg:read,undefined:later}', sha256('f1'), now() + interval '1 day');
\echo :SQLSTATE
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES ('tgg-alice', 'forged', '{tgg:secret}', sha256('f2'), now() + interval '1 day');
\echo :SQLSTATE
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES ('tgg-alice', 'direct', '{tgg:write}', sha256('f3'), now() + interval '1 day');
-- ... and inside a token context the manage scope, the token's own user, scopes it holds and
-- no later expiry than its own.
-- (the manager narrowed itself above: it no longer holds the manage scope)
BEGIN;
SELECT pat_authenticate(:'mgr_tok') AS user_id;
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES ('tgg-alice', 'forged', '{tgg:read}', sha256('f4'), now() + interval '1 day');
\echo :SQLSTATE
ROLLBACK;
RESET ROLE;
SELECT token AS mgr2_tok
FROM pat_create('tgg-alice', 'manager 2', '{tgg:read,tokens:manage}', '30 days') \gset
SET ROLE regress_tgg_bypass;
BEGIN;
SELECT pat_authenticate(:'mgr2_tok') AS user_id;
SAVEPOINT s;
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES ('tgg-bob', 'forged', '{tgg:read}', sha256('f5'), now() + interval '1 day');
\echo :SQLSTATE
ROLLBACK TO s;
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES ('tgg-alice', 'forged', '{tgg:write}', sha256('f6'), now() + interval '1 day');
\echo :SQLSTATE
ROLLBACK TO s;
INSERT INTO pat.tokens (user_id, name, scopes, digest)
VALUES ('tgg-alice', 'forged', '{tgg:read}', sha256('f7'));
\echo :SQLSTATE
ROLLBACK TO s;
-- A NULL user id is NOT NULL's to report (terse: its detail would print the row).
\set VERBOSITY terse
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES (NULL, 'forged', '{tgg:read}', sha256('f9'), now() + interval '1 day');
\echo :SQLSTATE
\set VERBOSITY default
ROLLBACK TO s;
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES ('tgg-alice', 'direct 2', '{tgg:read,tokens:manage}', sha256('f8'),
        now() + interval '1 day');
COMMIT;
RESET ROLE;
SELECT name, scopes FROM pat.tokens
WHERE user_id = 'tgg-alice' AND name LIKE 'direct%' ORDER BY name;
SELECT count(*) AS forged_rows FROM pat.tokens WHERE name = 'forged';

-- Un-revoking by delete and insert: the revoked row cannot be deleted, so its digest cannot
-- come back with a fresh expiry.
SELECT pat_revoke(:'mgr_id') AS revoked;
SET ROLE regress_tgg_bypass;
SELECT digest AS mgr_digest, key_id AS mgr_key_id FROM pat.tokens WHERE token_id = :'mgr_id' \gset
DELETE FROM pat.tokens WHERE token_id = :'mgr_id';
\echo :SQLSTATE
-- (terse: the error's detail would print the digest)
\set VERBOSITY terse
INSERT INTO pat.tokens (user_id, name, scopes, digest, key_id, expires_at)
VALUES ('tgg-alice', 'manager', '{tgg:read}', :'mgr_digest', :'mgr_key_id',
        now() + interval '300 days');
\echo :SQLSTATE
\set VERBOSITY default
RESET ROLE;
SELECT valid, status FROM pat_validate(:'mgr_tok');
SET ROLE regress_tgg_bypass;
-- Any token row, revoked or not, and the whole table.
DELETE FROM pat.tokens WHERE user_id = 'tgg-bob';
\echo :SQLSTATE
TRUNCATE pat.tokens CASCADE;
\echo :SQLSTATE
-- A DELETE that reaches no row has nothing to refuse.
DELETE FROM pat.tokens WHERE user_id = 'tgg-nobody';
RESET ROLE;

-- The guards fire whatever session_replication_role says.
SELECT tgname, tgenabled FROM pg_trigger
WHERE tgrelid = 'pat.tokens'::regclass AND tgname LIKE 'tokens_before%' ORDER BY tgname;
GRANT SET ON PARAMETER session_replication_role TO regress_tgg_bypass;
SET ROLE regress_tgg_bypass;
SET session_replication_role = replica;
DELETE FROM pat.tokens WHERE token_id = :'mgr_id';
\echo :SQLSTATE
TRUNCATE pat.tokens CASCADE;
\echo :SQLSTATE
UPDATE pat.tokens SET scopes = '{tgg:secret}' WHERE token_id = :'bob_id';
\echo :SQLSTATE
RESET session_replication_role;
RESET ROLE;
REVOKE SET ON PARAMETER session_replication_role FROM regress_tgg_bypass;
SELECT count(*) AS tokens_left FROM pat.tokens WHERE user_id LIKE 'tgg-%';
SELECT valid, status FROM pat_validate(:'mgr_tok');

-- The owner (here a superuser) still deletes and truncates.
DELETE FROM pat.tokens WHERE user_id = 'tgg-bob';
SELECT count(*) AS bob_tokens FROM pat.tokens WHERE user_id = 'tgg-bob';

-- Clean up.
DROP OWNED BY regress_tgg_editor, regress_tgg_bypass;
DROP ROLE regress_tgg_editor, regress_tgg_bypass;
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
