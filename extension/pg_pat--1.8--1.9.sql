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
