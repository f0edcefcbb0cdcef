--
-- The audit writer (1.4): rows go straight into pat.audit_log's heap and indexes, and the log
-- stays open for the rest of the transaction. Whatever happens in the transaction (savepoints
-- rolled back, DDL on the log, DROP EXTENSION), the chain stays whole; a log a DBA changed
-- (an added constraint) is written through the executor instead, with the same hashes.
--
\set SHOW_CONTEXT never
SELECT pat_define_scope('aw:read');
SELECT coalesce(max(seq), 0) AS start FROM pat.audit_log \gset

-- A savepoint rolled back takes its rows with it; the next row follows the last kept one.
BEGIN;
SELECT count(*) FROM pat_create('aw-alice', 'kept 1', '{}', '1 day');
SAVEPOINT s;
SELECT count(*) FROM pat_create('aw-alice', 'rolled back', '{}', '1 day');
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM pat_create('aw-alice', 'kept 2', '{}', '1 day');
COMMIT;
SELECT seq - :start AS n, action, token_name FROM pat.audit_log WHERE seq > :start ORDER BY seq;
SELECT ok, detail FROM pat_audit_verify();

-- DDL on the log in the same transaction: a new index sees the rows written after it.
BEGIN;
SELECT count(*) FROM pat_create('aw-alice', 'before the index', '{}', '1 day');
CREATE INDEX audit_log_actor_test_idx ON pat.audit_log (token_name);
SELECT count(*) FROM pat_create('aw-alice', 'after the index', '{}', '1 day');
SET LOCAL enable_seqscan = off;
SELECT count(*) AS found_through_new_index FROM pat.audit_log WHERE token_name = 'after the index';
ROLLBACK;
-- DROP EXTENSION in the same transaction (rolled back here) is not blocked by the open log.
BEGIN;
SELECT count(*) FROM pat_create('aw-alice', 'then dropped', '{}', '1 day');
SET client_min_messages = warning;
DROP EXTENSION pg_pat CASCADE;
RESET client_min_messages;
ROLLBACK;
SELECT count(*) AS extension_still_there FROM pg_extension WHERE extname = 'pg_pat';

-- A log with a constraint a DBA added: rows go through the executor (which checks it),
-- hashes unchanged; once it is dropped, straight in again.
ALTER TABLE pat.audit_log ADD CONSTRAINT dba_check CHECK (token_name IS DISTINCT FROM 'refused');
SELECT count(*) FROM pat_create('aw-alice', 'through the executor', '{}', '1 day');
\set VERBOSITY terse
SELECT count(*) FROM pat_create('aw-alice', 'refused', '{}', '1 day');
\set VERBOSITY default
\echo :SQLSTATE
ALTER TABLE pat.audit_log DROP CONSTRAINT dba_check;
SELECT count(*) FROM pat_create('aw-alice', 'straight in again', '{}', '1 day');
SELECT seq - :start AS n, action, token_name FROM pat.audit_log WHERE seq > :start ORDER BY seq;
SELECT ok, detail FROM pat_audit_verify();

-- Clean up (the log keeps its rows: it is append-only).
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
