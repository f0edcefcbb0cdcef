--
-- What pg_pat records besides token lifecycle and row changes, and what it refuses. Every change
-- of what a token may do: a role granted and revoked, a role and a scope defined or redefined
-- (old and new); TRUNCATE of an audited table (one statement-level row); a pat_audit() trigger
-- disabled or dropped (the event trigger, with the role that did it). Refused for every role,
-- the superuser these tests run as included, each with its SQLSTATE: INSERT into the log or its
-- pending table, changes to the pending table, ALTER TABLE of either, ALTER EVENT TRIGGER.
-- pat_audit_verify() returns the row count, the head and the rows not yet linked.
--
\set SHOW_CONTEXT never
SELECT pat_audit_link() AS linked \gset
SELECT coalesce(max(seq), 0) AS start FROM pat.audit_log \gset
-- The rows written since the last call, linked first.
CREATE TEMP TABLE ac_shown (seq bigint);
INSERT INTO ac_shown VALUES (:start);
CREATE FUNCTION pg_temp.new_rows()
RETURNS TABLE (user_id text, token_name text, action text, table_name text, old_data jsonb,
               new_data jsonb, by_session_user boolean)
LANGUAGE plpgsql AS $$
DECLARE
    shown bigint;
BEGIN
    PERFORM pat_audit_link();
    SELECT s.seq INTO shown FROM ac_shown s;
    UPDATE ac_shown SET seq = (SELECT coalesce(max(l.seq), shown) FROM pat.audit_log l);
    RETURN QUERY
    SELECT l.user_id, l.token_name, l.action, l.table_name, l.old_data - 'expires_at',
           l.new_data - 'expires_at', l.db_role = session_user
    FROM pat.audit_log l
    WHERE l.seq > shown
    ORDER BY l.seq;
END
$$;

-- Scopes and roles -----------------------------------------------------------------------

SELECT pat_define_scope('ac:read', 'read things');
SELECT pat_define_scope('ac:write');
SELECT pat_define_role('ac_reader', '{ac:read}');
SELECT * FROM pg_temp.new_rows();
-- Redefinitions record old and new; one that changes nothing records nothing.
SELECT pat_define_scope('ac:write', 'write things');
SELECT pat_define_scope('ac:write', NULL);   -- NULL keeps the description: no change
SELECT pat_define_role('ac_reader', '{ac:write,ac:read}');
SELECT pat_define_role('ac_reader', '{ac:read,ac:write}');   -- the same set
SELECT pat_define_role('ac_reader', '{}', all_scopes => true);
SELECT * FROM pg_temp.new_rows();
-- Grants and revocations, only when they change something.
SELECT pat_grant_role('ac_alice', 'ac_reader');
SELECT pat_grant_role('ac_alice', 'ac_reader');   -- false: held already
SELECT pat_revoke_role('ac_alice', 'ac_reader');
SELECT pat_revoke_role('ac_alice', 'ac_reader');  -- false: not held
SELECT pat_grant_role('ac_alice', 'ac_reader');
SELECT * FROM pg_temp.new_rows();
-- Made with a token, a grant is attributed to the acting user (the actor).
SELECT token AS alice_tok FROM pat_create('ac_alice', 'admin console', '{ac:read}', '1 day') \gset
BEGIN;
SELECT pat_authenticate(:'alice_tok');
SELECT pat_grant_role('ac_bob', 'ac_reader');
COMMIT;
SELECT pat_audit_link() AS linked \gset
SELECT l.user_id, l.actor, l.action FROM pat.audit_log l
WHERE l.action = 'role_granted' ORDER BY l.seq DESC LIMIT 1;
SELECT * FROM pg_temp.new_rows();

-- TRUNCATE of an audited table -------------------------------------------------------------

CREATE TABLE ac_orders (id int PRIMARY KEY, item text);
SELECT pat_audit_table('ac_orders');
INSERT INTO ac_orders VALUES (1, 'outside a token context: not recorded');
TRUNCATE ac_orders;   -- outside a token context: not recorded either
BEGIN;
SELECT pat_authenticate(:'alice_tok');
INSERT INTO ac_orders VALUES (2, 'with a token');
TRUNCATE ac_orders;
COMMIT;
SELECT * FROM pg_temp.new_rows();
-- With record_without_token, a TRUNCATE is recorded without a token too.
SELECT pat_audit_table('ac_orders', record_without_token => true);
TRUNCATE ac_orders;
SELECT * FROM pg_temp.new_rows();
-- A TRUNCATE rolled back leaves nothing.
BEGIN;
TRUNCATE ac_orders;
ROLLBACK;
SELECT count(*) AS rows_after_rollback FROM pg_temp.new_rows();

-- Disabling or dropping a pat_audit() trigger --------------------------------------------

