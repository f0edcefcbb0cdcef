--
-- pat_audit_purge: the only way rows leave pat.audit_log. It deletes the oldest part of the
-- chain, records itself as an audit_purged row with the count and the anchor (the row_hash the
-- first kept row links to), and pat_audit_verify() still finds the chain intact. Counts, seqs
-- and hashes are compared, never printed. Every error is followed by \echo :SQLSTATE.
--
\set SHOW_CONTEXT never
-- These purges reach rows written moments ago: no minimum retention (only a superuser sets it;
-- trust_audit_guards tests it).
SET pat.audit_min_retention = '';

SELECT pat_define_scope('audit_purge:run');
SELECT pat_define_role('audit_purger', '{audit_purge:run}');
SELECT pat_grant_role('audit_dba', 'audit_purger');
SELECT token AS dba_tok FROM pat_create('audit_dba', 'dba', '{audit_purge:run}', '1 day') \gset

-- Bad arguments.
SELECT pat_audit_purge(NULL);
\echo :SQLSTATE
SELECT pat_audit_purge('-1 day');
\echo :SQLSTATE
SELECT pat_audit_purge('1 day -36 hours');
\echo :SQLSTATE

-- Nothing is older than a century: nothing is deleted, but the purge is still recorded.
SELECT pat_audit_link() AS linked \gset
SELECT max(seq) AS before_last, count(*) AS before_count FROM pat.audit_log \gset
SELECT pat_audit_purge('100 years');
SELECT pat_audit_link() AS linked \gset
SELECT seq = :before_last + 1 AS appended, user_id, actor, action, table_name, old_data,
       new_data ->> 'purged' AS purged, new_data ? 'older_than' AS has_older_than,
       new_data ? 'cutoff' AS has_cutoff,
       (new_data ->> 'through_seq')::bigint = (SELECT min(seq) - 1 FROM pat.audit_log)
           AS through_seq_ok,
       decode(new_data ->> 'anchor', 'hex') IS NOT DISTINCT FROM
           (SELECT prev_hash FROM pat.audit_log ORDER BY seq LIMIT 1) AS anchor_ok
FROM pat.audit_log ORDER BY seq DESC LIMIT 1;
SELECT pat_audit_link() AS linked \gset
SELECT count(*) = :before_count + 1 AS nothing_deleted FROM pat.audit_log;
SELECT ok, first_broken_seq, detail FROM pat_audit_verify();

-- Everything before this transaction began: every existing row. The purge runs with a token
-- and an actor, so it is attributed like any other action.
SELECT pat_audit_link() AS linked \gset
SELECT max(seq) AS before_last, count(*) AS before_count FROM pat.audit_log \gset
SELECT row_hash AS last_hash FROM pat.audit_log ORDER BY seq DESC LIMIT 1 \gset
BEGIN;
SELECT pat_authenticate(:'dba_tok');
SELECT pat_set_actor('audit_retention_job');
SELECT pat_audit_purge('0 seconds') = :before_count AS purged_all_before;
-- The permission ends with the purge: the same transaction cannot delete anything else.
DELETE FROM pat.audit_log;
\echo :SQLSTATE
ROLLBACK;
SELECT pat_audit_link() AS linked \gset
SELECT count(*) = :before_count AS rolled_back FROM pat.audit_log;
BEGIN;
SELECT pat_authenticate(:'dba_tok');
SELECT pat_set_actor('audit_retention_job');
SELECT pat_audit_purge('0 seconds') = :before_count AS purged_all_before;
COMMIT;
SELECT pat_audit_link() AS linked \gset
SELECT count(*) AS rows_left FROM pat.audit_log;
SELECT pat_audit_link() AS linked \gset
SELECT seq = :before_last + 1 AS appended, user_id, token_name, actor, action,
       (new_data ->> 'purged')::bigint = :before_count AS count_recorded,
       (new_data ->> 'through_seq')::bigint = :before_last AS through_seq_ok,
       decode(new_data ->> 'anchor', 'hex') = :'last_hash'::bytea AS anchor_is_last_purged_hash,
       prev_hash = :'last_hash'::bytea AS links_to_anchor
FROM pat.audit_log;
SELECT ok, checked, first_broken_seq, detail FROM pat_audit_verify();

-- The chain goes on after a purge.
SELECT token_id AS new_id FROM pat_create('audit_dba', 'after purge', '{}', '1 day') \gset
SELECT pat_revoke(:'new_id');
SELECT pat_audit_link() AS linked \gset
SELECT action, token_name FROM pat.audit_log ORDER BY seq;
SELECT ok, checked, first_broken_seq, detail FROM pat_audit_verify();

-- A purge that deletes nothing keeps the anchor of the previous one.
SELECT pat_audit_purge('1 hour');
SELECT pat_audit_link() AS linked \gset
SELECT count(*) AS rows_left FROM pat.audit_log;
SELECT pat_audit_link() AS linked \gset
SELECT (l.new_data ->> 'through_seq')::bigint = :before_last AS same_through_seq,
       decode(l.new_data ->> 'anchor', 'hex') = :'last_hash'::bytea AS same_anchor
FROM pat.audit_log l ORDER BY l.seq DESC LIMIT 1;
SELECT ok, checked, first_broken_seq, detail FROM pat_audit_verify();

-- An error inside the purge (here: in a savepoint) leaves no permission behind.
BEGIN;
SAVEPOINT s;
SELECT pat_audit_purge('-1 second');
ROLLBACK TO SAVEPOINT s;
DELETE FROM pat.audit_log;
\echo :SQLSTATE
ROLLBACK;

-- Only roles granted EXECUTE may purge.
CREATE ROLE regress_audit_nobody NOLOGIN;
SET ROLE regress_audit_nobody;
SELECT pat_audit_purge('1 day');
\echo :SQLSTATE
RESET ROLE;
CREATE ROLE regress_audit_dba NOLOGIN;
GRANT EXECUTE ON FUNCTION pat_audit_purge(interval), pat_audit_verify() TO regress_audit_dba;
SET ROLE regress_audit_dba;
SELECT pat_audit_purge('1 day');
SELECT ok FROM pat_audit_verify();
-- Still no direct access to the table.
DELETE FROM pat.audit_log;
\echo :SQLSTATE
RESET ROLE;
SELECT pat_audit_link() AS linked \gset
SELECT action, db_role FROM pat.audit_log ORDER BY seq DESC LIMIT 1;
REVOKE ALL ON FUNCTION pat_audit_purge(interval), pat_audit_verify() FROM regress_audit_dba;
DROP ROLE regress_audit_dba, regress_audit_nobody;
