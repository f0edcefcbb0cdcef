--
-- pat_validate: exactly one row for any input, every status (valid, malformed, not_found,
-- expired, revoked, insufficient_scope), effective scopes that follow the user's roles, and
-- last_used_at bookkeeping. Tokens, ids and timestamps are never printed.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('catalog:read', 'Read the software catalog');
SELECT pat_define_scope('catalog:write', 'Edit the software catalog');
SELECT pat_define_scope('scorecards:write', 'Edit scorecards');
SELECT pat_define_role('va_reader', '{catalog:read}');
SELECT pat_define_role('va_writer', '{catalog:write}');
SELECT pat_define_role('va_scorer', '{scorecards:write,catalog:read}');
SELECT pat_define_role('va_admin', '{}', true);
SELECT pat_grant_role('va-alice', 'va_reader'), pat_grant_role('va-alice', 'va_writer');
SELECT pat_grant_role('va-root', 'va_admin');

SELECT token AS tok, token_id AS tok_id, expires_at AS tok_expires
FROM pat_create('va-alice', 'deploy bot', '{catalog:read,catalog:write}', '30 days') \gset

-- valid: the token's id, user, name, effective scopes and expiry.
SELECT valid, status, token_id = :'tok_id' AS same_id, user_id, token_name, scopes,
       expires_at = :'tok_expires' AS same_expiry
FROM pat_validate(:'tok');
SELECT valid, status FROM pat_validate(:'tok', '{}');
SELECT valid, status FROM pat_validate(:'tok', '{catalog:read}');
SELECT valid, status FROM pat_validate(:'tok', '{catalog:write,catalog:read}');
SELECT valid, status FROM pat_validate(:'tok', '{catalog:read,catalog:read}');
SELECT pg_typeof(token_id) AS token_id_type FROM pat_validate(:'tok');

-- insufficient_scope: the row still names the token; an undefined, malformed or NULL
-- required scope, and a NULL array, answer with a row rather than an error.
SELECT r.label, v.valid, v.status, v.token_id = :'tok_id' AS same_id, v.user_id, v.token_name,
       v.scopes, v.expires_at = :'tok_expires' AS same_expiry
FROM (VALUES (1, 'not held', '{scorecards:write}'::text[]),
             (2, 'one of two held', '{catalog:read,scorecards:write}'),
             (3, 'undefined scope', '{nope:nope}'),
             (4, 'not a scope name', '{"not a scope"}'),
             (5, 'empty string', '{""}'),
             (6, 'null element', '{NULL}'),
             (7, 'held plus null', '{catalog:read,NULL}'),
             (8, 'null array', NULL)) AS r(n, label, required),
     LATERAL pat_validate(:'tok', r.required) AS v
ORDER BY r.n;

-- malformed: NULL, empty, huge or damaged input; never an error, no token columns.
SELECT overlay(:'tok' PLACING CASE WHEN substr(:'tok', 20, 1) = 'A' THEN 'B' ELSE 'A' END
               FROM 20 FOR 1) AS flipped_random,
       overlay(:'tok' PLACING CASE WHEN right(:'tok', 1) = 'A' THEN 'B' ELSE 'A' END
               FROM length(:'tok') FOR 1) AS flipped_checksum \gset
SELECT r.label, v.valid, v.status,
       num_nonnulls(v.token_id, v.user_id, v.token_name, v.scopes, v.expires_at) AS token_columns
FROM (VALUES (1, 'NULL', NULL),
             (2, 'empty', ''),
             (3, 'blank', '   '),
             (4, 'garbage', 'garbage'),
             (5, 'just the prefix', 'pat_'),
             (6, '1 MB of x', repeat('x', 1000000)),
             (7, '1 MB after the token', :'tok' || repeat('x', 1000000)),
             (8, 'one random char changed', :'flipped_random'),
             (9, 'one checksum char changed', :'flipped_checksum'),
             (10, 'last char dropped', left(:'tok', -1)),
             (11, 'char appended', :'tok' || 'A'),
             (12, 'leading space', ' ' || :'tok'),
             (13, 'trailing newline', :'tok' || E'\n'),
             (14, 'upper-cased', upper(:'tok')),
             (15, 'lower-cased', lower(:'tok')),
             (16, 'prefix changed', 'pbt_' || substr(:'tok', 5)),
             (17, 'prefix dropped', substr(:'tok', 5)),
             (18, 'prefix with a bad char', 'pat!' || substr(:'tok', 5)),
             (19, 'Bearer header', 'Bearer ' || :'tok'),
             (20, 'non-ASCII', 'pat_' || repeat('é', 36))) AS r(n, label, candidate),
     LATERAL pat_validate(r.candidate) AS v
