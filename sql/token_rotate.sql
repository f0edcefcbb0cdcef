--
-- pat_rotate: a successor with the same user, name and scopes, checked like pat_create;
-- the old token revoked at once or, with an overlap, expiring at the earlier of its own expiry
-- and now + overlap; pat_rotated_from; the audit rows; pat.max_active_tokens_per_user; the token
-- context's rules. Tokens, ids and timestamps are never printed. Every error is followed by
-- \echo :SQLSTATE; errors naming a token id are shown with VERBOSITY sqlstate.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('rt:read'), pat_define_scope('rt:write'), pat_define_scope('tokens:manage');
SELECT pat_define_role('rt_reader', '{rt:read,tokens:manage}');
SELECT pat_define_role('rt_writer', '{rt:write}');
SELECT pat_grant_role('rt-alice', 'rt_reader'), pat_grant_role('rt-alice', 'rt_writer');
SELECT pat_grant_role('rt-bob', 'rt_reader');

SELECT token AS old_tok, token_id AS old_id, expires_at AS old_expires
FROM pat_create('rt-alice', 'deploy', '{rt:read,rt:write}', '30 days') \gset

-- No overlap: the successor has the same name and scopes and the old lifetime from now; the old
-- token is revoked at once.
SELECT token AS new_tok, token_id AS new_id, expires_at AS new_expires FROM pat_rotate(:'old_id') \gset
SELECT (:'new_expires'::timestamptz - now()) BETWEEN interval '30 days' - interval '1 minute'
                                                 AND interval '30 days' AS same_lifetime;
SELECT status, token_name, scopes FROM pat_validate(:'new_tok');
SELECT status FROM pat_validate(:'old_tok');
SELECT pat_rotated_from(:'new_id') = :'old_id' AS names_predecessor,
       pat_rotated_from(:'old_id') IS NULL AS first_token;
SELECT name, status FROM pat_list('rt-alice') ORDER BY created_at;

-- The audit rows: created for the successor, rotated (naming it) and revoked for the old one.
SELECT pat_audit_link() AS linked \gset
SELECT action, token_id = :'old_id' AS on_old, new_data ->> 'rotated_to' = :'new_id' AS names_new
FROM pat.audit_log
WHERE token_id IN (:'old_id', :'new_id')
ORDER BY seq;

-- A revoked or expired token cannot be rotated.
\set VERBOSITY sqlstate
SELECT token_id FROM pat_rotate(:'old_id');
\set VERBOSITY default
\echo :SQLSTATE
SELECT token AS short_tok, token_id AS short_id FROM pat_create('rt-alice', 'short', '{rt:read}', '1 second') \gset
SELECT pg_sleep(1.2);
\set VERBOSITY sqlstate
SELECT token_id FROM pat_rotate(:'short_id');
\set VERBOSITY default
\echo :SQLSTATE

-- With an overlap both work; the old one expires at now + overlap ...
SELECT token_id AS second_id, expires_at AS second_expires
FROM pat_rotate(:'new_id', '7 days', '1 hour') \gset
SELECT status FROM pat_validate(:'new_tok');
SELECT (expires_at - now()) BETWEEN interval '59 minutes' AND interval '1 hour' AS old_until_overlap
FROM pat.tokens WHERE token_id = :'new_id';
SELECT (:'second_expires'::timestamptz - now()) BETWEEN interval '7 days' - interval '1 minute'
                                                    AND interval '7 days' AS asked_expiry;
-- ... or at its own expiry, if that comes first: an overlap never lengthens a token.
SELECT token_id AS third_id FROM pat_rotate(:'second_id', interval '1 day', interval '30 days') \gset
SELECT expires_at = :'second_expires' AS own_expiry_kept FROM pat.tokens WHERE token_id = :'second_id';
SELECT pat_rotated_from(:'third_id') = :'second_id' AS chain;

