--
-- The old schemas the library runs against: pg_pat created at 1.0 and updated one version at a
-- time to the newest, in a database of its own. At each version the same round runs, a token
-- created, validated and renamed, audited and linked, and shows what the library does
-- differently for that version's schema (src/core/schema_version.hpp, schema_since): each
-- difference changes this output at the version it comes with, so a gate set one version off
-- fails here.
--
\set SHOW_CONTEXT never
\set VERBOSITY terse
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regression_pat_old_versions;
RESET client_min_messages;
CREATE DATABASE regression_pat_old_versions;
\c regression_pat_old_versions
-- The checks counted in shared memory, declared here since pat.pending_checks() is not in every
-- version.
CREATE SCHEMA probe;
CREATE FUNCTION probe.pending_checks(token_id uuid, since date,
                                     OUT day date, OUT outcome text, OUT checks bigint)
    RETURNS SETOF record AS '$libdir/pg_pat', 'pat_pending_checks' LANGUAGE C;

CREATE EXTENSION pg_pat VERSION '1.0';
SELECT pat_define_scope('old:read');
SELECT pat_define_role('old_reader', '{old:read}');
SELECT pat_grant_role('old_user', 'old_reader');

-- Each round: the scans show which index validation looked the token up through, the pending
-- checks whether its check was counted; the UPDATEs what the tokens trigger guards.

-- 1.0 -----------------------------------------------------------------------------------------
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
BEGIN;
SELECT token AS tok, token_id AS tid
FROM pat_create('old_user', 'made at 1.0', '{old:read}', '30 days') \gset
COMMIT;
BEGIN;
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) AS btree_before \gset
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) - :btree_before
           AS btree_scans;
COMMIT;
SELECT coalesce(sum(checks), 0) AS pending_checks FROM probe.pending_checks(:'tid', NULL);
SELECT pat_update(:'tid', 'renamed at 1.0');

-- 1.1 -----------------------------------------------------------------------------------------
ALTER EXTENSION pg_pat UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
BEGIN;
SELECT token AS tok, token_id AS tid
FROM pat_create('old_user', 'made at 1.1', '{old:read}', '30 days') \gset
-- Linked at once, under the chain lock.
SELECT count(*) AS linked FROM pat.audit_log WHERE token_id = :'tid';
COMMIT;
BEGIN;
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) AS btree_before \gset
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) - :btree_before
           AS btree_scans;
COMMIT;
SELECT coalesce(sum(checks), 0) AS pending_checks FROM probe.pending_checks(:'tid', NULL);
SELECT pat_update(:'tid', 'renamed at 1.1');
SELECT ok, detail FROM pat_audit_verify();
SELECT action, token_name FROM pat.audit_log WHERE token_id = :'tid' ORDER BY seq;

-- 1.2 -----------------------------------------------------------------------------------------
ALTER EXTENSION pg_pat UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
BEGIN;
SELECT token AS tok, token_id AS tid
FROM pat_create('old_user', 'made at 1.2', '{old:read}', '30 days') \gset
-- Linked at once, under the chain lock.
SELECT count(*) AS linked FROM pat.audit_log WHERE token_id = :'tid';
COMMIT;
BEGIN;
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) AS btree_before \gset
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) - :btree_before
           AS btree_scans;
COMMIT;
SELECT coalesce(sum(checks), 0) AS pending_checks FROM probe.pending_checks(:'tid', NULL);
SELECT pat_update(:'tid', 'renamed at 1.2');
SELECT ok, detail FROM pat_audit_verify();
SELECT action, token_name FROM pat.audit_log WHERE token_id = :'tid' ORDER BY seq;

-- 1.3 -----------------------------------------------------------------------------------------
ALTER EXTENSION pg_pat UPDATE TO '1.3';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
BEGIN;
SELECT token AS tok, token_id AS tid
FROM pat_create('old_user', 'made at 1.3', '{old:read}', '30 days') \gset
-- Linked at once, under the chain lock.
SELECT count(*) AS linked FROM pat.audit_log WHERE token_id = :'tid';
COMMIT;
BEGIN;
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) AS hash_before,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) AS btree_before \gset
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) - :hash_before
           AS hash_index_scans,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) - :btree_before
           AS btree_scans;
