--
-- The audit log: token lifecycle rows, pat_set_actor, pat_audit() on an application's tables
-- (token context, 'always', excluded columns, partitions, hostile names), and the append-only
-- refusals, also for the superuser these tests run as. Only rows written by this file are
-- shown (seq > :audit_start); tokens, ids, hashes, txids and timestamps are never printed.
-- Every error is followed by \echo :SQLSTATE.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('audit_orders:write');
SELECT pat_define_role('audit_writer', '{audit_orders:write}');
SELECT pat_grant_role('audit_alice', 'audit_writer'), pat_grant_role('audit_bob', 'audit_writer');

SELECT pat_audit_link() AS linked \gset
SELECT coalesce(max(seq), 0) AS audit_start FROM pat.audit_log \gset
-- The rows this file wrote, oldest first.
SELECT pat_audit_link() AS linked \gset
CREATE TEMP VIEW audit_rows AS
SELECT l.seq, l.user_id, l.token_name, l.actor, l.action, l.table_name, l.old_data, l.new_data,
       l.db_role = session_user AS db_role_is_session_user, l.db_role, l.token_id
FROM pat.audit_log l
WHERE l.seq > :audit_start
ORDER BY l.seq;
-- The rows written since the last call, without ids or times.
CREATE TEMP TABLE audit_shown (seq bigint);
INSERT INTO audit_shown VALUES (:audit_start);
CREATE FUNCTION pg_temp.new_audit_rows()
RETURNS TABLE (user_id text, token_name text, actor text, action text, table_name text,
               old_data jsonb, new_data jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    shown bigint;
BEGIN
    PERFORM pat_audit_link();
    SELECT s.seq INTO shown FROM audit_shown s;
    UPDATE audit_shown SET seq = (SELECT coalesce(max(l.seq), shown) FROM pat.audit_log l);
    RETURN QUERY
    SELECT l.user_id, l.token_name, l.actor, l.action, l.table_name,
           l.old_data - 'expires_at' - 'revoked_at', l.new_data - 'expires_at' - 'revoked_at'
    FROM pat.audit_log l
    WHERE l.seq > shown
    ORDER BY l.seq;
END
$$;

-- Token lifecycle -----------------------------------------------------------------------------

-- created: name, scopes and expiry; never the digest or the token.
SELECT token AS alice_tok, token_id AS alice_id
FROM pat_create('audit_alice', 'laptop', '{audit_orders:write}', '30 days') \gset
SELECT token AS bob_tok, token_id AS bob_id
FROM pat_create('audit_bob', 'ci', '{audit_orders:write}', 'never') \gset
SELECT * FROM pg_temp.new_audit_rows();
SELECT pat_audit_link() AS linked \gset
SELECT token_id = :'alice_id' AS alice_row, new_data ? 'expires_at' AS has_expiry,
       new_data ->> 'expires_at' IS NOT NULL AS expiry_set, db_role_is_session_user
FROM audit_rows WHERE action = 'created' ORDER BY seq;
-- Neither the digest (in any encoding) nor the token appears anywhere in the log.
SELECT pat_audit_link() AS linked \gset
SELECT count(*) AS rows_with_secrets
FROM pat.audit_log l, pat.tokens t
WHERE t.user_id LIKE 'audit\_%'
  AND (strpos(l::text, encode(t.digest, 'hex')) > 0
       OR strpos(l::text, encode(t.digest, 'base64')) > 0
       OR strpos(l::text, :'alice_tok') > 0 OR strpos(l::text, :'bob_tok') > 0);

-- renamed and scopes_changed (one pat_update doing both writes both rows).
SELECT pat_update(:'alice_id', 'work laptop');
SELECT pat_update(:'alice_id', scopes => '{}');
SELECT pat_update(:'alice_id', 'laptop', '{audit_orders:write}');
SELECT * FROM pg_temp.new_audit_rows();
-- An update that changes nothing writes nothing.
SELECT pat_update(:'alice_id', 'laptop');
UPDATE pat.tokens SET name = name WHERE token_id = :'alice_id';
SELECT * FROM pg_temp.new_audit_rows();
-- expiry_changed: a direct UPDATE may only shorten an expiry, and is recorded.
UPDATE pat.tokens SET expires_at = expires_at - interval '1 day' WHERE token_id = :'alice_id';
SELECT pat_audit_link() AS linked \gset
SELECT action, old_data ? 'expires_at' AS old_expiry, new_data ? 'expires_at' AS new_expiry,
       (new_data ->> 'expires_at')::timestamptz < (old_data ->> 'expires_at')::timestamptz
           AS shortened
FROM audit_rows WHERE action = 'expiry_changed';
SELECT * FROM pg_temp.new_audit_rows();
-- Validating (which records the use elsewhere) writes nothing.
SELECT status FROM pat_validate(:'alice_tok');
SELECT status FROM pat_validate(:'alice_tok', '{audit_orders:write}');
SELECT * FROM pg_temp.new_audit_rows();

-- The actor: pat_set_actor() names who acts for the rest of the transaction.
BEGIN;
SELECT pat_set_actor('audit_admin');
SELECT pat_current_actor();
SELECT pat_update(:'bob_id', 'ci runner');
COMMIT;
SELECT pat_current_actor();
-- In a token context a token edits only its own user's tokens (self_service.sql has the
-- rules), so there is no actor: the user acts.
BEGIN;
SET LOCAL pat.manage_scope = 'audit_orders:write';
SELECT pat_authenticate(:'alice_tok');
SELECT pat_update(:'bob_id', 'ci');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL pat.manage_scope = 'audit_orders:write';
SELECT pat_authenticate(:'alice_tok');
SELECT pat_update(:'alice_id', 'my laptop');
COMMIT;
SELECT * FROM pg_temp.new_audit_rows();
-- A rolled back savepoint brings back the actor from before it; NULL clears.
BEGIN;
SELECT pat_set_actor('audit_support');
SAVEPOINT s;
SELECT pat_set_actor('audit_other');
SELECT pat_current_actor();
ROLLBACK TO SAVEPOINT s;
SELECT pat_current_actor();
SAVEPOINT t;
SELECT pat_set_actor('audit_kept');
RELEASE SAVEPOINT t;
SELECT pat_current_actor();
SELECT pat_set_actor(NULL);
SELECT pat_current_actor();
ROLLBACK;
-- A bad actor is refused.
SELECT pat_set_actor('');
\echo :SQLSTATE
SELECT pat_set_actor('   ');
\echo :SQLSTATE
SELECT pat_set_actor(repeat('a', 256));
\echo :SQLSTATE
SELECT pat_set_actor(E'admin\nforged line');
\echo :SQLSTATE
BEGIN;
SELECT pat_set_actor(repeat('é', 255));
SELECT length(pat_current_actor());
ROLLBACK;