CREATE ROLE regress_ac_owner;
ALTER TABLE ac_orders OWNER TO regress_ac_owner;
SET ROLE regress_ac_owner;
ALTER TABLE ac_orders DISABLE TRIGGER pat_audit;
ALTER TABLE ac_orders DISABLE TRIGGER pat_audit;   -- disabled already: nothing more
ALTER TABLE ac_orders ENABLE TRIGGER pat_audit;
ALTER TABLE ac_orders ENABLE REPLICA TRIGGER pat_audit_truncate;
ALTER TABLE ac_orders DISABLE TRIGGER USER;        -- both that still fire are recorded
RESET ROLE;
SELECT user_id, action, table_name, old_data, new_data FROM pg_temp.new_rows();
SELECT db_role FROM pat.audit_log WHERE action = 'audit_trigger_disabled' ORDER BY seq DESC LIMIT 1;
-- Inside a token context the row carries the token; a trigger that is not pat_audit()'s is
-- not recorded.
CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER other AFTER INSERT ON ac_orders FOR EACH ROW EXECUTE FUNCTION pg_temp.noop();
ALTER TABLE ac_orders ENABLE TRIGGER USER;
BEGIN;
SELECT pat_authenticate(:'alice_tok');
ALTER TABLE ac_orders DISABLE TRIGGER other;
DROP TRIGGER pat_audit_truncate ON ac_orders;
DROP TRIGGER other ON ac_orders;
COMMIT;
SELECT user_id, token_name, action, old_data, new_data FROM pg_temp.new_rows();
-- Dropping the audited table drops its trigger: recorded. A failed DROP records nothing.
BEGIN;
DROP TABLE ac_orders, ac_no_such_table;
ROLLBACK;
DROP TABLE ac_orders;
SELECT action, table_name, old_data FROM pg_temp.new_rows();

-- Refused for every role, superusers included ------------------------------------------

INSERT INTO pat.audit_log (seq, action, db_role, session_role, txid, row_hash)
VALUES (0, 'insert', 'x', 'x', 0, '\x00');
\echo :SQLSTATE
INSERT INTO pat.audit_pending (batch, ordinal, occurred_at, action, db_role, session_role, txid)
VALUES (0, 1, now(), 'insert', 'x', 'x', 0);
\echo :SQLSTATE
-- (each with a pending row of its own transaction to refuse)
BEGIN;
SELECT pat_define_scope('ac:pending');
UPDATE pat.audit_pending SET actor = 'x';
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_define_scope('ac:pending');
DELETE FROM pat.audit_pending;
\echo :SQLSTATE
ROLLBACK;
TRUNCATE pat.audit_pending;
\echo :SQLSTATE
ALTER TABLE pat.audit_log ADD COLUMN note text;
\echo :SQLSTATE
ALTER TABLE pat.audit_log DISABLE TRIGGER USER;
\echo :SQLSTATE
ALTER TABLE pat.audit_pending DISABLE TRIGGER audit_pending_append_only;
\echo :SQLSTATE
ALTER TABLE pat.audit_chain_head ADD COLUMN x int;
\echo :SQLSTATE
ALTER TABLE pat.audit_log RENAME TO audit_log_old;
\echo :SQLSTATE
ALTER TABLE pat.audit_log RENAME COLUMN actor TO who;
\echo :SQLSTATE
ALTER TABLE pat.audit_log SET SCHEMA public;
\echo :SQLSTATE
ALTER EVENT TRIGGER pat_audit_trigger_changes DISABLE;
\echo :SQLSTATE
-- An application role has no privilege at all on them, nor may it link.
CREATE ROLE regress_ac_app;
SET ROLE regress_ac_app;
SELECT count(*) FROM pat.audit_pending;
\echo :SQLSTATE
SELECT pat_audit_link();
\echo :SQLSTATE
RESET ROLE;
-- Other tables stay alterable.
CREATE TABLE ac_other (id int);
ALTER TABLE ac_other ADD COLUMN note text;
DROP TABLE ac_other;

-- What pat_audit_verify() reports ----------------------------------------------------------

SELECT pat_audit_link() AS linked \gset
SELECT ok, row_count = (SELECT count(*) FROM pat.audit_log) AS row_count_ok,
       head_seq = (SELECT max(seq) FROM pat.audit_log) AS head_seq_ok,
       head_hash = (SELECT encode(row_hash, 'hex') FROM pat.audit_log ORDER BY seq DESC LIMIT 1)
           AS head_hash_ok,
       unlinked
FROM pat_audit_verify();
-- Rows not linked yet are counted: a transaction's own are pending until it links them.
BEGIN;
SELECT pat_define_scope('ac:admin');
SELECT unlinked FROM pat_audit_verify();
SELECT pat_audit_link() AS linked_own;
SELECT unlinked FROM pat_audit_verify();
COMMIT;

-- A prepared transaction's rows are linked by the worker after COMMIT PREPARED (which wrote no
-- row itself); nothing else commits meanwhile, and the pass due for the commits above is over
-- (pat.audit_link_delay is 500 ms).
SELECT pg_sleep(1.5);
BEGIN;
SELECT pat_define_scope('ac:prepared');
PREPARE TRANSACTION 'pat_audit_changes';
COMMIT PREPARED 'pat_audit_changes';
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN EXISTS (SELECT FROM pat.audit_log
                          WHERE action = 'scope_defined' AND new_data ->> 'scope' = 'ac:prepared');
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT count(*) AS linked_by_the_worker FROM pat.audit_log
WHERE action = 'scope_defined' AND new_data ->> 'scope' = 'ac:prepared';

DROP ROLE regress_ac_owner, regress_ac_app;
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