COMMIT;
SELECT coalesce(sum(checks), 0) AS pending_checks FROM probe.pending_checks(:'tid', NULL);
SELECT pat_update(:'tid', 'renamed at 1.3');
SELECT ok, detail FROM pat_audit_verify();
SELECT action, token_name FROM pat.audit_log WHERE token_id = :'tid' ORDER BY seq;

-- 1.4 -----------------------------------------------------------------------------------------
ALTER EXTENSION pg_pat UPDATE TO '1.4';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
BEGIN;
SET LOCAL pat.max_active_tokens_per_user = 100;
SET LOCAL pat.token_prefix = 'at_1_4_';
SELECT token AS tok, token_id AS tid
FROM pat_create('old_user', 'made at 1.4', '{old:read}', '30 days') \gset
-- Linked at once, under the chain lock.
SELECT count(*) AS linked FROM pat.audit_log WHERE token_id = :'tid';
COMMIT;
BEGIN;
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) AS hash_before,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) AS btree_before \gset
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) - :hash_before
           AS hash_index_scans,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) - :btree_before
           AS btree_scans;
COMMIT;
SELECT coalesce(sum(checks), 0) AS pending_checks FROM probe.pending_checks(:'tid', NULL);
SELECT pat_update(:'tid', 'renamed at 1.4');
SELECT ok, detail FROM pat_audit_verify();
SELECT action, token_name FROM pat.audit_log WHERE token_id = :'tid' ORDER BY seq;

-- 1.5 -----------------------------------------------------------------------------------------
ALTER EXTENSION pg_pat UPDATE TO '1.5';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
BEGIN;
SET LOCAL pat.max_active_tokens_per_user = 100;
SET LOCAL pat.token_prefix = 'at_1_5_';
SELECT token AS tok, token_id AS tid
FROM pat_create('old_user', 'made at 1.5', '{old:read}', '30 days') \gset
-- Appended to pat.audit_pending, linked after commit.
SELECT (SELECT count(*) FROM pat.audit_log WHERE token_id = :'tid') AS linked,
       (SELECT count(*) FROM pat.audit_pending WHERE token_id = :'tid') AS pending;
COMMIT;
BEGIN;
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) AS hash_before,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) AS btree_before \gset
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) - :hash_before
           AS hash_index_scans,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) - :btree_before
           AS btree_scans;
COMMIT;
SELECT coalesce(sum(checks), 0) AS pending_checks FROM probe.pending_checks(:'tid', NULL);
SELECT pat_update(:'tid', 'renamed at 1.5');
SELECT pat_audit_link() >= 0 AS linked;
SELECT ok, detail FROM pat_audit_verify();
SELECT action, token_name FROM pat.audit_log WHERE token_id = :'tid' ORDER BY seq;

-- 1.6 -----------------------------------------------------------------------------------------
ALTER EXTENSION pg_pat UPDATE TO '1.6';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
BEGIN;
SET LOCAL pat.max_active_tokens_per_user = 100;
SET LOCAL pat.token_prefix = 'at_1_6_';
SELECT token AS tok, token_id AS tid
FROM pat_create('old_user', 'made at 1.6', '{old:read}', '30 days') \gset
-- Appended to pat.audit_pending, linked after commit.
SELECT (SELECT count(*) FROM pat.audit_log WHERE token_id = :'tid') AS linked,
       (SELECT count(*) FROM pat.audit_pending WHERE token_id = :'tid') AS pending;
COMMIT;
SELECT key_id IS NOT NULL AS has_key_id FROM pat.tokens WHERE token_id = :'tid';
BEGIN;
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) AS hash_before,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) AS btree_before \gset
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) - :hash_before
           AS hash_index_scans,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) - :btree_before
           AS btree_scans;
