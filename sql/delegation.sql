--
-- Tokens for agents: pat_delegate() mints a child of the authenticated token, of the same user,
-- with scopes it holds, no later expiry, within pat.max_delegated_lifetime and
-- pat.max_delegation_depth; a descendant answers revoked (or expired) with any ancestor, at its
-- next check, though no descendant row is written. Also created_by (who made each token), the
-- guards of pat.tokens on the new columns, the settings, and hostile input. Tokens, ids and
-- timestamps are never printed. Every error is followed by \echo :SQLSTATE.
--
\set SHOW_CONTEXT never

SELECT pat_define_scope('dg_notes:read'), pat_define_scope('dg_notes:write'),
       pat_define_scope('tokens:delegate'), pat_define_scope('tokens:manage');
SELECT pat_define_role('dg_member',
                       '{dg_notes:read,dg_notes:write,tokens:delegate,tokens:manage}');
SELECT pat_grant_role('dg-alice', 'dg_member'), pat_grant_role('dg-bob', 'dg_member');

CREATE ROLE dg_app;
SELECT pat_grant_profile('dg_app', 'application');

-- The settings: superuser-only, with their defaults.
SHOW pat.delegate_scope;
SHOW pat.max_delegated_lifetime;
SHOW pat.max_delegation_depth;
SELECT name, context FROM pg_settings
WHERE name IN ('pat.delegate_scope', 'pat.max_delegated_lifetime', 'pat.max_delegation_depth')
ORDER BY name;
SET pat.delegate_scope = 'not a scope';
\echo :SQLSTATE
SET pat.max_delegated_lifetime = '-1 day';
\echo :SQLSTATE
SET pat.max_delegated_lifetime = 'soon';
\echo :SQLSTATE
SET pat.max_delegation_depth = -1;
\echo :SQLSTATE
SET pat.max_delegation_depth = 101;
\echo :SQLSTATE
SET ROLE dg_app;
SET pat.max_delegation_depth = 5;
\echo :SQLSTATE
RESET ROLE;

-- alice's agent token may delegate; her CLI token may only manage; a reader neither.
SELECT token AS agent, token_id AS agent_id
FROM pat_create('dg-alice', 'agent', '{dg_notes:read,dg_notes:write,tokens:delegate}',
                '30 days') \gset
SELECT token AS cli, token_id AS cli_id
FROM pat_create('dg-alice', 'cli', '{dg_notes:read,tokens:manage}', '30 days') \gset
SELECT token AS reader FROM pat_create('dg-alice', 'reader', '{dg_notes:read}', '2 hours') \gset

SET ROLE dg_app;

-- Who may delegate -----------------------------------------------------------------------------

-- Outside a token context there is no parent.
SELECT * FROM pat_delegate('orphan', '{dg_notes:read}');
\echo :SQLSTATE
-- The manage scope is not the delegate scope.
BEGIN;
SELECT pat_authenticate(:'cli') AS user_id;
SELECT * FROM pat_delegate('from cli', '{dg_notes:read}');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'reader') AS user_id;
SELECT * FROM pat_delegate('from reader', '{dg_notes:read}');
\echo :SQLSTATE
ROLLBACK;
-- The delegating token cannot manage its user's tokens: delegation is no manage scope.
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT count(*) FROM pat_list('dg-alice');
\echo :SQLSTATE
ROLLBACK;

-- What a child may be ---------------------------------------------------------------------------

BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
-- More scope than the parent holds (the user's roles would allow it).
SELECT * FROM pat_delegate('greedy', '{dg_notes:read,tokens:manage}');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
-- An undefined scope.
SELECT * FROM pat_delegate('undefined', '{dg_nothing}');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
-- A longer life than the parent's.
SELECT * FROM pat_delegate('outliving', '{dg_notes:read}', '60 days');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT * FROM pat_delegate('forever', '{dg_notes:read}', 'never');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
-- Within the parent's life but beyond pat.max_delegated_lifetime (1 day).
SELECT * FROM pat_delegate('too long', '{dg_notes:read}', '2 days');
\echo :SQLSTATE
ROLLBACK;
-- NULL expires: the longest allowed, here now + 1 day (the parent lives 30 days).
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT token AS child, token_id AS child_id,
       expires_at = now() + interval '1 day' AS one_day
FROM pat_delegate('sub-agent', '{dg_notes:read,tokens:delegate}') \gset
SELECT :'one_day' AS one_day;
COMMIT;
-- The child: same user, its own scopes, a parent, a creator naming the minting token.
SELECT valid, status, user_id, token_name, scopes, token_type
FROM pat_validate(:'child', '{dg_notes:read}');
SELECT name, status, token_type, parent_id = :'agent_id' AS parent_is_agent,
       created_by = 'token:' || :'agent_id' || ':dg-alice' AS created_by_agent
FROM pat_list('dg-alice') WHERE token_id = :'child_id';
RESET ROLE;
SELECT ancestors = ARRAY[:'agent_id'::uuid] AS chain FROM pat.tokens WHERE token_id = :'child_id';
-- A child that holds the delegate scope delegates further; the chain grows. NULL expires is
-- now bounded by the child's own expiry.
SELECT expires_at AS child_expires FROM pat.tokens WHERE token_id = :'child_id' \gset
SET ROLE dg_app;
BEGIN;
SELECT pat_authenticate(:'child') AS user_id;
SELECT token AS grandchild, token_id AS grandchild_id,
       expires_at = :'child_expires' AS parents_expiry
FROM pat_delegate('sub-sub-agent', '{dg_notes:read}') \gset
SELECT :'parents_expiry' AS parents_expiry;
COMMIT;
RESET ROLE;
SELECT ancestors = ARRAY[:'agent_id'::uuid, :'child_id'::uuid] AS chain
FROM pat.tokens WHERE token_id = :'grandchild_id';
SET ROLE dg_app;
-- The grandchild does not hold the delegate scope: it cannot delegate.
BEGIN;
SELECT pat_authenticate(:'grandchild') AS user_id;
SELECT * FROM pat_delegate('sub-sub-sub-agent', '{dg_notes:read}');
\echo :SQLSTATE
ROLLBACK;

-- Depth ------------------------------------------------------------------------------------------
RESET ROLE;
SET pat.max_delegation_depth = 1;
SET ROLE dg_app;
BEGIN;
SELECT pat_authenticate(:'child') AS user_id;
SELECT * FROM pat_delegate('too deep', '{dg_notes:read}');
\echo :SQLSTATE
ROLLBACK;
RESET ROLE;
SET pat.max_delegation_depth = 0;
SET ROLE dg_app;
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT * FROM pat_delegate('no delegation at all', '{dg_notes:read}');
\echo :SQLSTATE
ROLLBACK;
RESET ROLE;
RESET pat.max_delegation_depth;
-- An empty delegate scope: no token may delegate.
SET pat.delegate_scope = '';
SET ROLE dg_app;
BEGIN;
SELECT pat_authenticate(:'agent') AS user_id;
SELECT * FROM pat_delegate('none may', '{dg_notes:read}');
\echo :SQLSTATE
ROLLBACK;
RESET ROLE;
RESET pat.delegate_scope;
SET ROLE dg_app;

-- Falling with the parent ----------------------------------------------------------------------

-- Warm: both descendants are cached by this session's checks.
SELECT status FROM pat_validate(:'child');
SELECT status FROM pat_validate(:'grandchild');
SELECT status FROM pat_validate(:'grandchild');
RESET ROLE;
SELECT NOT last_check_missed AS warm FROM pat_token_cache_stats();
SET ROLE dg_app;
-- Revoking the agent reports the two live descendants, and writes neither of their rows.
SELECT pat_revoke(:'agent_id') AS revoked;
SELECT pat_revoke(:'agent_id') AS revoked_again;
RESET ROLE;
SELECT count(*) AS descendant_rows_revoked FROM pat.tokens
WHERE token_id IN (:'child_id', :'grandchild_id') AND revoked_at IS NOT NULL;
SET ROLE dg_app;
-- The next check of each answers revoked, from the cache's next lookup on.
SELECT valid, status FROM pat_validate(:'child');
SELECT valid, status FROM pat_validate(:'grandchild');
SELECT name, status, revoked_at IS NULL AS own_row_unrevoked FROM pat_list('dg-alice')
WHERE token_id IN (:'child_id', :'grandchild_id') ORDER BY name;
-- What a revoke drops from the cache: a token with children drops its user's entries (the
-- user's other token is read again), a token without only its own (the other is still a hit).
SELECT status FROM pat_validate(:'cli');
SELECT status FROM pat_validate(:'cli');
RESET ROLE;
SELECT token_id AS reader_id FROM pat.tokens WHERE user_id = 'dg-alice' AND name = 'reader' \gset
SELECT pat_revoke(:'reader_id') AS revoked_childless;
SELECT status FROM pat_validate(:'cli');
SELECT last_check_missed AS read_again FROM pat_token_cache_stats();
SELECT token AS agent8, token_id AS agent8_id
FROM pat_create('dg-alice', 'agent 8', '{dg_notes:read,tokens:delegate}', '30 days') \gset
BEGIN;
SELECT pat_authenticate(:'agent8') AS user_id;
SELECT token AS child8 FROM pat_delegate('child 8', '{dg_notes:read}') \gset
COMMIT;
SELECT status FROM pat_validate(:'cli');
SELECT status FROM pat_validate(:'cli');
SELECT pat_revoke(:'agent8_id') AS revoked_parent;
SELECT status FROM pat_validate(:'cli');
SELECT last_check_missed AS read_again FROM pat_token_cache_stats();
SET ROLE dg_app;
-- A descendant of a revoked token cannot authenticate, nor delegate.
BEGIN;
SELECT pat_authenticate(:'child');
\echo :SQLSTATE
ROLLBACK;

SELECT token AS agent2, token_id AS agent2_id
FROM pat_create('dg-alice', 'agent 2', '{dg_notes:read,tokens:delegate}', '30 days') \gset

-- Expiring with the parent: the child expires with it, and is listed with the earlier expiry's
-- status.
BEGIN;
SELECT pat_authenticate(:'agent2') AS user_id;
SELECT token AS child2, token_id AS child2_id FROM pat_delegate('child 2', '{dg_notes:read}')
\gset
COMMIT;
SELECT status FROM pat_validate(:'child2');
RESET ROLE;
-- Shortened into the past as only the table's owner can (the API only shortens to now or later).
UPDATE pat.tokens SET expires_at = now() - interval '1 second' WHERE token_id = :'agent2_id';
SET ROLE dg_app;
SELECT valid, status, expires_at < now() AS parents_expiry FROM pat_validate(:'child2');
SELECT status FROM pat_list('dg-alice') WHERE token_id = :'child2_id';
SELECT pat_revoke(:'agent2_id') AS revoked_expired_parent;

-- Rotating a child keeps its chain: the successor still falls with the parent.
SELECT token AS agent3, token_id AS agent3_id
FROM pat_create('dg-alice', 'agent 3', '{dg_notes:read,tokens:delegate}', '30 days') \gset
BEGIN;
SELECT pat_authenticate(:'agent3') AS user_id;
SELECT token AS child3, token_id AS child3_id FROM pat_delegate('child 3', '{dg_notes:read}')
\gset
COMMIT;
SELECT token AS child3b, token_id AS child3b_id FROM pat_rotate(:'child3_id') \gset
SELECT parent_id = :'agent3_id' AS same_parent, token_type FROM pat_list('dg-alice')
WHERE token_id = :'child3b_id';
SELECT status FROM pat_validate(:'child3b');
SELECT pat_revoke(:'agent3_id') AS revoked;
SELECT status FROM pat_validate(:'child3b');

-- A leak report of the parent revokes it: its warm child answers revoked at its next check.
SELECT token AS agent7 FROM pat_create('dg-bob', 'agent 7', '{dg_notes:read,tokens:delegate}',
                                       '30 days') \gset
BEGIN;
SELECT pat_authenticate(:'agent7') AS user_id;
SELECT token AS child7 FROM pat_delegate('child 7', '{dg_notes:read}') \gset
COMMIT;
SELECT status FROM pat_validate(:'child7');
RESET ROLE;
SELECT pat_report_leaked(ARRAY[:'agent7'], 'a public gist') AS reported;
SET ROLE dg_app;
SELECT status FROM pat_validate(:'child7');

-- Deleting a parent row (only the table's owner can) leaves its descendants revoked.
SELECT token AS agent4, token_id AS agent4_id
FROM pat_create('dg-bob', 'agent 4', '{dg_notes:read,tokens:delegate}', '30 days') \gset
BEGIN;
SELECT pat_authenticate(:'agent4') AS user_id;
SELECT token AS child4 FROM pat_delegate('child 4', '{dg_notes:read}') \gset
COMMIT;
SELECT status FROM pat_validate(:'child4');
RESET ROLE;
DELETE FROM pat.tokens WHERE token_id = :'agent4_id';
SET ROLE dg_app;
SELECT status FROM pat_validate(:'child4');

-- The role loss of the user bounds the child too, as every token of the user.
SELECT token AS agent5 FROM pat_create('dg-bob', 'agent 5',
                                       '{dg_notes:read,dg_notes:write,tokens:delegate}',
                                       '30 days') \gset
BEGIN;
SELECT pat_authenticate(:'agent5') AS user_id;
SELECT token AS child5 FROM pat_delegate('child 5', '{dg_notes:write}') \gset
COMMIT;
SELECT status, scopes FROM pat_validate(:'child5', '{dg_notes:write}');
RESET ROLE;
SELECT pat_revoke_role('dg-bob', 'dg_member');
SET ROLE dg_app;
SELECT status, scopes FROM pat_validate(:'child5', '{dg_notes:write}');
RESET ROLE;
SELECT pat_grant_role('dg-bob', 'dg_member');

-- created_by ---------------------------------------------------------------------------------
-- The database role, else pat_set_actor()'s actor, else the authenticating token.
SET ROLE dg_app;
SELECT token_id AS by_role FROM pat_create('dg-bob', 'by role', '{dg_notes:read}', '1 day')
\gset
BEGIN;
SELECT pat_set_actor('support:eve');
SELECT token_id AS by_actor FROM pat_create('dg-bob', 'by actor', '{dg_notes:read}', '1 day')
\gset
COMMIT;
SELECT name, created_by FROM pat_list('dg-bob') WHERE name IN ('by role', 'by actor')
ORDER BY name;
-- The audit row of the creation names its parent, chain and creator.
RESET ROLE;
SELECT pat_audit_link() >= 0 AS linked;
SELECT new_data ? 'parent_id' AS names_parent, new_data ? 'ancestors' AS names_chain,
       new_data->>'created_by' = 'token:' || :'agent_id' || ':dg-alice' AS names_creator
FROM pat.audit_log WHERE token_id = :'child_id' AND action = 'created';

-- The agent's activity includes what its descendants did, each naming the delegated token.
SELECT action, actor FROM pat_token_activity(:'agent_id') ORDER BY action, actor;

-- A row change made with a delegated token names its chain: user, root token, each token down.
RESET ROLE;
CREATE TABLE dg_notes (id integer PRIMARY KEY, body text);
SELECT pat_audit_table('dg_notes');
SELECT token AS agent6 FROM pat_create('dg-bob', 'agent 6', '{dg_notes:read,tokens:delegate}',
                                       '30 days') \gset
BEGIN;
SELECT pat_authenticate(:'agent6') AS user_id;
SELECT token AS child6 FROM pat_delegate('child 6', '{dg_notes:read,tokens:delegate}') \gset
COMMIT;
BEGIN;
SELECT pat_authenticate(:'child6') AS user_id;
SELECT token AS grandchild6 FROM pat_delegate('grandchild 6', '{dg_notes:read}') \gset
COMMIT;
BEGIN;
SELECT pat_authenticate(:'grandchild6') AS user_id;
INSERT INTO dg_notes VALUES (1, 'written by a sub-sub-agent');
COMMIT;
BEGIN;
SELECT pat_authenticate(:'agent6') AS user_id;
INSERT INTO dg_notes VALUES (2, 'written by the root token');
COMMIT;
BEGIN;
SELECT pat_authenticate(:'grandchild6') AS user_id;
SELECT pat_set_actor('support:eve');
INSERT INTO dg_notes VALUES (3, 'a named actor wins');
COMMIT;
SELECT pat_audit_link() >= 0 AS linked;
SELECT new_data->>'id' AS id, user_id, token_name, actor FROM pat.audit_log
WHERE table_name = 'public.dg_notes' ORDER BY seq;
DROP TABLE dg_notes;

-- The guards of pat.tokens ----------------------------------------------------------------------
-- A role given direct access may forge neither a child nor a creator.
CREATE ROLE dg_writer BYPASSRLS;
GRANT USAGE ON SCHEMA pat TO dg_writer;
GRANT SELECT, INSERT, UPDATE ON pat.tokens TO dg_writer;
SET ROLE dg_writer;
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at, parent_id)
VALUES ('dg-bob', 'forged child', '{dg_notes:read}', '\x01', now() + interval '1 hour',
        :'by_role');
\echo :SQLSTATE
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at, ancestors)
VALUES ('dg-bob', 'forged chain', '{dg_notes:read}', '\x02', now() + interval '1 hour',
        ARRAY[:'by_role'::uuid]);
