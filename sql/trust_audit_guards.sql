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
SELECT tgrelid::regclass, tgname, tgenabled FROM pg_trigger
WHERE tgname IN ('audit_log_append_only', 'audit_log_no_truncate', 'audit_pending_append_only',
                 'audit_pending_no_truncate', 'tokens_audit')
ORDER BY 1::text, 2;