COMMIT;
SELECT coalesce(sum(checks), 0) AS pending_checks FROM probe.pending_checks(:'tid', NULL);
SELECT pat_update(:'tid', 'renamed at 1.6');
UPDATE pat.tokens SET key_id = 'another' WHERE token_id = :'tid';
SELECT pat_audit_link() >= 0 AS linked;
SELECT ok, detail FROM pat_audit_verify();
SELECT action, token_name FROM pat.audit_log WHERE token_id = :'tid' ORDER BY seq;

-- 1.7 -----------------------------------------------------------------------------------------
ALTER EXTENSION pg_pat UPDATE TO '1.7';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
BEGIN;
SET LOCAL pat.max_active_tokens_per_user = 100;
SET LOCAL pat.token_prefix = 'at_1_7_';
SELECT token AS tok, token_id AS tid
FROM pat_create('old_user', 'made at 1.7', '{old:read}', '30 days') \gset
-- Appended to pat.audit_pending, linked after commit.
SELECT (SELECT count(*) FROM pat.audit_log WHERE token_id = :'tid') AS linked,
       (SELECT count(*) FROM pat.audit_pending WHERE token_id = :'tid') AS pending;
COMMIT;
SELECT key_id IS NOT NULL AS has_key_id FROM pat.tokens WHERE token_id = :'tid';
BEGIN;
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) AS hash_before,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) AS btree_before \gset
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) - :hash_before
           AS hash_index_scans,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) - :btree_before
           AS btree_scans;
COMMIT;
SELECT coalesce(sum(checks), 0) AS pending_checks FROM probe.pending_checks(:'tid', NULL);
SELECT pat_update(:'tid', 'renamed at 1.7');
UPDATE pat.tokens SET key_id = 'another' WHERE token_id = :'tid';
UPDATE pat.tokens SET rotated_from = token_id WHERE token_id = :'tid';
SELECT pat_audit_link() >= 0 AS linked;
SELECT ok, detail FROM pat_audit_verify();
SELECT action, token_name FROM pat.audit_log WHERE token_id = :'tid' ORDER BY seq;

-- 1.8 -----------------------------------------------------------------------------------------
ALTER EXTENSION pg_pat UPDATE TO '1.8';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
BEGIN;
SET LOCAL pat.max_active_tokens_per_user = 100;
SET LOCAL pat.token_prefix = 'at_1_8_';
SELECT token AS tok, token_id AS tid
FROM pat_create('old_user', 'made at 1.8', '{old:read}', '30 days') \gset
-- Appended to pat.audit_pending, linked after commit.
SELECT (SELECT count(*) FROM pat.audit_log WHERE token_id = :'tid') AS linked,
       (SELECT count(*) FROM pat.audit_pending WHERE token_id = :'tid') AS pending;
COMMIT;
SELECT key_id IS NOT NULL AS has_key_id FROM pat.tokens WHERE token_id = :'tid';
SELECT prefix FROM pat.token_prefixes WHERE prefix = 'at_1_8_';
BEGIN;
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) AS hash_before,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) AS btree_before \gset
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) - :hash_before
           AS hash_index_scans,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) - :btree_before
           AS btree_scans;
COMMIT;
SELECT coalesce(sum(checks), 0) AS pending_checks FROM probe.pending_checks(:'tid', NULL);
SELECT pat_update(:'tid', 'renamed at 1.8');
UPDATE pat.tokens SET key_id = 'another' WHERE token_id = :'tid';
UPDATE pat.tokens SET rotated_from = token_id WHERE token_id = :'tid';
SELECT pat_audit_link() >= 0 AS linked;
SELECT ok, detail FROM pat_audit_verify();
SELECT action, token_name FROM pat.audit_log WHERE token_id = :'tid' ORDER BY seq;

