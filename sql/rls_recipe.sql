--
-- A row-level security recipe, as an application team writes it (docs/application.md):
-- the application's role (no superuser, no BYPASSRLS) owns a table whose policies test
-- pat_current_user() and pat_has_scope(), with FORCE ROW LEVEL SECURITY because a table's owner
-- is otherwise exempt from its policies. Shows: without FORCE the owner sees every row; with
-- it, no row is read or written without a token context; each token reads and writes only its
-- user's rows, and writes only with the write scope; no row can be written for another user; a
-- revoked token is refused by the next request; pat_clear() and the end of an autocommit
-- statement end the context. Tokens, ids and timestamps are never printed. Every error is
-- followed by \echo :SQLSTATE.
--
\set SHOW_CONTEXT never

-- What a user may put on a token.
SELECT pat_define_scope('rr_notes:read', 'read your notes'),
       pat_define_scope('rr_notes:write', 'write your notes');
SELECT pat_define_role('rr_note_taker', '{rr_notes:read,rr_notes:write}');
SELECT pat_grant_role('rr-alice', 'rr_note_taker'), pat_grant_role('rr-bob', 'rr_note_taker');

-- The application's database role: not a superuser, no BYPASSRLS. It owns its schema and
-- tables (it runs the migrations) and serves the requests.
CREATE ROLE rr_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
SELECT pat_grant_profile('rr_app', 'application');
CREATE SCHEMA rr AUTHORIZATION rr_app;
SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'rr_app';

SET ROLE rr_app;
CREATE TABLE rr.notes (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner text NOT NULL,   -- a pg_pat user id
    body  text NOT NULL
);
INSERT INTO rr.notes (owner, body)
VALUES ('rr-alice', 'alice 1'), ('rr-alice', 'alice 2'), ('rr-bob', 'bob 1');

-- The back end issues tokens for its signed-in web users (outside a token context).
SELECT token AS alice_rw, token_id AS alice_rw_id
FROM pat_create('rr-alice', 'laptop', '{rr_notes:read,rr_notes:write}', '30 days') \gset
SELECT token AS alice_ro
FROM pat_create('rr-alice', 'reader', '{rr_notes:read}', '30 days') \gset
SELECT token AS alice_wo
FROM pat_create('rr-alice', 'importer', '{rr_notes:write}', '30 days') \gset
SELECT token AS bob_rw
FROM pat_create('rr-bob', 'bob cli', '{rr_notes:read,rr_notes:write}', '30 days') \gset