-- revoked; pat_revoke_all writes one revoked row per token, in one transaction.
SELECT token_id AS bob2_id FROM pat_create('audit_bob', 'desktop', '{}', '1 day') \gset
SELECT pat_revoke(:'alice_id');
SELECT pat_revoke(:'alice_id');
SELECT pat_set_actor('audit_offboarding'), pat_revoke_all('audit_bob');
SELECT * FROM pg_temp.new_audit_rows();
SELECT pat_audit_link() AS linked \gset
SELECT count(DISTINCT l.txid) AS transactions, count(*) AS revoked_rows
FROM audit_rows r JOIN pat.audit_log l USING (seq)
WHERE r.action = 'revoked' AND r.user_id = 'audit_bob';
-- deleted: a direct DELETE of a token row.
DELETE FROM pat.tokens WHERE token_id = :'bob2_id';
SELECT * FROM pg_temp.new_audit_rows();

-- A row restored by pg_restore (COPY; its created_at is before the transaction began) is not a
-- creation: nothing is written.
COPY pat.tokens (user_id, name, scopes, digest, created_at) FROM stdin;
audit_restored	restored token	{}	\\x00aa	2020-01-01 00:00:00+00
\.
SELECT * FROM pg_temp.new_audit_rows();
DELETE FROM pat.tokens WHERE user_id = 'audit_restored';
SELECT action, user_id FROM pg_temp.new_audit_rows();