-- 1.9 -----------------------------------------------------------------------------------------
ALTER EXTENSION pg_pat UPDATE TO '1.9';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
BEGIN;
SET LOCAL pat.max_active_tokens_per_user = 100;
SET LOCAL pat.token_prefix = 'at_1_9_';
SELECT token AS tok, token_id AS tid
FROM pat_create('old_user', 'made at 1.9', '{old:read}', '30 days') \gset
-- Appended to pat.audit_pending, linked after commit.
SELECT (SELECT count(*) FROM pat.audit_log WHERE token_id = :'tid') AS linked,
       (SELECT count(*) FROM pat.audit_pending WHERE token_id = :'tid') AS pending;
COMMIT;
SELECT key_id IS NOT NULL AS has_key_id FROM pat.tokens WHERE token_id = :'tid';
SELECT prefix FROM pat.token_prefixes WHERE prefix = 'at_1_9_';
SELECT user_id FROM pat.user_token_locks;
BEGIN;
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) AS hash_before,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) AS btree_before \gset
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT pg_stat_get_xact_numscans('pat.tokens_digest_hash_idx'::regclass) - :hash_before
           AS hash_index_scans,
       pg_stat_get_xact_numscans('pat.tokens_digest_key'::regclass) - :btree_before
           AS btree_scans;
COMMIT;
SELECT coalesce(sum(checks), 0) AS pending_checks FROM probe.pending_checks(:'tid', NULL);
SELECT pat_update(:'tid', 'renamed at 1.9');
UPDATE pat.tokens SET key_id = 'another' WHERE token_id = :'tid';
UPDATE pat.tokens SET rotated_from = token_id WHERE token_id = :'tid';
SELECT pat_audit_link() >= 0 AS linked;
-- The link anchors the chain's head.
SELECT h.seq = (SELECT max(l.seq) FROM pat.audit_log l) AS head_anchored FROM pat.audit_head h;
SELECT ok, detail FROM pat_audit_verify();
SELECT action, token_name FROM pat.audit_log WHERE token_id = :'tid' ORDER BY seq;

-- 1.10 ----------------------------------------------------------------------------------------
-- pat_token_cache_stats() reports the shared cache too; a role granted it keeps it.
CREATE ROLE regress_pat_old_cache_admin;
GRANT EXECUTE ON FUNCTION pat_token_cache_stats() TO regress_pat_old_cache_admin;
SELECT tokens, users IS NOT NULL AS backend_columns FROM pat_token_cache_stats();
ALTER EXTENSION pg_pat UPDATE TO '1.10';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT valid, status, token_name FROM pat_validate(:'tok', '{old:read}');
SELECT capacity > 0 AS has_capacity, NOT last_check_missed AS last_check_hit,
       backend_hits > 0 AS backend_hit
FROM pat_token_cache_stats();
SELECT has_function_privilege('regress_pat_old_cache_admin', 'pat_token_cache_stats()',
                              'EXECUTE') AS still_granted,
       has_function_privilege('public', 'pat_token_cache_stats()', 'EXECUTE') AS public_may;
-- The update granted it again as part of the extension (an initial privilege, on 17 and later).
DROP OWNED BY regress_pat_old_cache_admin;
DROP ROLE regress_pat_old_cache_admin;
-- At 1.10 pat_list answers eight columns.
SELECT name, status FROM pat_list('old_user') ORDER BY created_at;
CREATE ROLE regress_pat_old_app;
SELECT pat_grant_profile('regress_pat_old_app', 'application');

-- 1.11 ----------------------------------------------------------------------------------------
ALTER EXTENSION pg_pat UPDATE TO '1.11';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
-- pat_list and pat_validate gained columns; a role that could run them still can, and got
-- pat_delegate and pat_current_token_type with them.
SELECT has_function_privilege('regress_pat_old_app', 'pat_list(text)', 'EXECUTE') AS list,
       has_function_privilege('regress_pat_old_app', 'pat_validate(text, text[])', 'EXECUTE')
           AS validate,
       has_function_privilege('regress_pat_old_app', 'pat_delegate(text, text[], text)',
                              'EXECUTE') AS delegate,
       has_function_privilege('regress_pat_old_app', 'pat_current_token_type()', 'EXECUTE')
           AS token_type,
       has_function_privilege('regress_pat_old_app',
                              'pat_create_org_token(text, text, text[], text)', 'EXECUTE')
           AS org_token;