ORDER BY r.n;
-- The checksum catches a change of any single character, wherever it is.
SELECT count(*) AS variants, count(*) FILTER (WHERE v.status = 'malformed') AS malformed
FROM generate_series(1, length(:'tok')) AS i,
     LATERAL (VALUES (CASE WHEN substr(:'tok', i, 1) = 'A' THEN 'B' ELSE 'A' END),
                     (CASE WHEN substr(:'tok', i, 1) = '9' THEN '8' ELSE '9' END),
                     (CASE WHEN substr(:'tok', i, 1) = 'z' THEN 'y' ELSE 'z' END)) AS c(ch),
     LATERAL pat_validate(overlay(:'tok' PLACING c.ch FROM i FOR 1)) AS v;
-- A malformed token with required scopes is still malformed; and the original still works.
SELECT valid, status FROM pat_validate(:'flipped_random', '{catalog:read}');
SELECT valid, status FROM pat_validate(NULL, NULL);
SELECT valid, status FROM pat_validate(:'tok');
-- Exactly one row, whatever the input.
SELECT count(*) FROM pat_validate(NULL);
SELECT count(*) FROM pat_validate(repeat('x', 1000000), NULL);
SELECT count(*) FROM pat_validate(:'tok', '{nope:nope}');

-- not_found: a well-formed token whose row is gone (it was valid a moment before).
SELECT token AS gone_tok FROM pat_create('va-alice', 'gone', '{catalog:read}', '1 day') \gset
SELECT valid, status FROM pat_validate(:'gone_tok');
DELETE FROM pat.tokens WHERE name = 'gone' AND user_id = 'va-alice';
SELECT valid, status,
       num_nonnulls(token_id, user_id, token_name, scopes, expires_at) AS token_columns
FROM pat_validate(:'gone_tok');
SELECT valid, status FROM pat_validate(:'gone_tok', '{catalog:read}');

-- expired: shortened by a direct UPDATE (allowed; only extending is refused).
SELECT token AS exp_tok, token_id AS exp_id
FROM pat_create('va-alice', 'expiring', '{catalog:read}', '7 days') \gset
SELECT valid, status FROM pat_validate(:'exp_tok');
UPDATE pat.tokens SET expires_at = now() - interval '1 second' WHERE token_id = :'exp_id';
SELECT valid, status, token_id = :'exp_id' AS same_id, user_id, token_name, scopes,
       expires_at < now() AS in_the_past
FROM pat_validate(:'exp_tok');
-- expired wins over a missing scope.
SELECT valid, status FROM pat_validate(:'exp_tok', '{scorecards:write}');
SELECT valid, status FROM pat_validate(:'exp_tok', NULL);

-- A token expires by itself, also in the middle of a long transaction and once cached.
SELECT token AS short_tok FROM pat_create('va-alice', 'short', '{}', '2 seconds') \gset
BEGIN;
SELECT valid, status FROM pat_validate(:'short_tok');
SELECT pg_sleep(2.1);
SELECT valid, status FROM pat_validate(:'short_tok');
COMMIT;
SELECT valid, status FROM pat_validate(:'short_tok');

-- revoked: the row still names the token; revoked wins over expired and a missing scope.
SELECT token AS rev_tok, token_id AS rev_id
FROM pat_create('va-alice', 'revoked one', '{catalog:read}', 'never') \gset
SELECT pat_revoke(:'rev_id') AS revoked;
SELECT valid, status, token_id = :'rev_id' AS same_id, user_id, token_name, scopes, expires_at
FROM pat_validate(:'rev_tok');
SELECT valid, status FROM pat_validate(:'rev_tok', '{scorecards:write}');
SELECT pat_revoke(:'exp_id') AS revoked;
SELECT valid, status FROM pat_validate(:'exp_tok');
SELECT valid, status FROM pat_validate(:'exp_tok', '{scorecards:write}');