-- The typed overload for a timestamptz, and a never-expiring token stays never-expiring.
SELECT count(*) FROM pat_rotate(:'third_id', now() + interval '2 days');
SELECT token_id AS forever_id FROM pat_create('rt-alice', 'forever', '{rt:read}', 'never') \gset
SELECT expires_at IS NULL AS never FROM pat_rotate(:'forever_id');
-- Unless a lifetime policy now forbids it; an asked expiry is checked like pat_create's.
SELECT token_id AS forever2_id FROM pat_create('rt-alice', 'forever 2', '{rt:read}', 'never') \gset
SET pat.max_lifetime = '90 days';
SELECT token_id FROM pat_rotate(:'forever2_id');
\echo :SQLSTATE
SELECT token_id FROM pat_rotate(:'forever2_id', '1 year');
\echo :SQLSTATE
SELECT count(*) FROM pat_rotate(:'forever2_id', '60 days');
RESET pat.max_lifetime;

-- A scope the user's roles no longer allow is refused, as pat_create refuses it.
SELECT token_id AS writer_id FROM pat_create('rt-alice', 'writer', '{rt:write}', '30 days') \gset
SELECT pat_revoke_role('rt-alice', 'rt_writer');
SELECT token_id FROM pat_rotate(:'writer_id');
\echo :SQLSTATE
SELECT pat_grant_role('rt-alice', 'rt_writer');

-- Bad arguments.
SELECT token_id FROM pat_rotate(NULL);
\echo :SQLSTATE
\set VERBOSITY sqlstate
SELECT token_id FROM pat_rotate('00000000-0000-7000-8000-000000000000');
\set VERBOSITY default
\echo :SQLSTATE
SELECT token_id FROM pat_rotate(:'writer_id', NULL, NULL);
\echo :SQLSTATE
SELECT token_id FROM pat_rotate(:'writer_id', NULL, '-1 hour');
\echo :SQLSTATE
SELECT token_id FROM pat_rotate(:'writer_id', 'tomorrow-ish');
\echo :SQLSTATE
SELECT token_id FROM pat_rotate(:'writer_id', NULL::interval);
\echo :SQLSTATE
SELECT pat_rotated_from(NULL);
\echo :SQLSTATE

-- pat.max_active_tokens_per_user: bob may hold two.
SET pat.max_active_tokens_per_user = 2;
SELECT token_id AS bob1 FROM pat_create('rt-bob', 'one', '{rt:read}', '30 days') \gset
SELECT count(*) FROM pat_create('rt-bob', 'two', '{rt:read}', '30 days');
SELECT token_id FROM pat_create('rt-bob', 'three', '{rt:read}', '30 days');
\echo :SQLSTATE
-- A rotation with no overlap replaces one: allowed; with an overlap both count: refused.
SELECT token_id AS bob1b FROM pat_rotate(:'bob1') \gset
SELECT token_id FROM pat_rotate(:'bob1b', NULL, '1 hour');
\echo :SQLSTATE
-- Revoked and expired tokens do not count.
SELECT pat_revoke(:'bob1b');
SELECT count(*) FROM pat_create('rt-bob', 'three', '{rt:read}', '30 days');
RESET pat.max_active_tokens_per_user;
SHOW pat.max_active_tokens_per_user;

-- Inside a token context: the user's own tokens only, with the manage scope, no later expiry.
SELECT token AS cli, token_id AS cli_id FROM pat_create('rt-alice', 'cli', '{rt:read,tokens:manage}', '10 days') \gset
SELECT token_id AS bob_tok_id FROM pat_create('rt-bob', 'bob', '{rt:read}', '5 days') \gset
SELECT token_id AS ctx_target FROM pat_create('rt-alice', 'target', '{rt:read}', '5 days') \gset
BEGIN;
SELECT pat_authenticate(:'cli') AS user_id;
SAVEPOINT s;
SELECT token_id FROM pat_rotate(:'bob_tok_id');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT pat_rotated_from(:'bob_tok_id');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT token_id FROM pat_rotate(:'ctx_target', '30 days');
\echo :SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM pat_rotate(:'ctx_target');
COMMIT;