DROP OWNED BY regress_pat_old_app;
DROP ROLE regress_pat_old_app;
-- Tokens made before have no parent and no recorded creator, and are personal.
SELECT name, status, token_type, parent_id, created_by FROM pat_list('old_user')
WHERE token_id = :'tid';
SELECT valid, status, token_name, token_type FROM pat_validate(:'tok', '{old:read}');
-- A token made now records who made it; a delegated child falls with its parent at once.
SELECT pat_define_scope('tokens:delegate');
SELECT pat_define_role('old_delegator', '{old:read,tokens:delegate}');
SELECT pat_grant_role('old_user', 'old_delegator');
SELECT token AS ptok, token_id AS pid
FROM pat_create('old_user', 'parent at 1.11', '{old:read,tokens:delegate}', '30 days') \gset
SELECT created_by = 'role:' || current_user AS created_by_role FROM pat.tokens
WHERE token_id = :'pid';
BEGIN;
SELECT pat_authenticate(:'ptok') AS authenticated;
SELECT token AS ctok, token_id AS cid FROM pat_delegate('child at 1.11', '{old:read}') \gset
COMMIT;
SELECT valid, status, token_name FROM pat_validate(:'ctok', '{old:read}');
SELECT pat_revoke(:'pid') AS revoked;
SELECT valid, status, token_name FROM pat_validate(:'ctok', '{old:read}');
SELECT name, status, parent_id = :'pid' AS has_parent FROM pat_list('old_user')
WHERE token_id = :'cid';
-- An organization's token of the same id is not the person's: pat_revoke_all leaves it.
SELECT token AS otok FROM pat_create_org_token('old_user', 'org at 1.11', '{old:read}', '30 days') \gset
SELECT pat_revoke_all('old_user') >= 1 AS revoked_some;
SELECT valid, status, token_type FROM pat_validate(:'otok', '{old:read}');

-- 1.12 ----------------------------------------------------------------------------------------
CREATE ROLE regress_pat_old_validator;
SELECT pat_grant_profile('regress_pat_old_validator', 'validator');
ALTER EXTENSION pg_pat UPDATE TO '1.12';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
-- pat_revoke counts the descendants that fall with a token by walking down the parent links in
-- tokens_parent_id_idx: a child, its own child, but not a child revoked before.
SELECT indexdef FROM pg_indexes WHERE schemaname = 'pat' AND indexname = 'tokens_parent_id_idx';
SELECT token AS ptok, token_id AS pid
FROM pat_create('old_user', 'parent at 1.12', '{old:read,tokens:delegate}', '30 days') \gset
BEGIN;
SELECT pat_authenticate(:'ptok') AS authenticated;
SELECT token AS ctok FROM pat_delegate('child at 1.12', '{old:read,tokens:delegate}') \gset
SELECT token_id AS gone_id FROM pat_delegate('revoked child at 1.12', '{old:read}') \gset
COMMIT;
BEGIN;
SELECT pat_authenticate(:'ctok') AS authenticated;
SELECT token AS gtok FROM pat_delegate('grandchild at 1.12', '{old:read}') \gset
COMMIT;
SELECT pat_revoke(:'gone_id') AS revoked_child;
SELECT pat_revoke(:'pid') AS revoked;
SELECT valid, status, token_name FROM pat_validate(:'gtok', '{old:read}');
-- pat_validate and pat_authenticate take the client's address; a role that could run them still
-- can, and a two-argument call is answered as before.
SELECT has_function_privilege('regress_pat_old_validator', 'pat_validate(text, text[], inet, text)',
                              'EXECUTE') AS validate,
       has_function_privilege('regress_pat_old_validator', 'pat_authenticate(text, text[], inet)',
                              'EXECUTE') AS authenticate;