-- Effective scopes: the token's scopes intersected with what the user's roles allow now.
-- Losing a role takes its scopes from every token of the user at once.
SELECT token AS second_tok FROM pat_create('va-alice', 'second', '{catalog:write}', '1 day') \gset
SELECT pat_revoke_role('va-alice', 'va_writer') AS lost_writer;
SELECT status, scopes FROM pat_validate(:'tok');
SELECT status, scopes FROM pat_validate(:'tok', '{catalog:write}');
SELECT status, scopes FROM pat_validate(:'second_tok');
SELECT status, scopes FROM pat_validate(:'second_tok', '{catalog:write}');
SELECT status, scopes FROM pat_validate(:'tok', '{catalog:read}');
-- The stored scopes are untouched: getting the role back restores them.
SELECT scopes FROM pat.tokens WHERE token_id = :'tok_id';
SELECT pat_grant_role('va-alice', 'va_writer') AS regained_writer;
SELECT status, scopes FROM pat_validate(:'tok', '{catalog:write}');
SELECT status, scopes FROM pat_validate(:'second_tok', '{catalog:write}');
-- A scope allowed by two roles survives the loss of one of them.
SELECT pat_grant_role('va-alice', 'va_scorer') AS granted;
SELECT pat_revoke_role('va-alice', 'va_reader') AS lost_reader;
SELECT status, scopes FROM pat_validate(:'tok', '{catalog:read}');
-- Redefining a role changes its holders' tokens at once too.
SELECT pat_define_role('va_scorer', '{scorecards:write}');
SELECT status, scopes FROM pat_validate(:'tok');
SELECT status, scopes FROM pat_validate(:'tok', '{catalog:read}');
-- With no role left, no scope is left; the token itself still authenticates.
SELECT pat_revoke_role('va-alice', 'va_writer'), pat_revoke_role('va-alice', 'va_scorer');
SELECT valid, status, scopes FROM pat_validate(:'tok');
SELECT valid, status, scopes FROM pat_validate(:'tok', '{catalog:read}');
SELECT pat_grant_role('va-alice', 'va_reader'), pat_grant_role('va-alice', 'va_writer');
SELECT status, scopes FROM pat_validate(:'tok', '{catalog:read,catalog:write}');

-- all_scopes: every scope of the token stays effective, also one defined after the grant.
SELECT pat_define_scope('billing:read', 'defined later');
SELECT token AS root_tok FROM pat_create('va-root', 'root', '{billing:read,catalog:read}',
                                         '1 day') \gset
SELECT status, scopes FROM pat_validate(:'root_tok', '{billing:read}');
-- ...but only the token's own scopes.
SELECT status, scopes FROM pat_validate(:'root_tok', '{catalog:write}');
SELECT pat_define_role('va_admin', '{catalog:read}', false);
SELECT status, scopes FROM pat_validate(:'root_tok', '{billing:read}');
SELECT status, scopes FROM pat_validate(:'root_tok', '{catalog:read}');
SELECT pat_define_role('va_admin', '{}', true);
SELECT status, scopes FROM pat_validate(:'root_tok', '{billing:read}');

