--
-- The tokens table refuses what the API refuses, whoever writes: row-level security lets a
-- role given direct access read and edit the authenticated user's rows, never insert or delete;
-- and even a role past row-level security cannot insert a revoked or back-dated token, one the
-- lifetime policy forbids, or a bad user id or name. Every row such a role inserts is audited.
-- Only a superuser (a restore) may load rows with their history.
--
\set SHOW_CONTEXT never
SELECT pat_define_scope('tg:read');
SELECT pat_define_role('tg_reader', '{tg:read}');
SELECT pat_grant_role('tg-alice', 'tg_reader');
SELECT token AS alice_tok, token_id AS alice_id FROM pat_create('tg-alice', 'laptop', '{tg:read}', '30 days') \gset
SELECT token_id AS bob_id FROM pat_create('tg-bob', 'bob', '{}', '30 days') \gset
SELECT pat_revoke(:'alice_id') AS revoked;

CREATE ROLE regress_tg_direct;
GRANT USAGE ON SCHEMA pat TO regress_tg_direct;
GRANT SELECT, INSERT, UPDATE, DELETE ON pat.tokens TO regress_tg_direct;
SELECT pat_grant_profile('regress_tg_direct', 'validator');

-- The policies: SELECT and UPDATE for the authenticated user's rows, nothing else.
SELECT polname, polcmd FROM pg_policy WHERE polrelid = 'pat.tokens'::regclass ORDER BY polname;

SELECT token AS live_tok FROM pat_create('tg-alice', 'live', '{tg:read}', '30 days') \gset
SET ROLE regress_tg_direct;
BEGIN;
SELECT pat_authenticate(:'live_tok') AS user_id;
SELECT name FROM pat.tokens ORDER BY name;
-- Deleting the revoked token to put it back un-revoked: nothing is deleted.
DELETE FROM pat.tokens WHERE token_id = :'alice_id';
SELECT count(*) AS still_there FROM pat.tokens WHERE token_id = :'alice_id';
-- Inserting: refused, even for the authenticated user: by the guard first (this token may not
-- manage tokens), and row-level security has no INSERT policy.
INSERT INTO pat.tokens (user_id, name, scopes, digest)
VALUES ('tg-alice', 'forged', '{tg:read}', sha256('chosen'));
\echo :SQLSTATE
ROLLBACK;
RESET ROLE;

-- Past row-level security (BYPASSRLS), the guard still refuses.
ALTER ROLE regress_tg_direct BYPASSRLS;
SET ROLE regress_tg_direct;
-- A revoked row, or one put back with its old history.
INSERT INTO pat.tokens (user_id, name, scopes, digest, revoked_at)
VALUES ('tg-alice', 'forged', '{tg:read}', sha256('chosen'), now());
\echo :SQLSTATE
INSERT INTO pat.tokens (user_id, name, scopes, digest, created_at)
VALUES ('tg-alice', 'forged', '{tg:read}', sha256('chosen'), now() - interval '1 year');
\echo :SQLSTATE
INSERT INTO pat.tokens (user_id, name, scopes, digest, created_at)
VALUES ('tg-alice', 'forged', '{tg:read}', sha256('chosen'), now() + interval '1 day');
\echo :SQLSTATE
-- An expiry the API would refuse.
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES ('tg-alice', 'forged', '{tg:read}', sha256('chosen'), now() - interval '1 second');
\echo :SQLSTATE
-- A user id or a name the API would refuse.
INSERT INTO pat.tokens (user_id, name, scopes, digest) VALUES ('  ', 'forged', '{}', sha256('a'));
\echo :SQLSTATE
INSERT INTO pat.tokens (user_id, name, scopes, digest) VALUES ('tg-alice', '', '{}', sha256('a'));
\echo :SQLSTATE
INSERT INTO pat.tokens (user_id, name, scopes, digest)
VALUES ('tg-alice', repeat('n', 256), '{}', sha256('a'));
\echo :SQLSTATE
UPDATE pat.tokens SET name = '   ' WHERE token_id = :'bob_id';
\echo :SQLSTATE
RESET ROLE;
-- Under a lifetime policy, no token that never expires and none beyond it.
SELECT pat_audit_link() AS linked \gset
SELECT coalesce(max(seq), 0) AS audit_start FROM pat.audit_log \gset
SET pat.max_lifetime = '90 days';
SET ROLE regress_tg_direct;
INSERT INTO pat.tokens (user_id, name, scopes, digest) VALUES ('tg-alice', 'forever', '{}', sha256('b'));
\echo :SQLSTATE
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES ('tg-alice', 'long', '{}', sha256('b'), now() + interval '91 days');
\echo :SQLSTATE
-- What the API would accept is inserted, and audited as a creation.
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at)
VALUES ('tg-alice', 'direct', '{tg:read}', sha256('c'), now() + interval '30 days');
RESET ROLE;
RESET pat.max_lifetime;
SELECT pat_audit_link() AS linked \gset
SELECT action, user_id, token_name, db_role = 'regress_tg_direct' AS by_direct_role
FROM pat.audit_log WHERE seq > :audit_start ORDER BY seq;
SELECT count(*) AS forged_rows FROM pat.tokens WHERE name IN ('forged', 'forever', 'long');

-- A superuser may load rows with their history (pg_restore does): not audited as created.
SELECT pat_audit_link() AS linked \gset
SELECT coalesce(max(seq), 0) AS audit_start FROM pat.audit_log \gset
INSERT INTO pat.tokens (user_id, name, scopes, digest, created_at, revoked_at)
VALUES ('tg-restored', 'restored', '{}', sha256('d'), '2020-01-01', '2020-02-01');
SELECT pat_audit_link() AS linked \gset
SELECT count(*) AS audit_rows FROM pat.audit_log WHERE seq > :audit_start;
-- But not a bad name.
INSERT INTO pat.tokens (user_id, name, scopes, digest) VALUES ('tg-restored', ' ', '{}', sha256('e'));
\echo :SQLSTATE

-- Clean up.
DROP OWNED BY regress_tg_direct;
DROP ROLE regress_tg_direct;
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