-- The policies: reading needs the read scope, writing the write scope, both only the
-- authenticated user's rows. One policy per command, so that the write scope alone reads
-- nothing (a FOR ALL policy's USING would also let it read).
ALTER TABLE rr.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_read ON rr.notes FOR SELECT
    USING (owner = pat_current_user() AND pat_has_scope('rr_notes:read'));
CREATE POLICY notes_insert ON rr.notes FOR INSERT
    WITH CHECK (owner = pat_current_user() AND pat_has_scope('rr_notes:write'));
CREATE POLICY notes_update ON rr.notes FOR UPDATE
    USING (owner = pat_current_user() AND pat_has_scope('rr_notes:write'))
    WITH CHECK (owner = pat_current_user() AND pat_has_scope('rr_notes:write'));
CREATE POLICY notes_delete ON rr.notes FOR DELETE
    USING (owner = pat_current_user() AND pat_has_scope('rr_notes:write'));

-- The wrong recipe: ENABLE alone exempts the table's owner, which is the role serving the
-- requests. Without any token it sees every row.
SELECT pat_current_user() AS no_user, owner, body FROM rr.notes ORDER BY id;
-- The right one: FORCE makes the policies apply to the owner too.
ALTER TABLE rr.notes FORCE ROW LEVEL SECURITY;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'rr.notes'::regclass;

-- Without a token context: nothing to read, nothing written.
SELECT count(*) FROM rr.notes;
INSERT INTO rr.notes (owner, body) VALUES ('rr-alice', 'no token');
\echo :SQLSTATE
UPDATE rr.notes SET body = 'no token' RETURNING id;
DELETE FROM rr.notes RETURNING id;

-- A request with alice's read-write token: her rows only.
BEGIN;
SELECT pat_authenticate(:'alice_rw', '{rr_notes:read}') AS user_id;
SELECT owner, body FROM rr.notes ORDER BY id;
INSERT INTO rr.notes (owner, body) VALUES ('rr-alice', 'alice 3') RETURNING owner, body;
UPDATE rr.notes SET body = 'alice 1, edited' WHERE body = 'alice 1' RETURNING owner, body;
-- bob's row is not there for her to update or delete.
UPDATE rr.notes SET body = 'taken' WHERE owner = 'rr-bob' RETURNING id;
DELETE FROM rr.notes WHERE owner = 'rr-bob' RETURNING id;
SAVEPOINT s;
-- A row for another user: refused.
INSERT INTO rr.notes (owner, body) VALUES ('rr-bob', 'from alice');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
-- Handing her own row to another user: refused.
UPDATE rr.notes SET owner = 'rr-bob' WHERE body = 'alice 2';
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
COMMIT;

-- A request with bob's token: his rows only.
BEGIN;
SELECT pat_authenticate(:'bob_rw', '{rr_notes:read}') AS user_id;
SELECT owner, body FROM rr.notes ORDER BY id;
COMMIT;

-- alice's read-only token reads her rows and writes nothing.
BEGIN;
SELECT pat_authenticate(:'alice_ro', '{rr_notes:read}') AS user_id;
SELECT pat_current_scopes();
SELECT owner, body FROM rr.notes ORDER BY id;
SAVEPOINT s;
INSERT INTO rr.notes (owner, body) VALUES ('rr-alice', 'read-only');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
-- An UPDATE's USING clause hides the rows it may not change: no error, no row changed.
UPDATE rr.notes SET body = 'read-only' WHERE owner = 'rr-alice' RETURNING id;
-- So a write request checks its scope first, for an error the client can act on (403).
SELECT pat_require_scope('rr_notes:write');
\echo :SQLSTATE
ROLLBACK;
-- Or names the scope when authenticating.
BEGIN;
SELECT pat_authenticate(:'alice_ro', '{rr_notes:write}') AS user_id;
\echo :SQLSTATE
ROLLBACK;

-- alice's write-only token adds rows and reads none, its own neither.
BEGIN;
SELECT pat_authenticate(:'alice_wo', '{rr_notes:write}') AS user_id;
SELECT count(*) FROM rr.notes;
INSERT INTO rr.notes (owner, body) VALUES ('rr-alice', 'imported');
SELECT count(*) FROM rr.notes;
ROLLBACK;

-- pat_clear() ends the context before the transaction does: the rows are hidden again.
BEGIN;
SELECT pat_authenticate(:'alice_rw') AS user_id;
SELECT count(*) FROM rr.notes;
SELECT pat_clear() AS cleared;
SELECT pat_current_user(), count(*) FROM rr.notes;
INSERT INTO rr.notes (owner, body) VALUES ('rr-alice', 'after pat_clear');
\echo :SQLSTATE
ROLLBACK;

-- Outside a transaction block the context ends with the statement: pat_authenticate warns and
-- the next statement sees nothing.
SELECT pat_authenticate(:'alice_rw') AS user_id;
SELECT pat_current_user(), count(*) FROM rr.notes;

-- The back end revokes alice's laptop token; her next request is refused.
SELECT pat_revoke(:'alice_rw_id') AS revoked;
BEGIN;
SELECT pat_authenticate(:'alice_rw') AS user_id;
\echo :SQLSTATE
ROLLBACK;
SELECT count(*) FROM rr.notes;

-- What the table holds (a superuser is exempt from row-level security).
RESET ROLE;
SELECT owner, body FROM rr.notes ORDER BY id;

-- Clean up: the schema and table go with their owner.
DROP OWNED BY rr_app;
DROP ROLE rr_app;
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
