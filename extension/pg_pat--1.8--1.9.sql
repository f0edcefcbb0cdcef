-- pg_pat 1.9: trust off the happy path (issue 22).

\echo Use "ALTER EXTENSION pg_pat UPDATE TO '1.9'" to load this file. \quit

SELECT pat.require_preloaded();

-- The audit log's guards and tokens_audit fire in replica mode too (issue 22 item 6) ====

-- session_replication_role = replica (a superuser's, or logical replication's apply) skips
-- ordinary triggers, and must not skip these.
ALTER TABLE pat.audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
ALTER TABLE pat.audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
ALTER TABLE pat.audit_pending ENABLE ALWAYS TRIGGER audit_pending_append_only;
ALTER TABLE pat.audit_pending ENABLE ALWAYS TRIGGER audit_pending_no_truncate;
ALTER TABLE pat.tokens ENABLE ALWAYS TRIGGER tokens_audit;

-- pg_pat's event trigger fires in replica mode too (issue 22 item 6) ====

-- A pat_audit() trigger disabled under session_replication_role = replica is recorded too.
ALTER EVENT TRIGGER pat_audit_trigger_changes ENABLE ALWAYS;

-- Auditing switched off by other paths is recorded (issue 22 item 7) ====

-- A CREATE OR REPLACE TRIGGER that stops a pat_audit() trigger recording, and a partition
-- detached from an audited table, are recorded (by the library's utility hook); so are
-- pat_audit() triggers dropped by DROP SCHEMA ... CASCADE or DROP OWNED, and TRUNCATE of a
-- partition, with existing actions.
COMMENT ON COLUMN pat.audit_log.action IS
    'created, renamed, scopes_changed, expiry_changed, revoked, deleted, rotated, reuse_after_rotation, revoked_leaked, revoked_inactive (token lifecycle); role_granted, role_revoked, role_defined, scope_defined; insert, update, delete, truncate (pat_audit); audit_trigger_disabled, audit_trigger_dropped, audit_trigger_replaced, audit_partition_detached; audit_purged';