\echo :SQLSTATE
-- A forged creator is replaced by the inserting role.
INSERT INTO pat.tokens (user_id, name, scopes, digest, expires_at, created_by)
VALUES ('dg-bob', 'direct', '{dg_notes:read}', '\x03', now() + interval '1 hour',
        'actor:someone else');
SELECT created_by FROM pat.tokens WHERE name = 'direct';
RESET ROLE;
-- What a token is born with never changes, whoever updates it.
UPDATE pat.tokens SET created_by = 'actor:someone else' WHERE name = 'direct';
\echo :SQLSTATE
UPDATE pat.tokens SET parent_id = :'by_role' WHERE name = 'direct';
\echo :SQLSTATE
UPDATE pat.tokens SET ancestors = '{}' WHERE token_id = :'child_id';
\echo :SQLSTATE
UPDATE pat.tokens SET token_type = 'organization' WHERE name = 'direct';
\echo :SQLSTATE
UPDATE pat.tokens SET token_type = 'team' WHERE name = 'direct';
\echo :SQLSTATE
-- A token that has had children keeps saying so: its changes must reach their cached entries.
SELECT has_children FROM pat.tokens WHERE token_id = :'child_id';
UPDATE pat.tokens SET has_children = false WHERE token_id = :'child_id';
\echo :SQLSTATE
SELECT count(*) AS marked_parents FROM pat.tokens WHERE has_children;
DELETE FROM pat.tokens WHERE name = 'direct';
DROP OWNED BY dg_writer;
DROP ROLE dg_writer;

