--
-- The audit writer: rows go straight into pat.audit_pending's heap, and from there,
-- linked, into pat.audit_log's heap and indexes; both stay open for the rest of the
-- transaction. Whatever happens in the transaction (savepoints rolled back, DDL on the log,
-- DROP EXTENSION), the chain stays whole. The log's columns and constraints cannot be changed
-- but by pg_pat's scripts (42501).
--
\set SHOW_CONTEXT never
SELECT pat_define_scope('aw:read');
SELECT pat_audit_link() AS linked \gset
SELECT coalesce(max(seq), 0) AS start FROM pat.audit_log \gset

-- A savepoint rolled back takes its rows with it; the next row follows the last kept one.
BEGIN;
SELECT count(*) FROM pat_create('aw-alice', 'kept 1', '{}', '1 day');
SAVEPOINT s;
SELECT count(*) FROM pat_create('aw-alice', 'rolled back', '{}', '1 day');
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM pat_create('aw-alice', 'kept 2', '{}', '1 day');
COMMIT;
SELECT pat_audit_link() AS linked \gset
SELECT seq - :start AS n, action, token_name FROM pat.audit_log WHERE seq > :start ORDER BY seq;
SELECT ok, detail FROM pat_audit_verify();

-- DDL on the log in the same transaction: a new index sees the rows written after it.
BEGIN;
SELECT count(*) FROM pat_create('aw-alice', 'before the index', '{}', '1 day');
CREATE INDEX audit_log_actor_test_idx ON pat.audit_log (token_name);
SELECT count(*) FROM pat_create('aw-alice', 'after the index', '{}', '1 day');
SET LOCAL enable_seqscan = off;
SELECT pat_audit_link() AS linked \gset
SELECT count(*) AS found_through_new_index FROM pat.audit_log WHERE token_name = 'after the index';
ROLLBACK;
-- DROP EXTENSION in the same transaction (rolled back here) is not blocked by the open log.
-- Linking first leaves a link worker woken by the commits above nothing to hold locks for: its
-- pass and the DROP would otherwise take the same tables in different orders (a deadlock that
-- the server resolves, but perhaps by cancelling the DROP).
SELECT pat_audit_link() >= 0 AS linked;
BEGIN;
SELECT count(*) FROM pat_create('aw-alice', 'then dropped', '{}', '1 day');
SET client_min_messages = warning;
DROP EXTENSION pg_pat CASCADE;
RESET client_min_messages;
ROLLBACK;
SELECT count(*) AS extension_still_there FROM pg_extension WHERE extname = 'pg_pat';

-- A DBA cannot add a constraint (or a column, or anything ALTER TABLE does) to the log.
ALTER TABLE pat.audit_log ADD CONSTRAINT dba_check CHECK (token_name IS DISTINCT FROM 'refused');
\echo :SQLSTATE
ALTER TABLE pat.audit_pending ADD COLUMN extra int;
\echo :SQLSTATE
SELECT count(*) FROM pat_create('aw-alice', 'straight in again', '{}', '1 day');
-- A transaction that links its own rows holds the chain lock until it ends, and sees them.
BEGIN;
SELECT count(*) FROM pat_create('aw-alice', 'linked in its transaction', '{}', '1 day');
SELECT pat_audit_link() > 0 AS linked_here;
SELECT count(*) AS own_row_linked FROM pat.audit_log
WHERE token_name = 'linked in its transaction';
COMMIT;
SELECT pat_audit_link() AS linked \gset
SELECT seq - :start AS n, action, token_name FROM pat.audit_log WHERE seq > :start ORDER BY seq;
SELECT ok, detail FROM pat_audit_verify();

-- Clean up (the log keeps its rows: it is append-only).
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