DROP OWNED BY regress_pat_old_validator;
DROP ROLE regress_pat_old_validator;
SELECT valid, status, token_type, metadata FROM pat_validate(:'otok', '{old:read}');
SELECT valid, status FROM pat_validate(:'otok', '{old:read}', '10.0.0.1');
-- A token made before has no limits.
SELECT networks, resources, metadata, suspended_at FROM pat.tokens WHERE token_id = :'tid';
-- A token made before has no rate limit or credits, and can be given both.
SELECT token_id AS otid FROM pat_validate(:'otok') \gset
SELECT valid, status, retry_after, remaining FROM pat_validate(:'otok', '{old:read}');
SELECT pat_set_rate_limit(:'otid', 1, '1 hour'), pat_set_credits(:'otid', 5);
SELECT status, retry_after IS NULL AS no_retry, remaining FROM pat_validate(:'otok', '{old:read}');
SELECT status, retry_after > '59 minutes' AS retry_in_an_hour, remaining
FROM pat_validate(:'otok', '{old:read}');
SELECT outcome, checks FROM pat.pending_checks(:'otid', NULL) WHERE outcome = 'rate_limited';

-- 1.13 ----------------------------------------------------------------------------------------
CREATE ROLE regress_pat_old_admin;
SELECT pat_grant_profile('regress_pat_old_admin', 'admin');
SELECT token AS atok, token_id AS atid
FROM pat_create('old_user', 'addresses at 1.13', '{old:read}', '30 days') \gset
ALTER EXTENSION pg_pat UPDATE TO '1.13';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
-- pat_token_activity gained a column: whoever could run it still can; whoever could write usage
-- (a standby's forwarding role) can write client addresses.
SELECT has_function_privilege('regress_pat_old_admin', 'pat_token_activity(uuid, integer)',
                              'EXECUTE') AS activity,
       has_function_privilege('regress_pat_old_admin',
                              'pat_merge_addresses(uuid[], inet[], timestamptz[], boolean)',
                              'EXECUTE') AS merge_addresses;
DROP OWNED BY regress_pat_old_admin;
DROP ROLE regress_pat_old_admin;
-- A token made before is used from an address: written by the flush, shown, its owner notified.
SELECT valid FROM pat_validate(:'atok', '{old:read}', '192.0.2.13');
SELECT pat_flush_usage() >= 1 AS flushed;
SELECT last_addresses FROM pat_list('old_user') WHERE token_id = :'atid';
SELECT kind, details FROM pat_take_notices(1000) WHERE token_id = :'atid';
SELECT action, client_address FROM pat_token_activity(:'atid') WHERE action = 'used';

-- 1.14 ----------------------------------------------------------------------------------------
CREATE ROLE regress_pat_old_validator;
SELECT pat_grant_profile('regress_pat_old_validator', 'validator');
ALTER EXTENSION pg_pat UPDATE TO '1.14';
SELECT extversion FROM pg_extension WHERE extname = 'pg_pat';
-- pat_validate returns pat.validation, the same columns: whoever could run it still can, and
-- reads the same row.
SELECT pg_get_function_result('pat_validate(text, text[], inet, text)'::regprocedure) AS text_form,
       pg_get_function_result('pat_validate(varchar, text[], inet, text)'::regprocedure)
           AS varchar_form;
SET ROLE regress_pat_old_validator;
SELECT valid, status, token_name, scopes, token_type, retry_after, remaining
FROM pat_validate(:'atok', '{old:read}', '192.0.2.13');
SELECT (pat_validate(:'atok'::varchar, '{old:read}', '192.0.2.13')).status;
RESET ROLE;
DROP OWNED BY regress_pat_old_validator;
DROP ROLE regress_pat_old_validator;

-- The newest version is the default one: a new version needs its round here.
SELECT extversion = default_version AS newest FROM pg_extension e
JOIN pg_available_extensions a ON a.name = e.extname WHERE e.extname = 'pg_pat';

\c :regress_db
DROP DATABASE regression_pat_old_versions;