-- Hostile input --------------------------------------------------------------------------------
SET ROLE dg_app;
BEGIN;
SELECT pat_authenticate(:'agent5') AS user_id;
SAVEPOINT s;
SELECT * FROM pat_delegate(NULL, '{dg_notes:read}');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate('', '{dg_notes:read}');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate(repeat('n', 256), '{dg_notes:read}');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate('   ', '{dg_notes:read}');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate('n', NULL);
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate('n', '{dg_notes:read,NULL}');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate('n', ARRAY[repeat('x', 100000)]);
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate('n', '{{dg_notes:read},{dg_notes:write}}');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate('n', '{dg_notes:read}', 'a fortnight');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate('n', '{dg_notes:read}', '-1 hour');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate('n', '{dg_notes:read}', '1999-01-01');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate('n', '{dg_notes:read}', 'infinity');
\echo :SQLSTATE
ROLLBACK TO s;
SELECT * FROM pat_delegate('n', '{dg_notes:read}', repeat('9', 10000));
\echo :SQLSTATE
ROLLBACK TO s;
-- The empty scope list is allowed: a child that can do nothing but prove who it is.
SELECT expires_at IS NOT NULL AS expires FROM pat_delegate('n', '{}', '1 hour');
ROLLBACK;
RESET ROLE;

DROP OWNED BY dg_app;
DROP ROLE dg_app;

-- Clean up: leave the tables as CREATE EXTENSION left them.
SET client_min_messages = warning;
TRUNCATE pat.tokens, pat.user_roles, pat.role_scopes, pat.roles, pat.scopes CASCADE;
RESET client_min_messages;