-- last_used_at: a valid check is a use, a failed one is not. Checks are counted in shared
-- memory, so pat_list shows a use at once, before anything is written (sql/usage.sql covers the
-- writing); a check never writes, whatever the transaction.
SELECT token AS lu_tok, token_id AS lu_id
FROM pat_create('va-alice', 'last used', '{catalog:read}', '1 day') \gset
SELECT last_used_at FROM pat_list('va-alice') WHERE token_id = :'lu_id';
SELECT status FROM pat_validate(:'lu_tok', '{scorecards:write}');
SELECT last_used_at FROM pat_list('va-alice') WHERE token_id = :'lu_id';
SELECT valid, status FROM pat_validate(:'lu_tok');
SELECT last_used_at BETWEEN now() - interval '1 hour' AND clock_timestamp() AS recorded
FROM pat_list('va-alice') WHERE token_id = :'lu_id';
SELECT last_used_at AS first_use FROM pat_list('va-alice') WHERE token_id = :'lu_id' \gset
-- A later valid check, in another transaction, moves it forward.
SELECT pg_sleep(0.01);
SELECT valid, status FROM pat_validate(:'lu_tok');
SELECT last_used_at > :'first_use' AS moved_forward
FROM pat_list('va-alice') WHERE token_id = :'lu_id';
SELECT last_used_at AS second_use FROM pat_list('va-alice') WHERE token_id = :'lu_id' \gset
-- Failed checks do not: not for a missing scope, nor once revoked or expired.
SELECT status FROM pat_validate(:'lu_tok', '{scorecards:write}');
SELECT pat_revoke(:'lu_id') AS revoked;
SELECT status FROM pat_validate(:'lu_tok');
SELECT last_used_at = :'second_use' AS unchanged
FROM pat_list('va-alice') WHERE token_id = :'lu_id';
SELECT token AS lu_exp_tok, token_id AS lu_exp_id
FROM pat_create('va-alice', 'expired, never used', '{catalog:read}', '1 day') \gset
UPDATE pat.tokens SET expires_at = now() - interval '1 second' WHERE token_id = :'lu_exp_id';
SELECT status FROM pat_validate(:'lu_exp_tok');
SELECT last_used_at FROM pat_list('va-alice') WHERE token_id = :'lu_exp_id';

-- Read-only and snapshot-isolation transactions record the use too, and no check takes a
-- transaction id.
SELECT token AS ro_tok, token_id AS ro_id
FROM pat_create('va-alice', 'read-only use', '{catalog:read}', '1 day') \gset
BEGIN READ ONLY;
SELECT valid, status FROM pat_validate(:'ro_tok');
SELECT txid_current_if_assigned() IS NULL AS no_transaction_id;
COMMIT;
SELECT last_used_at BETWEEN now() - interval '1 hour' AND clock_timestamp() AS recorded
FROM pat_list('va-alice') WHERE token_id = :'ro_id';
SELECT last_used_at AS ro_use FROM pat_list('va-alice') WHERE token_id = :'ro_id' \gset
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT valid, status FROM pat_validate(:'ro_tok');
SELECT txid_current_if_assigned() IS NULL AS no_transaction_id;
COMMIT;
SELECT last_used_at > :'ro_use' AS recorded FROM pat_list('va-alice') WHERE token_id = :'ro_id';
SELECT last_used_at AS ro_use FROM pat_list('va-alice') WHERE token_id = :'ro_id' \gset
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT valid, status FROM pat_validate(:'ro_tok');
SELECT txid_current_if_assigned() IS NULL AS no_transaction_id;
COMMIT;
SELECT last_used_at > :'ro_use' AS recorded FROM pat_list('va-alice') WHERE token_id = :'ro_id';
SELECT last_used_at AS ro_use FROM pat_list('va-alice') WHERE token_id = :'ro_id' \gset
SET default_transaction_read_only = on;
SELECT valid, status FROM pat_validate(:'ro_tok');
RESET default_transaction_read_only;
SELECT last_used_at > :'ro_use' AS recorded FROM pat_list('va-alice') WHERE token_id = :'ro_id';

-- A check inside a transaction that rolls back still happened: its use is kept.
SELECT token AS rb_tok, token_id AS rb_id
FROM pat_create('va-alice', 'rolled back use', '{catalog:read}', '1 day') \gset
BEGIN;
SELECT valid, status FROM pat_validate(:'rb_tok');
ROLLBACK;
SELECT last_used_at BETWEEN now() - interval '1 hour' AND clock_timestamp() AS recorded
FROM pat_list('va-alice') WHERE token_id = :'rb_id';

-- Any change reaches the next check in this session, also a direct UPDATE or a TRUNCATE.
SELECT status, token_name, scopes FROM pat_validate(:'second_tok');
UPDATE pat.tokens SET name = 'second, renamed', scopes = '{}'
WHERE user_id = 'va-alice' AND name = 'second';
SELECT status, token_name, scopes FROM pat_validate(:'second_tok');
SET client_min_messages = warning;
TRUNCATE pat.tokens CASCADE;
RESET client_min_messages;
SELECT status FROM pat_validate(:'second_tok');

-- Clean up: leave the tables as CREATE EXTENSION left them.
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
