--
-- ALTER EXTENSION pg_pat UPDATE TO '1.1' from a 1.0 install, in a database of its own: the
-- tokens issued under 1.0 keep validating, nothing is written for them retroactively, and the
-- audit log starts with the first change after the update.
--
\set SHOW_CONTEXT never
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regression_pat_audit_upgrade;
RESET client_min_messages;
CREATE DATABASE regression_pat_audit_upgrade;
\c regression_pat_audit_upgrade
CREATE EXTENSION pg_pat VERSION '1.0';
SELECT pat_define_scope('upgrade:read');
SELECT pat_define_role('upgrade_reader', '{upgrade:read}');
SELECT pat_grant_role('audit_upgrader', 'upgrade_reader');
SELECT token AS old_tok, token_id AS old_id
FROM pat_create('audit_upgrader', 'issued under 1.0', '{upgrade:read}', '30 days') \gset
SELECT to_regclass('pat.audit_log') IS NULL AS no_audit_log;

ALTER EXTENSION pg_pat UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
SELECT count(*) AS audit_rows FROM pat.audit_log;
SELECT valid, status, user_id, token_name FROM pat_validate(:'old_tok', '{upgrade:read}');
SELECT name, revoked_at IS NULL AS active FROM pat.tokens WHERE token_id = :'old_id';
-- Changes after the update are recorded, for old tokens too.
SELECT pat_update(:'old_id', 'renamed under 1.1');
SELECT pat_revoke(:'old_id');
SELECT status FROM pat_validate(:'old_tok');
SELECT user_id, token_name, action, old_data, new_data - 'revoked_at' AS new_data
FROM pat.audit_log ORDER BY seq;
SELECT ok, checked, first_broken_seq, detail FROM pat_audit_verify();
-- pg_dump keeps the log: it is a configuration table of the extension.
SELECT count(*) AS config_tables FROM pg_extension e, unnest(e.extconfig) AS c
WHERE e.extname = 'pg_pat' AND c = 'pat.audit_log'::regclass;

\c :regress_db
DROP DATABASE regression_pat_audit_upgrade;
