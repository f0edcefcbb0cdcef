--
-- The audit log stays append-only and the lifecycle stays recorded for every role and in every
-- mode: the guards of pat.audit_log and pat.audit_pending and tokens_audit fire ALWAYS, so
-- session_replication_role = replica (a superuser's, or logical replication's apply) skips none
-- of them. These tests run as a superuser.
--
\set SHOW_CONTEXT never
SELECT pat_audit_link() AS linked \gset
SELECT token_id AS tok_id FROM pat_create('regress_guard_alice', 'guarded', '{}', '1 day') \gset
SELECT pat_audit_link() AS linked \gset
SELECT max(seq) AS head FROM pat.audit_log \gset

-- Replica mode ----------------------------------------------------------------------------

SET session_replication_role = replica;
DELETE FROM pat.audit_log WHERE seq = :head;
\echo :SQLSTATE
UPDATE pat.audit_log SET actor = 'mallory' WHERE seq = :head;
\echo :SQLSTATE
TRUNCATE pat.audit_log;
\echo :SQLSTATE
INSERT INTO pat.audit_log SELECT * FROM pat.audit_log WHERE seq = :head;
\echo :SQLSTATE
TRUNCATE pat.audit_pending;
\echo :SQLSTATE
-- A pending row (this transaction's own, so no linker takes it first) cannot be deleted.
BEGIN;
SELECT pat_set_actor('regress pending row');
SELECT pat_define_scope('regress_guard:pending');
SELECT count(*) > 0 AS pending FROM pat.audit_pending;
DELETE FROM pat.audit_pending;
\echo :SQLSTATE
ROLLBACK;
SET session_replication_role = replica;
-- A revocation written in replica mode is recorded.
SELECT pat_revoke(:'tok_id');
UPDATE pat.tokens SET name = 'renamed in replica mode' WHERE token_id = :'tok_id';
DELETE FROM pat.tokens WHERE token_id = :'tok_id';
RESET session_replication_role;
SELECT pat_audit_link() > 0 AS linked;
SELECT action, user_id, token_name FROM pat.audit_log WHERE seq > :head ORDER BY seq;
SELECT ok, detail FROM pat_audit_verify();
-- The event trigger fires in replica mode too: a pat_audit() trigger disabled there is recorded.
CREATE TABLE regress_guard_orders (id int PRIMARY KEY);
SELECT pat_audit_table('regress_guard_orders');
SET session_replication_role = replica;
ALTER TABLE regress_guard_orders DISABLE TRIGGER pat_audit;
RESET session_replication_role;
SELECT pat_audit_link() > 0 AS linked;
SELECT action, table_name, old_data, new_data FROM pat.audit_log
WHERE action LIKE 'audit_trigger%' ORDER BY seq DESC LIMIT 1;
DROP TABLE regress_guard_orders;
SELECT evtname, evtenabled FROM pg_event_trigger WHERE evtname = 'pat_audit_trigger_changes';
SELECT tgrelid::regclass, tgname, tgenabled FROM pg_trigger
WHERE tgname IN ('audit_log_append_only', 'audit_log_no_truncate', 'audit_pending_append_only',
                 'audit_pending_no_truncate', 'tokens_audit')
ORDER BY tgrelid::regclass::text, tgname;

-- pg_pat's own objects, outside its scripts: refused for every role ----------------------

CREATE FUNCTION regress_guard_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
-- The log's guards and tokens_audit: dropped, replaced, renamed, disabled.
DROP TRIGGER audit_log_append_only ON pat.audit_log;
\echo :SQLSTATE
DROP TRIGGER audit_pending_no_truncate ON pat.audit_pending;
\echo :SQLSTATE
DROP TRIGGER tokens_audit ON pat.tokens;
\echo :SQLSTATE
CREATE OR REPLACE TRIGGER tokens_audit AFTER INSERT ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION regress_guard_noop();
\echo :SQLSTATE
ALTER TRIGGER tokens_audit ON pat.tokens RENAME TO regress_renamed;
\echo :SQLSTATE
ALTER TABLE pat.tokens DISABLE TRIGGER tokens_audit;
\echo :SQLSTATE
ALTER TABLE pat.tokens ENABLE REPLICA TRIGGER tokens_audit;
\echo :SQLSTATE
ALTER TABLE pat.tokens DISABLE TRIGGER USER;
\echo :SQLSTATE
-- A trigger of the user's own on pat.tokens stays the user's.
CREATE TRIGGER regress_own AFTER INSERT ON pat.tokens
    FOR EACH ROW EXECUTE FUNCTION regress_guard_noop();
ALTER TABLE pat.tokens DISABLE TRIGGER regress_own;
DROP TRIGGER regress_own ON pat.tokens;
-- pg_pat's functions: replaced, altered, renamed, moved, given away.
CREATE OR REPLACE FUNCTION pat.audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS 'BEGIN RETURN OLD; END';
\echo :SQLSTATE
CREATE OR REPLACE FUNCTION pat.tokens_audit() RETURNS trigger
AS 'pg_pat', 'pat_current_actor' LANGUAGE C;
\echo :SQLSTATE
ALTER FUNCTION pat_audit_verify() SECURITY INVOKER;
\echo :SQLSTATE
ALTER FUNCTION pat.tokens_audit() RENAME TO regress_renamed;
\echo :SQLSTATE
ALTER FUNCTION pat.tokens_audit() SET SCHEMA public;
\echo :SQLSTATE
CREATE ROLE regress_guard_owner;
ALTER FUNCTION pat.audit_log_append_only() OWNER TO regress_guard_owner;
\echo :SQLSTATE
DROP ROLE regress_guard_owner;
-- A new overload is no member: allowed.
CREATE FUNCTION pat_audit_verify(regress int) RETURNS int LANGUAGE sql AS 'SELECT 1';
DROP FUNCTION pat_audit_verify(int);
-- The event trigger, matched by OID: renaming it first does not help.
ALTER EVENT TRIGGER pat_audit_trigger_changes RENAME TO regress_renamed;
\echo :SQLSTATE
ALTER EVENT TRIGGER pat_audit_trigger_changes DISABLE;
\echo :SQLSTATE
ALTER EVENT TRIGGER pat_audit_trigger_changes OWNER TO CURRENT_USER;
\echo :SQLSTATE
-- Membership: nothing leaves or joins the extension.
ALTER EXTENSION pg_pat DROP FUNCTION pat.tokens_audit();
\echo :SQLSTATE
ALTER EXTENSION pg_pat DROP EVENT TRIGGER pat_audit_trigger_changes;
\echo :SQLSTATE
ALTER EXTENSION pg_pat ADD FUNCTION regress_guard_noop();
\echo :SQLSTATE
-- Everything is as the script made it.
SELECT tgrelid::regclass, tgname, tgenabled, tgfoid::regproc FROM pg_trigger
WHERE tgname IN ('audit_log_append_only', 'audit_pending_no_truncate', 'tokens_audit')
ORDER BY tgrelid::regclass::text, tgname;
SELECT evtname, evtenabled FROM pg_event_trigger WHERE evtname LIKE 'pat%';
SELECT prosecdef FROM pg_proc WHERE oid = 'pat_audit_verify()'::regprocedure;
DROP FUNCTION regress_guard_noop();

-- Auditing switched off by other paths is recorded ----------------------------------------

CREATE TEMP TABLE guard_seen (seq bigint);
CREATE FUNCTION pg_temp.trigger_rows()
RETURNS TABLE (action text, table_name text, old_data jsonb, new_data jsonb)
LANGUAGE sql AS $$
    SELECT pat_audit_link();
    SELECT l.action, l.table_name, l.old_data, l.new_data FROM pat.audit_log l
    WHERE l.seq > (SELECT coalesce(max(seq), 0) FROM guard_seen) ORDER BY l.seq;
$$;
CREATE FUNCTION pg_temp.seen() RETURNS void LANGUAGE sql AS $$
    SELECT pat_audit_link();
    INSERT INTO guard_seen SELECT max(seq) FROM pat.audit_log;
$$;
CREATE FUNCTION regress_guard_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
CREATE TABLE regress_guard_plain (id int PRIMARY KEY, v text);
SELECT pat_audit_table('regress_guard_plain', record_without_token => true);
SELECT pg_temp.seen();
-- pat_audit_table() again, with other arguments, is no switch-off.
SELECT pat_audit_table('regress_guard_plain', record_without_token => true, exclude => '{v}');
SELECT * FROM pg_temp.trigger_rows();
-- CREATE OR REPLACE TRIGGER with a no-op, with a condition, or for fewer changes is.
CREATE OR REPLACE TRIGGER pat_audit AFTER INSERT OR UPDATE OR DELETE ON regress_guard_plain
    FOR EACH ROW EXECUTE FUNCTION regress_guard_noop();
SELECT * FROM pg_temp.trigger_rows();
SELECT pg_temp.seen();
SELECT pat_audit_table('regress_guard_plain', record_without_token => true);
CREATE OR REPLACE TRIGGER pat_audit AFTER INSERT OR UPDATE OR DELETE ON regress_guard_plain
    FOR EACH ROW WHEN (false) EXECUTE FUNCTION pat_audit('always');
CREATE OR REPLACE TRIGGER pat_audit_truncate AFTER TRUNCATE ON regress_guard_plain
    FOR EACH STATEMENT WHEN (false) EXECUTE FUNCTION pat_audit('always');
SELECT pat_audit_table('regress_guard_plain', record_without_token => true);
CREATE OR REPLACE TRIGGER pat_audit AFTER INSERT ON regress_guard_plain
    FOR EACH ROW EXECUTE FUNCTION pat_audit('always');
SELECT * FROM pg_temp.trigger_rows();
SELECT pg_temp.seen();

-- pat_audit() triggers fire ALWAYS, however created (clones included): changes made in replica
-- mode are recorded, and setting one back to fire on origin only is recorded as a switch-off.
CREATE TABLE regress_guard_replica (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE regress_guard_replica_1 PARTITION OF regress_guard_replica
    FOR VALUES FROM (0) TO (10);
SELECT pat_audit_table('regress_guard_replica', record_without_token => true);
-- A partition created or attached later clones it as it is.
CREATE TABLE regress_guard_replica_2 PARTITION OF regress_guard_replica
    FOR VALUES FROM (10) TO (20);
CREATE TABLE regress_guard_replica_3 (id int PRIMARY KEY);
ALTER TABLE regress_guard_replica ATTACH PARTITION regress_guard_replica_3
    FOR VALUES FROM (20) TO (30);
SELECT tgrelid::regclass, tgname, tgenabled FROM pg_trigger
WHERE tgrelid::regclass::text LIKE 'regress_guard_replica%'
ORDER BY tgrelid::regclass::text, tgname;
SET session_replication_role = replica;
INSERT INTO regress_guard_replica VALUES (1);
RESET session_replication_role;
ALTER TABLE regress_guard_replica ENABLE TRIGGER pat_audit;
ALTER TABLE regress_guard_replica ENABLE TRIGGER pat_audit;   -- on origin already: nothing more
SELECT * FROM pg_temp.trigger_rows();
SELECT pg_temp.seen();
DROP TABLE regress_guard_replica;
SELECT pg_temp.seen();

-- A partitioned table: TRUNCATE of one partition and DETACH PARTITION.
CREATE TABLE regress_guard_parted (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE regress_guard_part1 PARTITION OF regress_guard_parted FOR VALUES FROM (0) TO (10);
CREATE TABLE regress_guard_part2 PARTITION OF regress_guard_parted FOR VALUES FROM (10) TO (20);
SELECT pat_audit_table('regress_guard_parted', record_without_token => true);
INSERT INTO regress_guard_parted VALUES (1, 'a'), (11, 'b');
SELECT pg_temp.seen();
TRUNCATE regress_guard_part1;
TRUNCATE regress_guard_parted;
SELECT * FROM pg_temp.trigger_rows();
SELECT pg_temp.seen();
ALTER TABLE regress_guard_parted DETACH PARTITION regress_guard_part2;
SELECT * FROM pg_temp.trigger_rows();
SELECT pg_temp.seen();
-- Without a token, a partition's TRUNCATE is recorded only as the root's would be.
SELECT pat_audit_table('regress_guard_parted');
TRUNCATE regress_guard_part1;
SELECT * FROM pg_temp.trigger_rows();

-- DROP SCHEMA ... CASCADE and DROP OWNED drop pat_audit() triggers with their tables.
CREATE SCHEMA regress_guard_app;
CREATE TABLE regress_guard_app.ledger (id int PRIMARY KEY);
SELECT pat_audit_table('regress_guard_app.ledger');
CREATE ROLE regress_guard_owner;
GRANT CREATE ON SCHEMA public TO regress_guard_owner;
GRANT EXECUTE ON FUNCTION pat_audit_table(regclass, boolean, text[]), pat_audit()
    TO regress_guard_owner;
SET ROLE regress_guard_owner;
CREATE TABLE regress_guard_owned (id int PRIMARY KEY);
SELECT pat_audit_table('regress_guard_owned');
RESET ROLE;
SELECT pg_temp.seen();
DROP SCHEMA regress_guard_app CASCADE;
DROP OWNED BY regress_guard_owner;
-- A DROP rolled back records nothing.
BEGIN;
SAVEPOINT s;
DROP TABLE regress_guard_plain;
ROLLBACK TO s;
COMMIT;
SELECT * FROM pg_temp.trigger_rows();
DROP ROLE regress_guard_owner;
DROP TABLE regress_guard_plain, regress_guard_parted, regress_guard_part2;
DROP FUNCTION regress_guard_noop();

-- A minimum retention for pat_audit_purge(), lowered by a superuser only -------------------

SHOW pat.audit_min_retention;
SELECT pat_audit_purge('0');
\echo :SQLSTATE
SELECT pat_audit_purge('6 days 23:59:59');
\echo :SQLSTATE
SELECT pat_audit_purge('-1 day');
\echo :SQLSTATE
SELECT pat_audit_purge('7 days') >= 0 AS purged;
SELECT pat_audit_purge('1 week 1 month') >= 0 AS purged;
CREATE ROLE regress_guard_dba;
GRANT EXECUTE ON FUNCTION pat_audit_purge(interval) TO regress_guard_dba;
SET ROLE regress_guard_dba;
SET pat.audit_min_retention = '';
\echo :SQLSTATE
SELECT pat_audit_purge('1 day');
\echo :SQLSTATE
RESET ROLE;
SET pat.audit_min_retention = '0';
\echo :SQLSTATE
SET pat.audit_min_retention = '1 day';
SELECT pat_audit_purge('1 day') >= 0 AS purged;
RESET pat.audit_min_retention;
REVOKE ALL ON FUNCTION pat_audit_purge(interval) FROM regress_guard_dba;
DROP ROLE regress_guard_dba;
SELECT ok, detail FROM pat_audit_verify();

-- The head anchored by the linker: a deleted tail is found ------------------------------

SELECT pat_define_scope('regress_guard:anchor');
SELECT pat_audit_link() > 0 AS linked;
SELECT h.seq = (SELECT max(seq) FROM pat.audit_log) AS head_is_tail,
       h.row_hash = (SELECT row_hash FROM pat.audit_log ORDER BY seq DESC LIMIT 1) AS same_hash
FROM pat.audit_head h;
SELECT count(*) FROM pat.audit_head;
-- Written by the linker only, in every mode.
SET session_replication_role = replica;
UPDATE pat.audit_head SET seq = seq - 1;
\echo :SQLSTATE
DELETE FROM pat.audit_head;
\echo :SQLSTATE
TRUNCATE pat.audit_head;
\echo :SQLSTATE
INSERT INTO pat.audit_head VALUES (1, '\x00');
\echo :SQLSTATE
RESET session_replication_role;
ALTER TABLE pat.audit_head DISABLE TRIGGER audit_head_linker_only;
\echo :SQLSTATE
-- The last two rows deleted by a superuser who edits pg_trigger to get past the guards (the one
-- path left): the rest of the chain links, but it ends before its anchored head.
SELECT max(seq) AS tail FROM pat.audit_log \gset
CREATE TEMP TABLE guard_tail AS SELECT * FROM pat.audit_log WHERE seq > :tail - 2;
CREATE PROCEDURE pg_temp.skip_guards(skip boolean) LANGUAGE sql AS $$
    UPDATE pg_catalog.pg_trigger SET tgenabled = CASE WHEN skip THEN 'D' ELSE 'A' END
    WHERE tgrelid = 'pat.audit_log'::regclass
      AND tgname IN ('audit_log_append_only', 'audit_log_no_truncate');
    UPDATE pg_catalog.pg_class SET relhastriggers = true WHERE oid = 'pat.audit_log'::regclass;
$$;
CALL pg_temp.skip_guards(true);
DELETE FROM pat.audit_log WHERE seq > :tail - 2;
CALL pg_temp.skip_guards(false);
SELECT ok, first_broken_seq - :tail AS first_broken, checked = (SELECT count(*) FROM pat.audit_log)
       AS checked_all, regexp_replace(detail, '\d+', 'N', 'g') AS detail
FROM pat_audit_verify();
-- A row forged in place of the head does not match it.
CALL pg_temp.skip_guards(true);
INSERT INTO pat.audit_log SELECT * FROM guard_tail WHERE seq = :tail - 1;
INSERT INTO pat.audit_log (seq, occurred_at, user_id, action, db_role, session_role, txid,
                           prev_hash, row_hash)
SELECT :tail, '2026-01-01 00:00+00', 'mallory', 'insert', 'x', 'x', 0, row_hash,
       pat.audit_hash(row_hash, :tail, '2026-01-01 00:00+00', 'mallory', NULL, NULL, NULL,
                      'insert', NULL, NULL, NULL, 'x', 'x', 0)
FROM guard_tail WHERE seq = :tail - 1;
CALL pg_temp.skip_guards(false);
SELECT ok, first_broken_seq - :tail AS first_broken, regexp_replace(detail, '\d+', 'N', 'g')
FROM pat_audit_verify();
-- The head put back, and a row linked past it by hand: not linked by pg_pat.
CALL pg_temp.skip_guards(true);
DELETE FROM pat.audit_log WHERE seq = :tail;
INSERT INTO pat.audit_log SELECT * FROM guard_tail WHERE seq = :tail;
INSERT INTO pat.audit_log (seq, occurred_at, user_id, action, db_role, session_role, txid,
                           prev_hash, row_hash)
SELECT :tail + 1, '2026-01-01 00:00+00', 'mallory', 'insert', 'x', 'x', 0, row_hash,
       pat.audit_hash(row_hash, :tail + 1, '2026-01-01 00:00+00', 'mallory', NULL, NULL, NULL,
                      'insert', NULL, NULL, NULL, 'x', 'x', 0)
FROM guard_tail WHERE seq = :tail;
CALL pg_temp.skip_guards(false);
SELECT ok, first_broken_seq - :tail AS first_broken, regexp_replace(detail, '\d+', 'N', 'g')
FROM pat_audit_verify();
-- Put back, the chain verifies and goes on.
CALL pg_temp.skip_guards(true);
DELETE FROM pat.audit_log WHERE seq = :tail + 1;
CALL pg_temp.skip_guards(false);
SELECT ok, detail FROM pat_audit_verify();
SELECT pat_define_scope('regress_guard:anchor', 'after');
SELECT pat_audit_link() > 0 AS linked;
SELECT ok, detail FROM pat_audit_verify();