-- pat_audit() on an application's table ----------------------------------------------------

CREATE TABLE audit_orders (id int PRIMARY KEY, item text, password_hash text);
SELECT pat_audit_table('audit_orders', exclude => '{password_hash}');
\d audit_orders
SELECT token AS alice_tok, token_id AS alice_id
FROM pat_create('audit_alice', 'app', '{audit_orders:write}', '1 day') \gset
SELECT token AS bob_tok, token_id AS bob_id
FROM pat_create('audit_bob', 'app', '{audit_orders:write}', '1 day') \gset
SELECT action FROM pg_temp.new_audit_rows();

-- Inside a token context: every row change, against the token's user and name, without the
-- excluded column.
BEGIN;
SELECT pat_authenticate(:'alice_tok', '{audit_orders:write}');
INSERT INTO audit_orders VALUES (1, 'book', 'h1'), (2, 'pen', 'h2');
UPDATE audit_orders SET item = 'red pen', password_hash = 'h3' WHERE id = 2;
DELETE FROM audit_orders WHERE id = 1;
COMMIT;
SELECT * FROM pg_temp.new_audit_rows();
SELECT pat_audit_link() AS linked \gset
SELECT token_id = :'alice_id' AS alice_token FROM audit_rows WHERE table_name IS NOT NULL;
-- Outside any token context: not recorded.
INSERT INTO audit_orders VALUES (3, 'ink', 'h4');
UPDATE audit_orders SET item = 'blue ink' WHERE id = 3;
SELECT * FROM pg_temp.new_audit_rows();
-- The context ends with the transaction.
BEGIN;
SELECT pat_authenticate(:'bob_tok');
DELETE FROM audit_orders WHERE id = 3;
COMMIT;
DELETE FROM audit_orders WHERE id = 2;
SELECT * FROM pg_temp.new_audit_rows();
-- The actor set by the application is recorded with the token's user.
BEGIN;
SELECT pat_authenticate(:'bob_tok');
SELECT pat_set_actor('audit_support');
INSERT INTO audit_orders VALUES (4, 'stamp', 'h5');
COMMIT;
SELECT * FROM pg_temp.new_audit_rows();
-- A rolled back savepoint takes its audit rows with it; the chain stays gapless.
BEGIN;
SELECT pat_authenticate(:'bob_tok');
SAVEPOINT s;
INSERT INTO audit_orders VALUES (5, 'lost', 'h6');
ROLLBACK TO SAVEPOINT s;
INSERT INTO audit_orders VALUES (6, 'kept', 'h7');
COMMIT;
SELECT * FROM pg_temp.new_audit_rows();

-- The role that ran it: SET ROLE applies. Trigger functions run without an EXECUTE check, so
-- the role needs no privilege on pat_audit() (nor anything in schema pat).
CREATE ROLE regress_audit_app NOLOGIN;
GRANT INSERT, UPDATE, DELETE, SELECT ON audit_orders TO regress_audit_app;
SELECT has_function_privilege('regress_audit_app', 'pat_audit()', 'EXECUTE') AS may_execute,
       has_schema_privilege('regress_audit_app', 'pat', 'USAGE') AS pat_usage;
BEGIN;
SELECT pat_authenticate(:'alice_tok');
SET LOCAL ROLE regress_audit_app;
INSERT INTO audit_orders VALUES (7, 'glue', 'h8');
COMMIT;
SELECT pat_audit_link() AS linked \gset
SELECT user_id, action, new_data, db_role, db_role_is_session_user
FROM audit_rows ORDER BY seq DESC LIMIT 1;
SELECT action FROM pg_temp.new_audit_rows();
-- Inside pat's SECURITY DEFINER functions too, the role recorded is the caller's.
GRANT EXECUTE ON FUNCTION pat_update(uuid, text, text[], cidr[], jsonb, jsonb) TO regress_audit_app;
SET ROLE regress_audit_app;
SELECT pat_update(:'alice_id', 'app (renamed)');
RESET ROLE;
SELECT pat_audit_link() AS linked \gset
SELECT user_id, action, db_role FROM audit_rows ORDER BY seq DESC LIMIT 1;
SELECT action FROM pg_temp.new_audit_rows();

-- 'always' (record_without_token): changes outside a token context too, with no user.
CREATE TABLE audit_settings (key text PRIMARY KEY, value text);
SELECT pat_audit_table('audit_settings', record_without_token => true);
INSERT INTO audit_settings VALUES ('mode', 'strict');
BEGIN;
SELECT pat_authenticate(:'bob_tok');
UPDATE audit_settings SET value = 'lenient';
COMMIT;
SELECT * FROM pg_temp.new_audit_rows();
-- Re-attaching replaces the arguments; detaching stops the recording.
SELECT pat_audit_table('audit_settings', false, '{value}');
SELECT tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
WHERE tgrelid = 'audit_settings'::regclass;
SELECT pat_audit_table_off('audit_settings'), pat_audit_table_off('audit_settings');
BEGIN;
SELECT pat_authenticate(:'bob_tok');
DELETE FROM audit_settings;
COMMIT;
SELECT * FROM pg_temp.new_audit_rows();

-- pat_audit_table runs with the caller's rights: CREATE TRIGGER needs the TRIGGER privilege
-- on the table and EXECUTE on pat_audit(); nobody can detach the trigger of a table they do
-- not own.
CREATE ROLE regress_audit_owner NOLOGIN;
GRANT CREATE ON SCHEMA public TO regress_audit_owner;
GRANT EXECUTE ON FUNCTION pat_audit_table(regclass, boolean, text[]),
                          pat_audit_table_off(regclass) TO regress_audit_owner;
SET ROLE regress_audit_owner;
CREATE TABLE audit_owned (id int);
SELECT pat_audit_table('audit_owned');
\echo :SQLSTATE
SELECT pat_audit_table_off('audit_orders');
\echo :SQLSTATE
RESET ROLE;
GRANT EXECUTE ON FUNCTION pat_audit() TO regress_audit_owner;
SET ROLE regress_audit_owner;
SELECT pat_audit_table('audit_owned');
DROP TABLE audit_owned;
RESET ROLE;
REVOKE ALL ON FUNCTION pat_audit(), pat_audit_table(regclass, boolean, text[]),
                       pat_audit_table_off(regclass) FROM regress_audit_owner;
REVOKE CREATE ON SCHEMA public FROM regress_audit_owner;
DROP ROLE regress_audit_owner;
SELECT * FROM pg_temp.new_audit_rows();

-- A partitioned table: the trigger reaches every partition, rows name the partitioned table.
CREATE TABLE audit_parted (id int, region text) PARTITION BY LIST (region);
CREATE TABLE audit_parted_eu PARTITION OF audit_parted FOR VALUES IN ('eu');
SELECT pat_audit_table('audit_parted');
BEGIN;
SELECT pat_authenticate(:'alice_tok');
INSERT INTO audit_parted VALUES (1, 'eu');
CREATE TABLE audit_parted_us PARTITION OF audit_parted FOR VALUES IN ('us');
INSERT INTO audit_parted VALUES (2, 'us');
COMMIT;
SELECT * FROM pg_temp.new_audit_rows();

-- A hostile table name is quoted, never executed; so is a hostile column name.
CREATE TABLE "audit_x""; DROP TABLE audit_orders; --" (id int, "pw"", x" text);
SELECT pat_audit_table('"audit_x""; DROP TABLE audit_orders; --"', exclude => '{"pw\", x"}');
BEGIN;
SELECT pat_authenticate(:'alice_tok');
INSERT INTO "audit_x""; DROP TABLE audit_orders; --" VALUES (1, 'secret');
COMMIT;
SELECT * FROM pg_temp.new_audit_rows();
SELECT count(*) AS audit_orders_still_there FROM audit_orders;

-- Misuse.
SELECT pat_audit_table('audit_orders', exclude => '{no_such_column}');
\echo :SQLSTATE
SELECT pat_audit_table('audit_rows');
\echo :SQLSTATE
SELECT pat_audit_table('audit_orders', NULL);
\echo :SQLSTATE
SELECT pat_audit();
\echo :SQLSTATE
CREATE TABLE audit_misused (id int);
CREATE TRIGGER bad_args AFTER INSERT ON audit_misused
    FOR EACH ROW EXECUTE FUNCTION pat_audit('always', 'exclude=nope');
INSERT INTO audit_misused VALUES (1);
\echo :SQLSTATE
DROP TRIGGER bad_args ON audit_misused;
CREATE TRIGGER bad_args AFTER INSERT ON audit_misused
    FOR EACH ROW EXECUTE FUNCTION pat_audit('sometimes');
INSERT INTO audit_misused VALUES (1);
\echo :SQLSTATE
DROP TRIGGER bad_args ON audit_misused;
CREATE TRIGGER bad_when BEFORE INSERT ON audit_misused
    FOR EACH ROW EXECUTE FUNCTION pat_audit('always');
INSERT INTO audit_misused VALUES (1);
\echo :SQLSTATE
DROP TABLE audit_misused;
SELECT * FROM pg_temp.new_audit_rows();

-- Append-only ----------------------------------------------------------------------------------

-- Refused for the superuser (who owns the table here), whatever the statement.
SELECT rolsuper FROM pg_roles WHERE rolname = current_user;
UPDATE pat.audit_log SET actor = 'nobody' WHERE seq = :audit_start + 1;
\echo :SQLSTATE
DELETE FROM pat.audit_log WHERE seq = :audit_start + 1;
\echo :SQLSTATE
DELETE FROM pat.audit_log;
\echo :SQLSTATE
TRUNCATE pat.audit_log;
\echo :SQLSTATE
-- Also inside a function that catches the error.
DO $$
BEGIN
    DELETE FROM pat.audit_log;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'refused: %', SQLERRM;
END
$$;
-- An application role may not read, write, link or purge the log, nor write rows itself.
SET ROLE regress_audit_app;
SELECT count(*) FROM pat.audit_log;
\echo :SQLSTATE
INSERT INTO pat.audit_log (seq, action, db_role, session_role, txid, row_hash)
VALUES (0, 'insert', 'x', 'x', 0, '\x00');
\echo :SQLSTATE
SELECT pat_audit_link();
\echo :SQLSTATE
SELECT pat_audit_purge('1 day');
\echo :SQLSTATE
SELECT * FROM pat_audit_verify();
\echo :SQLSTATE
SELECT pat_set_actor('audit_admin');
\echo :SQLSTATE
RESET ROLE;
SELECT * FROM pg_temp.new_audit_rows();

-- The chain is intact.
SELECT pat_audit_link() AS linked \gset
SELECT ok, checked = (SELECT count(*) FROM pat.audit_log) AS all_checked, first_broken_seq,
       detail
FROM pat_audit_verify();
SELECT count(*) = max(seq) - min(seq) + 1 AS gapless FROM pat.audit_log;

-- The DBA's two questions use their indexes.
SET enable_seqscan = off;
SET enable_bitmapscan = off;
-- What did token X do between issue and revoke?
EXPLAIN (COSTS OFF)
SELECT occurred_at, action, table_name, old_data, new_data, actor, db_role
FROM pat.audit_log
WHERE token_id = '00000000-0000-0000-0000-000000000000'
ORDER BY occurred_at;
-- Which tokens of user U touched table T?
EXPLAIN (COSTS OFF)
SELECT token_id, count(*), min(occurred_at), max(occurred_at)
FROM pat.audit_log
WHERE user_id = 'audit_alice' AND table_name = 'public.audit_orders'
GROUP BY token_id;
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT action, table_name FROM pat.audit_log
WHERE token_id = :'alice_id'
ORDER BY occurred_at;
SELECT token_id = :'alice_id' AS alice_app_token, count(*)
FROM pat.audit_log
WHERE user_id = 'audit_alice' AND table_name = 'public.audit_orders'
GROUP BY token_id;

DROP TABLE audit_orders, audit_settings, audit_parted, "audit_x""; DROP TABLE audit_orders; --";
REVOKE EXECUTE ON FUNCTION pat_update(uuid, text, text[], cidr[], jsonb, jsonb) FROM regress_audit_app;
DROP ROLE regress_audit_app;
